"""ListTable leaves Enter to its screen: the footer shows ⏎ Open where Enter
opens the highlighted row (the integration list, the API Keys tab), Enter
opens what it opened before, and where it opens nothing (the Audit tab,
Members, a tab with no keys, scan results) neither footer nor Enter offer it."""

from __future__ import annotations

from textual.screen import Screen

from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.screens.members import MembersScreen
from keydesk.tui.screens.scan import ScanScreen
from keydesk.tui.widgets import KeyFooter, ListTable
from tests.tui.screenshots import SCREENS, demo_app, open_integration, settle


def _offers_open(screen: Screen[object]) -> bool:
    footer = screen.query_one(KeyFooter)
    return ("⏎", "Open") in {(k.key_display, k.description) for k in footer.query("FooterKey")}


async def _enter_opens_nothing(pilot, screen: Screen[object]) -> None:
    assert isinstance(screen.focused, ListTable), screen.focused
    assert not _offers_open(screen)
    await pilot.press("enter")
    await settle(pilot)
    assert pilot.app.screen is screen


async def test_enter_opens_the_highlighted_row_and_the_footer_says_so(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, IntegrationsScreen) and _offers_open(listing)
        integration = listing.highlighted()
        assert integration is not None and integration.name == "github"
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen)
        assert detail.integration.id == integration.id and detail.tabs.active == "api-keys"
        assert isinstance(detail.focused, ListTable) and _offers_open(detail)
        await pilot.press("j")  # the second key: Enter opens the highlighted one
        key = detail.highlighted_key()
        assert key is not None and detail.table.cursor_row == 1
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyScreen) and page.key.public_key == key.public_key


async def test_where_enter_opens_nothing_the_footer_does_not_offer_it(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(detail, IntegrationDetailScreen) and detail.tabs.active == "audit"
        await _enter_opens_nothing(pilot, detail)
        await pilot.press("escape", "m")
        await settle(pilot)
        assert isinstance(app.screen, MembersScreen)
        await _enter_opens_nothing(pilot, app.screen)
        await pilot.press("escape")
        await open_integration(pilot, "okta-sso")  # a draft with no keys
        empty = app.screen
        assert isinstance(empty, IntegrationDetailScreen) and empty.table.row_count == 0
        empty.table.focus()
        await settle(pilot)
        await _enter_opens_nothing(pilot, empty)


async def test_scan_results_offer_no_open(demo_store):
    app = demo_app(demo_store, "scan-results")
    async with app.run_test(size=(120, 40)) as pilot:
        await SCREENS["scan-results"](pilot)
        screen = app.screen
        assert isinstance(screen, ScanScreen) and screen.table.row_count > 0
        await _enter_opens_nothing(pilot, screen)
