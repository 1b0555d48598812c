"""Whether files may have been unlinked, replaced or moved, in one cheap
check: Linux's inotify, read without waiting (one system call that finds
nothing, as against a stat() of each file on every read).

Each watched file's inode reports a change of its link count (an unlink,
or a rename over it), a move, or its deletion. Anything else reported there
(chmod, touch) is a false alarm the caller settles with stat(). Where
inotify is not to be had (another system, no instances left), every check
says "maybe", and the caller stats as before."""

from __future__ import annotations

import contextlib
import os
import select
import sys
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
        # poll() answers "nothing queued" without the exception an empty
        # read raises: the check every request makes stays a bare call.
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def stirred(self) -> bool:
        """Whether something happened to a watched file since the last call
        (always True without a watch)."""
        if self._fd is None:
            return True
        if not self._poll.poll(0):
            return False
        stirred = False
        while True:  # drain the queue: the caller checks once for all of it
            try:
                os.read(self._fd, _EVENTS)
            except BlockingIOError:
                return stirred
            stirred = True

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
