"""The command palette's words for a key's actions say what they do."""

from __future__ import annotations

from textual.widgets import OptionList

from tests.tui.screenshots import open_integration, settle


async def test_the_palettes_rotate_says_the_old_key_stops_by_itself(make_app):
    """Rotate said "revoke the old key once deployed", yet the rotation stops
    the old key by itself after the overlap chosen."""
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Rotate API key")
        options = app.screen.query_one(OptionList)
        for _ in range(50):  # the palette searches after a short debounce
            if options.option_count and "Rotate" in str(options.get_option_at_index(0).prompt):
                break
            await pilot.pause(0.05)
        said = str(options.get_option_at_index(0).prompt)
        assert "the old key stops by itself after the overlap" in said
        assert "once deployed" not in said
