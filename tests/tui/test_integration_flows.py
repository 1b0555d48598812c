"""keydesk.tui.flows.integrations: what its confirmations say."""

from __future__ import annotations

from textual.widgets import Static

from keydesk.tui.screens.confirm import ConfirmScreen
from tests.tui.screenshots import burst, open_integration, settle, settle_long


async def test_disable_counts_the_keys_that_stop_in_words(make_app):
    """google-workspace has one active key: 'Its 1 active key stops', not 'key(s)'."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "google-workspace")
        await pilot.press("1", "d")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        said = " ".join(str(line.render()) for line in dialog.query(".dialog-line").results(Static))
        assert "Its 1 active key stops working at once: every request presenting it " in said
        assert "(s)" not in said
        await pilot.press("escape")


async def test_d_typed_again_and_again_never_disables_an_integration(make_app):
    """Done (d) on a new key's page, then d twice more out of habit: the
    second d asks "Disable github?", and the third must not answer it; D does."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        burst(app, "g|habit|enter")
        await settle_long(pilot)
        burst(app, "cddd")
        await settle_long(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert app.screen_stack[-2].integration.is_configured
        await pilot.press("D")
        await settle(pilot)
        assert not app.screen.integration.is_configured
