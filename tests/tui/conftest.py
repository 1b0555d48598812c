"""Fixtures for driving the real app through Pilot, on a demo store."""

from __future__ import annotations

import time

import pyperclip
import pytest

from keydesk.demo import fixed_randomness, seed_demo
from keydesk.service import KeyService
from keydesk.store import open_store
from keydesk.tui.app import KeydeskApp


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


async def settle(pilot) -> None:
    """Let workers finish and the screen catch up (no sleeps)."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_integration(pilot, name: str) -> None:
    """From the list: filter to `name`, then open it."""
    await settle(pilot)
    await pilot.press("slash", *name, "enter", "enter")
    await settle(pilot)
