"""An SSH session's TUI holds the keys typed while it starts, as `keydesk`
does (keydesk.tui.held_keys): over a slow link they were echoed and ctrl+s
stopped the terminal before the first frame (#21 walk)."""

from __future__ import annotations

import os
import termios

import keydesk.tui.app
from keydesk.cli import ssh as ssh_cli


class _Stdin:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


def test_the_sessions_tui_start_holds_keys_from_the_approval_check_on(monkeypatch):
    master, slave = os.openpty()
    try:
        monkeypatch.setattr("sys.stdin", _Stdin(slave))
        monkeypatch.setattr("keydesk.cli.interface.has_terminal", lambda: True)
        seen: list[tuple[str, int]] = []

        def record(step: str) -> None:
            seen.append((step, termios.tcgetattr(slave)[3] & termios.ECHO))

        monkeypatch.setattr(ssh_cli, "_require_any_approval", lambda *_: record("approval"))
        monkeypatch.setattr(keydesk.tui.app, "run", lambda *_, **__: record("tui") or 0)
        before = termios.tcgetattr(slave)
        assert ssh_cli._session_tui("sqlite:///x.db", "alice", "SHA256:x") == 0
        assert seen == [("approval", 0), ("tui", 0)]  # not echoed
        assert termios.tcgetattr(slave) == before  # given back as it was
    finally:
        os.close(master)
        os.close(slave)
