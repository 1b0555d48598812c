"""Line: a line of words shown literally, redrawn only when they change."""

from __future__ import annotations

from textual.app import App, ComposeResult

from keydesk.tui.widgets import Line
from tests.tui.screenshots import settle


class _OneLine(App[None]):
    def compose(self) -> ComposeResult:
        yield Line(id="line")


async def test_the_same_words_again_update_nothing_and_markup_shows_literally(monkeypatch):
    updates: list[object] = []
    app = _OneLine()
    async with app.run_test() as pilot:
        line = app.query_one(Line)
        update = line.update
        monkeypatch.setattr(line, "update", lambda shown: (updates.append(shown), update(shown)))
        for words in ("[red]x[/] 2 keys", "[red]x[/] 2 keys", "3 keys"):
            line.say(words)
        await pilot.pause()
        assert len(updates) == 2
        line.say("[red]x[/]")
        await pilot.pause()
        assert str(line.render()) == "[red]x[/]"


async def test_a_line_breaks_only_where_it_is_allowed_and_again_when_resized():
    """The line under the keys table split "expires 2027-03-07" from its
    "15:50 UTC" at 120 columns; it breaks between its parts."""
    parts = ["CI Runner  (kdpk_x, active)", "created 2026-10-01", "expires 2027-03-07 15:50 UTC"]
    app = _OneLine()
    async with app.run_test(size=(60, 10)) as pilot:
        line = app.query_one(Line)
        line.say(" · ".join(parts), break_at=" · ")
        await settle(pilot)
        shown = str(line.render()).splitlines()
        assert shown == [" · ".join(parts[:2]), parts[2]], shown
        await pilot.resize_terminal(100, 10)
        await settle(pilot)  # laid out at the new width, then packed again
        assert str(line.render()).splitlines() == [" · ".join(parts)]
