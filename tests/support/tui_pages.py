"""A Pilot walk's way straight to a page of the app, through its typed
interface (tui/interface.py: open_integration, generate_key), for tests
about the page, not the way there. Typing the name into the list's filter
(tests/tui/screenshots.py's open_integration) costs ~0.2 s of CPU more a
walk; tests about the filter, and the documented flow, still type it."""

from __future__ import annotations

from textual.pilot import Pilot

from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from tests.tui.screenshots import settle


def _app(pilot: Pilot[object]) -> KeydeskApp:
    app = pilot.app
    assert isinstance(app, KeydeskApp)
    return app


async def go_to_integration(
    pilot: Pilot[object], name: str, tab: str = "api-keys"
) -> IntegrationDetailScreen:
    """`name`'s page on `tab`, opened over the integration list."""
    app = _app(pilot)
    await settle(pilot)
    app.open_integration(app.service.integration(name), tab)
    await settle(pilot)
    page = app.screen
    assert isinstance(page, IntegrationDetailScreen) and page.integration.name == name, page
    return page


async def go_to_create_form(pilot: Pilot[object], name: str) -> CreateKeyScreen:
    """The create form for `name`, opened over the integration list (Done
    then lands on its page, as from any entry point)."""
    app = _app(pilot)
    await settle(pilot)
    app.generate_key(app.service.integration(name).id)
    await settle(pilot)
    form = app.screen
    assert isinstance(form, CreateKeyScreen), form
    return form
