"""The verifier's bookkeeping as SQL: last-used times, usage counts and
upgraded hashes, all of one batch in one transaction, on connections of its
own. Plain SQL on the driver's connection: no SQLAlchemy to import for a
one-shot `keydesk verify`."""

from __future__ import annotations

import math
import sqlite3
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from keydesk.store.dbapi import DbConnection
from keydesk.verify.store_reads import PostgresReads, SqliteReads
from keydesk.verify.usage import SOURCE, UsageCounts
from keydesk.verify.wal_header import OwnBatch

if TYPE_CHECKING:
    import sqlalchemy as sa

LAST_USED_RESOLUTION = timedelta(minutes=1)
SQLITE_WRITE_TIMEOUT_SECONDS = 5.0  # last-used writes wait on their own thread


@dataclass(frozen=True, slots=True)
class Touch:
    """A key was used `at`: its last-used time, unless a newer one is stored."""

    key_id: int
    public_key: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Rehash:
    """A key's hash made again with today's argon2 parameters."""

    key_id: int
    old_hash: str = ""
    new_hash: str = ""
    public_key: str = ""  # whose kept row readers then drop

    def __repr__(self) -> str:
        return f"Rehash(key_id={self.key_id})"


StoreWrite = Touch | Rehash
# How a batch reaches the store: `write_batch`, or a caller's (which may wrap it).
WriteBatch = Callable[[Any, str, Sequence[StoreWrite], UsageCounts | None], None]

# Counts add up: a row per key, hour and outcome, made by the first batch and
# added to by the next (the same SQL on SQLite and PostgreSQL). A key that is
# gone meanwhile is skipped rather than failing the batch.
_ADD_USAGE = (
    "INSERT INTO key_usage (api_key_id, hour, outcome, count)"
    " SELECT :key_id, :hour, :outcome, :count"
    " WHERE EXISTS (SELECT 1 FROM api_key WHERE id = :key_id)"
    " ON CONFLICT (api_key_id, hour, outcome) DO UPDATE SET count = key_usage.count + excluded.count"
)
_ADD_SOURCE = (
    "INSERT INTO key_source (api_key_id, hour, source, count)"
    " SELECT :key_id, :hour, :source, :count"
    " WHERE EXISTS (SELECT 1 FROM api_key WHERE id = :key_id)"
    " ON CONFLICT (api_key_id, hour, source) DO UPDATE SET count = key_source.count + excluded.count"
)
_TOUCH = (
    "UPDATE api_key SET last_used_at = :used"
    " WHERE id = :key_id AND public_key = :key"
    " AND (last_used_at IS NULL OR last_used_at < :stale)"
)
_REHASH = "UPDATE api_key SET secret_hash = :new WHERE id = :key_id AND secret_hash = :old"


def write_batch(
    connection: Any, backend: str, writes: Sequence[StoreWrite], counts: UsageCounts | None = None
) -> None:
    """All queued writes in one transaction; the last-used times and the
    usage counts each as one executemany (one statement prepared, one
    pipeline on PostgreSQL), so a burst of them costs the event loop's
    process little CPU."""
    db = DbConnection(connection, backend)
    touches = [
        {
            "key_id": w.key_id,
            "key": w.public_key,
            "used": db.time(w.at),
            "stale": db.time(w.at - LAST_USED_RESOLUTION),
        }
        for w in writes
        if isinstance(w, Touch)
    ]
    rehashes = [
        {"key_id": w.key_id, "old": w.old_hash, "new": w.new_hash}
        for w in writes
        if isinstance(w, Rehash)
    ]
    try:
        if touches:
            db.run_many(_TOUCH, touches)
        if counts:
            _add_counts(db, counts)
        if rehashes:
            db.run_many(_REHASH, rehashes)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise


def _add_counts(db: DbConnection, counts: UsageCounts) -> None:
    """Usage counts into key_usage; sources (`@203.0.113.7`) into key_source."""
    outcomes, sources = [], []
    for (key_id, hour, outcome), count in counts.items():
        if outcome.startswith(SOURCE):
            sources.append({"key_id": key_id, "hour": hour, "source": outcome[1:], "count": count})
        else:
            outcomes.append({"key_id": key_id, "hour": hour, "outcome": outcome, "count": count})
    if outcomes:
        db.run_many(_ADD_USAGE, outcomes)
    if sources:
        db.run_many(_ADD_SOURCE, sources)


class WriteConnections:
    """DB-API connections for the batches, to the store the reads read."""

    def __init__(self, reads: SqliteReads | PostgresReads, timeout: float | None = None) -> None:
        # `timeout`: every wait of a write bounded (lock, statement, busy),
        # for writes made while a request waits; None: the writer thread's.
        self._timeout = timeout
        self._sqlite = reads if isinstance(reads, SqliteReads) else None
        self._url = reads.url if isinstance(reads, PostgresReads) else None
        self.backend = "sqlite" if self._sqlite is not None else "postgresql"
        # Whether an upgraded hash may be written. On PostgreSQL the verifier's
        # role may update `last_used_at` only: a role that reads hashes must
        # never be able to put one of its own choosing on a key, so keys
        # hashed with older parameters keep those hashes there.
        self.rehashes = self._sqlite is not None
        self._engine: sa.Engine | None = None  # PostgreSQL's, made by the first write

    def usable(self) -> bool:
        """False once the SQLite store was replaced: never write into
        whatever is at that path now."""
        return self._sqlite is None or self._sqlite.changed is None

    def connect(self) -> Any:
        """A connection for one batch; closing it gives it back."""
        if self._sqlite is not None:  # a new one each time, which never creates a store
            return sqlite3.connect(
                f"file:{urllib.parse.quote(self._sqlite.path)}?mode=rw", uri=True,
                timeout=self._timeout or SQLITE_WRITE_TIMEOUT_SECONDS, check_same_thread=False,
            )  # fmt: skip
        if self._engine is None:
            from keydesk.store.engine import create_engine

            assert self._url is not None
            # One connection kept: a new PostgreSQL backend per write costs the
            # server a fork and this process a handshake.
            args = {}
            if self._timeout is not None:
                wait = max(1, round(self._timeout * 1000))
                args["connect_args"] = {
                    "connect_timeout": max(2, math.ceil(self._timeout)),
                    "options": f"-c statement_timeout={wait} -c lock_timeout={wait}",
                }
            self._engine = create_engine(self._url, pool_size=1, max_overflow=0, **args)
        return self._engine.raw_connection()

    def begin(self, connection: Any) -> OwnBatch | None:
        """On SQLite in WAL mode, the write lock taken now, and the store's
        header then, which no other commit can move before this batch's
        (wal_header.py); None elsewhere."""
        wal = self._sqlite.wal() if self._sqlite is not None else None
        if wal is None:
            return None
        connection.execute("BEGIN IMMEDIATE")
        return wal.own_batch()

    def settled(
        self, connection: Any, batch: OwnBatch, written: bool, changed: frozenset[str] = frozenset()
    ) -> None:
        """The batch `begin` began is over: `written` when its transaction
        committed. Readers in this process keep their other rows across its
        commit if it held only bookkeeping and the rehashes of keys
        `changed`, and changed a row (its own connection's first changes: its
        commit wrote a frame, which is what moves the count). A batch that
        failed or changed nothing is not own: another's commit may take its
        count, and readers then read again."""
        wal = self._sqlite.wal() if self._sqlite is not None else None
        if wal is None:
            return
        own = written and not connection.in_transaction and connection.total_changes > 0
        if own and "" not in changed:  # "": a key not named
            wal.own_commit(batch, changed)
        else:
            wal.not_own(batch)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
