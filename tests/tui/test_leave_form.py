"""keydesk.tui.screens.confirm.leave_form: Escape (or Cancel) on a form
holding typed text asks before discarding it; an untouched form closes at
once. One walk per form: Add integration, Edit integration, Create API key."""

from __future__ import annotations

from textual.widgets import Button, Input, Select, SelectionList

from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from tests.tui.screenshots import open_create_form, open_integration, settle


async def _asked(pilot) -> ConfirmScreen:
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, ConfirmScreen) and dialog.id == "discard-confirm"
    return dialog


async def test_add_integration_asks_before_discarding_a_half_typed_form(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        list_screen = app.screen
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("escape")  # untouched: leaves at once
        await settle(pilot)
        assert app.screen is list_screen
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, IntegrationFormScreen)
        await pilot.press(*"gh2", "tab", *"GitHub", "escape")
        asked = await _asked(pilot)
        # its words name the keys its footer does (Escape, "esc Keep editing")
        assert "y discard · n or esc keep editing" in asked._lines
        await pilot.press("n")  # keep editing: nothing lost
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#name", Input).value == "gh2"
        assert form.query_one("#provider", Input).value == "GitHub"
        await pilot.press("escape")
        await _asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is list_screen
        assert "gh2" not in {i.name for i in app.service.integrations()}


async def test_edit_integration_asks_only_once_a_field_changed(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_integration(pilot, "okta-sso")
        detail = app.screen
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        await pilot.press("escape")  # the settings as they were: leaves at once
        await settle(pilot)
        assert app.screen is detail
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, IntegrationFormScreen)
        await pilot.press("x")
        form.query_one("#cancel", Button).press()  # the Cancel button asks too
        await _asked(pilot)
        await pilot.press("escape")  # Escape in the question keeps editing
        await settle(pilot)
        assert app.screen is form
        await pilot.press("escape")
        await _asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is detail


async def test_create_key_asks_before_discarding_a_typed_label(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_create_form(pilot, "github")
        detail = app.screen_stack[-2]
        before = len(app.service.keys("github"))
        await settle(pilot)
        await pilot.press("escape")  # defaults only (the default rate included)
        await settle(pilot)
        assert app.screen is detail
        await pilot.press("g")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen)
        await pilot.press(*"ci runner", "escape")
        await _asked(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is form and form.query_one("#label", Input).value == "ci runner"
        await pilot.press("escape")
        await _asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is detail
        assert len(app.service.keys("github")) == before


async def test_create_key_asks_before_discarding_a_chosen_expiry_or_scope(make_app):
    """A scope unticked (or an expiry chosen) and Escape went straight back:
    a choice made is as much lost as text typed."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_create_form(pilot, "github")
        detail = app.screen_stack[-2]
        scopes = form.query_one("#scopes", SelectionList)
        scopes.deselect(scopes.get_option_at_index(0).value)
        await settle(pilot)
        await pilot.press("escape")
        await _asked(pilot)
        await pilot.press("n")
        await settle(pilot)
        scopes.select_all()
        form.query_one("#expiry", Select).value = 30
        await settle(pilot)
        await pilot.press("escape")
        await _asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is detail
