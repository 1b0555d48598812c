"""Opening the store: SQLite (default, embedded) or PostgreSQL, schema
brought up to date by Alembic on open."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlmodel import Session

from keydesk.errors import StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5000


class Store:
    """One engine on one database. Cheap to share; make one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error, and
        driver errors turned into `StoreUnavailable` with a readable message."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
                session.commit()
        except OperationalError as exc:
            raise StoreUnavailable(_describe(exc)) from None

    def dispose(self) -> None:
        self.engine.dispose()


def _describe(exc: DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
    if "locked" in text:
        return "the store is busy (locked by another keydesk); try again"
    return f"the store is unavailable: {text}"


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the store at `url` and bring its schema up to date."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUnavailable(f"not a database URL: {url!r}") from None
    engine = create_engine(parsed)
    store = Store(engine)
    if migrate:
        from keydesk.migrations import upgrade  # Alembic is imported only when needed

        try:
            upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StoreUnavailable(_describe(exc)) from None
    return store


def create_engine(url: sa.URL, **options: object) -> Engine:
    """An engine on `url` set up the keydesk way (SQLite: owner-only file,
    WAL, busy timeout, foreign keys). `options` go to SQLAlchemy."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, **options)
    if backend != "sqlite":
        raise StoreUnavailable(
            f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://"
        )
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _create_private_file(Path(database))
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the database owner-only before SQLite does; SQLite gives its
    -wal and -shm files the database file's mode."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the store at {path}: {exc.strerror}") from None
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit costs no fsync
    cursor.close()
