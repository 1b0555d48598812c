"""The one-line filter box above a list."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input

from keydesk.redaction import (
    PRIVATE_KEY_LENGTH,
    PUBLIC_KEY_PREFIX,
    is_key_character,
    private_key_spans,
    public_key_of,
    shown_instead,
)

PRIVATE_KEY_REPLACED = "A private key was entered; it was replaced by {what}."  # pasted or typed


class FilterInput(Input):
    """A one-line filter box of fixed size (app.tcss). Textual's Input sets
    its virtual size (its text's width, for scrolling) at every keystroke,
    and a widget's virtual size relays out the whole screen, as a scrollbar
    might come or go; an Input has none. Repainted only, a typed character
    is written to the terminal 3-4 ms after its key arrives on the API Keys
    tab, instead of 9-12 ms (measured in tmux).

    A private key pasted or typed here (`/` is where an admin looking for a
    key pastes it) never becomes its value: it is replaced by its public key,
    which the filter finds, before the value changes, so no frame, no
    `Changed` message and no log line holds it. Typed fast, a character at
    a time (a terminal without bracketed paste, tmux `send-keys`), the key
    is replaced once its id is in (nothing secret yet), and the rest of it,
    as it arrives, is dropped unseen."""

    # Escape clears a filter that holds text and goes down to the list under
    # it (on every screen alike); an empty filter leaves Escape to its screen.
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", show=False)]

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), repaint=True)

    _key_rest = 0  # characters of a replaced key still to drop as they arrive

    async def on_event(self, event: events.Event) -> None:
        # Before Textual's dispatch, which logs each event with its text.
        if isinstance(event, events.Paste) and self._paste_holds_key(event.text):
            event.stop()
            return
        if isinstance(event, events.Key) and self._key_rest:
            if event.character is not None and is_key_character(event.character):
                self._key_rest -= 1
                event.stop()
                event.prevent_default()
                return
            self._key_rest = 0  # anything else ends the key
        await super().on_event(event)

    def _paste_holds_key(self, text: str) -> bool:
        line = text.splitlines()[0] if text else ""  # as Input pastes: the first line
        start, end = sorted(self.selection)
        value = self.value
        if not private_key_spans(f"{value[:start]}{line}{value[end:]}"):
            return False
        self._key_rest = 0  # a paste arrives whole: nothing of it follows
        self.replace(line, start, end)
        return True

    def replace(self, text: str, start: int, end: int) -> None:
        value = self.value
        start, end = sorted((max(0, start), min(len(value), end)))
        new_value = f"{value[:start]}{text}{value[end:]}"
        spans = private_key_spans(new_value)
        if not spans:
            super().replace(text, start, end)
            return
        cursor = start + len(text)
        shown = ""
        parts: list[str] = []
        done = 0
        new_cursor = cursor
        for key_start, key_end in spans:
            key = new_value[key_start:key_end]
            shown = shown_instead(key)
            parts += [new_value[done:key_start], shown]
            done = key_end
            if cursor >= key_end:
                new_cursor += len(shown) - len(key)
            elif cursor > key_start:
                new_cursor = sum(map(len, parts))
            if key_end == cursor and len(text) == 1 and public_key_of(key) is not None:
                self._key_rest = max(0, PRIVATE_KEY_LENGTH - len(key))  # typed: more follows
        parts.append(new_value[done:])
        self.value = "".join(parts)
        self.cursor_position = new_cursor
        what = f"its public key {shown}" if shown.startswith(PUBLIC_KEY_PREFIX) else shown
        self.notify(PRIVATE_KEY_REPLACED.format(what=what), severity="warning", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.value) if action == "clear_filter" else True

    def action_clear_filter(self) -> None:
        self.value = ""
        self.screen.focus_next()  # the list the filter is above

    def on_blur(self) -> None:  # Input's own _on_blur runs too (Textual calls each class's)
        self._key_rest = 0
