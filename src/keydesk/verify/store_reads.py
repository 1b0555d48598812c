"""Reading presented keys' rows from the store, at request speed: a bare
read-only sqlite3 connection that notices a store replaced under it, or
PostgreSQL connections whose every wait is cut off at the read timeout.

Every failure is `StoreUnavailable` (HTTP 503), never a driver's error."""

from __future__ import annotations

import contextlib
import itertools
import math
import sqlite3
import sys
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from keydesk.errors import StoreUnavailable
from keydesk.store.file_watch import FileWatch
from keydesk.store.path import FileId, checked_store_path, file_id
from keydesk.store.sqlite_file import read_only_uri, sqlite_file_of
from keydesk.verify.stored_key import SELECT_STORED_KEYS, StoredKey
from keydesk.verify.wal_header import UNSETTLED, WalHeader

if TYPE_CHECKING:
    import sqlalchemy as sa

MAX_BATCH = 256  # public keys in one coalesced read
# Rows kept between changes to a SQLite store (~0.5 KB each: 75 MB at the
# most): 100,000 active keys fit with room to spare.
KEPT_ROWS = 150_000
# Changes once another connection has committed; fetchone() steps past the
# only row, so the read transaction it began ends with it.
_DATA_VERSION = "PRAGMA data_version"


class KeyReads(Protocol):
    def fetch(self, public_keys: list[str]) -> dict[str, StoredKey]:
        """The rows of those of `public_keys` that exist, by one read each
        `MAX_BATCH`; `StoreUnavailable` when the store cannot answer."""

    def close(self) -> None: ...


def open_reads(store: sa.Engine | str, timeout: float) -> SqliteReads | PostgresReads:
    """The reads for `store` (an engine or URL), each wait bounded by `timeout`."""
    sqlite_file = sqlite_file_of(store) if isinstance(store, str) else None
    if sqlite_file is not None:  # read without importing SQLAlchemy
        return SqliteReads(sqlite_file, timeout)
    url = _url_of(store)
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database and url.database != ":memory:":
        return SqliteReads(url.database, timeout)
    if backend == "postgresql":
        return PostgresReads(url, timeout)
    raise StoreUnavailable(f"the verifier cannot read a {backend} store at {url!s}")


