"""keydesk.tui.flows.integrations: what its confirmations say."""

from __future__ import annotations

from textual.widgets import Static

from keydesk.tui.screens.confirm import ConfirmScreen
from tests.tui.screenshots import open_integration, settle


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
