"""Help (? or F1): every key of the screen it was opened on, the ones the
footer has no room for included, and whether each applies right now."""

from __future__ import annotations

import re

from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from keydesk.tui.screens.base import KeydeskModal, KeydeskScreen
from keydesk.tui.widgets import KeyFooter, Pairs

# Each on one line in a dialog at 60 columns (34 cells beside the keys):
# wrapped, they ran into each other (a rotation's ? at 60x20 took 13 lines
# for these 8).
GENERAL = [
    ("↑ ↓ j k PgUp PgDn", "Move in a list or table"),
    ("home / end", "First / last row of a list"),
    ("tab / shift+tab", "Next / previous field or button"),
    ("enter", "Open, choose, or press a button"),
    ("esc / q", "Back; q quits from the list"),
    ("ctrl+p", "Command palette: actions by name"),
    ("drag, ctrl+c", "Select text, copy the selection"),
    ("shift+drag", "The terminal's own selection"),
    ("keydesk --no-mouse", "Start with the mouse off"),
]


class HelpScreen(KeydeskModal[None]):
    BINDINGS = [
        Binding("escape,q", "close", "Close", key_display="esc", id="help.close"),
        Binding("f1,question_mark", "close", "Close", show=False),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__(id="help-screen")
        self._rows = key_rows(screen)
        # What a screen's terse cells mean (the integration list's "1 · 1 ends").
        self._notes: list[tuple[str, str]] = list(getattr(screen, "HELP_NOTES", []))

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Keys on this screen", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Pairs(self._rows, id="help-keys")
                if self._notes:
                    yield Static("On this screen", classes="help-heading")
                    yield Pairs(self._notes, id="help-notes")
                yield Static("Everywhere", classes="help-heading")
                yield Pairs(GENERAL, id="help-general")
        yield KeyFooter()

    def action_close(self) -> None:
        self.dismiss(None)


def key_rows(screen: Screen[object]) -> list[tuple[str, str]]:
    """(keys, what they do) for each of the screen's bindings that has an id,
    in the footer's order; a binding that does not apply now says so. Keys
    that do the same (the list's q and ctrl+q) share a row: "q / ^q"."""
    app = screen.app
    rows: dict[tuple[int, str, tuple[object, ...]], tuple[list[str], str]] = {}
    for node, binding, enabled, _tooltip in screen.active_bindings.values():
        if not binding.id:
            continue
        namespace, action, parameters = parse_action(binding.action)
        target = {"app": app, "screen": screen}.get(namespace, node)
        what = binding.tooltip or binding.description
        if not enabled:  # why, as pressing it says, where the screen knows
            why = screen.why_not(binding.action) if isinstance(screen, KeydeskScreen) else None
            what += f" ({in_brackets(why)})" if why else " (not available here right now)"
        keys, _ = rows.setdefault((id(target), action, parameters), ([], what))
        shown = app.get_key_display(binding)
        if shown not in keys:
            keys.append(shown)
    return [(" / ".join(keys), what) for keys, what in rows.values()]


# The ordinary words a reason starts with, as a sentence in a toast: only
# these are lower-cased in brackets. Others may be a name (an integration's,
# "K" the key), shown as written.
_SENTENCE_START = re.compile(r"(No|Nothing|This|You|Only) ")


def in_brackets(reason: str) -> str:
    """A refusal's sentence as an aside: "(no key here: nothing to rotate)"
    read as a clause of the key's line, not "(No key here …)"."""
    if _SENTENCE_START.match(reason):
        reason = reason[0].lower() + reason[1:]
    return reason.removesuffix(".")
