"""The command palette's words for a key's actions say what they do, and
Enter typed right behind a search runs the command searched for."""

from __future__ import annotations

from textual.widgets import OptionList

from keydesk.tui.screens.audit import AuditScreen
from tests.tui.screenshots import burst, open_integration, settle, settle_long


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


async def test_enter_typed_behind_a_search_runs_what_was_searched_for(make_app):
    """'audit' Enter in one burst ran Generate API key: the command the
    empty search listed first, still highlighted when Enter came."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        burst(app, "audit|enter")
        await settle_long(pilot)
        assert isinstance(app.screen, AuditScreen)


async def test_the_palette_covers_the_footer_behind_it_with_its_own_keys(make_app):
    """The list's footer showed through (g New key, / Filter), whose keys
    only type into the search."""
    from textual.widgets import Static

    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        keys = app.screen.query_one("#palette-keys", Static)
        assert keys.region.y == 19 and keys.region.width == 60  # the bottom row, all of it
        assert app.screen.query_one("CommandList").region.bottom <= 19  # the list stops above it
        assert str(keys.render()) == "⏎ run  ↑↓ choose  esc close"


async def test_the_palettes_search_never_holds_a_private_key_or_an_escape_sequence(
    make_app, demo_store
):
    """Textual's search box let a pasted `\\e[2J` reach the terminal, and
    showed a pasted private key whole. Why is said on the palette's own
    line, at 60x20 too (a toast was drawn under its list)."""
    from textual import events
    from textual.widgets import Static

    from keydesk.service import KeyService
    from keydesk.tui.commands import PaletteInput

    created = KeyService(demo_store, "alice").create_key("github", "pasted")
    secret = created.private_key.reveal()
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        search = app.screen.query_one(PaletteInput)
        line = app.screen.query_one("#palette-keys", Static)
        app.post_message(events.Paste("ab\x1b[2Jcd"))
        await settle(pilot)
        assert search.value == ""
        said = str(line.render())
        assert said.startswith("The search contains an escape sequence"), said
        assert line.region.bottom == 20  # in view: the list stops above it
        assert app.screen.query_one("CommandList").region.bottom <= line.region.y, "whole"
        app.post_message(events.Paste(secret))
        await settle(pilot)
        assert search.value == created.key.public_key
        assert secret[-24:] not in app.export_screenshot()  # the secret part
        assert "replaced by its public key" in str(line.render())
        await pilot.press("x")  # typed on: the keys again
        await settle(pilot)
        assert str(line.render()) == "⏎ run  ↑↓ choose  esc close"
