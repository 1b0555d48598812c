"""Per-key rates and quotas at request speed, shared by every process
verifying against one store.

How (fixed windows; one row per key, kind, window and process in
`key_window`). Each process counts what it accepts of a key in the current
window (`pending`) and knows the store's total for that window as of its
last sync (`known`, its own synced part included). It accepts while
`known + pending < N`: alone, that is exact. It syncs — writes its own total
into its row and reads the sum and the number of rows — before accepting
more once `pending` reaches a batch of b = max(1, N // (10 x (P + 1)))
(P: the processes seen in the window, itself included), or once pending
counts are 5 s old. Whatever the split, the last process to sync had seen
every other's synced count, and each other process can have accepted at
most its b unseen: accepted ≤ N + sum  b < 1.1 x N for up to 3 processes
before they have met in the store, and any number once they have. A
process refuses only when what it knows has reached N, and what it knows
never exceeds the truth: accepted ≥ N. Below N = 20 a window, b is 1 (a
write per accepted request, N a window at most) and the bound is N + P - 1.
A refused request is counted nowhere: it uses neither rate nor quota.

A sync is one short transaction (1 s timeouts) on connections of its own.
When it fails — the store unreachable or locked — the process keeps
counting alone, exact for itself, and tries again a second later: a store
that stays away lets each process accept up to N (P x N in all), which is
the best the limit can do without refusing good keys. (Verification itself
needs the store for every request: while reads fail too, requests get 503.)
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit of a key as the RateLimit headers state it: `remaining`
    requests until `reset` seconds from now."""

    name: str  # "rate" or "quota"
    limit: Limit
    remaining: int
    reset: int


class _Window:
    __slots__ = ("ends", "failed_at", "known", "pending", "processes", "starts", "synced",
                 "synced_at")  # fmt: skip

    def __init__(self, starts: int, ends: int, now: float) -> None:
        self.starts, self.ends = starts, ends
        self.known = self.pending = self.synced = 0
        self.processes = 1
        self.synced_at = now
        self.failed_at = -math.inf

    def batch(self, limit: Limit) -> int:
        return max(1, limit.count // (SHARE * (self.processes + 1)))

    def due(self, limit: Limit, now: float) -> bool:
        if not self.pending or now - self.failed_at < RETRY_SECONDS:
            return False
        return self.pending >= self.batch(limit) or now - self.synced_at >= SYNC_SECONDS


_Slot = tuple[int, str]  # (key id, "rate" | "quota")


class LimitCounts:
    """The counts of every limited key this process has seen."""

    def __init__(
        self, connections: WriteConnections, clock: Callable[[], float] = time.time
    ) -> None:
        self._connections = connections
        self._clock = clock
        self.verifier = secrets.token_hex(8)  # this process's row in each window
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._windows: dict[_Slot, _Window] = {}
        self._parsed: dict[str, Limit | None] = {}

    def limits(self, rate: str | None, quota: str | None) -> tuple[Limit | None, Limit | None]:
        """A key's stored limits, parsed once per distinct text."""
        return self._parse(rate), self._parse(quota)

    def admit(
        self, key_id: int, public_key: str, rate: Limit | None, quota: Limit | None
    ) -> tuple[LimitState, ...] | None:
        """Count one request: its limits' states, `RateLimited` (counting
        nothing), or None when a sync is due first (`sync`, then again)."""
        now = self._clock()
        limits = [(kind, limit) for kind, limit in (("rate", rate), ("quota", quota)) if limit]
        with self._lock:
            windows = [
                (kind, limit, self._window(key_id, kind, limit, now)) for kind, limit in limits
            ]
            if any(window.due(limit, now) for _, limit, window in windows):
                return None
            for kind, limit, window in windows:
                if window.known + window.pending >= limit.count:
                    reset = max(1, math.ceil(window.ends - now))
                    states = tuple(self._state(k, lim, w, now) for k, lim, w in windows)
                    raise RateLimited(public_key, kind, reset, states)
            for _, _, window in windows:
                window.pending += 1
            return tuple(self._state(kind, limit, window, now) for kind, limit, window in windows)

    def sync(self, key_id: int) -> None:
        """Write this process's counts of `key_id` and read the totals."""
        with self._sync_lock:
            now = self._clock()
            with self._lock:
                slots = [(s, w.starts, w.synced + w.pending, w.pending)
                         for s, w in self._windows.items() if s[0] == key_id]  # fmt: skip
            if not slots:
                return
            try:
                totals = self._write(slots)
            except Exception as error:  # a limit never fails a request: count alone
                log.info("limit counts not shared (counting alone for now): %s", first_line(error))
                with self._lock:
                    for slot, starts, *_ in slots:
                        window = self._windows.get(slot)
                        if window is not None and window.starts == starts:
                            window.failed_at = now
                return
            with self._lock:
                for (slot, starts, _, written), (total, processes) in zip(
                    slots, totals, strict=True
                ):
                    window = self._windows.get(slot)
                    if window is None or window.starts != starts:
                        continue  # a new window began meanwhile
                    window.synced += written
                    window.pending -= written
                    window.known = max(total, window.synced)
                    window.processes = max(1, processes)
                    window.synced_at = now

    def flush(self) -> None:
        """Write every pending count (on close)."""
        with self._lock:
            keys = {slot[0] for slot, window in self._windows.items() if window.pending}
        for key_id in keys:
            self.sync(key_id)

    def close(self) -> None:
        self.flush()
        self._connections.close()

    def _parse(self, text: str | None) -> Limit | None:
        if not text:
            return None
        limit = self._parsed.get(text)
        if limit is None:
            limit = self._parsed[text] = stored_limit(text)
        return limit

    def _window(self, key_id: int, kind: str, limit: Limit, now: float) -> _Window:
        window = self._windows.get((key_id, kind))
        if window is None or now >= window.ends or now < window.starts:
            # A window that ended takes its unwritten counts with it: a rate's
            # no longer matter, and a quota's are at most a batch.
            starts, ends = limit.window(now)
            window = self._windows[(key_id, kind)] = _Window(starts, ends, now)
        return window

    @staticmethod
    def _state(kind: str, limit: Limit, window: _Window, now: float) -> LimitState:
        remaining = max(0, limit.count - window.known - window.pending)
        return LimitState(kind, limit, remaining, max(1, math.ceil(window.ends - now)))

    def _write(self, slots: list[tuple[_Slot, int, int, int]]) -> list[tuple[int, int]]:
        connection = self._connections.connect()
        try:
            db = DbConnection(connection, self._connections.backend)
            totals = []
            for (key_id, kind), starts, count, _ in slots:
                where = {"key_id": key_id, "kind": kind, "starts": starts}
                db.run_many(_WRITE, [{**where, "verifier": self.verifier, "count": count}])
                ((total, processes),) = db.rows(_READ, where)
                db.run_many(_FORGET, [where])
                totals.append((int(total), int(processes)))
            connection.commit()
            return totals
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
