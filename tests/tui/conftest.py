"""Fixtures for driving the real app through Pilot, on a demo store."""

from __future__ import annotations

import time

import pyperclip
import pytest

from keydesk.demo import fixed_randomness, seed_demo
from keydesk.service import KeyService
from keydesk.store import open_store
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screenshots import open_integration, settle  # noqa: F401 (re-exported for tests)


@pytest.fixture(autouse=True)
def stable_terminal(monkeypatch):
    """UTC times, and no desktop clipboard (as on a server over SSH)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()

    def no_clipboard(_text):
        raise pyperclip.PyperclipException("no clipboard on this server")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def demo_store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    with fixed_randomness():
        seed_demo(store)
    yield store
    store.dispose()


@pytest.fixture
def make_app(demo_store):
    def make(account: str = "alice") -> KeydeskApp:
        return KeydeskApp(KeyService(demo_store, account))

    return make
