"""keydesk's Header: a screen closed in the same turn of the app as it
opened ends nothing (Textual's own Header raised NoMatches then), and the
title still follows the app's and the screen's."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from keydesk.tui.widgets.header import Header


class _Titled(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()


class _Flipping(App[None]):
    async def open_and_close(self) -> None:
        await self.push_screen(_Titled())  # mounted: its title is yet to be shown
        await self.pop_screen()  # gone before the app's next turn


def _title(app: App[None]) -> str:
    return str(app.screen.query_one("HeaderTitle", Static).render())


async def test_a_screen_closed_as_it_opens_ends_nothing() -> None:
    app = _Flipping()
    async with app.run_test() as pilot:
        for _ in range(3):
            app.call_later(app.open_and_close)
            await pilot.pause()
    assert app.return_code in (0, None) and app._exception is None


async def test_the_title_follows_the_app_and_the_screen() -> None:
    app = _Flipping()
    app.title = "keydesk"
    async with app.run_test() as pilot:
        screen = _Titled()
        await app.push_screen(screen)
        await pilot.pause()
        assert _title(app) == "keydesk"
        app.sub_title = "acme"
        screen.title = "Keys"
        assert _title(app) == "Keys — acme"
