"""On a store with no workspace the list never shows before the welcome
form: while the store opens the first screen holds only "Opening …", with
no rows, filter or footer (#21 walk: the empty list and its keys flashed)."""

from __future__ import annotations

from functools import partial

from textual.message import Message

from keydesk.store.queries import bare_sqlite_reads
from keydesk.tui import app as tui
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.welcome import WelcomeScreen
from keydesk.tui.widgets import KeyFooter
from tests.tui.screenshots import NEWCOMER, settle_long


async def test_the_list_never_shows_before_the_welcome_form(demo_store):
    url = f"sqlite:///{demo_store.file}"
    app = tui.KeydeskApp(
        connect=partial(tui._connect, url, NEWCOMER),
        bare_reads=partial(bare_sqlite_reads, url, NEWCOMER),
    )
    shown: list[str] = []  # what was in front, message by message, until the welcome

    def seen(_message: Message) -> None:
        screen = app.screen_stack[-1] if app.screen_stack else None
        if isinstance(screen, IntegrationsScreen) and screen.is_mounted:
            footer = screen.query_one(KeyFooter)
            table = screen.table
            shown.append("list" if footer.display or table.display else "opening")
        elif isinstance(screen, WelcomeScreen):
            shown.append("welcome")

    async with app.run_test(size=(80, 24), message_hook=seen) as pilot:
        await settle_long(pilot)
        assert isinstance(app.screen, WelcomeScreen)
    assert "welcome" in shown
    assert "list" not in shown[: shown.index("welcome")]
