"""Per-key rates and quotas at request speed, shared by every process
verifying against one store.

How (fixed windows; one row per key, kind, window and process in
`key_window`). Each process counts what it accepts of a key in the current
window (`pending`) and knows the store's total for that window as of its
last sync (`known`, its own synced part included). It accepts while
`known + pending < N`: alone, that is exact. It syncs — writes its own total
into its row and commits, then reads the sum and the number of rows —
before accepting more once `pending` reaches a batch of
b = max(1, N // (10 x (P + 1))) (P: the processes seen in the window,
itself included), waiting for it; counts 5 s old are written too, by a
thread of its own (no request waits). Whatever the split, the process whose
write committed last read after every other's last write had committed,
and each other process can have accepted at most its b unseen:
accepted ≤ N + sum b < 1.1 x N for up to 3 processes before they have met
in the store, and any number once they have. A process refuses only when
what it knows has reached N, and what it knows never exceeds the truth:
accepted ≥ N. Below N = 20 a window, b is 1 (a write per accepted request,
N a window at most) and the bound is N + P - 1. A refused request is
counted nowhere: it uses neither rate nor quota.

A sync is two short transactions (1 s timeouts) on connections of its own:
the write, then the read. (Read inside the write's transaction, two syncs
at once on PostgreSQL, read committed, could each miss the other's count.)
When it fails — the store unreachable or locked — the process keeps
counting alone, exact for itself, and tries again a second later: a store
that stays away lets each process accept up to N (P x N in all), which is
the best the limit can do without refusing good keys. (Verification itself
needs the store for every request: while reads fail too, requests get 503.)
"""

from __future__ import annotations

import math
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from keydesk.errors import RateLimited
from keydesk.limits import Limit, stored_limit
from keydesk.store.dbapi import DbConnection
from keydesk.verify.log import log
from keydesk.verify.store_reads import first_line
from keydesk.verify.store_writes import WriteConnections

SYNC_SECONDS = 5.0  # pending counts older than this are written before the next acceptance
RETRY_SECONDS = 1.0  # after a failed sync, count alone this long before trying again
SYNC_TIMEOUT_SECONDS = 1.0
SHARE = 10  # b = N // (SHARE x (P + 1)): the slack is at most 1/SHARE of N

_WRITE = (
    "INSERT INTO key_window (api_key_id, kind, starts, verifier, count)"
    " SELECT :key_id, :kind, :starts, :verifier, :count"
    " WHERE EXISTS (SELECT 1 FROM api_key WHERE id = :key_id)"
    " ON CONFLICT (api_key_id, kind, starts, verifier) DO UPDATE SET count = excluded.count"
)
_READ = (
    "SELECT coalesce(sum(count), 0), count(*) FROM key_window"
    " WHERE api_key_id = :key_id AND kind = :kind AND starts = :starts"
)
_FORGET = "DELETE FROM key_window WHERE api_key_id = :key_id AND kind = :kind AND starts < :starts"


class LimitState(NamedTuple):
    """One limit of a key as the RateLimit headers state it: `remaining`
    requests until its window `ends` (epoch seconds)."""

    name: str  # "rate" or "quota"
    limit: Limit
    remaining: int
    ends: float

    @property
    def reset(self) -> int:
        """Seconds until the window ends (at least 1)."""
        return max(1, math.ceil(self.ends - time.time()))


