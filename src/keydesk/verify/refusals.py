"""The refusal log: one line per refused key, bounded a second."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from keydesk.verify.log import log

REFUSAL_LOG_LINES_PER_SECOND = 20


class RefusalLog:
    """One line per refusal (what was refused, e.g. a public key, and the
    exact reason; never a secret), at most `per_second` lines a second: a
    flood of forged keys must not turn into a flood of log writes on the event
    loop. What is left out is counted, by reason, in one line when the next
    second starts. `clock` tells the seconds apart."""

    def __init__(
        self,
        per_second: int = REFUSAL_LOG_LINES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._per_second = per_second
        self._clock = clock
        self._second = 0
        self._lines = 0
        self._skipped: dict[str, int] = {}

    def refused(self, what: str, reason: str) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        second = int(self._clock())
        with self._lock:
            skipped = None
            if second != self._second:
                skipped, self._skipped = self._skipped, {}
                self._second, self._lines = second, 0
            self._lines += 1
            line = self._lines <= self._per_second
            if not line:
                self._skipped[reason] = self._skipped.get(reason, 0) + 1
        if skipped:
            counts = ", ".join(f"{count} {name}" for name, count in sorted(skipped.items()))
            log.info("refused %d more in the last second, not logged one by one (%s)",
                     sum(skipped.values()), counts)  # fmt: skip
        if line:
            log.info("refused %s: %s", what, reason)
