"""The verifier's bookkeeping, off the request path: last-used times (at most
once a minute per key), usage counts and upgraded hashes, queued by requests
and written by one thread in gathered batches."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass

from keydesk.verify.log import log
from keydesk.verify.store_reads import first_line
from keydesk.verify.store_writes import (
    LAST_USED_RESOLUTION,
    Rehash,
    StoreWrite,
    Touch,
    WriteBatch,
    WriteConnections,
    write_batch,
)
from keydesk.verify.stored_key import StoredKey
from keydesk.verify.usage import Source, UsageCounter, UsageCounts
from keydesk.views import utcnow

_RESOLUTION_SECONDS = LAST_USED_RESOLUTION.total_seconds()
WRITE_GATHER_SECONDS = 0.5  # last-used times are gathered this long into one write
BATCH_LIMIT = 10_000  # items a batch takes at most; a longer queue is written without a wait
# Usage counts are added up in memory and written this often (and on flush
# and close): a process that dies loses at most this many seconds of counts.
USAGE_FLUSH_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class _UsageDue:
    """Usage counts started a new batch: write them in the flush interval."""


# What the writer's queue carries: writes, a flush (the event to set once
# written) and None to stop.
_Item = Touch | Rehash | _UsageDue | threading.Event | None


class Bookkeeping:
    """Requests queue; one daemon thread, started by the first write, writes.
    A failed write is logged in one line and never fails a request; its
    counts are kept for the next try."""

    def __init__(
        self,
        connections: WriteConnections,
        *,
        count_usage: bool = True,
        usage_flush_seconds: float = USAGE_FLUSH_SECONDS,
        write: WriteBatch = write_batch,
    ) -> None:
        self._connections = connections
        self._usage: UsageCounter | None = UsageCounter() if count_usage else None
        self._flush_seconds = usage_flush_seconds
        self._write = write
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._hurry = threading.Event()  # a flush or close: end the gathering wait now
        self._waiting = 0  # flushes (and a close) queued, not served yet: gather without a wait
        self._touched: dict[int, float] = {}
        self._writer: threading.Thread | None = None
        self._failed_writes = 0  # a running total, for `keydesk serve --metrics`

    def count(self, key_id: int, outcome: str) -> None:
        if self._usage is not None and self._usage.add(key_id, outcome):
            self._put(_UsageDue())

    def accepted(self, key_id: int, source: Source | None) -> None:
        """Count an accepted request, and where it came from."""
        if self._usage is not None and self._usage.add_accepted(key_id, source):
            self._put(_UsageDue())

    def touch(self, row: StoredKey) -> None:
        """Record use at most once a minute per key (this process's own
        record first: no clock of dates on nearly every request)."""
        clock = time.monotonic()
        if clock - self._touched.get(row.id, -1e9) < _RESOLUTION_SECONDS:
            return
        now = utcnow()
        if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
            return
        with self._lock:
            if clock - self._touched.get(row.id, -1e9) < _RESOLUTION_SECONDS:
                return
            self._touched[row.id] = clock
        self._put(Touch(row.id, row.public_key, now))

    def rehash(self, key_id: int, old_hash: str, new_hash: str, public_key: str) -> None:
        """Store a hash made with today's parameters, where the verifier may
        (a refused write would fail its whole batch, last-used times with it)."""
        if self._connections.rehashes:
            self._put(Rehash(key_id, old_hash, new_hash, public_key))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued last-used, usage and rehash writes are in the store."""
        if self._writer is None:
            return
        done = threading.Event()
        self._ask_soon(done)
        done.wait(timeout)

    def sizes(self) -> dict[str, int]:
        """What waits to be written, and how many batches the store refused."""
        return {
            "queue:bookkeeping": self._queue.qsize(),
            "queue:usage_counts": len(self._usage) if self._usage is not None else 0,
            "store_write_errors": self._failed_writes,
        }

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._ask_soon(None)
            self._writer.join(timeout=5)
            self._writer = None

    def _ask_soon(self, item: threading.Event | None) -> None:
        """Queue a flush's event (or None, to stop) and end the writer's wait."""
        with self._lock:
            self._waiting += 1
        self._queue.put(item)
        self._hurry.set()

    def _put(self, item: _Item) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name="keydesk-writes", daemon=True
                )
                self._writer.start()
        self._queue.put(item)

    def _run(self) -> None:
        usage_due: float | None = None  # when the counts gathered so far are written
        while True:
            items = self._gather(usage_due)
            if usage_due is None and any(isinstance(item, _UsageDue) for item in items):
                usage_due = time.monotonic() + self._flush_seconds
            final = any(item is None or isinstance(item, threading.Event) for item in items)
            counts: UsageCounts = {}
            if self._usage is not None and (
                final or (usage_due is not None and time.monotonic() >= usage_due)
            ):
                counts, usage_due = self._usage.take(), None
            if self._store([item for item in items if isinstance(item, Touch | Rehash)], counts):
                usage_due = time.monotonic() + self._flush_seconds  # retry the counts then
            for item in items:
                if isinstance(item, threading.Event):
                    with self._lock:
                        self._waiting -= 1
                    item.set()
            if None in items:
                self._connections.close()
                return

    def _gather(self, usage_due: float | None) -> list[_Item]:
        """The next items, waiting until `usage_due` at most. Bookkeeping can
        wait a moment: what comes meanwhile goes into the same transaction.
        The thread wakes once per batch, not once per item (a wake-up per
        first-seen key cost more CPU than the key's read). No wait while a
        flush or close is queued, nor for a queue longer than a batch."""
        timeout = None if usage_due is None else max(0.0, usage_due - time.monotonic())
        items: list[_Item] = []
        with contextlib.suppress(queue.Empty):
            items.append(self._queue.get(timeout=timeout))
            if isinstance(items[-1], Touch | Rehash | _UsageDue) and not self._in_a_hurry():
                self._hurry.wait(WRITE_GATHER_SECONDS)
            self._hurry.clear()
            while len(items) < BATCH_LIMIT and isinstance(items[-1], Touch | Rehash | _UsageDue):
                items.append(self._queue.get_nowait())
        return items

    def _in_a_hurry(self) -> bool:
        return self._waiting > 0 or self._queue.qsize() >= BATCH_LIMIT - 1

    def _store(self, writes: list[StoreWrite], counts: UsageCounts) -> bool:
        """One batch in one transaction; True when it failed and its counts
        are kept for a retry."""
        if not self._connections.usable() or not (writes or counts):
            return False
        try:
            connection = self._connections.connect()
            try:
                batch = self._connections.begin(connection)
                # A rehash changes a kept row's hash: readers read that row again.
                rehashed = frozenset(w.public_key for w in writes if isinstance(w, Rehash))
                written = False
                try:
                    self._write(connection, self._connections.backend, writes, counts)
                    written = True
                finally:
                    if batch is not None:
                        self._connections.settled(connection, batch, written, rehashed)
            finally:
                connection.close()
        except Exception as error:  # bookkeeping only: never fails a request
            self._failed_writes += 1
            log.info("last-used/usage writes skipped: %s", first_line(error))
            if counts and self._usage is not None:
                self._usage.put_back(counts)
                return True
        return False
