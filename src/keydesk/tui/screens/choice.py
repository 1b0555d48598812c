"""Choose one of a few answers in a small modal (a rotation's overlap, a
workspace's key lifetime). Enter picks the highlighted one; Escape, none.
The answer in force is marked "(now)", as the role dialog marks a member's."""

from __future__ import annotations

from datetime import timedelta
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskModal
from keydesk.tui.widgets import KeyFooter, ListOptions

T = TypeVar("T")
NOW = "  (now)"  # after the answer in force (the role dialog's mark too)


class ChoiceScreen(KeydeskModal[tuple[T] | None], Generic[T]):
    """Dismisses with (the chosen value,), or None when cancelled (a value
    may itself be None: "no cap")."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="choice.cancel"),
        # priority: the list would take Enter first, and hide it from the footer
        Binding("enter", "choose", "Choose", key_display="⏎", priority=True, id="choice.choose"),
    ]

    def __init__(
        self,
        title: str,
        lines: list[str],
        options: list[tuple[str, T]],
        *,
        initial: int = 0,
        current: int | None = None,
        id: str | None = None,
    ) -> None:
        """`current`: the option in force, marked "(now)" (None: none is)."""
        super().__init__(id=id, classes="choice")
        self._title = title
        self._lines = lines
        self._options = options
        self._initial = initial
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(content(self._title), id="dialog-title")
            for line in self._lines:
                yield Static(content(line), classes="dialog-line")
            yield ListOptions(
                *(
                    Option(content(text + (NOW if n == self._current else "")), id=str(n))
                    for n, (text, _) in enumerate(self._options)
                ),
                id="choices",
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = self._initial
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss((self._options[int(str(event.option.id))][1],))

    def answers(self) -> str:
        return "⏎ chooses the highlighted answer, esc cancels"

    def action_choose(self) -> None:
        self.query_one(OptionList).action_select()

    def action_cancel(self) -> None:
        self.dismiss(None)


OVERLAPS: list[tuple[str, timedelta]] = [
    ("now: the old key stops at once", timedelta(0)),
    ("1 hour", timedelta(hours=1)),
    ("24 hours", timedelta(hours=24)),
    ("7 days", timedelta(days=7)),
]
LIFETIMES: list[tuple[str, int | None]] = [
    ("none: keys may live without an expiry", None),
    ("30 days", 30),
    ("90 days", 90),
    ("365 days", 365),
]


def overlap_question(label: str, public_key: str) -> ChoiceScreen[timedelta]:
    """The one rotation question: how long the old key keeps working."""
    return ChoiceScreen(
        "Rotate API key?",
        [
            f"{label}  ({public_key})",
            "A replacement is made now, with the same scopes and lifetime (within the "
            "workspace's key policy). How long should the old key keep working while "
            "you deploy it?",
        ],
        OVERLAPS,
        initial=2,
        id="overlap-choice",
    )


def lifetime_question(workspace: str, current: int | None) -> ChoiceScreen[int | None]:
    """The workspace policy: how long new keys may live."""
    values = [days for _, days in LIFETIMES]
    now = values.index(current) if current in values else None
    return ChoiceScreen(
        f"Maximum key lifetime in {workspace}",
        ["New keys and replacements must expire within this; keys that exist keep their expiry."],
        LIFETIMES,
        initial=now or 0,
        current=now,
        id="lifetime-choice",
    )
