"""Fixtures of the framework integrations' tests (FastAPI, WSGI, Django)."""

from __future__ import annotations

import pytest


@pytest.fixture
def framework_keys(world):
    """github's keys: `reader` has read:org only, `full` all of github's scopes."""
    reader = world.owner.create_key("github", "reader", scopes=["read:org"])
    full = world.owner.create_key("github", "full")
    return {"reader": reader, "full": full}
