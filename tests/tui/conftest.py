"""Fixtures for driving the real app through Pilot, on a demo store."""

from __future__ import annotations

import time

import pyperclip
import pytest

from keydesk.tui.app import KeydeskApp
from tests.tui.screenshots import demo_app
from tests.tui.screenshots import demo_store as make_demo_store


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
    store = make_demo_store(tmp_path)
    yield store
    store.dispose()


@pytest.fixture
def make_app(demo_store):
    def make(account: str = "alice") -> KeydeskApp:
        return demo_app(demo_store, account=account)

    return make
