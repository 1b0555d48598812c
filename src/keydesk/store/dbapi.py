"""One DB-API connection of a store (sqlite3's or psycopg's), for SQL
written once for both backends. Used where SQLAlchemy would cost more than
it gives: the list queries (keydesk.store.queries) and the verifier's bookkeeping
writes. Imports nothing but the standard library."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from keydesk.errors import KeydeskError, PermissionDenied, StoreUnavailable

BATCH = 1000  # rows fetched at a time: memory stays flat however many there are


class Connection(Protocol):
    """What is used of a DB-API connection (sqlite3's, psycopg's)."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any: ...


class DbConnection:
    """One DB-API connection of a store, for SQL written once for both
    backends: `:name` parameters (sqlite3's style, rewritten for psycopg's)
    and times as each backend compares them."""

    _cursor_numbers = itertools.count()

    def __init__(self, connection: Connection, backend: str) -> None:
        self.connection = connection
        self.backend = backend

    def rows(self, sql: str, params: Mapping[str, object]) -> list[tuple[Any, ...]]:
        with driver_errors():
            cursor = self.connection.cursor()
            try:
                cursor.execute(self._sql(sql), params)
                return list(cursor.fetchall())
            finally:
                cursor.close()

    def stream(self, sql: str, params: Mapping[str, object]) -> Iterator[tuple[Any, ...]]:
        """The rows, fetched BATCH at a time; on PostgreSQL through a
        server-side cursor (else psycopg holds the whole result)."""
        with driver_errors():
            if self.backend == "postgresql":
                cursor = self.connection.cursor(f"keydesk_{next(self._cursor_numbers)}")
            else:
                cursor = self.connection.cursor()
        try:
            with driver_errors():
                cursor.execute(self._sql(sql), params)
                batch = cursor.fetchmany(BATCH)
            while batch:
                yield from batch
                with driver_errors():
                    batch = cursor.fetchmany(BATCH)
        finally:
            # A reader that stopped early (`keydesk key list | head`) may close
            # this generator only after the connection has gone.
            with contextlib.suppress(Exception):
                cursor.close()

    def run_many(self, sql: str, params: list[dict[str, object]]) -> None:
        """One statement for each set of parameters (executemany), uncommitted."""
        with driver_errors():
            cursor = self.connection.cursor()
            try:
                cursor.executemany(self._sql(sql), params)
            finally:
                cursor.close()

    def _sql(self, sql: str) -> str:
        return _PARAMETER.sub(r"%(\1)s", sql) if self.backend == "postgresql" else sql

    def time(self, moment: datetime) -> object:
        """`moment` as the store compares it: SQLite keeps UTC text in the
        form SQLAlchemy writes (so text order is time order)."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        if self.backend == "sqlite":
            return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return moment


_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


def stored_time(value: datetime | str | None) -> datetime | None:
    """A stored datetime as the driver gives it → aware UTC: SQLite's text
    (always UTC), or PostgreSQL's aware value."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLSTATEs of the refusals PostgreSQL makes for keydesk (revision 0002):
# 42501 is a privilege or row-level security refusal; KD001 the last owner;
# KD002 a change to a revocation; KD003 a later expiry (0003: only the
# store's owner may extend a key); KD005 a name keydesk would not store (0006).
REFUSALS = frozenset({"42501", "KD001", "KD002", "KD003", "KD005"})


@contextlib.contextmanager
def driver_errors() -> Iterator[None]:
    """A driver's error (sqlite3's, psycopg's) as keydesk's one-line error."""
    try:
        yield
    except Exception as error:
        if isinstance(error, sqlite3.Error) or type(error).__module__.startswith("psycopg"):
            raise failure(error) from None
        raise


def failure(
    error: BaseException | None, password: str | None = None, store_file: str | None = None
) -> KeydeskError:
    """A driver error as one line. A refusal by the database is a
    PermissionDenied: the service checks the same rules first, so it is a
    race, or a store set up differently. `store_file`: a SQLite store's file,
    to tell a full disk from other I/O errors."""
    if is_refusal(error):
        return PermissionDenied(f"the database refused this: {first_line(error)}")
    return StoreUnavailable(without(describe(error, store_file), password))


def is_refusal(error: BaseException | None) -> bool:
    return getattr(error, "sqlstate", None) in REFUSALS


def first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error else "unknown error"


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout ran out


def describe(error: BaseException | None, store_file: str | None = None) -> str:
    text = first_line(error)
    if "locked" in text or getattr(error, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return "the store is busy (another process holds a lock on it); try again"
    if store_file is not None and _may_be_read_only(error):
        place = read_only_place(store_file)
        if place is not None:
            return (
                f"{place} is read-only (file system or mode): SQLite writes beside the store "
                "(its -wal and -shm) even to read it; make it writable"
            )
    if store_file is not None and _disk_trouble(error):
        folder = os.path.dirname(store_file)
        if disk_is_full(folder):
            return (
                f"the disk holding the store ({folder}) is full: free some space and try "
                "again; nothing was changed"
            )
    return f"the store is unavailable: {text}"


_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 8, 10, 13, 14


def _may_be_read_only(error: BaseException | None) -> bool:
    """SQLite's "attempt to write a readonly database" or "unable to open
    database file": what a read-only folder or file gives."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in (
        _SQLITE_READONLY, _SQLITE_CANTOPEN,
    )  # fmt: skip


def read_only_place(store_file: str) -> str | None:
    """The folder holding the store, or the store's file, if this process may
    not write it (a read-only mount refuses even root); None if it may."""
    folder = os.path.dirname(store_file)
    if os.path.isdir(folder) and not os.access(folder, os.W_OK):
        return f"the folder holding the store ({folder})"
    if os.path.exists(store_file) and not os.access(store_file, os.W_OK):
        return f"the store's file ({store_file})"
    return None


ROOM_NEEDED = 1 << 20  # bytes: less free than this, a write error is the full disk


def _disk_trouble(error: BaseException | None) -> bool:
    """SQLite's "disk I/O error" (any SQLITE_IOERR_*) or "database or disk is
    full": what a full disk gives (a -wal that cannot grow is an I/O error)."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in (
        _SQLITE_IOERR, _SQLITE_FULL,
    )  # fmt: skip


def disk_is_full(folder: str) -> bool:
    """Whether the file system holding `folder` has no room left for this
    process (root may use the blocks kept for it), in bytes or in files."""
    try:
        disk = os.statvfs(folder)
    except OSError:
        return False
    blocks = disk.f_bfree if os.geteuid() == 0 else disk.f_bavail
    files_left = disk.f_ffree if os.geteuid() == 0 else disk.f_favail
    return blocks * disk.f_frsize < ROOM_NEEDED or (disk.f_files > 0 and files_left == 0)


def without(message: str, password: str | None) -> str:
    """`message` with the store's password, should a driver have quoted it, hidden."""
    return message.replace(password, "***") if password else message
