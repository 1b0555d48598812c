"""Verifying presented API keys, at request speed.

The path of a key this process has verified before:
  parse + checksum (no I/O) → keyed digest → one indexed read → status checks.

What is cached, and what is not:
  * verified keys: keyed BLAKE2b(per-process random key, private key) → key row id.
    Never the plaintext; the digest is useless outside this process.
  * recent failures: the same digest → reason, for a short while, so hammering
    one wrong key costs no argon2.
  * nothing about revocation, expiry or integration status: those are read
    from the store for every request, by a read that starts after the request
    arrived, so a revoke by any process sharing the store is refused on the
    very next request.

Reads (`_Lookups`): requests waiting at the same moment share one query
(`public_key IN (…)` / `= ANY(…)`): on PostgreSQL that is one round trip for
all of them instead of one each. A request only joins a query that has not
started yet, so its read still starts after it arrived. Reads run on a thread
of their own for `verify_async` (the event loop never waits for the store) and
inline for `verify` when nothing else is reading. Every wait is bounded
(`read_timeout`: busy timeout on SQLite, statement and lock timeouts on
PostgreSQL, and a deadline on the waiting request); past it, or with the store
gone, the answer is `StoreUnavailable` (HTTP 503), with one log line when the
store goes away and one when it is back.

SQLite: the verifier reads on a read-only connection that never creates a
file, and before each read it checks that the database, -wal and -shm files at
the store's path are still the ones that connection opened (device and inode):
a store deleted or replaced under a running server is noticed on the very next
request and every request is then answered "unavailable" (never from the old
file) until the process restarts (`_SqliteReads` says why).

argon2 runs only for a key this process has not verified yet, on a small pool
of threads (one per core). What an attacker cannot use:
  * unknown ids cost no argon2. Their refusal waits for a duration drawn from
    the recent durations of real checks in this process (queue wait included,
    so it follows the load), which is what a wrong secret for a real id costs:
    the response time does not tell which ids exist, and a flood of forged keys
    costs timers, not CPU. (The first few, and the first after a quiet minute,
    still run a decoy argon2 to measure.)
  * at most one check at a time per presented public key, whether or not it
    exists; a few more attempts with other secrets wait their turn, beyond that
    `TooManyAttempts` (HTTP 429). Attempts against one real key therefore use
    at most one hashing thread, and the pool's FIFO queue holds at most one job
    per key: a key seen for the first time waits behind one job per key being
    attacked, not behind the attack.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import math
import queue
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, Protocol

from keydesk.errors import StoreUnavailable, TooManyAttempts, Unauthorized, UnauthorizedReason
from keydesk.keys import PrivateKey, check_secret, parse_private_key
from keydesk.store.dbapi import DbConnection, stored_time
from keydesk.store.path import FileId, checked_store_path, file_id
from keydesk.store.sqlite_file import read_only_uri, sqlite_file_of
from keydesk.views import ACCEPTED, IntegrationStatus, KeyStatus, key_status, utcnow

if TYPE_CHECKING:
    import sqlalchemy as sa

VERIFIED_CACHE_SIZE = 10_000
FAILED_CACHE_SIZE = 10_000
FAILED_TTL_SECONDS = 60.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_CONCURRENT_HASHES = 2  # one per core: argon2 is CPU-bound, more only queues memory
READ_TIMEOUT_SECONDS = 1.0  # longest wait for the store before answering "unavailable"
RETRY_AFTER_SECONDS = 1
MAX_BATCH = 256  # public keys in one coalesced read
MAX_WAITING_PER_KEY = 8  # attempts with other secrets queued behind one check of a key
CHECK_SAMPLES = 256  # durations of recent real checks kept to time unknown ids
MIN_CHECK_SAMPLES = 16
CHECK_SAMPLES_FRESH_SECONDS = 60.0
UNAVAILABLE_LOG_EVERY_SECONDS = 30.0
REFUSAL_LOG_LINES_PER_SECOND = 20
SQLITE_WRITE_TIMEOUT_SECONDS = 5.0  # last-used writes wait on their own thread
WRITE_GATHER_SECONDS = 0.5  # last-used times are gathered this long into one write
# Usage counts are added up in memory and written this often (and on flush
# and close): a process that dies loses at most this many seconds of counts.
USAGE_FLUSH_SECONDS = 15.0
USAGE_BACKLOG_MAX = 100_000  # counts kept for a retry while the store refuses writes

_log = logging.getLogger("keydesk.verify")  # the name operators filter on
_log.addHandler(logging.NullHandler())  # a library: its host decides where logs go


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """Who a valid key is. Safe to log and to put in a request scope."""

    public_key: str
    label: str
    integration_id: int
    integration: str
    workspace_id: int
    workspace: str
    # What the key may do: its own scopes, within its integration's as they
    # are now (an integration that drops a scope drops it from its keys).
    scopes: tuple[str, ...] = ()

    def has_scopes(self, *needed: str) -> bool:
        return all(scope in self.scopes for scope in needed)

    def as_dict(self) -> dict[str, str | int | list[str]]:
        return {
            "public_key": self.public_key,
            "label": self.label,
            "integration_id": self.integration_id,
            "integration": self.integration,
            "workspace_id": self.workspace_id,
            "workspace": self.workspace,
            "scopes": list(self.scopes),
        }


class KeyRow(NamedTuple):
    """What the read returns about a presented key (the hash included:
    never log or show a KeyRow)."""

    public_key: str
    id: int
    secret_hash: str
    label: str
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    integration_id: int
    integration: str
    integration_status: str
    workspace_id: int
    workspace: str
    scopes: str
    integration_scopes: str

    def __repr__(self) -> str:
        return f"KeyRow(id={self.id})"


# Written out rather than built with SQLAlchemy: the hot path goes straight to
# the driver (SQLAlchemy's per-execute bookkeeping would cost more than the
# read), and the request path imports no ORM.
_SELECT = (
    "SELECT api_key.public_key, api_key.id, api_key.secret_hash, api_key.label,"
    " api_key.revoked_at, api_key.expires_at, api_key.last_used_at,"
    " integration.id, integration.name, integration.status, workspace.id, workspace.name,"
    " api_key.scopes, integration.scopes"
    " FROM api_key"
    " JOIN integration ON integration.id = api_key.integration_id"
    " JOIN workspace ON workspace.id = integration.workspace_id"
)

_STATUS_REFUSAL = {
    KeyStatus.REVOKED: UnauthorizedReason.REVOKED,
    KeyStatus.EXPIRED: UnauthorizedReason.EXPIRED,
}


# -- reading the store -------------------------------------------------------------


class _Reads(Protocol):
    def fetch(self, public_keys: list[str]) -> dict[str, KeyRow]:
        """The rows of those of `public_keys` that exist, by one read each
        `MAX_BATCH`; `StoreUnavailable` when the store cannot answer."""

    def close(self) -> None: ...


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else 'no detail'}"


def _chunks(items: list[str]) -> Iterable[list[str]]:
    if len(items) <= MAX_BATCH:  # nearly always
        return (items,)
    return (items[start : start + MAX_BATCH] for start in range(0, len(items), MAX_BATCH))


class _SqliteReads:
    """Reads on one read-only SQLite connection, opened on the existing store
    (never creating one) and kept open: SQLite deletes a -wal or -shm only
    when their last connection closes, and a read-only connection never
    checkpoints or deletes anything, so while it is open the store's files
    stay the ones it opened. Before each read the files at the store's path
    must still be those (device and inode); once they are not (deleted,
    replaced, restored from a copy), every read is refused until the process
    restarts. Reopening is not safe: SQLite shares one -shm mapping among all
    the connections of a process to the same database file, so a new
    connection could still read through the deleted one.

    The store's file is checked as every opener checks it
    (keydesk.store.path), when the verifier is made (an unsafe store is
    refused at start-up, not per request) and again when it is first
    opened; it is opened by its real path."""

    def __init__(self, database: str, timeout: float) -> None:
        self.path = str(checked_store_path(database))
        self._read_uri = read_only_uri(self.path)
        self._write_uri = f"file:{urllib.parse.quote(self.path)}?mode=rw"
        self._files = (self.path, self.path + "-wal", self.path + "-shm")
        self._timeout = timeout
        self._connection: sqlite3.Connection | None = None
        self._opened: tuple[FileId, ...] = ()
        self.changed: str | None = None  # why every read is refused, once it is
        self._sql: dict[int, str] = {}

    def connect_for_writes(self) -> sqlite3.Connection:
        """A connection that may write to the existing store (never creates one)."""
        return sqlite3.connect(
            self._write_uri, uri=True, timeout=SQLITE_WRITE_TIMEOUT_SECONDS,
            check_same_thread=False,
        )  # fmt: skip

    def fetch(self, public_keys: list[str]) -> dict[str, KeyRow]:
        # One caller at a time (`_Lookups` has at most one read going).
        if self.changed is not None:
            raise StoreUnavailable(self.changed)
        connection = self._connection or self._open()
        if tuple(map(file_id, self._files)) != self._opened:
            self.changed = (
                f"the store at {self.path} was deleted or replaced under this process; "
                "restart it to read the store now at that path"
            )
            raise StoreUnavailable(self.changed)
        found: dict[str, KeyRow] = {}
        try:
            for chunk in _chunks(public_keys):
                rows = connection.execute(self._sql_for(len(chunk)), chunk).fetchall()
                for row in rows:
                    found[row[0]] = _sqlite_row(row)
        except sqlite3.Error as error:  # busy past the timeout, or not a keydesk store
            raise StoreUnavailable(f"cannot read the store at {self.path}: {error}") from None
        return found

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # read-only: no checkpoint, nothing deleted
            self._connection = None

    def _open(self) -> sqlite3.Connection:
        before = file_id(self.path)
        if before is None:
            raise StoreUnavailable(f"no keydesk store at {self.path}")
        if str(checked_store_path(self.path)) != self.path:  # it became a symlink meanwhile
            raise StoreUnavailable(f"the store at {self.path} was replaced while opening it")
        try:
            connection = sqlite3.connect(
                self._read_uri, uri=True, timeout=self._timeout, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            connection.execute("PRAGMA schema_version").fetchone()  # opens -wal and -shm
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot open the store at {self.path}: {error}") from None
        opened = tuple(map(file_id, self._files))
        if opened[0] != before:
            connection.close()
            raise StoreUnavailable(f"the store at {self.path} was replaced while opening it")
        self._connection, self._opened = connection, opened
        return connection

    def _sql_for(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            marks = ", ".join("?" * count)
            sql = self._sql[count] = f"{_SELECT} WHERE api_key.public_key IN ({marks})"
        return sql


def _sqlite_row(row: tuple[Any, ...]) -> KeyRow:
    """sqlite3 hands back the stored text for times."""
    return KeyRow(
        row[0], row[1], row[2], row[3],
        stored_time(row[4]), stored_time(row[5]), stored_time(row[6]),
        row[7], row[8], row[9], row[10], row[11], row[12], row[13],
    )  # fmt: skip


class _PostgresReads:
    """Reads on autocommit connections whose statements and lock waits are
    cut off at the timeout; a connection broken by a server restart is
    replaced at once (the read is retried once on a new one)."""

    _SQL = f"{_SELECT} WHERE api_key.public_key = ANY(%s)"

    def __init__(self, url: sa.URL, timeout: float) -> None:
        from sqlalchemy.pool import NullPool

        from keydesk.store.engine import create_engine

        milliseconds = max(1, round(timeout * 1000))
        options = f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
        given = url.query.get("options")
        if isinstance(given, str):
            options = f"{given} {options}"
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "connect_timeout": max(2, math.ceil(timeout)),  # libpq's least useful value
                "options": options,
                "application_name": "keydesk-verify",
            },
        )
        self._errors: tuple[type[BaseException], ...] = (
            self._engine.dialect.loaded_dbapi.Error,
            OSError,
        )
        self._idle: deque[Any] = deque()  # pooled DB-API connections

    def fetch(self, public_keys: list[str]) -> dict[str, KeyRow]:
        try:
            connection, reused = self._idle.pop(), True
        except IndexError:
            connection, reused = self._connect(), False
        while True:
            try:
                found = self._read(connection, public_keys)
            except self._errors as error:
                if not _broken(connection):  # a timeout: the connection is fine
                    self._idle.append(connection)
                    raise StoreUnavailable(
                        f"the store did not answer: {_first_line(error)}"
                    ) from None
                connection.invalidate()
                if not reused:
                    raise StoreUnavailable(
                        f"the store is unreachable: {_first_line(error)}"
                    ) from None
                connection, reused = self._connect(), False
                continue
            self._idle.append(connection)
            return found

    def close(self) -> None:
        while self._idle:
            with contextlib.suppress(IndexError, *self._errors):
                self._idle.pop().close()
        self._engine.dispose()

    def _connect(self) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        errors: tuple[type[BaseException], ...] = (SQLAlchemyError, *self._errors)
        try:
            return self._engine.raw_connection()
        except errors as error:
            raise StoreUnavailable(f"the store is unreachable: {_first_line(error)}") from None

    def _read(self, connection: Any, public_keys: list[str]) -> dict[str, KeyRow]:
        found: dict[str, KeyRow] = {}
        cursor = connection.cursor()
        try:
            for chunk in _chunks(public_keys):
                cursor.execute(self._SQL, (chunk,))
                for row in cursor.fetchall():
                    found[row[0]] = KeyRow(*row)
        finally:
            cursor.close()
        return found


def _broken(connection: Any) -> bool:
    driver = getattr(connection, "driver_connection", None)
    return driver is None or bool(
        getattr(driver, "closed", True) or getattr(driver, "broken", False)
    )


class _Health:
    """One log line when the store goes away, a reminder now and then while
    it stays away, one line when it is back. Never a traceback."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_line = 0.0
        self._refused = 0

    def failed(self, detail: str, requests: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._refused += requests
            if self._down_since is None:
                self._down_since = self._last_line = now
                _log.warning("key store unavailable, answering 503 until it is back: %s", detail)
            elif now - self._last_line >= UNAVAILABLE_LOG_EVERY_SECONDS:
                self._last_line = now
                _log.warning(
                    "key store still unavailable (%d requests answered 503 so far): %s",
                    self._refused, detail,
                )  # fmt: skip

    def answered(self) -> None:
        if self._down_since is None:  # the usual case: no lock
            return
        with self._lock:
            if self._down_since is None:
                return
            _log.warning(
                "key store available again after %.1f s (%d requests answered 503)",
                time.monotonic() - self._down_since, self._refused,
            )  # fmt: skip
            self._down_since = None
            self._refused = 0


class RefusalLog:
    """One line per refusal (what was refused, e.g. a public key, and the
    exact reason; never a secret), at most `per_second` lines a second: a
    flood of forged keys must not turn into a flood of log writes on the event
    loop. What is left out is counted, by reason, in one line when the next
    second starts."""

    def __init__(self, per_second: int = REFUSAL_LOG_LINES_PER_SECOND) -> None:
        self._lock = threading.Lock()
        self._per_second = per_second
        self._second = 0
        self._lines = 0
        self._skipped: dict[str, int] = {}

    def refused(self, what: str, reason: str) -> None:
        if not _log.isEnabledFor(logging.INFO):
            return
        second = int(time.monotonic())
        with self._lock:
            skipped = None
            if second != self._second:
                skipped, self._skipped = self._skipped, {}
                self._second, self._lines = second, 0
            self._lines += 1
            line = self._lines <= self._per_second
            if not line:
                self._skipped[reason] = self._skipped.get(reason, 0) + 1
        if skipped:
            counts = ", ".join(f"{count} {name}" for name, count in sorted(skipped.items()))
            _log.info("refused %d more in the last second, not logged one by one (%s)",
                      sum(skipped.values()), counts)  # fmt: skip
        if line:
            _log.info("refused %s: %s", what, reason)


class _Request:
    """One lookup waiting for a read, on a thread (`done`) or an event loop
    (`future`, with the `deadline` of the requests it was handed over with)."""

    __slots__ = ("deadline", "done", "future", "loop", "public_key", "value")

    def __init__(
        self,
        public_key: str,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[KeyRow | None] | None = None,
    ) -> None:
        self.public_key = public_key
        self.loop = loop
        self.future = future
        self.deadline: asyncio.TimerHandle | None = None
        self.done: threading.Lock | None = None
        self.value: KeyRow | StoreUnavailable | None = None
        if loop is None:
            self.done = threading.Lock()
            self.done.acquire()


class _Lookups:
    """Concurrent lookups coalesced into one read (see the module docstring)."""

    def __init__(self, reads: _Reads, timeout: float) -> None:
        self._reads = reads
        self._timeout = timeout
        self._health = _Health()
        self._state = threading.Condition(threading.Lock())
        self._pending: list[_Request] = []
        self._reading = False
        self._closed = False
        self._thread: threading.Thread | None = None
        # Per event loop, the lookups asked for during its current iteration:
        # handed to the reader together, with one wake-up and one deadline.
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Request]] = {}

    def get(self, public_key: str) -> KeyRow | None:
        """For a thread: reads inline when nothing else is reading, else joins
        the next coalesced read."""
        with self._state:
            inline = not self._reading and not self._pending
            if inline:
                self._reading = True
            else:
                request = _Request(public_key)
                self._enqueue([request])
        if inline:
            try:
                return self._fetch([public_key], 1).get(public_key)
            finally:
                with self._state:
                    self._reading = False
                    if self._pending:
                        self._state.notify()
        assert request.done is not None
        if not request.done.acquire(timeout=self._timeout):
            raise self._late()
        if isinstance(request.value, StoreUnavailable):
            raise request.value
        return request.value

    async def get_async(self, public_key: str) -> KeyRow | None:
        """For an event loop: the read runs on the reader thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[KeyRow | None] = loop.create_future()
        gathering = self._gathering.get(loop)
        if gathering is None:
            gathering = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathering.append(_Request(public_key, loop, future))
        return await future

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._state.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._reads.close()

    def _late(self) -> StoreUnavailable:
        return StoreUnavailable(f"the key store did not answer within {self._timeout:g} s")

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        requests = self._gathering.pop(loop)
        deadline = loop.call_later(self._timeout, self._expire, requests)
        for request in requests:
            request.deadline = deadline
        try:
            with self._state:
                self._enqueue(requests)
        except StoreUnavailable as error:
            for request in requests:
                request.value = StoreUnavailable(error.message)
            _settle(requests)

    def _expire(self, requests: list[_Request]) -> None:
        for request in requests:
            assert request.future is not None
            if not request.future.done():
                request.future.set_exception(self._late())

    def _enqueue(self, requests: list[_Request]) -> None:  # with self._state held
        if self._closed:
            raise StoreUnavailable("the verifier is closed")
        self._pending.extend(requests)
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="keydesk-reads", daemon=True)
            self._thread.start()
        self._state.notify()

    def _fetch(self, public_keys: list[str], requests: int) -> dict[str, KeyRow]:
        try:
            found = self._reads.fetch(public_keys)
        except StoreUnavailable as error:
            self._health.failed(error.message, requests)
            raise
        except Exception as error:  # unforeseen: still a 503 and one line, never a 500
            self._health.failed(_first_line(error), requests)
            raise StoreUnavailable("the key store failed to answer") from None
        self._health.answered()
        return found

    def _serve(self) -> None:
        while True:
            with self._state:
                while not self._closed and (self._reading or not self._pending):
                    self._state.wait()
                if self._closed and not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._reading = True
            # Every request in `batch` arrived before this read starts.
            outcome: dict[str, KeyRow] | StoreUnavailable
            try:
                outcome = self._fetch(list({r.public_key: None for r in batch}), len(batch))
            except StoreUnavailable as error:
                outcome = error
            finally:
                with self._state:
                    self._reading = False
            _deliver(batch, outcome)


def _deliver(batch: list[_Request], outcome: dict[str, KeyRow] | StoreUnavailable) -> None:
    settle: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
    for request in batch:
        request.value = (
            StoreUnavailable(outcome.message)  # one exception object per waiter
            if isinstance(outcome, StoreUnavailable)
            else outcome.get(request.public_key)
        )
        if request.loop is None:
            assert request.done is not None
            request.done.release()
        else:
            settle.setdefault(request.loop, []).append(request)
    for loop, requests in settle.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, requests)


def _settle(requests: list[_Request]) -> None:
    for request in requests:
        if request.deadline is not None:
            request.deadline.cancel()
        future = request.future
        assert future is not None
        if future.done():  # timed out or cancelled meanwhile
            continue
        if isinstance(request.value, StoreUnavailable):
            future.set_exception(request.value)
        else:
            future.set_result(request.value)


# -- checking secrets ---------------------------------------------------------------


class _Gate:
    """The attempts of one public key: which secrets (by digest) hold or
    wait for the gate, and who waits, in order."""

    __slots__ = ("digests", "waiting")

    def __init__(self, digest: bytes) -> None:
        self.digests: dict[bytes, int] = {digest: 1}
        self.waiting: deque[tuple[bytes, Callable[[], bool]]] = deque()


class _Gates:
    """At most one unverified check at a time per presented public key, and a
    bounded number of other secrets waiting behind it (the same rule for ids
    that do not exist, so the rule itself reveals nothing). Attempts with the
    same secret do not count: a client's concurrent first requests wait for
    the one check and then find its result cached."""

    def __init__(self, max_waiting: int) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, _Gate] = {}
        self._max_waiting = max_waiting

    def enter(self, public_key: str, digest: bytes, wake: Callable[[], bool]) -> bool:
        """True: the caller holds the gate. False: `wake()` is called when it
        does (`wake` returns False if its caller has gone)."""
        with self._lock:
            gate = self._gates.get(public_key)
            if gate is None:
                self._gates[public_key] = _Gate(digest)
                return True
            count = gate.digests.get(digest, 0)
            if not count and len(gate.digests) > self._max_waiting:
                raise TooManyAttempts(
                    "too many attempts with this key at once; retry in a moment",
                    RETRY_AFTER_SECONDS,
                )
            gate.digests[digest] = count + 1
            gate.waiting.append((digest, wake))
            return False

    def leave(self, public_key: str, digest: bytes) -> None:
        """The holder (with `digest`) is done: the next waiter holds the gate."""
        while True:
            with self._lock:
                gate = self._gates[public_key]
                left = gate.digests[digest] - 1
                if left:
                    gate.digests[digest] = left
                else:
                    del gate.digests[digest]
                if not gate.waiting:
                    del self._gates[public_key]
                    return
                digest, wake = gate.waiting.popleft()
            if wake():  # handed over; the gate stays held
                return
            # that waiter has gone: it leaves at once, and the next is woken


class _CheckTimes:
    """How long real checks took lately (queue wait + argon2), to time the
    refusal of unknown ids like a wrong secret without computing anything."""

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=CHECK_SAMPLES)
        self._latest = -math.inf

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self._latest = time.monotonic()

    def draw(self) -> float | None:
        """A recent duration, at random; None when there are too few or they
        are stale (then the caller measures with a decoy)."""
        samples = self._samples
        if len(samples) < MIN_CHECK_SAMPLES:
            return None
        if time.monotonic() - self._latest > CHECK_SAMPLES_FRESH_SECONDS:
            return None
        try:
            return samples[secrets.randbelow(len(samples))]
        except IndexError:  # evicted between the two reads
            return samples[-1]


class _Hashing:
    """argon2 on `size` threads, first come first served (one job per public
    key at a time, see `_Gates`, so first come is also round robin by key).
    Daemon threads, started on first use: pure computation, nothing to finish
    when the process exits, and a verifier nobody closed never holds it up."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[
            tuple[concurrent.futures.Future[None], Callable[[], None]] | None
        ] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        if not self._threads:
            with self._lock:
                while len(self._threads) < self._size:
                    thread = threading.Thread(target=self._work, name="keydesk-argon2", daemon=True)
                    thread.start()
                    self._threads.append(thread)
        self._jobs.put((future, job))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue  # its caller has gone
            try:
                job()
            except BaseException as error:  # delivered to whoever waits
                future.set_exception(error)
            else:
                future.set_result(None)


