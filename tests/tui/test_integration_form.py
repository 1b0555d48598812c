"""keydesk.tui.screens.integration_form: its layout at each supported size."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from keydesk.tui.screens.integration_form import FIELDS, IntegrationFormScreen
from tests.tui.screenshots import settle


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_every_field_is_as_wide_as_the_name(make_app, size):
    """The Scopes field shares its id with the create form's scope list,
    whose width (60) it took: half the width of the others at 120x40."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, IntegrationFormScreen)
        widths = {field: form.query_one(f"#{field}", Input).size.width for field, *_ in FIELDS}
        assert set(widths.values()) == {widths["name"]}, widths


async def test_editing_a_draft_starts_in_the_first_setting_it_misses(make_app):
    """okta-sso's page says "configuring it needs its redirect URI; e fills
    it in", and e put the cursor in Client ID; a new integration starts at Name."""
    from tests.tui.screenshots import open_integration

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "okta-sso")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        assert app.focused is not None and app.focused.id == "redirect-uri", app.focused
        await pilot.press("escape")
        await settle(pilot)
        while len(app.screen_stack) > 2:
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert app.focused is not None and app.focused.id == "name", app.focused


async def test_text_typed_ahead_into_the_edit_form_never_replaces_a_setting(make_app):
    """'export' typed at once on github's keys: its e opened this form and
    'xport' replaced the whole client id (the setting was selected)."""
    from tests.tui.screenshots import burst, open_integration, settle_long

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        client_id = app.screen.integration.client_id
        burst(app, "export")
        await settle_long(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        assert app.focused is not None and app.focused.id == "client-id", app.focused
        assert app.focused.value == client_id + "xport", app.focused.value


async def test_saving_the_edit_form_untouched_says_nothing_changed(make_app, demo_store):
    """It said "github saved (configured)" and wrote an event for no change."""
    from keydesk.service import KeyService
    from tests.tui.screenshots import open_integration

    events = len(KeyService(demo_store, "alice").audit("acme"))
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, IntegrationFormScreen)
        said = [n.message for n in app._notifications]
        assert said[-1] == "github: nothing changed, nothing saved.", said
    assert len(KeyService(demo_store, "alice").audit("acme")) == events


async def test_text_typed_onto_a_list_never_saves_an_integrations_settings(make_app, demo_store):
    """'hello' Enter typed on github's keys: its e opened the edit form, 'llo'
    went into the client id and Enter saved it. A change past the draft is
    asked first, answered with S alone; Enter goes back to the form."""
    from keydesk.service import KeyService
    from keydesk.tui.screens.confirm import ConfirmScreen
    from tests.tui.screenshots import burst, open_integration, settle_long

    before = KeyService(demo_store, "alice").integration("github").client_id
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        burst(app, "hello|enter")
        await settle_long(pilot)
        question = app.screen
        assert isinstance(question, ConfirmScreen) and question.id == "settings-confirm"
        lines = [str(s.render()) for s in question.query(".dialog-line").results(Static)]
        assert lines[0] == f"OAuth client ID: {before} -> {before}llo", lines
        await pilot.press("enter")  # Keep editing
        await settle(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        burst(app, "enter|S")  # S typed before the question was on screen: no answer
        await settle_long(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert KeyService(demo_store, "alice").integration("github").client_id == before
        await pilot.press("ctrl+s")  # asked again
        await settle(pilot)
        await pilot.press("S")  # once on screen, S saves
        await settle_long(pilot)
    assert KeyService(demo_store, "alice").integration("github").client_id == before + "llo"
