"""Switch between the workspaces the account belongs to; the one open is
marked "(now)", as the role dialog marks a member's role."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from keydesk.tui.display import cells, content, visible
from keydesk.tui.screens.base import KeydeskModal
from keydesk.tui.screens.choice import NOW
from keydesk.tui.widgets import KeyFooter, ListOptions
from keydesk.views import WorkspaceView

NEW_WORKSPACE = "To make another, run keydesk init --workspace NAME (you will own it)."


class WorkspaceScreen(KeydeskModal[WorkspaceView | None]):
    BINDINGS = [
        Binding("escape,q", "cancel", "Cancel", key_display="esc", id="workspace.cancel"),
        # priority: the list would take Enter first, and hide it from the footer
        Binding("enter", "choose", "Choose", key_display="⏎", priority=True, id="workspace.choose"),
    ]

    def __init__(self, workspaces: list[WorkspaceView], current: WorkspaceView | None) -> None:
        super().__init__(id="workspace-screen")
        self._workspaces = workspaces
        self._current = current

    def compose(self) -> ComposeResult:
        # Roles in a column ("acme   (owner)" and "globex   (owner)" were not).
        names = [visible(w.name) for w in self._workspaces]
        width = max(map(cells, names), default=0)
        with Vertical(id="dialog"):
            yield Static("Switch workspace", id="dialog-title")
            yield ListOptions(
                *(
                    Option(content(f"{name}{' ' * (width - cells(name))}   ({w.role}){self._now(w)}"),
                           id=str(w.id))
                    for name, w in zip(names, self._workspaces, strict=True)
                ),
                id="workspaces",
            )  # fmt: skip
            # The TUI makes only the first (on its welcome): say where the next comes from.
            yield Static(NEW_WORKSPACE, id="new-workspace", classes="field-hint")
        yield KeyFooter()

    def _now(self, workspace: WorkspaceView) -> str:
        current = self._current
        return NOW if current is not None and workspace.id == current.id else ""

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self._current is not None:
            options.highlighted = next(
                (n for n, w in enumerate(self._workspaces) if w.id == self._current.id), 0
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next(w for w in self._workspaces if str(w.id) == event.option.id))

    def action_choose(self) -> None:
        self.query_one(OptionList).action_select()

    def action_cancel(self) -> None:
        self.dismiss(None)
