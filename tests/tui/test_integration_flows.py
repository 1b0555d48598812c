"""keydesk.tui.flows.integrations: what its confirmations say."""

from __future__ import annotations

from textual.widgets import Static

from keydesk.service import KeyService
from keydesk.tui.screens.confirm import ConfirmScreen
from tests.tui.screenshots import burst, open_integration, settle, settle_long


async def test_disable_asks_in_words_and_is_answered_with_d_only(make_app):
    """One walk at 80x24. Done (d) on a new key's page, then d twice more out
    of habit: the second d asks "Disable github?", and the third must not
    answer it; D does. google-workspace has one active key: 'Its 1 active
    key stops', not 'key(s)'."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        burst(app, "g|habit|enter")
        await settle_long(pilot)
        burst(app, "cddd")
        await settle_long(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen), ("github: d d d asks", dialog)
        assert app.screen_stack[-2].integration.is_configured, "github: the third d answered"
        said = [n.message for n in app._notifications]  # and it says why (it said nothing)
        assert said[-1] == (
            "“d” was typed before this question was on screen: read it, then answer."
        )
        await pilot.press("D")
        await settle(pilot)
        assert not app.screen.integration.is_configured, "github: D disables"

        while len(app.screen_stack) > 2:  # back to the list
            await pilot.press("escape")
            await settle(pilot)
        await open_integration(pilot, "google-workspace")
        await pilot.press("1", "d")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen), ("google-workspace: d asks", dialog)
        said = " ".join(str(line.render()) for line in dialog.query(".dialog-line").results(Static))
        stops = "Its 1 active key stops working at once: every request presenting it "
        assert stops in said, ("google-workspace", said)
        assert "(s)" not in said, ("google-workspace", said)
        await pilot.press("escape")


async def test_disabling_and_enabling_from_the_api_keys_tab_reads_the_keys_again(make_app):
    """d D on the API Keys tab: the banner said disabled, while the rows and
    the detail line still said "active" until r; c c the other way round."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        page = app.screen
        highlighted = page.highlighted_key().public_key
        await pilot.press("d")
        await settle(pilot)  # answered once on screen
        await pilot.press("D")
        await settle_long(pilot)
        assert not page.integration.is_configured
        assert all(key.integration_disabled for key in page.listed_keys())
        assert page.highlighted_key().public_key == highlighted
        await pilot.press("c")
        await settle(pilot)  # answered once on screen
        await pilot.press("c")
        await settle_long(pilot)
        assert page.integration.is_configured
        assert not any(key.integration_disabled for key in page.listed_keys())


async def test_disabling_an_integration_with_no_active_key_says_nothing_stops(make_app, demo_store):
    """It said "Its 0 active keys stop working at once"."""
    KeyService(demo_store, "alice").add_integration(
        "acme", "keyless", "Provider", client_id="c", redirect_uri="https://x.example/cb",
        configure=True,
    )  # fmt: skip
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "keyless")
        await pilot.press("1", "d")
        await settle(pilot)
        said = " ".join(str(s.render()) for s in app.screen.query(".dialog-line").results(Static))
        assert "It has no active key: no request stops working." in said, said
        assert "0 active keys" not in said, said