def first_line(error: BaseException) -> str:
    """An error as one log line: its type and the first line of its text."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else 'no detail'}"


def _chunks(items: list[str]) -> Iterable[list[str]]:
    if len(items) <= MAX_BATCH:  # nearly always
        return (items,)
    return (items[start : start + MAX_BATCH] for start in range(0, len(items), MAX_BATCH))


class SqliteReads:
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
    opened; it is opened by its real path.

    Rows read are kept, and served again for as long as the store has not
    changed: each read first asks `PRAGMA data_version`, a read transaction
    of its own begun after the request arrived, whose value changes once any
    other connection, in this process or another, has committed (SQLite
    documents it so for every connection, separate processes included; this
    connection is read-only, so no commit is its own). In WAL mode (keydesk's
    stores are) the same is read without a transaction from the WAL-index
    header that every commit rewrites (wal_header.py). Any commit, the
    verifier's own bookkeeping excepted (bookkeeping.py tells which ones
    were its own, by the headers each started from and made; a rehash of its own drops
    only that key's row), drops every kept row: each key then costs one read
    again. A revoke, an expiry date moved, a policy
    changed by anyone is thus seen on the very next request, as when every
    request read its row; the status checks against the clock still run on
    every request (verifier.py)."""

    def __init__(self, database: str, timeout: float) -> None:
        self.path = str(checked_store_path(database))
        self._read_uri = read_only_uri(self.path)
        self._files = (self.path, self.path + "-wal", self.path + "-shm")
        self._timeout = timeout
        self._busy_ms = max(1, round(timeout * 1000))
        self._connection: sqlite3.Connection | None = None
        self._opened: tuple[FileId, ...] = ()
        self.changed: str | None = None  # why every read is refused, once it is
        self._sql: dict[int, str] = {}
        self._watch: FileWatch | None = None  # from the second read on
        self._read_once = False
        self._kept: dict[str, StoredKey] = {}  # rows read at `_version`
        self._version: int | bytes | None = None
        self._wal: WalHeader | None = None  # None: ask SQLite for the version

    def fetch(self, public_keys: list[str]) -> dict[str, StoredKey]:
        # One caller at a time (`Lookups` has at most one read going).
        found = self._fetch(public_keys, wait=True)
        assert found is not None
        return found

    def fetch_at_once(self, public_keys: list[str]) -> dict[str, StoredKey] | None:
        """The same, for an event loop: None instead of waiting for a lock
        (another process's exclusive lock, a WAL recovery) or for the first
        open."""
        if self._connection is None and self.changed is None:
            return None
        return self._fetch(public_keys, wait=False)

    def kept_row(self, public_key: str) -> StoredKey | None:
        """The row read earlier for `public_key`, when the store has not
        changed since (its WAL-index header the same, its files watched and
        calm): no lock, no I/O, nothing but a look at memory. None: read it.
        Safe beside a read going on: that read clears the rows before it
        records a new version, so a version seen equal here is theirs."""
        wal, watch = self._wal, self._watch
        if wal is None or watch is None or not watch.calm() or self.changed is not None:
            return None
        if wal.now() != self._version:
            return None
        return self._kept.get(public_key)

    def _fetch(self, public_keys: list[str], wait: bool) -> dict[str, StoredKey] | None:
        if self.changed is not None:
            raise StoreUnavailable(self.changed)
        connection = self._connection or self._open()
        if not self._still_opened():
            self.changed = (
                f"the store at {self.path} was deleted or replaced under this process; "
                "restart it to read the store now at that path"
            )
            raise StoreUnavailable(self.changed)
        try:
            try:
                return self._rows(connection, public_keys)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                if not wait:
                    return None
                # Locked: wait for it, up to the timeout (the connection never
                # waits otherwise, so that an event loop's read never blocks).
                connection.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                try:
                    return self._rows(connection, public_keys)
                finally:
                    connection.execute("PRAGMA busy_timeout=0")
        except sqlite3.Error as error:  # busy past the timeout, or not a keydesk store
            raise StoreUnavailable(f"cannot read the store at {self.path}: {error}") from None

    def _rows(self, connection: sqlite3.Connection, public_keys: list[str]) -> dict[str, StoredKey]:
        # First the version, then the rows: a commit between the two only
        # makes the rows newer than the version they are kept under.
        wal = self._wal
        version = wal.now() if wal else connection.execute(_DATA_VERSION).fetchone()[0]
        kept = self._kept
        if version != self._version:
            last = self._version
            changed = wal.own_changes(last, version) if wal and isinstance(last, bytes) else None
            if changed is UNSETTLED:  # an own batch is committing: read afresh, keep as they are
                return self._read(connection, public_keys, {})
            if changed is None:
                kept.clear()
            for key in changed or ():
                kept.pop(key, None)
            self._version = version
        if len(public_keys) == 1 and public_keys[0] in kept:  # nearly every request
            return {public_keys[0]: kept[public_keys[0]]}
        found = {key: kept[key] for key in public_keys if key in kept}
        missing = [key for key in public_keys if key not in found]
        if len(kept) + len(missing) > KEPT_ROWS:
            evict_oldest(kept, len(kept) + len(missing) - KEPT_ROWS + KEPT_ROWS // 10)
        found.update(self._read(connection, missing, kept))
        return found

    def _read(
        self, connection: sqlite3.Connection, public_keys: list[str], kept: dict[str, StoredKey]
    ) -> dict[str, StoredKey]:
        found: dict[str, StoredKey] = {}
        for chunk in _chunks(public_keys):
            for row in connection.execute(self._sql_for(len(chunk)), chunk).fetchall():
                found[row[0]] = kept[row[0]] = _sqlite_row(row)
        return found

    def wal(self) -> WalHeader | None:
        """The store's WAL-index header, once opened in WAL mode."""
        return self._wal

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        wal, self._wal = self._wal, None
        if self._connection is not None:
            self._connection.close()  # read-only: no checkpoint, nothing deleted
            self._connection = None
        if wal is not None:  # after: its -shm is closed once SQLite's is
            wal.close()

    def _still_opened(self) -> bool:
        """Whether the files at the store's path are still those opened: one
        read of an inotify queue that is nearly always empty, a stat() of
        each file when it is not. The watch starts at the second read (a
        one-read process such as `keydesk verify` stats instead), then its
        first look stats too, for whatever happened before it watched."""
        if self._watch is not None and not self._watch.stirred():
            return True
        if self._watch is None and self._read_once:
            self._watch = FileWatch(self._files)
        self._read_once = True
        return tuple(map(file_id, self._files)) == self._opened

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
            connection.execute("PRAGMA busy_timeout=0")  # reads wait only when asked to
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot open the store at {self.path}: {error}") from None
        wal = self._wal_header(connection)
        opened = tuple(map(file_id, self._files))
        if opened[0] != before:
            connection.close()
            raise StoreUnavailable(f"the store at {self.path} was replaced while opening it")
        if wal is not None and wal.file != opened[2]:  # -shm swapped meanwhile: ask SQLite
            wal.close()
            wal = None
        self._connection, self._opened, self._wal = connection, opened, wal
        return connection

    def _wal_header(self, connection: sqlite3.Connection) -> WalHeader | None:
        """The store's WAL-index header, mapped, when the store is in WAL mode
        (it cannot leave it while this connection is open)."""
        try:
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        except sqlite3.Error:
            return None
        return WalHeader.open(self.path) if str(mode).lower() == "wal" else None

    def _sql_for(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            marks = ", ".join("?" * count)
            sql = self._sql[count] = f"{SELECT_STORED_KEYS} WHERE api_key.public_key IN ({marks})"
        return sql


def evict_oldest(kept: dict[Any, Any], count: int) -> None:
    """Forget the `count` entries made first (a dict keeps insertion order):
    a tenth at a time, so a full cache costs a few misses, not every key's."""
    for key in list(itertools.islice(kept, count)):
        del kept[key]


def _sqlite_row(row: tuple[Any, ...]) -> StoredKey:
    """sqlite3 hands back the stored text for times (UTC, as `stored_time`
    reads it; inline: this runs for every row read). The texts many keys
    repeat (integration, status, workspace, scopes) are shared: rows are kept."""
    revoked, expires, used = row[4], row[5], row[6]
    return StoredKey(
        row[0], row[1], row[2], row[3],
        None if revoked is None else _from_text(revoked).replace(tzinfo=UTC),
        None if expires is None else _from_text(expires).replace(tzinfo=UTC),
        None if used is None else _from_text(used).replace(tzinfo=UTC),
        row[7], _shared(row[8]), _shared(row[9]), row[10], _shared(row[11]), _shared(row[12]),
        _shared(row[13]), row[14], row[15], row[16],
    )  # fmt: skip


_shared = sys.intern


_from_text = datetime.fromisoformat


class PostgresReads:
    """Reads on autocommit connections whose statements and lock waits are
    cut off at the timeout; a connection broken by a server restart is
    replaced at once (the read is retried once on a new one)."""

    _SQL = f"{SELECT_STORED_KEYS} WHERE api_key.public_key = ANY(%s)"

    def __init__(self, url: sa.URL, timeout: float) -> None:
        from sqlalchemy.pool import NullPool

        from keydesk.store.engine import create_engine

        self.url = url
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

    def fetch(self, public_keys: list[str]) -> dict[str, StoredKey]:
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
                        f"the store did not answer: {first_line(error)}"
                    ) from None
                connection.invalidate()
                if not reused:
                    raise StoreUnavailable(
                        f"the store is unreachable: {first_line(error)}"
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
            raise StoreUnavailable(f"the store is unreachable: {first_line(error)}") from None

    def _read(self, connection: Any, public_keys: list[str]) -> dict[str, StoredKey]:
        found: dict[str, StoredKey] = {}
        cursor = connection.cursor()
        try:
            for chunk in _chunks(public_keys):
                cursor.execute(self._SQL, (chunk,))
                for row in cursor.fetchall():
                    found[row[0]] = StoredKey(*row)
        finally:
            cursor.close()
        return found


def _broken(connection: Any) -> bool:
    driver = getattr(connection, "driver_connection", None)
    return driver is None or bool(
        getattr(driver, "closed", True) or getattr(driver, "broken", False)
    )


def _url_of(store: sa.Engine | str) -> sa.URL:
    if isinstance(store, str):
        from sqlalchemy.engine import make_url

        return make_url(store)
    return store.url
