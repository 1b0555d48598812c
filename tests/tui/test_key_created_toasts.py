"""The created page opens with no toast from the screen before: an
integration's "saved" toast stayed over the key when a key was made right
after (#21 walk); the page shows its own notes on its own line."""

from __future__ import annotations

from textual.widgets._toast import Toast

from keydesk.tui.screens.key_created import KeyCreatedScreen
from tests.tui.screenshots import open_create_form, settle


async def test_a_toast_shown_before_is_gone_when_the_key_is_revealed(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_create_form(pilot, "github")
        app.notify("stripe saved", timeout=60)
        await settle(pilot)
        assert list(app.screen.query(Toast))
        await pilot.press(*"ci", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert not app._notifications
        assert not list(app.screen.query(Toast))
