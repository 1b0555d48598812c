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
wraps around to a value seen before; or when the log was emptied and the
header then rebuilt by recovery, byte for byte as an earlier one: SQLite's
own connections keep their cached pages then too). Processes with different SQLite
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
import threading
from dataclasses import dataclass, field

_HEADER = 48  # bytes of the first copy, the one a commit writes last
_CHANGE = struct.Struct("=I")  # iChange, at offset 8: +1 for every commit
_FRAMES = _CHANGE  # mxFrame, at offset 16: 0 in a log just started over
# Kept by a restart of the log: the version, count and page size, then the
# database's size in pages and the last commit's frame checksum.
_KEPT = slice(0, 16)
_LAST_FRAME = slice(20, 32)
_SALT1 = slice(32, 36)  # +1 each time the log starts over
_SALT2 = slice(36, 40)  # a new random value then
_OWN_RUN = 1024  # own commits in a row that can be told apart from others'
_OWN_KEPT = 4096


@dataclass(frozen=True, slots=True)
class OwnBatch:
    """An own batch holding the write lock: the commit count and the header
    it started from (read under that lock: exactly what it commits on)."""

    count: int
    header: bytes


# An own commit: the header it started from, the header it made, and the
# public keys whose rows it changed (a rehash).
_Commit = tuple[bytes, bytes, frozenset[str]]


class _OwnCommits(dict[int, _Commit | None]):
    """This process's own commits on one `-shm` file, by the count each
    started from; None while that batch holds the write lock and has not
    yet said whether it committed."""

    highest = -1  # the count the latest own batch started from


@dataclass(eq=False, slots=True)
class _Shm:
    """A `-shm` file this process opened: its descriptor, its mapping (None:
    too short to hold the header), the headers using it and their own commits."""

    file: tuple[int, int]
    fd: int
    mapped: mmap.mmap | None
    users: int = 0
    own: _OwnCommits = field(default_factory=_OwnCommits)


# Every `-shm` this process opened, by (device, inode). Closing any
# descriptor of a file drops every lock the process holds on it (POSIX
# locks), SQLite's own included: its shared lock on -shm tells another
# process opening the store that it is not the first, or that one truncates
# -shm and rebuilds the header (a SIGBUS here, counts from 0 again). So a
# descriptor is closed only once no other descriptor of this process is
# open on the file (SQLite's closed with its last connection). Held open,
# the file's inode is never reused: its own commits cannot pass for another's.
_opened: dict[tuple[int, int], _Shm] = {}
_opened_lock = threading.Lock()
_NOTHING: frozenset[str] = frozenset()
_FOREIGN = (b"", b"", _NOTHING)  # what `own_changes` finds at a count not its own
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

    def __init__(self, shm: _Shm, mapped: mmap.mmap) -> None:
        self._shm = shm
        self._map = mapped
        self.file = shm.file  # the -shm mapped: (device, inode)
        self._own = shm.own
        self._closed = False

    @classmethod
    def open(cls, database: str) -> WalHeader | None:
        with _opened_lock:
            shm = _open_shm(database + "-shm")
            if shm is None or shm.mapped is None:
                return None
            version, _unused, _change, initialised = struct.unpack_from("=IIIB", shm.mapped)
            if version != _VERSION or initialised != 1:
                return None
            shm.users += 1
            return cls(shm, shm.mapped)

    def now(self) -> bytes:
        """The header as it is: different from any earlier value once
        another transaction has been committed."""
        return self._map[:_HEADER]

    def own_batch(self) -> OwnBatch:
        """A batch of this process has just taken the write lock (`BEGIN
        IMMEDIATE`): no other commit can move the header before its own.
        Until it settles (`own_commit` or `not_own`), readers that see the
        count move past it read rows afresh, neither keeping nor dropping."""
        header = self.now()
        batch = OwnBatch(_count(header), header)
        own = self._own
        if batch.count < own.highest:  # a header rebuilt by recovery: older counts mean nothing
            own.clear()
        own.highest = batch.count
        if len(own) >= _OWN_KEPT:  # forget the oldest: no reader looks that far back
            for count in [count for count in own if count < batch.count - _OWN_RUN]:
                del own[count]
        own[batch.count] = None
        return batch

    def own_commit(self, batch: OwnBatch, changed: frozenset[str] = _NOTHING) -> None:
        """`batch` committed, and changed only what kept rows need not
        reflect (last-used times, usage counts), and the rows of the keys
        `changed` (a rehash): readers in this process keep their other rows
        across it. Called once its commit is made; a batch that failed, or
        wrote nothing, calls `not_own`, leaving its count to another. The
        header it made is the one now if the count moved by one alone;
        after another commit already, it is not known: not counted as own."""
        after = self.now()
        if _count(after) == batch.count + 1:
            self._own[batch.count] = (batch.header, after, changed)
        else:
            self._own.pop(batch.count, None)

    def not_own(self, batch: OwnBatch) -> None:
        self._own.pop(batch.count, None)

    def own_changes(self, before: bytes, now: bytes) -> frozenset[str] | None:
        """When every commit between two readings of the header was one of
        `own_commit`'s, the keys whose rows they changed; `UNSETTLED` when
        one is an own batch's not yet settled; else None.

        The commits must chain: the first started from `before`, each next
        one from the header the one before made, and the last made `now`.
        Counts alone are not enough: a header rebuilt by recovery (a writer
        killed while writing it) counts from 0 again, so an own count of
        before could stand for another's revoke after. A log started over
        between commits (every frame already in the database: no row
        changes) rewrites the header with an empty log and new salts, all
        else kept (`_restarted`). The next own batch that sees the count go
        back forgets every own commit before it."""
        first, last = _count(before), _count(now)
        if first == last:
            return _NOTHING if _restarted(before, now) else None
        if not first < last <= first + _OWN_RUN:
            return None
        own = self._own
        expected = before
        changed: set[str] = set()
        for count in range(first, last):
            commit = own.get(count, _FOREIGN)
            if commit is None:
                return UNSETTLED
            started, made, keys = commit
            if not started:  # not this process's
                return None
            if started != expected and not (
                _restarted(expected, started) or _restarted(started, expected)
            ):  # the log started over before it, or `before` was read inside it
                return None  # not on this header: another file's, or before a recovery
            expected = made
            changed |= keys
        return frozenset(changed) if now == expected or _restarted(expected, now) else None

    def close(self) -> None:
        self._own = _OwnCommits()
        with _opened_lock:
            if self._closed:
                return
            self._closed = True
            self._shm.users -= 1
            if self._shm.users == 0:  # own commits are known only while a header maps the file
                self._shm.own = _OwnCommits()
            _close_unused()


