"""Waiting on a condition another thread makes true (keydesk's store watch):
a bound, not a timing."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(done: Callable[[], bool], within: float = 10.0) -> None:
    """Wait, yielding to other threads, until `done()`."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"not so within {within:g} s"
        time.sleep(0.0005)
