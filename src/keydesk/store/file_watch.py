"""Whether files may have been unlinked, replaced or moved, at no cost per
check: Linux's inotify, read by a thread of its own that sets a flag, so a
check is one attribute read (no system call; a poll per request was the
verifier's largest cost of its own under load).

Each watched file's inode reports a change of its link count (an unlink,
or a rename over it), a move, or its deletion. Anything else reported there
(chmod, touch) is a false alarm the caller settles with stat(). Where
inotify is not to be had (another system, no instances left), every check
says "maybe", and the caller stats as before.

The flag is set as soon as the watching thread runs after the event: within
microseconds on an idle process, at most Python's switch interval (5 ms)
plus the scheduler's delay when other threads hold the interpreter. Until
then a check may still say "nothing"."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Sequence

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_IN_ATTRIB = 0x004  # the link count is an attribute: an unlink or a rename over it
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_EVENTS = 64 * 1024  # a read's buffer: all that is queued, in one call


class FileWatch:
    def __init__(self, paths: Sequence[str]) -> None:
        self._fd: int | None = None
        # Set by the watching thread, cleared by `stirred`: True until then,
        # so the first check stats (for whatever happened before the watch).
        self._stirred = True
        self._woken: int | None = None  # written to by `close`, to stop the thread
        if not sys.platform.startswith("linux"):
            return
        import ctypes  # only here: `keydesk verify`'s one read never needs it

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:  # out of instances (fs.inotify.max_user_instances)
            return
        mask = _IN_ATTRIB | _IN_DELETE_SELF | _IN_MOVE_SELF
        for path in paths:
            if libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:  # gone already
                os.close(fd)
                return
        self._fd = fd
        wake, self._woken = os.pipe2(os.O_CLOEXEC)
        threading.Thread(
            target=self._watch, args=(fd, wake), name="keydesk-watch", daemon=True
        ).start()

    def stirred(self) -> bool:
        """Whether something happened to a watched file since the last call
        that said so, as far as the watching thread has seen (always True
        without a watch)."""
        if not self._stirred:
            return False
        if self._fd is not None:
            self._stirred = False  # before the caller's stat(): a later event sets it again
        return True

    def calm(self) -> bool:
        """Nothing to look into (what `stirred` would say), leaving it to say so."""
        return not self._stirred

    def _watch(self, fd: int, wake: int) -> None:
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        poll.register(wake, select.POLLIN)
        try:
            while True:
                ready = {ready_fd for ready_fd, _ in poll.poll()}
                if wake in ready:
                    return
                with contextlib.suppress(BlockingIOError):
                    while os.read(fd, _EVENTS):  # drain: one flag for all of it
                        pass
                self._stirred = True
        except OSError:  # the watch is broken: every check says "maybe" from now on
            self._stirred = True
            self._fd = None
        finally:
            for own in (fd, wake):
                with contextlib.suppress(OSError):
                    os.close(own)

    def close(self) -> None:
        self._fd, self._stirred = None, True
        if self._woken is not None:
            with contextlib.suppress(OSError):
                os.write(self._woken, b"x")
            os.close(self._woken)
            self._woken = None
