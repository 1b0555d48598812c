"""A tmux server of our own running a command in one pane: what a person
sees in a real terminal, where Pilot's picture is the compositor's."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable

from tests.support.sshd import client_environment


class Tmux:
    """A tmux server of our own with one pane (100x30 unless told) running `command`."""

    def __init__(self, command: str, size: tuple[int, int] = (100, 30)) -> None:
        # A socket of its own: the last test's server may still be going away.
        socket_name = f"keydesk-e2e-{os.getpid()}-{secrets.token_hex(4)}"
        self.base = ["tmux", "-L", socket_name, "-f", "/dev/null"]
        env = client_environment() | {"LANG": "C.UTF-8"}
        env.pop("TMUX", None)
        # set-clipboard on, as the README tells admins who work in tmux: OSC 52
        # from the program inside becomes tmux's paste buffer (and goes on to
        # the terminal tmux runs in).
        subprocess.run(
            [*self.base, "set-option", "-g", "set-clipboard", "on", ";",
             "new-session", "-d", "-s", "e2e", "-x", str(size[0]), "-y", str(size[1]),
             f"{command}; echo EXIT=$?; sleep 60"],
            check=True, env=env, timeout=30,
        )  # fmt: skip

    def screen(self) -> str:
        return subprocess.run(
            [*self.base, "capture-pane", "-p", "-t", "e2e"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip

    def clipboard(self) -> str:
        """tmux's newest paste buffer ('' if there is none)."""
        return subprocess.run(
            [*self.base, "show-buffer"], capture_output=True, text=True, timeout=10
        ).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "e2e", *keys], check=True, timeout=10)

    def wait_for(self, ready: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ready(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10, check=False)
