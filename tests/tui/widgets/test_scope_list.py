"""ScopeList: Tab into it and Space ticks or unticks its first scope; j/k move."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input

from keydesk.tui.widgets import ScopeList


class _Form(App[None]):
    def compose(self) -> ComposeResult:
        yield Input(id="before")
        yield ScopeList(("old", "old"), id="scopes")

    def on_mount(self) -> None:  # as the create form offers an integration's scopes
        scopes = self.query_one(ScopeList)
        scopes.clear_options()
        scopes.add_options([("read", "read", True), ("write", "write", False)])


async def test_focusing_the_scopes_highlights_the_first_so_space_acts_on_it(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # as seen: no row shown highlighted, Space did nothing
    app = _Form()
    async with app.run_test() as pilot:
        scopes = app.query_one(ScopeList)
        await pilot.press("tab")
        assert app.focused is scopes and scopes.highlighted == 0
        await pilot.press("space")
        assert scopes.selected == []  # "read" unticked
        await pilot.press("down", "space", "shift+tab", "tab")
        assert scopes.highlighted == 1 and scopes.selected == ["write"]  # where it was left


async def test_j_and_k_move_in_the_scopes_as_in_every_list():
    app = _Form()
    async with app.run_test() as pilot:
        scopes = app.query_one(ScopeList)
        await pilot.press("tab", "j", "space")
        assert scopes.highlighted == 1 and scopes.selected == ["read", "write"]
        await pilot.press("k", "space")
        assert scopes.highlighted == 0 and scopes.selected == ["write"]