class _Window:
    """One window of one limit of one key, in this process. `room` and
    `check_at` let most requests through on two comparisons: below both,
    nothing is due (no sync, no refusal)."""

    __slots__ = ("batch", "check_at", "count", "ends", "failed_at", "kind", "known", "limit",
                 "pending", "room", "starts", "synced", "synced_at")  # fmt: skip

    def __init__(self, kind: str, limit: Limit, now: float) -> None:
        self.kind, self.limit, self.count = kind, limit, limit.count
        self.starts, self.ends = limit.window(now)
        self.known = self.pending = self.synced = 0
        self.failed_at = -math.inf
        self.synced_now(0, 0, 1, now)

    def state(self) -> LimitState:
        remaining = self.count - self.known - self.pending
        return tuple.__new__(LimitState, (self.kind, self.limit, max(0, remaining), self.ends))

    def synced_now(self, written: int, total: int, processes: int, now: float) -> None:
        self.synced += written
        self.pending -= written
        self.known = max(total, self.synced)
        self.batch = max(1, self.count // (SHARE * (max(1, processes) + 1)))
        self.room = min(self.batch, self.count - self.known)
        self.synced_at = now
        self.check_at = now + SYNC_SECONDS


class _Held:
    """A key's windows in this process, with what lets most requests through
    on a few comparisons: `slack` requests fit every window's room, and
    nothing is due before `due` (a sync by age, a window's end)."""

    __slots__ = ("due", "quota", "rate", "since", "slack", "windows")

    def __init__(self, rate: str | None, quota: str | None, windows: list[_Window]) -> None:
        self.rate, self.quota, self.windows = rate, quota, windows
        self.since = max(w.starts for w in windows)
        self.update()

    def update(self) -> None:
        """After a window changed (with the counts' lock held)."""
        windows = self.windows
        self.slack = min(w.room - w.pending for w in windows)
        self.due = min(min(w.ends for w in windows), min(w.check_at for w in windows))


Limits = tuple[tuple[str, Limit], ...]  # a key's (kind, limit) pairs, parsed once
_Slot = tuple[int, str]  # (key id, "rate" | "quota")
_new = tuple.__new__


class LimitCounts:
    """The counts of every limited key this process has seen. Syncs a batch
    asks for run on the caller's thread (it waits: that is the bound); those
    only due by age run on a thread of their own."""

    def __init__(
        self, connections: WriteConnections, clock: Callable[[], float] = time.time
    ) -> None:
        self._connections = connections
        self._clock = clock
        self.verifier = secrets.token_hex(8)  # this process's row in each window
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._keys: dict[int, _Held] = {}  # key id -> its limits as stored (text), its windows
        self._parsed: dict[tuple[str | None, str | None], Limits] = {}
        self._aged: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._queued: set[int] = set()
        self._syncer: threading.Thread | None = None
        self._alone = False  # the last sync failed: said once, until one succeeds

    def limits(self, rate: str | None, quota: str | None) -> Limits:
        """A key's stored limits, parsed once per distinct pair."""
        pair = (rate, quota)
        limits = self._parsed.get(pair)
        if limits is None:
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            limits = self._parsed[pair] = tuple(
                (kind, limit)
                for kind, text in (("rate", rate), ("quota", quota))
                if (limit := stored_limit(text)) is not None
            )
        return limits

    def admit(
        self, key_id: int, rate: str | None, quota: str | None
    ) -> tuple[LimitState, ...] | None:
        """Count one request of a key with these stored limits: their states,
        `RateLimited` (counting nothing; its public key left for the caller
        to name), or None when a sync is due first (`sync`, then again)."""
        now = self._clock()
        with self._lock:
            held = self._keys.get(key_id)
            if (
                held is not None
                and held.slack > 0
                and held.since <= now < held.due
                and held.rate == rate
                and held.quota == quota
            ):  # nearly always: nothing due, and the request fits every window's room
                held.slack -= 1
                states = []
                for window in held.windows:  # window.state(), inline: never below 0 here
                    window.pending = pending = window.pending + 1
                    states.append(
                        _new(LimitState, (window.kind, window.limit,
                                          window.count - window.known - pending, window.ends))
                    )  # fmt: skip
                return tuple(states)
        return self._admit_due(key_id, rate, quota, now)

    def _admit_due(
        self, key_id: int, rate: str | None, quota: str | None, now: float
    ) -> tuple[LimitState, ...] | None:
        """`admit` when something is due: a window new or ended, a sync, a refusal."""
        aged = False
        with self._lock:
            held = self._held(key_id, rate, quota, now)
            windows = held.windows
            for window in windows:
                pending = window.pending
                retry = now - window.failed_at >= RETRY_SECONDS
                if pending >= window.batch and retry:
                    return None
                if window.known + pending >= window.count:
                    states = tuple([w.state() for w in windows])
                    reset = max(1, math.ceil(window.ends - now))
                    raise RateLimited("", window.kind, reset, states)
                if pending and retry and now - window.synced_at >= SYNC_SECONDS:
                    aged = key_id not in self._queued
            for window in windows:
                window.pending += 1
            held.update()
            states = tuple([window.state() for window in windows])
            if aged:
                self._queued.add(key_id)
        if aged:
            self._sync_later(key_id)
        return states

    def sync(self, key_id: int) -> None:
        """Write this process's counts of `key_id` and read the totals."""
        with self._sync_lock:
            now = self._clock()
            with self._lock:
                windows = self._keys[key_id].windows if key_id in self._keys else []
                slots = [((key_id, w.kind), w.starts, w.synced + w.pending, w.pending)
                         for w in windows]  # fmt: skip
            if not slots:
                return
            try:
                totals = self._write(slots)
            except Exception as error:  # a limit never fails a request: count alone
                if not self._alone:  # one line while it lasts, whatever the keys and retries
                    self._alone = True
                    log.info(
                        "limit counts not shared (counting alone for now): %s", first_line(error)
                    )
                with self._lock:
                    for slot, starts, *_ in slots:
                        window = self._window_of(slot)
                        if window is not None and window.starts == starts:
                            window.failed_at = now
                return
            if self._alone:
                self._alone = False
                log.info("limit counts shared again")
            with self._lock:
                for (slot, starts, _, written), (total, processes) in zip(
                    slots, totals, strict=True
                ):
                    window = self._window_of(slot)
                    if window is not None and window.starts == starts:  # else: a new window
                        window.synced_now(written, total, processes, now)
                if key_id in self._keys:
                    self._keys[key_id].update()

    def flush(self) -> None:
        """Write every pending count (on close)."""
        with self._lock:
            keys = [
                key_id
                for key_id, held in self._keys.items()
                if any(w.pending for w in held.windows)
            ]
        for key_id in keys:
            self.sync(key_id)

    def close(self) -> None:
        if self._syncer is not None:
            self._aged.put(None)
            self._syncer.join(timeout=5)
        self.flush()
        self._connections.close()

    def _sync_later(self, key_id: int) -> None:
        with self._lock:
            if self._syncer is None:
                self._syncer = threading.Thread(
                    target=self._sync_aged, name="keydesk-limits", daemon=True
                )
                self._syncer.start()
        self._aged.put(key_id)

    def _sync_aged(self) -> None:
        while (key_id := self._aged.get()) is not None:
            with self._lock:
                self._queued.discard(key_id)
            self.sync(key_id)

    def _held(self, key_id: int, rate: str | None, quota: str | None, now: float) -> _Held:
        """The key's current windows (with self._lock held). A window that
        ended takes its unwritten counts with it: a rate's no longer matter,
        and a quota's are at most a batch. Changed limits start anew."""
        held = self._keys.get(key_id)
        if held is not None and held.rate == rate and held.quota == quota:
            if held.since <= now < min(w.ends for w in held.windows):
                return held
            windows = [
                w if w.starts <= now < w.ends else _Window(w.kind, w.limit, now)
                for w in held.windows
            ]
        else:
            windows = [_Window(kind, limit, now) for kind, limit in self.limits(rate, quota)]
        held = self._keys[key_id] = _Held(rate, quota, windows)
        return held

    def _window_of(self, slot: _Slot) -> _Window | None:
        key_id, kind = slot
        windows = self._keys[key_id].windows if key_id in self._keys else []
        return next((w for w in windows if w.kind == kind), None)

    def _write(self, slots: list[tuple[_Slot, int, int, int]]) -> list[tuple[int, int]]:
        connection = self._connections.connect()
        try:
            db = DbConnection(connection, self._connections.backend)
            wheres = []
            for (key_id, kind), starts, count, _ in slots:
                where = {"key_id": key_id, "kind": kind, "starts": starts}
                db.run_many(_WRITE, [{**where, "verifier": self.verifier, "count": count}])
                db.run_many(_FORGET, [where])
                wheres.append(where)
            connection.commit()  # before the read: of two syncs at once, one sees both counts
            totals = [db.rows(_READ, where)[0] for where in wheres]
            connection.commit()
            return [(int(total), int(processes)) for total, processes in totals]
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