def _count(header: bytes) -> int:
    return int(_CHANGE.unpack_from(header, 8)[0])


def _restarted(earlier: bytes, later: bytes) -> bool:
    """Whether `later` is `earlier` with the log started over since, and
    nothing committed: an empty log, salt-1 (big-endian) moved on by a
    restart or a few, a new salt-2, and all else kept. Above all the last
    commit's frame checksum: a header rebuilt by recovery takes the log's,
    so when its count climbs back to `earlier`'s and the log starts over
    there, only that checksum tells the commits made meanwhile (a revoke)."""
    if earlier[_KEPT] != later[_KEPT] or earlier[_LAST_FRAME] != later[_LAST_FRAME]:
        return False
    moved = (_salt1(later) - _salt1(earlier)) % 2**32
    empty = _FRAMES.unpack_from(later, 16)[0] == 0
    return empty and 1 <= moved <= _OWN_RUN and earlier[_SALT2] != later[_SALT2]


def _salt1(header: bytes) -> int:
    return int.from_bytes(header[_SALT1], "big")


def _open_shm(path: str) -> _Shm | None:
    """The `-shm` file at `path`, as opened before or opened now (with `_opened_lock`)."""
    _close_unused()
    with contextlib.suppress(OSError):
        status = os.stat(path)
        shm = _opened.get((status.st_dev, status.st_ino))
        if shm is not None:
            return shm
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    status = os.fstat(fd)
    file = (status.st_dev, status.st_ino)
    if file in _opened:  # replaced and back meanwhile: keep both descriptors
        return _opened[file]
    mapped = None
    if status.st_size >= _INDEX_HEADERS:
        with contextlib.suppress(OSError):
            mapped = mmap.mmap(fd, _INDEX_HEADERS, mmap.MAP_SHARED, mmap.PROT_READ)
    shm = _opened[file] = _Shm(file, fd, mapped)
    return shm


def _close_unused() -> None:
    """Close the `-shm` files no header uses and no other descriptor of this
    process holds open (with `_opened_lock`). Where that cannot be told (no
    /proc), they stay open."""
    unused = {file: shm for file, shm in _opened.items() if shm.users == 0}
    if not unused:
        return
    held = dict.fromkeys(unused, 0)
    try:
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                status = os.stat(f"/proc/self/fd/{fd}")
                if (file := (status.st_dev, status.st_ino)) in held:
                    held[file] += 1
    except OSError:
        return
    for file, shm in unused.items():
        if held[file] > (1 if shm.mapped is None else 2):  # the mapping holds a descriptor too
            continue
        del _opened[file]
        if shm.mapped is not None:
            with contextlib.suppress(BufferError, ValueError):
                shm.mapped.close()
        os.close(shm.fd)
