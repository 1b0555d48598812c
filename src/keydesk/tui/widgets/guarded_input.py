"""A text field that never holds a private key nor an escape sequence."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

from keydesk.redaction import PRIVATE_KEY_LENGTH, is_key_character, private_key_spans, public_key_of
from keydesk.validation import as_stored, why_unprintable

KEY_CLEARED = "A private key was entered: cleared from the box, not stored or logged."


class GuardedInput(Input):
    """A one-line field where a private key pasted or typed never becomes its
    value: it is taken out (`instead`: nothing here, its public key in a
    filter) before the value changes, so no frame, no `Changed` message and
    no log line holds it. Typed fast, a character at a time (a terminal
    without bracketed paste, tmux `send-keys`), the key is taken out once its
    id is in (nothing secret yet), and the rest of it, as it arrives, is
    dropped unseen.

    A paste holding a control character (an escape sequence, `ab\\e[1mcd`) is
    refused whole, with the message the CLI gives for it (keydesk.validation):
    inserted, it would restyle the field or be stored as other text.

    A field with a `limit` (its maximum length, from keydesk.validation)
    refuses a keystroke or a paste that would take it over, whole and with
    the reason: Input's own `max_length` drops it with only a bell, so a
    200-character label arrived cut, refused for a length it never had.

    Either way `Refused` says why; `what` names the field in it."""

    class Refused(Message):
        """Something typed or pasted was not let in; `message` says why."""

        def __init__(self, field: GuardedInput, message: str) -> None:
            super().__init__()
            self.field = field
            self.message = message

        @property
        def control(self) -> GuardedInput:  # `@on(GuardedInput.Refused, "#label")` matches
            return self.field

    WHAT = "the text"  # the field, as its refusals name it
    _key_rest = 0  # characters of a taken-out key still to drop as they arrive
    # Why saving now would save less than was typed (a keystroke past the
    # limit refused, a private key taken out) since the last change, or None.
    _cut_short: str | None = None

    def __init__(
        self,
        value: str | None = None,
        *,
        what: str | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(value, **kwargs)
        self.what = what or self.WHAT
        self.limit = limit

    def instead(self, key: str) -> str:
        """What a private key typed or pasted here becomes."""
        return ""

    def refused(self, message: str) -> None:
        """Say why something was not let in (here: to the screen, which shows
        it where the field's refusals go)."""
        self.post_message(self.Refused(self, message))

    def key_note(self, shown: str) -> str:
        return KEY_CLEARED

    async def on_event(self, event: events.Event) -> None:
        # Before Textual's dispatch, which logs each event with its text.
        if isinstance(event, events.Paste):  # Input's own paste never runs: see _paste
            self._paste(event.text)
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

    def _paste(self, text: str) -> None:
        """Paste one line, as Input does, but refuse a paste of several lines
        (Input kept the first, silently) and take any private key out."""
        lines = [line for line in text.splitlines() if line.strip()]
        line = lines[0] if lines else ""
        start, end = sorted(self.selection)
        value = self.value
        pasted = f"{value[:start]}{line}{value[end:]}"
        if private_key_spans(pasted):
            self._key_rest = 0  # a paste arrives whole: nothing of it follows
            self.replace(line, start, end)
            return
        if len(lines) > 1:  # Input would paste the first line alone, silently
            self.refused(f"{self.what} is one line; the paste had {len(lines)}: nothing was pasted")
            return
        if (why := why_unprintable(line.strip(), self.what)) is not None:  # as stored: trimmed
            self.refused(why)
            return
        if line:  # as Input would, but its one line (Input takes the first, blank or not)
            self.replace(line, start, end)

    def replace(self, text: str, start: int, end: int) -> None:
        value = self.value
        start, end = sorted((max(0, start), min(len(value), end)))
        new_value = f"{value[:start]}{text}{value[end:]}"
        spans = private_key_spans(new_value)
        if not spans:
            if (too_long := self._too_long(new_value, text)) is not None:
                if len(text) == 1:  # typed: more of a burst may follow
                    self._cut_short = self._left_out()
                self.refused(too_long)
            else:
                self._cut_short = None
                super().replace(text, start, end)
            return
        cursor = start + len(text)
        shown = ""
        parts: list[str] = []
        done = 0
        new_cursor = cursor
        for key_start, key_end in spans:
            key = new_value[key_start:key_end]
            shown = self.instead(key)
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
        # `g`, "ci-" + a key, Enter in one burst saved a key labelled "ci-".
        self._cut_short = (
            f"a private key was taken out of {self.what}: check what is left, then save again"
        )
        self.refused(self.key_note(shown))

    def cut_short(self) -> str | None:
        """Why saving now would save less than was typed: keys typed past the
        limit were refused or a private key was taken out, and a burst's Enter
        (`g`, a label, Enter over SSH) came before anyone could read why. Said
        once: saving again saves."""
        why, self._cut_short = self._cut_short, None
        return why

    def _left_out(self) -> str:
        return (
            f"{self.what} is at most {self.limit} characters, and what was typed after "
            "that was left out: check it, then save again"
        )

    def _too_long(self, new_value: str, text: str) -> str | None:
        """Why `text` may not go in: `new_value` would be over the limit (as
        stored: trimmed, as validation counts it)."""
        length = len(as_stored(new_value))
        if self.limit is None or length <= self.limit or length <= len(as_stored(self.value)):
            return None  # a deletion, or an edit of text already too long, is let through
        at_most = f"{self.what} is at most {self.limit} characters"
        if len(text) == 1:
            return f"{at_most}; it has {len(as_stored(self.value))} already"
        return f"{at_most}; with this paste it would have {length}: nothing was pasted"

    def on_blur(self) -> None:  # Input's own _on_blur runs too (Textual calls each class's)
        self._key_rest = 0


def field_named(where: Widget, message: str) -> GuardedInput | None:
    """The field in `where` a refusal is about ("the redirect URI must…"):
    a refused save puts the cursor there."""
    said = message.lower()
    return next((f for f in where.query(GuardedInput) if said.startswith(f.what.lower())), None)
