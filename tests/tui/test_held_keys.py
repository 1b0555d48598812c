"""Keys typed while keydesk starts (keydesk.tui.held_keys), on a real pty:
typed after the first run's y/N answer, they were echoed onto the shell's
screen (seen after quitting) and ctrl+s stopped the terminal (#21 walk)."""

from __future__ import annotations

import os
import select
import termios

import pytest

from keydesk.tui.held_keys import held_keys


class _Stdin:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


@pytest.fixture
def pty(monkeypatch):
    master, slave = os.openpty()
    monkeypatch.setattr("sys.stdin", _Stdin(slave))
    yield master, slave
    os.close(master)
    os.close(slave)


def _ready(fd: int) -> bytes:
    if not select.select([fd], [], [], 0.2)[0]:
        return b""
    return os.read(fd, 1024)


def test_keys_typed_while_held_wait_unechoed_for_the_tui_and_the_terminal_comes_back(pty):
    master, slave = pty
    before = termios.tcgetattr(slave)
    assert before[3] & termios.ECHO and before[0] & termios.IXON
    with held_keys():
        held = termios.tcgetattr(slave)
        assert not held[0] & termios.IXON  # ctrl+s is a key, not XOFF
        os.write(master, b"acme")
        assert _ready(master) == b""  # not echoed onto the shell's screen
        assert _ready(slave) == b"acme"  # readable at once, no Enter needed
        assert termios.tcgetattr(slave) == held
    assert termios.tcgetattr(slave) == before


def test_keys_held_for_a_tui_that_never_started_do_not_reach_the_shell(pty):
    master, slave = pty
    with pytest.raises(RuntimeError), held_keys():
        os.write(master, b"rm -rf build\r")
        raise RuntimeError("the store could not be made")
    assert _ready(slave) == b""


@pytest.fixture
def terminal_stderr(pty, monkeypatch):
    """A function putting stderr on the same pty (where Textual draws); called
    in the test itself: pytest's capture sets sys.stderr again after fixtures."""
    master, slave = pty
    stream = os.fdopen(os.dup(slave), "w", encoding="utf-8")

    def on_the_terminal() -> int:
        monkeypatch.setattr("sys.stderr", stream)
        return master

    yield on_the_terminal
    stream.close()


def test_starting_is_said_while_keydesk_loads_and_wiped_before_the_tui_draws(terminal_stderr):
    """Loading Textual and the store (the demo: making it) took seconds on a
    loaded server with nothing on the terminal; the line must not stay on
    the shell's screen under the prompt once keydesk ends."""
    master = terminal_stderr()
    with held_keys() as keys:
        assert _ready(master).decode() == "keydesk: starting…"
        keys.started()
        assert _ready(master) == b"\r\x1b[K"
        keys.started()
        assert _ready(master) == b""  # wiped once
    assert _ready(master) == b""


def test_starting_is_wiped_before_a_question_and_when_keydesk_ends_first(terminal_stderr):
    master = terminal_stderr()
    with held_keys() as keys:
        assert _ready(master).decode() == "keydesk: starting…"
        keys.started()  # as the first run's question does, on a line of its own
        assert _ready(master) == b"\r\x1b[K"
    with pytest.raises(RuntimeError), held_keys():
        assert _ready(master).decode() == "keydesk: starting…"
        raise RuntimeError("the store could not be made")
    assert _ready(master) == b"\r\x1b[K"  # before the error is said


# Run as `keydesk ARGS` on a pty: ECHO as it was when `watched` module was first
# imported (before it loads: when the spy's import is asked for), then as keydesk left it.
_ECHO_WHEN_IMPORTED = """
import importlib.abc, sys, termios
watched, stop = sys.argv[1], sys.argv[2] == "stop"
def echo():
    return bool(termios.tcgetattr(0)[3] & termios.ECHO)
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == watched:
            print("echo when imported:", echo(), file=sys.stderr, flush=True)
            if stop:
                raise SystemExit(9)
sys.meta_path.insert(0, Spy())
sys.argv = ["keydesk", *sys.argv[3:]]
from keydesk.__main__ import main
try:
    main()
finally:
    print("echo after:", echo(), file=sys.stderr, flush=True)
"""


def _echo_in_keydesk(tmp_path, watched: str, *args: str, stop: bool = False) -> str:
    import subprocess
    import sys

    master, slave = os.openpty()
    env = {**os.environ, "KEYDESK_DATABASE_URL": f"sqlite:///{tmp_path}/none/k.db"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _ECHO_WHEN_IMPORTED, watched, "stop" if stop else "go", *args],
            stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(master)
        os.close(slave)
    return done.stderr


def test_keydesk_stops_the_echo_before_it_loads_and_only_the_tui_keeps_it_stopped(tmp_path):
    """Keys typed at once with the command (`keydesk` Enter, `/` and a pasted
    private key) were echoed onto the shell's screen in the ~0.1 s before the
    TUI held them. The echo stops before keydesk's modules load; the TUI
    keeps the keys held since; any other command gets the terminal as the
    shell had it (a y/N question, a key typed for `verify`), and so does the
    shell when keydesk ends."""
    said = _echo_in_keydesk(tmp_path, "keydesk.cli", "--version")
    assert "echo when imported: False" in said and "echo after: True" in said, said
    said = _echo_in_keydesk(tmp_path, "keydesk.upkeep.info", "store", "info")
    assert "echo when imported: True" in said and "echo after: True" in said, said
    said = _echo_in_keydesk(tmp_path, "keydesk.demo", "demo", stop=True)
    assert "echo when imported: False" in said and "echo after: True" in said, said


def test_the_first_runs_question_takes_only_what_is_typed_once_it_shows(terminal_stderr, pty):
    """`y` typed ahead made the `y` typed on "Create a new one there? [y/N]"
    read as `yy` (nothing created); and the workspace name typed right after
    the answer was echoed onto the shell's screen. The answer is echoed as
    typed (backspace too); what follows its Enter waits, unechoed, for the TUI."""
    import threading

    master, slave = pty
    on_screen = terminal_stderr()
    with held_keys() as keys:
        os.write(master, b"y")  # before the question
        answers: list[str] = []
        asking = threading.Thread(target=lambda: answers.append(keys.ask("Create? [y/N] ")))
        asking.start()
        shown = b""
        while not shown.endswith(b"[y/N] "):
            shown += _ready(on_screen) or pytest.fail(f"no question: {shown!r}")
        os.write(master, b"yx\x7f\rsecretws\r")
        asking.join(10)
        assert answers == ["y"]
        echoed = b""
        while not echoed.endswith(b"\r\n"):
            echoed += _ready(on_screen) or pytest.fail(f"no answer shown: {echoed!r}")
        assert echoed == b"yx\b \b\r\n" and _ready(on_screen) == b""  # secretws: unechoed
        assert _ready(slave) == b"secretws\n"  # the TUI's
