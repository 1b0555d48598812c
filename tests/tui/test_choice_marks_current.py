"""The dialogs that choose one of a few answers mark the one in force with
"(now)", as the role dialog marks a member's role: Switch workspace (the
workspace open) and the key policy (the workspace's lifetime)."""

from __future__ import annotations

from textual.widgets import OptionList

from keydesk.tui.screens.choice import ChoiceScreen
from keydesk.tui.screens.workspaces import WorkspaceScreen
from tests.tui.screenshots import settle


def _options(screen) -> list[str]:
    options = screen.query_one(OptionList)
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


async def test_switch_workspace_marks_the_workspace_open(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WorkspaceScreen)
        assert _options(app.screen) == [
            "acme     (owner)  (now)",
            "globex   (owner)",
        ]  # roles in a column
        await pilot.press("down", "enter")  # to globex: now it is the one marked
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert _options(app.screen) == ["acme     (owner)", "globex   (owner)  (now)"]


async def test_the_key_policy_marks_the_lifetime_in_force(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        marked = [text for text in _options(app.screen) if text.endswith("  (now)")]
        assert marked == ["none: keys may live without an expiry  (now)"]
        await pilot.press("down", "down", "enter")  # 90 days
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        marked = [text for text in _options(app.screen) if text.endswith("  (now)")]
        assert marked == ["90 days  (now)"]
