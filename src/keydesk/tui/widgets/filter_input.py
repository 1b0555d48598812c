"""The one-line filter box above a list."""

from __future__ import annotations

from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget

from keydesk.redaction import PUBLIC_KEY_PREFIX, shown_instead
from keydesk.tui.display import clipped, sentence
from keydesk.tui.widgets.guarded_input import GuardedInput

NEEDLE_SHOWN = 32  # cells of a filter's text quoted back: a public key is 21
PRIVATE_KEY_REPLACED = "A private key was entered; it was replaced by {what}."  # pasted or typed


def no_match(what: str, needle: str) -> str:
    """The line under a list whose filter hides every row, the same on every
    screen (an empty list said nothing, or went on describing a hidden row).
    A long filter is cut: a 300-character paste pushed 'esc clears' off."""
    return f"No {what} matches “{clipped(needle, NEEDLE_SHOWN)}” — esc clears the filter."


def clear_filter_binding(screen: str, rows: str, keys: str = "escape,q") -> Binding:
    """Escape (and q, which leaves as Escape does) on a screen whose filter
    holds text, focus below it (Enter left it): listed before the screen's
    Back, the footer names what Escape does, "esc Clear filter", and "esc
    Back" once it is empty (the screen's check_action answers
    "clear_filter" with `typed_in`)."""
    return Binding(
        keys, "clear_filter", "Clear filter", key_display="esc", id=f"{screen}.clear_filter",
        tooltip=f"Empty the filter: every {rows} again",
    )  # fmt: skip


def typed_in(where: Widget | None) -> list[FilterInput]:
    """The filters in `where` that hold text."""
    return [box for box in where.query(FilterInput) if box.value] if where else []


def clear_typed(where: Widget | None) -> bool:
    """Empty the filters in `where` that hold text; False if none did. Escape
    does it before it leaves a screen, wherever focus is, as on the list of
    integrations: from the list under a filter it left, filter and all."""
    typed = typed_in(where)
    for box in typed:
        box.value = ""
    return bool(typed)


class SearchInput(GuardedInput):
    """A box that searches: a private key pasted or typed in it (where an
    admin looking for a key pastes it) is replaced by its public key, which
    the search finds (GuardedInput), with a notice; a refusal is a toast
    (a search has no error line of its own)."""

    def instead(self, key: str) -> str:
        return shown_instead(key)

    def key_note(self, shown: str) -> str:
        what = f"its public key {shown}" if shown.startswith(PUBLIC_KEY_PREFIX) else shown
        return PRIVATE_KEY_REPLACED.format(what=what)

    def refused(self, message: str) -> None:
        self.notify(sentence(message), severity="warning", markup=False)


class FilterInput(SearchInput):
    """A one-line filter box of fixed size (app.tcss). Textual's Input sets
    its virtual size (its text's width, for scrolling) at every keystroke,
    and a widget's virtual size relays out the whole screen, as a scrollbar
    might come or go; an Input has none. Repainted only, a typed character
    is written to the terminal 3-4 ms after its key arrives on the API Keys
    tab, instead of 9-12 ms (measured in tmux)."""

    # Escape clears a filter that holds text and goes down to the list under
    # it (on every screen alike), and the footer says so; an empty filter
    # leaves Escape to its screen. Down goes to the list as Enter does (the
    # row under the box is where the eye goes): each screen's Submitted.
    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("down", "submit", "To the list", show=False),
    ]

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), repaint=True)
    WHAT = "the filter"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.value) if action == "clear_filter" else True

    def watch_value(self, old: str, new: str) -> None:
        # What Escape does (and the footer offers) changes only when the
        # filter empties or fills: not asked again at every keystroke.
        if bool(old) != bool(new):
            self.refresh_bindings()

    def action_clear_filter(self) -> None:
        self.value = ""
        self.screen.focus_next()  # the list the filter is above
