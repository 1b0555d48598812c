"""GuardedInput, the forms' text fields: a private key pasted or typed is
cleared from the box at once, and a paste holding an escape sequence is
refused whole with the CLI's message; the terminal's paste reaches them whole."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Static

from keydesk import validation
from keydesk.errors import InvalidInput
from keydesk.service import KeyService
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screens.members import AddMemberScreen
from keydesk.tui.typeahead import AltKeysParser
from keydesk.tui.widgets import GuardedInput
from keydesk.tui.widgets.guarded_input import KEY_CLEARED
from tests.tui.screenshots import burst, settle, settle_long

ESCAPED = "ab\x1b[1mcd"


@pytest.fixture
def private_key(demo_store) -> str:
    return KeyService(demo_store, "alice").create_key("github", "pasted").private_key.reveal()


def _said(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def test_a_paste_holding_an_escape_sequence_arrives_whole_and_in_order():
    """Textual read it as the keys `^[1mcd` and then a paste of `ab`."""
    parser = AltKeysParser()
    tokens = list(parser.feed(f"x\x1b[200~{ESCAPED}\x1b[201~y\x1b[A"))
    assert [type(t).__name__ for t in tokens] == ["Key", "Paste", "Key", "Key"]
    assert tokens[1].text == ESCAPED and [tokens[2].key, tokens[3].key] == ["y", "up"]


async def test_the_label_field_clears_a_key_and_refuses_an_escape(
    make_app, demo_store, private_key
):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen)
        label = form.query_one("#label", GuardedInput)
        await pilot.press(*"prod ")
        app.post_message(events.Paste(private_key))  # as the driver does
        await settle(pilot)
        assert label.value == "prod " and private_key[:12] not in app.export_screenshot()
        assert _said(form, "#label-error") == KEY_CLEARED
        label.value = ""
        for character in private_key:  # typed fast: cleared once its id is in, the rest dropped
            app.post_message(events.Key("underscore" if character == "_" else character, character))
        await settle(pilot)
        assert label.value == "" and _said(form, "#label-error") == KEY_CLEARED
        app.post_message(events.Paste(ESCAPED))
        await settle(pilot)
        with pytest.raises(InvalidInput) as cli:
            validation.label(ESCAPED)
        assert label.value == ""
        assert _said(form, "#label-error") == "T" + cli.value.message[1:] + "."
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form  # nothing saved
    labels = [k.label for k in KeyService(demo_store, "alice").keys("github")]
    assert "pasted" in labels and not any("cd" in label for label in labels)


async def test_the_integration_and_member_forms_clear_a_pasted_key(make_app, private_key):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, IntegrationFormScreen)
        app.post_message(events.Paste(private_key))
        await settle(pilot)
        assert form.query_one("#name", GuardedInput).value == ""
        assert _said(form, "#add-error") == KEY_CLEARED
        await pilot.press("escape", "m")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, AddMemberScreen)
        app.post_message(events.Paste(private_key))
        await settle(pilot)
        assert dialog.query_one("#member-account", GuardedInput).value == ""
        assert _said(dialog, "#member-error") == KEY_CLEARED


async def test_a_save_typed_behind_a_key_taken_out_waits_until_it_is_seen(
    make_app, demo_store, private_key
):
    """`g`, "ci-" and a private key, Enter, in one burst: the key is taken out
    and that Enter saved a key labelled "ci-" before anyone could read why.
    It saves nothing and says so; the next Enter saves what the field shows."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "g|ci-" + private_key + "|enter")
        await settle_long(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen)
        assert form.query_one("#label", GuardedInput).value == "ci-"
        assert _said(form, "#label-error") == (
            "A private key was taken out of the label: check what is left, then save again."
        )
        await pilot.press(*"runner", "enter")
        await settle_long(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert app.screen._key.label == "ci-runner"
