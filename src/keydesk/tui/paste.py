"""A bracketed paste read whole, whatever it holds.

Textual's parser reads an ESC inside a paste as the start of a key sequence:
`ab\\e[1mcd` pasted came as the keys `^[1mcd` (the ESC turned into `^`) and
then a paste of `ab`, so a field showed `^[1mcdab`, printable, and stored it.
Read here, the paste arrives as one `Paste` of exactly what was pasted, and
the field it reaches refuses what it may not hold (GuardedInput)."""

from __future__ import annotations

from collections.abc import Generator

from textual import events
from textual._parser import ParseEOF, ParseError, Peek1, Read1, TokenCallback
from textual._xterm_parser import XTermParser
from textual.message import Message

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class WholePasteParser(XTermParser):
    """Textual's parser, but from a paste's start to its end the characters
    are kept as they come, not parsed."""

    def parse(self, token_callback: TokenCallback[Message]) -> Generator[Read1 | Peek1, str, None]:
        def passed_on(token: Message) -> None:
            # The empty paste Textual's parser reports once it is told (below)
            # that the paste ended before anything of it came.
            if not (isinstance(token, events.Paste) and not token.text):
                token_callback(token)

        textual = super().parse(passed_on)
        awaiting = next(textual)
        recent = ""  # the last characters Textual's parser read
        while True:
            try:
                character = yield awaiting
                awaiting = textual.send(character)
            except ParseError as error:  # a timeout (a lone ESC) or the end: Textual's to handle
                try:
                    awaiting = textual.throw(error)
                except StopIteration:
                    return
                continue
            except StopIteration:
                return
            recent = (recent + character)[-len(PASTE_START) :]
            if recent != PASTE_START:
                continue
            recent = ""
            for end in PASTE_END:  # Textual's parser leaves its own paste mode at once
                awaiting = textual.send(end)
            pasted: list[str] = []
            try:
                while not (pasted[-1:] == ["~"] and "".join(pasted[-6:]) == PASTE_END):
                    pasted.append((yield Read1()))
            except ParseEOF:
                token_callback(events.Paste("".join(pasted).replace("\x00", "")))
                return
            # NUL removed as Textual does (textual#1661)
            token_callback(events.Paste("".join(pasted[:-6]).replace("\x00", "")))
