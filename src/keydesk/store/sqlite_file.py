"""A SQLite store's URL and file, and the store opened bare for reading
(after the one check, keydesk.store.path). Nothing here imports SQLAlchemy:
the verifier and the read-only commands use it to start as fast as Python.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

from keydesk.store.path import absolute, checked_store_path
from keydesk.store.schema import HEAD

SQLITE_BUSY_TIMEOUT_MS = 5000
BARE_PROBE_TIMEOUT_MS = 200  # open_for_reading's first look, before the full way


def is_file_path(database: str) -> bool:
    """A SQLAlchemy SQLite URL's database part names a file (not memory, not a URI)."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


def sqlite_file_of(url: str) -> str | None:
    """The file of a plain `sqlite:///PATH` URL (no query options), else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = urllib.parse.unquote(url[len(prefix) :])  # as SQLAlchemy reads it: %41 is "A"
    return absolute(path) if is_file_path(path) else None


def read_only_uri(path: str) -> str:
    """The URI that opens the store at `path` read-only, never creating it."""
    return f"file:{urllib.parse.quote(path)}?mode=ro"


@contextmanager
def open_for_reading(url: str) -> Iterator[sqlite3.Connection | None]:
    """A read-only sqlite3 connection on the up-to-date store at `url`, or
    None when the bare way does not apply (not a plain SQLite file, no file,
    not a keydesk store, a schema to upgrade, any error opening it): the
    caller then opens the store the full way, which migrates, or says in
    one line what is wrong. A store others could read or replace, or that
    cannot be read, is refused here as there, by the same check."""
    named = sqlite_file_of(url)
    if named is None:
        yield None
        return
    real = checked_store_path(named)
    if not real.is_file():
        yield None
        return
    path = str(real)
    try:
        connection = sqlite3.connect(
            read_only_uri(path), uri=True,
            timeout=BARE_PROBE_TIMEOUT_MS / 1000, isolation_level=None,
        )  # fmt: skip
    except sqlite3.Error:
        yield None
        return
    try:
        # The first look gives up at once on a store locked right now: the
        # full way then waits the busy timeout and says so (waiting here too
        # doubled it, 11 s not 5). The reads after it wait as usual.
        try:
            (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except (sqlite3.Error, TypeError):  # no such table, not a database, no row, busy
            revision = None
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        yield connection if revision == HEAD else None
    finally:
        connection.close()


@contextmanager
def open_for_writing(url: str) -> Iterator[sqlite3.Connection | None]:
    """As `open_for_reading`, but opened for writing (never creating the
    file), autocommit, with the pragmas the store's engine sets: for a
    command whose writes are plain SQL (keydesk.store.bulk_revoke)."""
    with open_for_reading(url) as up_to_date:
        if up_to_date is None:
            yield None
            return
        (path,) = [row[2] for row in up_to_date.execute("PRAGMA database_list") if row[1] == "main"]
    try:
        connection = sqlite3.connect(
            f"file:{urllib.parse.quote(path)}?mode=rw", uri=True,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
        )  # fmt: skip
    except sqlite3.Error:
        yield None
        return
    try:
        set_pragmas(connection)
        yield connection
    finally:
        connection.close()


def set_pragmas(dbapi_connection: sqlite3.Connection, _record: object = None) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit costs no fsync
    cursor.close()
