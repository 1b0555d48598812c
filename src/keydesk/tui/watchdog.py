"""The exit watchdog: once keydesk is leaving, the process ends within a
grace period whatever still runs.

Restoring a terminal that is gone can block Textual's driver for ever (its
output queue fills; seen in 1 of 6 hang-ups from tmux), and Python's exit
waits for every worker thread, so one stuck on a stalled store (PostgreSQL
stopped) would hold it for ever after ctrl+q.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading


class ExitWatchdog:
    def __init__(self, grace_seconds: float) -> None:
        self._grace_seconds = grace_seconds
        self._timer: threading.Timer | None = None

    def arm(self, code: int) -> None:
        """Once: end the process with `code` the grace period from now,
        unless it has ended by then."""
        if self._timer is None:
            self._timer = threading.Timer(self._grace_seconds, _end_now, args=(code,))
            self._timer.daemon = True
            self._timer.start()


def _end_now(code: int) -> None:
    """An exit did not finish: run the exit hooks (a demo's throwaway
    folder goes with them), then end without waiting for Textual's threads.
    Committed work is safe: every write is its own transaction."""
    try:
        atexit._run_exitfuncs()
    finally:
        os._exit(code)


def say_why_stopped(return_code: int) -> None:
    """Once the terminal is restored: a TUI stopped by SIGTERM (kill, a
    service manager, a container stopping) says so in one line on stderr;
    it ended without a word. A hang-up (SIGHUP) has no terminal to say it on."""
    if return_code == 128 + signal.SIGTERM:
        print("keydesk: stopped by SIGTERM", file=sys.stderr)
