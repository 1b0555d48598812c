"""Keys typed while keydesk starts, before Textual takes the terminal over.

The terminal is still the shell's then: it echoed those keys onto the shell's
screen, where they showed after quitting (`acme` under "Create a new one
there? [y/N] y"), and ctrl+s stopped its output (XOFF) before the first
frame. While held, keys are neither echoed nor read as flow control, and
wait whole in the terminal's queue for the TUI, which reads them (see
keydesk.tui.typeahead: they reach its first screen). Ctrl+c still
interrupts. Imports no Textual: it is taken before Textual loads.

Meanwhile the terminal says "keydesk: starting…" (loading Textual and the
store, or making the demo, took seconds on a loaded server with nothing on
screen), and the line is wiped once the TUI is about to draw (`started`),
before a question is asked at the terminal, or when keydesk ends first.
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
from collections.abc import Iterator
from typing import Any, TextIO

_LFLAG, _IFLAG, _CC = 3, 0, 6  # termios attribute list positions (as tty.LFLAG...)


STARTING = "keydesk: starting…"
_WIPE = "\r\x1b[K"  # back to the line's start, erased to its end


class HeldKeys:
    """The terminal as the shell had it, put back by `give_back` and at the
    end of `held_keys`."""

    def __init__(self, fd: int, before: list[Any] | None) -> None:
        self._fd = fd
        self._before = before
        self._starting: TextIO | None = None  # where STARTING shows, until wiped

    def say_starting(self) -> None:
        """STARTING on the terminal (stderr, where Textual draws), if it is one."""
        stream = sys.stderr
        if self._before is not None and stream.isatty():
            stream.write(STARTING)
            stream.flush()
            self._starting = stream

    def started(self) -> None:
        """The TUI is about to draw: STARTING is wiped (else it stays on the
        shell's screen, under the prompt, once keydesk ends)."""
        if self._starting is not None:
            with contextlib.suppress(OSError, ValueError):
                self._starting.write(_WIPE)
                self._starting.flush()
            self._starting = None

    def hold(self) -> None:
        if self._before is None:
            return
        quiet: list[Any] = list(self._before)
        quiet[_CC] = list(quiet[_CC])
        quiet[_LFLAG] &= ~(termios.ECHO | termios.ICANON)
        quiet[_IFLAG] &= ~termios.IXON
        quiet[_CC][termios.VMIN], quiet[_CC][termios.VTIME] = 1, 0
        self._set(quiet)

    def ask(self, question: str) -> str:
        """The line typed for `question` (the first run's y/N), on stderr.
        Only what is typed once it shows counts: keys typed before (`y`, or
        what was meant for the TUI) made `y` typed on it read as `yy`, and
        were dropped silently. It is echoed as typed, and the keys typed after
        its Enter (a workspace's name, in the same burst) wait unechoed for
        the TUI: given back to the shell's mode for input(), they were echoed
        onto the shell's screen, where they showed after quitting."""
        self.started()
        stream = sys.stderr
        if self._before is None:  # not a terminal we hold: as the shell reads it
            return input(question)
        with contextlib.suppress(termios.error):
            termios.tcflush(self._fd, termios.TCIFLUSH)
        stream.write(question)
        stream.flush()
        typed = bytearray()
        while (byte := os.read(self._fd, 1)) not in (b"\r", b"\n"):
            if not byte or (byte == b"\x04" and not typed):  # closed, or ctrl+d: no answer
                raise EOFError
            if byte in (b"\x7f", b"\x08"):
                if typed:
                    del typed[-1]
                    stream.write("\b \b")
            elif byte[0] >= 0x20:  # other control keys are not part of an answer
                typed += byte
                stream.write(byte.decode(errors="replace"))
            stream.flush()
        stream.write("\n")
        return typed.decode(errors="replace")

    def give_back(self) -> None:
        self.started()
        if self._before is not None:
            self._set(self._before)

    def drop_typed(self) -> None:
        """The keys typed so far were for a TUI that will not start: gone."""
        if self._before is not None:
            with contextlib.suppress(termios.error):  # gone: nothing left to drop
                termios.tcflush(self._fd, termios.TCIFLUSH)

    def _set(self, attributes: list[Any]) -> None:
        try:
            termios.tcsetattr(self._fd, termios.TCSANOW, attributes)
        except termios.error:
            self._before = None  # no longer a terminal we may change: leave it


_from_the_start: HeldKeys | None = None


def hold_from_the_start() -> None:
    """keydesk's first act (keydesk.__main__), before its modules load: keys
    typed at once with the command (`keydesk` Enter, then `/` and a pasted
    private key, in one burst over a slow link) were echoed onto the shell's
    screen in the ~0.1 s before `held_keys`, and showed there after quitting.
    Held only on a terminal (stdin and stdout: a shell's completion reads
    keydesk's output, and is left alone); `let_go` gives it back."""
    global _from_the_start
    if _from_the_start is None and sys.stdin.isatty() and sys.stdout.isatty():
        _from_the_start = HeldKeys(*_terminal())
        _from_the_start.hold()


def let_go() -> None:
    """The terminal as the shell had it, before a command other than the TUI
    runs (one asks y/N, `verify` reads a key typed there; the TUI's
    `held_keys` takes the keys held over instead) and when keydesk ends.
    The keys typed meanwhile stay in the terminal's queue, unechoed, for
    whoever reads next."""
    global _from_the_start
    if _from_the_start is not None:
        _from_the_start.give_back()
        _from_the_start = None


@contextlib.contextmanager
def held_keys() -> Iterator[HeldKeys]:
    """Hold keys typed from now (from keydesk's start, if it held them then)
    until the TUI reads them. If keydesk ends before the TUI started (a
    refusal, an error), the keys typed for it are dropped rather than run by
    the shell; after the TUI, Textual has read or dropped them, and the
    terminal is given back as it was."""
    global _from_the_start
    keys, _from_the_start = _from_the_start, None
    if keys is None:
        keys = HeldKeys(*_terminal())
        keys.hold()
    keys.say_starting()
    try:
        yield keys
    except BaseException:
        keys.drop_typed()
        raise
    finally:
        keys.give_back()


def _terminal() -> tuple[int, list[Any] | None]:
    """stdin's descriptor and its attributes as the shell set them."""
    try:
        fd = sys.stdin.fileno()
        return fd, termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):  # not a terminal (a test's stdin): nothing held
        return -1, None