@dataclass(frozen=True, slots=True)
class _Touch:
    key_id: int
    public_key: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Rehash:
    key_id: int
    old_hash: str = ""
    new_hash: str = ""

    def __repr__(self) -> str:
        return f"_Rehash(key_id={self.key_id})"


@dataclass(frozen=True, slots=True)
class _UsageDue:
    """Usage counts started a new batch: write them in USAGE_FLUSH_SECONDS."""


_Write = _Touch | _Rehash | _UsageDue
UsageCounts = dict[tuple[int, int, str], int]  # (key id, hour, outcome) -> count


class _Usage:
    """Presentations per key, hour and outcome, added up in memory: the
    request path does a dict update under a lock, never a write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: UsageCounts = {}

    def add(self, key_id: int, outcome: str) -> bool:
        """Count one; True when it starts a new batch (the writer is told)."""
        entry = (key_id, int(time.time()) // 3600, outcome)
        with self._lock:
            counts = self._counts
            started = not counts
            counts[entry] = counts.get(entry, 0) + 1
        return started

    def take(self) -> UsageCounts:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def put_back(self, counts: UsageCounts) -> None:
        """Counts a write could not store, kept for the next one (up to a
        bound: a store refusing writes for long loses the oldest)."""
        with self._lock:
            for entry, count in counts.items():
                if len(self._counts) >= USAGE_BACKLOG_MAX:
                    break
                self._counts[entry] = self._counts.get(entry, 0) + count


class Verifier:
    """Thread-safe; make one per process and share it. `store` is the
    store's engine or URL; the verifier opens connections of its own."""

    def __init__(
        self,
        store: sa.Engine | str,
        *,
        max_concurrent_hashes: int = MAX_CONCURRENT_HASHES,
        failed_ttl: float = FAILED_TTL_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_waiting_per_key: int = MAX_WAITING_PER_KEY,
        count_usage: bool = True,
    ) -> None:
        reads: _Reads
        self._sqlite: _SqliteReads | None = None
        self._url: sa.URL | None = None
        sqlite_file = sqlite_file_of(store) if isinstance(store, str) else None
        if sqlite_file is not None:  # read without importing SQLAlchemy
            reads = self._sqlite = _SqliteReads(sqlite_file, read_timeout)
        else:
            url = self._url = _url_of(store)
            backend = url.get_backend_name()
            if backend == "sqlite" and url.database and url.database != ":memory:":
                reads = self._sqlite = _SqliteReads(url.database, read_timeout)
            elif backend == "postgresql":
                reads = _PostgresReads(url, read_timeout)
            else:
                raise StoreUnavailable(f"the verifier cannot read a {backend} store at {url!s}")
        self._lookups = _Lookups(reads, read_timeout)
        self._digest_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, int] = OrderedDict()
        # digest -> (until, reason, the key's row id when the key exists)
        self._failed: OrderedDict[bytes, tuple[float, UnauthorizedReason, int | None]] = (
            OrderedDict()
        )
        self._failed_ttl = failed_ttl
        self._gates = _Gates(max_waiting_per_key)
        self._check_times = _CheckTimes()
        self._refusals = RefusalLog()
        self._hashing = _Hashing(max_concurrent_hashes)
        self._writes: queue.SimpleQueue[_Write | threading.Event | None] = queue.SimpleQueue()
        self._touched: dict[int, float] = {}
        self._writer: threading.Thread | None = None
        self._writer_engine: sa.Engine | None = None  # PostgreSQL's, made by the first write
        self._usage: _Usage | None = _Usage() if count_usage else None
        self._scopes: dict[tuple[str, str], tuple[str, ...]] = {}

    # -- the whole check --------------------------------------------------------

    def verify(self, presented: str | PrivateKey | None) -> VerifiedKey:
        """The key's identity, or `Unauthorized` with the exact reason
        (`StoreUnavailable` when the store cannot answer in time,
        `TooManyAttempts` when this public key is being hammered)."""
        key, digest = self._parse(presented)
        self._refuse_if_failed(key, digest)
        row = self._lookups.get(key.public_key)
        if not self._known(digest, row):
            self._check(key, digest, row)
        return self._finish(key, row)

    async def verify_async(self, presented: str | PrivateKey | None) -> VerifiedKey:
        """The same, for an event loop, which never waits for the store or for
        argon2: the parse runs inline, the read and the hashing on threads."""
        key, digest = self._parse(presented)
        self._refuse_if_failed(key, digest)
        row = await self._lookups.get_async(key.public_key)
        if not self._known(digest, row):
            await self._check_async(key, digest, row)
        return self._finish(key, row)

    # -- upkeep -------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued last-used, usage and rehash writes are in the store."""
        if self._writer is None:
            return
        done = threading.Event()
        self._writes.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writes.put(None)
            self._writer.join(timeout=5)
            self._writer = None
        self._hashing.close()
        self._lookups.close()

    def cached_digests(self) -> list[bytes]:
        """What the caches hold (for tests and audits): digests only."""
        with self._lock:
            return [*self._verified, *self._failed]

    # -- steps ------------------------------------------------------------------

    def _parse(self, presented: str | PrivateKey | None) -> tuple[PrivateKey, bytes]:
        if presented is None or (isinstance(presented, str) and not presented.strip()):
            raise Unauthorized(UnauthorizedReason.MISSING)
        key = parse_private_key(presented)  # shape and checksum: no I/O
        # Keyed BLAKE2b is a MAC by design, and unlike hmac.digest it keeps the
        # GIL for short inputs: the event loop does not hand the interpreter
        # to the reader or hashing threads in the middle of a request.
        digest = hashlib.blake2b(key.reveal().encode("ascii"), key=self._digest_key, digest_size=32)
        return key, digest.digest()

    def _known(self, digest: bytes, row: KeyRow | None) -> bool:
        return row is not None and self._verified.get(digest) == row.id

    def _refuse_if_failed(self, key: PrivateKey, digest: bytes) -> None:
        failure = self._failed.get(digest)
        if failure is None:
            return
        if failure[0] > time.monotonic():
            self._refuse(key, digest, failure[1], remember=False, key_id=failure[2])
        with self._lock:
            self._failed.pop(digest, None)

    def _refuse(
        self,
        key: PrivateKey,
        digest: bytes,
        reason: UnauthorizedReason,
        *,
        remember: bool,
        key_id: int | None = None,
    ) -> NoReturn:
        if key_id is not None:  # a real key's refusal is its usage too (a wrong secret: a signal)
            self._count(key_id, reason.value)
        if remember:
            with self._lock:
                self._failed[digest] = (time.monotonic() + self._failed_ttl, reason, key_id)
                self._failed.move_to_end(digest)
                if len(self._failed) > FAILED_CACHE_SIZE:
                    self._failed.popitem(last=False)
        self._refusals.refused(key.public_key, reason.value)  # exact; never the secret
        raise Unauthorized(reason, key.public_key)

    def _check(self, key: PrivateKey, digest: bytes, row: KeyRow | None) -> None:
        public_key = key.public_key
        turn = threading.Lock()
        turn.acquire()

        def wake() -> bool:
            turn.release()
            return True

        if not self._gates.enter(public_key, digest, wake):
            turn.acquire()
        try:
            if self._known(digest, row):  # the attempt before ours had the same key
                return
            self._refuse_if_failed(key, digest)
            pause = None if row is not None else self._check_times.draw()
            if pause is not None:
                time.sleep(pause)
                self._refuse(key, digest, UnauthorizedReason.UNKNOWN, remember=True)
            self._hashing.submit(self._hash_job(key, digest, row)).result()
        finally:
            self._gates.leave(public_key, digest)

    async def _check_async(self, key: PrivateKey, digest: bytes, row: KeyRow | None) -> None:
        public_key = key.public_key
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        wake = _async_turn(loop, turn, self._gates, public_key, digest)
        if not self._gates.enter(public_key, digest, wake):
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # given the gate, then cancelled
                    self._gates.leave(public_key, digest)
                raise
        leave_here = True
        try:
            if self._known(digest, row):
                return
            self._refuse_if_failed(key, digest)
            pause = None if row is not None else self._check_times.draw()
            if pause is not None:
                await asyncio.sleep(pause)
                self._refuse(key, digest, UnauthorizedReason.UNKNOWN, remember=True)
            job = self._hashing.submit(self._hash_job(key, digest, row))
            # The gate opens when the hashing ends, even if this caller has gone.
            job.add_done_callback(lambda _job: self._gates.leave(public_key, digest))
            leave_here = False
            await asyncio.wrap_future(job)
        finally:
            if leave_here:
                self._gates.leave(public_key, digest)

    def _check_secret(
        self, key: PrivateKey, digest: bytes, row: KeyRow | None, queued_at: float
    ) -> None:
        """On a hashing thread. An unknown id is checked against a decoy only
        while `_CheckTimes` has too few recent samples."""
        check = check_secret(row.secret_hash if row else None, key)
        self._check_times.add(time.perf_counter() - queued_at)
        if row is None:
            self._refuse(key, digest, UnauthorizedReason.UNKNOWN, remember=True)
        if not check.matches:
            self._refuse(key, digest, UnauthorizedReason.WRONG_SECRET, remember=True, key_id=row.id)
        if check.new_hash is not None:
            self._write(_Rehash(row.id, row.secret_hash, check.new_hash))
        with self._lock:
            self._verified[digest] = row.id
            self._verified.move_to_end(digest)
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)

    def _finish(self, key: PrivateKey, row: KeyRow | None) -> VerifiedKey:
        """Status checks on the row just read: revoked, expired, integration off."""
        assert row is not None
        now = utcnow()
        status = key_status(row.revoked_at, row.expires_at, now)
        reason = None
        if status is not KeyStatus.ACTIVE:
            reason = _STATUS_REFUSAL[status]
        elif row.integration_status != IntegrationStatus.CONFIGURED:
            reason = UnauthorizedReason.INTEGRATION_DISABLED
        if reason is not None:
            self._count(row.id, reason.value)
            self._refusals.refused(key.public_key, reason.value)
            raise Unauthorized(reason, key.public_key)
        self._touch(row, now)
        self._count(row.id, ACCEPTED)
        return VerifiedKey(
            key.public_key,
            row.label,
            row.integration_id,
            row.integration,
            row.workspace_id,
            row.workspace,
            self._granted(row.scopes, row.integration_scopes),
        )

    def _granted(self, scopes: str, offered: str) -> tuple[str, ...]:
        """The key's scopes that its integration still has (cached: a few
        distinct pairs serve every request)."""
        pair = (scopes, offered)
        granted = self._scopes.get(pair)
        if granted is None:
            have = offered.split()
            granted = tuple(scope for scope in scopes.split() if scope in have)
            if len(self._scopes) > 10_000:
                self._scopes.clear()
            self._scopes[pair] = granted
        return granted

    def _hash_job(self, key: PrivateKey, digest: bytes, row: KeyRow | None) -> Callable[[], None]:
        queued_at = time.perf_counter()
        return lambda: self._check_secret(key, digest, row, queued_at)

    # -- writes, off the request path ----------------------------------------------

    def _count(self, key_id: int, outcome: str) -> None:
        if self._usage is not None and self._usage.add(key_id, outcome):
            self._write(_UsageDue())

    def _touch(self, row: KeyRow, now: datetime) -> None:
        """Record use at most once a minute per key."""
        if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
            return
        clock = time.monotonic()
        with self._lock:
            if clock - self._touched.get(row.id, -1e9) < LAST_USED_RESOLUTION.total_seconds():
                return
            self._touched[row.id] = clock
        self._write(_Touch(row.id, row.public_key, now))

    def _write(self, item: _Write) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="keydesk-writes", daemon=True
                )
                self._writer.start()
        self._writes.put(item)

    def _write_loop(self) -> None:
        usage_due: float | None = None  # when the counts gathered so far are written
        while True:
            timeout = None if usage_due is None else max(0.0, usage_due - time.monotonic())
            items: list[_Write | threading.Event | None] = []
            with contextlib.suppress(queue.Empty):
                items.append(self._writes.get(timeout=timeout))
                # Bookkeeping can wait a moment: gather what comes meanwhile into
                # one transaction (a flush or close is served at once).
                deadline = time.monotonic() + WRITE_GATHER_SECONDS
                while len(items) < 10_000 and isinstance(items[-1], _Touch | _Rehash | _UsageDue):
                    items.append(self._writes.get(timeout=max(0, deadline - time.monotonic())))
            if usage_due is None and any(isinstance(item, _UsageDue) for item in items):
                usage_due = time.monotonic() + USAGE_FLUSH_SECONDS
            final = any(item is None or isinstance(item, threading.Event) for item in items)
            counts: UsageCounts = {}
            if self._usage is not None and (
                final or (usage_due is not None and time.monotonic() >= usage_due)
            ):
                counts, usage_due = self._usage.take(), None
            writes = [item for item in items if isinstance(item, _Touch | _Rehash)]
            if self._sqlite is not None and self._sqlite.changed is not None:
                writes, counts = [], {}  # not into whatever is at that path now
            if writes or counts:
                try:
                    connection = self._write_connection()
                    try:
                        _apply(
                            connection, "sqlite" if self._sqlite else "postgresql", writes, counts
                        )
                    finally:
                        connection.close()
                except Exception as error:  # bookkeeping only: never fails a request
                    _log.info("last-used/usage writes skipped: %s", _first_line(error))
                    if counts and self._usage is not None:
                        self._usage.put_back(counts)
                        usage_due = time.monotonic() + USAGE_FLUSH_SECONDS
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
            if None in items:
                if self._writer_engine is not None:
                    self._writer_engine.dispose()
                return

    def _write_connection(self) -> Any:
        """A DB-API connection for one batch of writes; closing it gives it back."""
        if self._sqlite is not None:  # a new one each time, which never creates a store
            return self._sqlite.connect_for_writes()
        if self._writer_engine is None:
            from keydesk.store.engine import create_engine

            assert self._url is not None
            # One connection kept: a new PostgreSQL backend per write costs the
            # server a fork and this process a handshake.
            self._writer_engine = create_engine(self._url, pool_size=1, max_overflow=0)
        return self._writer_engine.raw_connection()


