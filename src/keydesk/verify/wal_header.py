"""Whether a SQLite store in WAL mode has changed, in a fraction of a
microsecond: its WAL-index header, read from the `-shm` file mapped into
memory, as SQLite's own connections read it.

SQLite's file-format documentation (walformat.html, "The WAL-Index Header")
lays out the header at the start of `-shm`: two copies of 48 bytes, the
first holding `iVersion` 3007000, `iChange` (incremented by every
transaction committed), `isInit`, `mxFrame` and checksums. Every commit
rewrites both copies (the second, then the first) before the writer's lock
is released; so once a commit has ended, in any process, the first copy
differs from what it was before (after 2^32 commits at worst, the count
wraps around to a value seen before). Processes with different SQLite
versions share this header on one store, so its layout does not move.

Asking SQLite (`PRAGMA data_version`) begins a read transaction: two
`fcntl()` locks and ~6-14 µs, against ~0.3 µs here. A checkpoint that
restarts the log also rewrites the header: a false alarm, never a missed
change. The mapping stays valid while the verifier's own connection is open:
SQLite truncates or deletes `-shm` only when no connection holds it (and
when something else truncates it, SQLite's own mapping faults as this one
would)."""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import weakref

_HEADER = 48  # bytes of the first copy, the one a commit writes last
_CHANGE = struct.Struct("=I")  # iChange, at offset 8: +1 for every commit
_SALTS = slice(32, 40)  # new ones each time the log starts over
_SALT1 = slice(32, 36)  # big-endian; +1 at each restart of the log
_OWN_RUN = 1024  # own commits in a row that can be told apart from others'
_OWN_KEPT = 4096


class _OwnCommits(dict[int, frozenset[str] | None]):
    """The commit counts from which this process's own bookkeeping committed
    on one `-shm` file, each with the public keys whose rows that commit
    changed (see `WalHeader.own_commit`); None while that batch holds the
    write lock and has not yet said whether it committed."""


# Per `-shm` file (device, inode), shared by the headers mapping it, and
# forgotten with the last of them: only a mapping keeps an inode from being
# reused, and a new `-shm` at a reused inode counts its commits from 0 again,
# so an older file's counts would pass another's revoke for an own commit.
_own: weakref.WeakValueDictionary[tuple[int, int], _OwnCommits] = weakref.WeakValueDictionary()
_NOTHING: frozenset[str] = frozenset()
# From `own_changes`: an own batch is committing; whether the commit was its
# own is not known yet (public keys never hold "<").
UNSETTLED: frozenset[str] = frozenset({"<unsettled>"})
_VERSION = 3007000  # the WAL-index format's iVersion since SQLite 3.7.0
_INDEX_HEADERS = 136  # both copies and the checkpoint information


class WalHeader:
    """The `-shm` file of a store in WAL mode, mapped read-only. Made once
    the store's connection is open (its `-shm` then exists); `None` from
    `open` where the header is not as documented (the caller then asks
    SQLite, as for a store in another journal mode)."""

    def __init__(self, mapped: mmap.mmap, file: tuple[int, int]) -> None:
        self._map = mapped
        self.file = file  # the -shm mapped: (device, inode)
        self._own = _own.setdefault(file, _OwnCommits())

    @classmethod
    def open(cls, database: str) -> WalHeader | None:
        try:
            fd = os.open(database + "-shm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            status = os.fstat(fd)
            if status.st_size < _INDEX_HEADERS:
                return None
            mapped = mmap.mmap(fd, _INDEX_HEADERS, mmap.MAP_SHARED, mmap.PROT_READ)
        except OSError:
            return None
        finally:
            os.close(fd)  # the mapping keeps the file
        version, _unused, _change, initialised = struct.unpack_from("=IIIB", mapped)
        if version != _VERSION or initialised != 1:
            mapped.close()
            return None
        return cls(mapped, (status.st_dev, status.st_ino))

    def now(self) -> bytes:
        """The header as it is: different from any earlier value once
        another transaction has been committed."""
        return self._map[:_HEADER]

    def change(self) -> int:
        """The commit count now. Read under the write lock (after `BEGIN
        IMMEDIATE`), it is the one the next commit moves on from: no other
        can commit meanwhile."""
        return int(_CHANGE.unpack_from(self._map, 8)[0])

    def own_batch(self, before: int) -> None:
        """A batch of this process holds the write lock at count `before`:
        until it settles (`own_commit` or `not_own`), readers that see the
        count move past it read rows afresh, neither keeping nor dropping."""
        own = self._own
        if len(own) >= _OWN_KEPT:  # forget the oldest: no reader looks that far back
            for count in [count for count in own if count < before - _OWN_RUN]:
                del own[count]
        own[before] = None

    def own_commit(self, before: int, changed: frozenset[str] = _NOTHING) -> None:
        """The commit just made from count `before` changed only what kept
        rows need not reflect (last-used times, usage counts), and the rows
        of the keys `changed` (a rehash): readers in this process keep their
        other rows across it. Called once it has committed: an attempt that
        failed calls `not_own`, leaving the count to another."""
        self._own[before] = changed

    def not_own(self, before: int) -> None:
        self._own.pop(before, None)

    def own_changes(self, before: bytes, now: bytes) -> frozenset[str] | None:
        """When every commit between two readings of the header was one of
        `own_commit`'s, the keys whose rows they changed; `UNSETTLED` when
        one is an own batch's not yet settled; else None.

        The count moves by one at each commit and by nothing else while the
        log lives. A log started over (new salts) keeps it: SQLite restarts
        the log, under the write lock, only once every frame is in the
        database, so the restart itself changes no row; salt-1 then moves by
        one per restart, at most one per commit, plus one (a checkpoint's
        TRUNCATE, or a write rolled back). A header rebuilt by recovery
        restarts the count at 0, below any count seen before: never taken
        for own commits."""
        first = _CHANGE.unpack_from(before, 8)[0]
        last = _CHANGE.unpack_from(now, 8)[0]
        if not first <= last <= first + _OWN_RUN:
            return None
        if before[_SALTS] != now[_SALTS]:
            restarts = (_salt1(now) - _salt1(before)) % 2**32
            if not 1 <= restarts <= last - first + 1:
                return None
        elif first == last:  # the same log and count, yet a new header: not a known case
            return None
        own = self._own
        changed: set[str] = set()
        for count in range(first, last):
            keys = own.get(count, UNSETTLED)
            if keys is UNSETTLED:  # not this process's
                return None
            if keys is None:
                return UNSETTLED
            changed |= keys
        return frozenset(changed)

    def close(self) -> None:
        self._own = _OwnCommits()  # this file's counts live only while a header maps it
        with contextlib.suppress(BufferError, ValueError):
            self._map.close()


def _salt1(header: bytes) -> int:
    return int.from_bytes(header[_SALT1], "big")
