"""The footer offers `esc Clear filter` while a filter holds text (in the
box, and on the integration list under it) and not once it is empty; the
footer is rebuilt when that changes, not at every keystroke."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.widgets import FilterInput, KeyFooter
from tests.tui.screenshots import open_integration, settle


def _offered(pilot) -> list[str]:
    """The footer's keys whole on screen."""
    width = pilot.app.size.width
    return [
        key.description
        for key in pilot.app.screen.query_one(KeyFooter).query(FooterKey)
        if key.region.width > 0 and key.region.right <= width
    ]


async def test_the_footer_offers_clear_filter_while_a_filter_holds_text(make_app, footer_rebuilds):
    rebuilds = footer_rebuilds
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen)
        await pilot.press("slash")
        await settle(pilot)
        assert "Clear filter" not in _offered(pilot) and "Back" in _offered(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert "Clear filter" in _offered(pilot) and "Back" not in _offered(pilot)
        before = len(rebuilds)
        await pilot.press("i", "backspace")  # still text: what the footer offers is the same
        await settle(pilot)
        assert len(rebuilds) == before and "Clear filter" in _offered(pilot)
        await pilot.press("backspace")
        await settle(pilot)
        assert len(rebuilds) == before + 1 and "Clear filter" not in _offered(pilot)
        await pilot.press("escape")  # an empty filter's Escape goes back
        await settle(pilot)
        assert app.screen is not detail

        listed = app.screen
        await pilot.press("slash", *"git", "enter")  # down to the list, the text kept
        await settle(pilot)
        assert not isinstance(app.focused, FilterInput) and "Clear filter" in _offered(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert listed.query_one(FilterInput).value == ""
        assert "Clear filter" not in _offered(pilot)
        await pilot.press("slash", "escape")  # empty: Escape goes down to the list
        await settle(pilot)
        assert app.screen is listed and not isinstance(app.focused, FilterInput)
