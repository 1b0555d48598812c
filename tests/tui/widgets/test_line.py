"""Line: a line of words shown literally, redrawn only when they change."""

from __future__ import annotations

from textual.app import App, ComposeResult

from keydesk.tui.widgets import Line


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
