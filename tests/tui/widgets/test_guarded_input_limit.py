"""A form field with a length limit (GuardedInput's `limit`, keydesk.validation's
numbers) never cuts what comes in silently: a paste or a keystroke that would
take it over is refused whole, the line under the field says why, and a save
typed in the same burst waits until it could have been read."""

from __future__ import annotations

from textual import events
from textual.widgets import Static

from keydesk import validation
from keydesk.errors import InvalidInput
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_form import FIELDS, IntegrationFormScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.widgets import GuardedInput
from tests.tui.screenshots import burst, open_create_form, settle, settle_long


def _said(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def test_each_integration_field_has_the_limit_the_service_applies():
    checks = {
        "name": lambda v: validation.name(v, "the integration name"),
        "provider": lambda v: validation.name(v, "the provider"),
        "client-id": lambda v: validation.name(v, "the client id"),
        "redirect-uri": lambda v: validation.redirect_uri("https://a.example/" + v[18:]),
        "scopes": validation.scopes,
    }
    for field_id, _title, _placeholder, _what, limit in FIELDS:
        checks[field_id]("a" * limit)  # the longest the field takes is accepted
        try:
            checks[field_id]("a" * (limit + 1))
        except InvalidInput:
            continue
        raise AssertionError(f"{field_id}: {limit + 1} characters accepted")


async def test_an_overlong_label_or_name_is_refused_saying_why(make_app):
    app = make_app()
    limit = validation.LABEL_MAX
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_create_form(pilot, "github")
        assert isinstance(form, CreateKeyScreen)
        label = form.query_one("#label", GuardedInput)
        app.post_message(events.Paste("a" * 200))  # as the driver does
        await settle(pilot)
        assert label.value == ""  # not cut to some length: not let in at all
        assert _said(form, "#label-error") == (
            f"The label is at most {limit} characters; "
            "with this paste it would have 200: nothing was pasted."
        )
        for _ in range(limit + 6):  # typed (no bracketed paste): up to the limit, then refused
            app.post_message(events.Key("b", "b"))
        await settle(pilot)
        assert label.value == "b" * limit
        assert _said(form, "#label-error") == (
            f"The label is at most {limit} characters; it has {limit} already."
        )
        await pilot.press("backspace", "c")  # under the limit again: typing goes in
        await settle(pilot)
        assert label.value == "b" * (limit - 1) + "c"
        assert not form.query_one("#label-error").display
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y", "escape", "a")  # discard what was typed (it asks), then Add
        await settle(pilot)
        integration_form = app.screen
        assert isinstance(integration_form, IntegrationFormScreen)
        app.post_message(events.Paste("n" * 200))
        await settle(pilot)
        assert integration_form.query_one("#name", GuardedInput).value == ""
        assert _said(integration_form, "#add-error") == (
            f"The integration name is at most {validation.NAME_MAX} characters; "
            "with this paste it would have 200: nothing was pasted."
        )


async def test_a_burst_past_the_limit_is_not_saved_cut_until_seen(make_app):
    """`g`, a 65-character label and Enter in one burst (typing over SSH):
    the 65th key is refused, and the Enter right behind it came before the
    reason could be read. That Enter saves nothing and says so; the next saves
    what the field shows."""
    app = make_app()
    limit = validation.LABEL_MAX
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "g|" + "x" * (limit + 1) + "|enter")
        await settle_long(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen)
        assert form.query_one("#label", GuardedInput).value == "x" * limit
        assert _said(form, "#label-error") == (
            f"The label is at most {limit} characters, and what was typed after that was "
            "left out: check it, then save again."
        )
        await pilot.press("enter")
        await settle_long(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert app.screen._key.label == "x" * limit


async def test_a_paste_of_several_lines_is_refused_not_cut_to_its_first(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_create_form(pilot, "github")
        label = form.query_one("#label", GuardedInput)
        app.post_message(events.Paste("ci-runner\nprod\n"))
        await settle(pilot)
        assert label.value == ""
        assert _said(form, "#label-error") == (
            "The label is one line; the paste had 2: nothing was pasted."
        )
        app.post_message(events.Paste("ci-runner\n"))  # a copied line and its end
        await settle(pilot)
        assert label.value == "ci-runner"
