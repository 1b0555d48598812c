"""FilterInput: a private key pasted, or typed a character at a time, into `/`
becomes its public key (which the filter finds) with one notice, and no
fragment of its secret is left in the value, on screen or in Textual's log."""

from __future__ import annotations

import re
from html import unescape

import pytest
import textual.constants
from textual import events
from textual.widgets import Static

from keydesk.service import KeyService
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.help import key_rows
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.widgets import FilterInput
from tests.tui.screenshots import open_integration, settle


@pytest.fixture
def pasted(demo_store) -> tuple[str, str]:
    """A github key's public and private key."""
    created = KeyService(demo_store, "alice").create_key("github", "pasted-by-mistake")
    return created.key.public_key, created.private_key.reveal()


@pytest.fixture
def textual_log(tmp_path, monkeypatch):
    """Textual's log file (TEXTUAL_LOG), where every event is written with its text."""
    path = tmp_path / "textual.log"
    monkeypatch.setattr(textual.constants, "LOG_FILE", str(path))
    return path


def _fragments(private_key: str) -> list[str]:
    secret = private_key.split("_", 2)[2]  # what follows the id: secret and checksum
    return [secret[i : i + 6] for i in range(len(secret) - 5)]


def _screen_text(app: KeydeskApp) -> str:
    return unescape(re.sub(r"<[^>]+>", "", app.export_screenshot()))


async def _filter_box(pilot) -> FilterInput:
    await settle(pilot)
    await pilot.press("slash", *"NoSuch")
    await settle(pilot)
    guide = str(pilot.app.screen.query_one("#empty-guide", Static).render())
    assert "No integration matches “NoSuch”" in guide  # as typed, not lower-cased
    await pilot.press("escape")
    await open_integration(pilot, "github")
    assert isinstance(pilot.app.screen, IntegrationDetailScreen)
    await pilot.press("slash")
    await settle(pilot)
    box = pilot.app.focused
    assert isinstance(box, FilterInput)
    return box


async def _assert_replaced(
    pilot, box: FilterInput, public_key: str, private_key: str, log, *, notices: int
) -> None:
    app = pilot.app
    detail = app.screen
    assert isinstance(detail, IntegrationDetailScreen)
    for _ in range(50):  # the API Keys filter runs after 0.1 s of quiet typing
        await settle(pilot)
        if len(detail.listed_keys()) == 1:
            break
    assert box.value == public_key
    assert [k.public_key for k in detail.listed_keys()] == [public_key]  # the filter finds it
    said = f"A private key was entered; it was replaced by its public key {public_key}."
    assert [n.message for n in app._notifications] == [said] * notices  # once a key
    await pilot.press("ctrl+z")  # Textual 8's Input keeps no undo history: nothing comes back
    assert box.value == public_key
    shown, logged = _screen_text(app), log.read_text()
    assert public_key in logged  # the log was written: its silence below means something
    for fragment in _fragments(private_key):
        assert fragment not in box.value and fragment not in shown and fragment not in logged


async def test_a_private_key_pasted_or_typed_fast_becomes_its_public_key(
    demo_store, pasted, textual_log
):
    public_key, private_key = pasted
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        box = await _filter_box(pilot)
        app.post_message(events.Paste(f"{private_key}\nsecond line"))  # as the driver does
        await _assert_replaced(pilot, box, public_key, private_key, textual_log, notices=1)
        box.value = ""
        app.clear_notifications()  # what follows is said anew
        for character in private_key:  # as tmux send-keys -l: a burst, one event a character
            app.post_message(events.Key("underscore" if character == "_" else character, character))
        await _assert_replaced(pilot, box, public_key, private_key, textual_log, notices=1)
        await pilot.press("space", "x")  # the key has ended: what follows is typed again
        assert box.value == f"{public_key} x"
        app.clear_notifications()
        app.post_message(events.Paste("ab\x1b[2Jcd"))  # refused, in a sentence
        await pilot.pause()
        [said] = [n.message for n in app._notifications]
        assert said.startswith("The filter contains an escape sequence") and said.endswith(".")
        assert box.value == f"{public_key} x"


async def test_escape_clears_a_filter_first_then_leaves_the_integration(make_app):
    """Escape in the API Keys filter left the integration at once, while on
    the list it cleared the filter: both clear a filter that holds text first."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        await pilot.press("slash", *"ci", "escape")
        await settle(pilot)
        assert app.screen is detail and detail.key_filter.value == ""
        assert detail.focused is detail.table and len(detail.listed_keys()) > 1
        assert "clears a typed filter first" in dict(key_rows(detail))["esc"]  # in ?
        await pilot.press("slash", "escape")  # the filter is empty: back to the list
        await settle(pilot)
        assert app.screen is not detail
        await pilot.press("slash", *"git", "escape")
        await settle(pilot)
        listed = app.screen
        assert listed.query_one("#filter", FilterInput).value == ""
        assert not isinstance(listed.focused, FilterInput)


async def test_down_in_a_filter_goes_to_the_list_under_it_as_enter_does(make_app):
    """With `/gate` typed, Down stayed in the box: only Enter reached the
    rows. On the list of integrations, an API Keys tab and Members alike."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listed = app.screen
        await pilot.press("slash", *"git", "down")
        await settle(pilot)
        assert listed.focused is listed.table, listed.focused
        assert listed.query_one("#filter", FilterInput).value == "git"  # kept, as Enter keeps it
        await open_integration(pilot, "github")
        detail = app.screen
        await pilot.press("slash", *"ci", "down")
        await settle(pilot)
        assert detail.focused is detail.table and detail.key_filter.value == "ci"
        assert all("ci" in key.label.lower() for key in detail.listed_keys())
