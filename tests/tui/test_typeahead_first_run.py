"""Type-ahead on a first run (keydesk.tui.typeahead): keys typed while
keydesk starts, while the first workspace is made and while the first
integration is saved reach the screen that ends up in front, in order.
Each burst is posted at once, before the app has handled its first key,
as a slow SSH link (or tmux send-keys -l) delivers it."""

from __future__ import annotations

import threading
from functools import partial

from textual import events
from textual.widgets import Input

from keydesk.service import KeyService
from keydesk.store.queries import bare_sqlite_reads
from keydesk.tui import app as tui
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from tests.tui.screenshots import NEWCOMER, burst, demo_app, settle, settle_long

FIELDS = "stripe|tab|Stripe|tab|ca_123|tab|https://app.example.com/cb"
TYPED = ["stripe", "Stripe", "ca_123", "https://app.example.com/cb"]


def _fields(app: tui.KeydeskApp) -> list[str]:
    form = app.screen
    assert isinstance(form, IntegrationFormScreen)
    return [field.value for field in form.query(Input)][:4]


async def test_keys_typed_while_keydesk_starts_reach_the_welcome_form(demo_store):
    """`initech` and Enter typed before the welcome form is up (it waits for
    the store to open) went to the list behind it: `a` (Add) and `c`, `m`,
    `e` acted there, and the workspace was named "e" or not made."""
    url = f"sqlite:///{demo_store.file}"
    opening = threading.Event()

    def connect() -> KeyService:
        opening.wait(30)
        return tui._connect(url, NEWCOMER)

    app = tui.KeydeskApp(connect=connect, bare_reads=partial(bare_sqlite_reads, url, NEWCOMER))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*"initech", "enter")  # the store still opening: no welcome yet
            opening.set()
            await settle_long(pilot)
            assert app.workspace is not None and app.workspace.name == "initech"
            assert _fields(app) == ["", "", "", ""]
            assert app.focused is app.screen.query_one("#name")
    finally:
        opening.set()


async def test_a_burst_across_workspace_creation_fills_the_integration_form(demo_store):
    """The workspace's name, Enter, and the Add integration form's fields
    with Tab between them: each field holds exactly what was typed for it
    (they reached the welcome form, still saving, and the list)."""
    app = demo_app(demo_store, "first-run")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, f"initech|enter|{FIELDS}")
        await settle_long(pilot)
        assert app.workspace is not None and app.workspace.name == "initech"
        assert _fields(app) == TYPED
        assert app.focused is app.screen.query_one("#redirect-uri")


async def test_g_a_label_and_enter_right_after_saving_the_first_integration(demo_store):
    """Saved, the form closes and the list reads its rows again: `g`, the
    label and Enter typed meanwhile reached the empty list and were lost."""
    app = demo_app(demo_store, "first-run")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "initech|enter")
        await settle_long(pilot)
        burst(app, f"{FIELDS}|tab|read|tab")
        app.post_message(events.Key("space", " "))  # tick "Configure now"
        await settle_long(pilot)
        app.post_message(events.Key("ctrl+s", None))
        burst(app, "g|ci-burst|enter")
        await settle_long(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert app.screen._key.label == "ci-burst"
        assert app.screen._key.integration == "stripe"


async def test_ctrl_q_typed_while_keydesk_starts_quits_at_once(demo_store):
    """Keys wait for the first screen, but ctrl+q does not: a store that
    never opens (a stalled server) is still left."""
    url = f"sqlite:///{demo_store.file}"
    never = threading.Event()

    def connect() -> KeyService:
        never.wait(30)
        return tui._connect(url, NEWCOMER)

    app = tui.KeydeskApp(connect=connect)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("a", "ctrl+q")
            assert app.return_code == 0
    finally:
        never.set()