# Counts add up: a row per key, hour and outcome, made by the first batch and
# added to by the next (the same SQL on SQLite and PostgreSQL). A key that is
# gone meanwhile is skipped rather than failing the batch.
_ADD_USAGE = (
    "INSERT INTO key_usage (api_key_id, hour, outcome, count)"
    " SELECT :key_id, :hour, :outcome, :count"
    " WHERE EXISTS (SELECT 1 FROM api_key WHERE id = :key_id)"
    " ON CONFLICT (api_key_id, hour, outcome) DO UPDATE SET count = key_usage.count + excluded.count"
)


_TOUCH = (
    "UPDATE api_key SET last_used_at = :used"
    " WHERE id = :key_id AND public_key = :key"
    " AND (last_used_at IS NULL OR last_used_at < :stale)"
)
_REHASH = "UPDATE api_key SET secret_hash = :new WHERE id = :key_id AND secret_hash = :old"


def _apply(
    connection: Any, backend: str, writes: Sequence[_Write], counts: UsageCounts | None = None
) -> None:
    """All queued writes in one transaction; the last-used times and the
    usage counts each as one executemany (one statement prepared, one
    pipeline on PostgreSQL), so a burst of them costs the event loop's
    process little CPU. Plain SQL on the driver's connection: no SQLAlchemy
    to import for a one-shot `keydesk verify`."""
    db = DbConnection(connection, backend)
    touches = [
        {
            "key_id": w.key_id,
            "key": w.public_key,
            "used": db.time(w.at),
            "stale": db.time(w.at - LAST_USED_RESOLUTION),
        }
        for w in writes
        if isinstance(w, _Touch)
    ]
    rehashes = [
        {"key_id": w.key_id, "old": w.old_hash, "new": w.new_hash}
        for w in writes
        if isinstance(w, _Rehash)
    ]
    try:
        if touches:
            db.run_many(_TOUCH, touches)
        if counts:
            db.run_many(
                _ADD_USAGE,
                [
                    {"key_id": key_id, "hour": hour, "outcome": outcome, "count": count}
                    for (key_id, hour, outcome), count in counts.items()
                ],
            )
        if rehashes:
            db.run_many(_REHASH, rehashes)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise


def _async_turn(
    loop: asyncio.AbstractEventLoop,
    turn: asyncio.Future[None],
    gates: _Gates,
    public_key: str,
    digest: bytes,
) -> Callable[[], bool]:
    def grant() -> None:
        if turn.cancelled():  # its caller has gone: pass the gate on
            gates.leave(public_key, digest)
        else:
            turn.set_result(None)

    def wake() -> bool:
        try:
            loop.call_soon_threadsafe(grant)
        except RuntimeError:  # that loop is closed
            return False
        return True

    return wake


def _url_of(store: sa.Engine | str) -> sa.URL:
    if isinstance(store, str):
        from sqlalchemy.engine import make_url

        return make_url(store)
    return store.url
