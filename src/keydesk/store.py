"""Opening the store: SQLite (default, embedded) or PostgreSQL, schema
brought up to date by Alembic on open."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from keydesk.errors import StoreNotFound, StoreUnavailable

if TYPE_CHECKING:
    from sqlmodel import Session

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
            from sqlmodel import Session  # the ORM only for sessions: a verifier needs none

            with Session(self.engine, expire_on_commit=False) as session:
                yield session
                session.commit()
        except DBAPIError as exc:  # OperationalError, and DatabaseError for a damaged file
            raise StoreUnavailable(_without(_describe(exc), self.engine.url.password)) from None

    def dispose(self) -> None:
        self.engine.dispose()


def _describe(exc: DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
    if "locked" in text:
        return "the store is busy (locked by another keydesk); try again"
    return f"the store is unavailable: {text}"


INIT_HINT = "create one with: keydesk init --workspace NAME"


def open_store(url: str, *, create: bool = False, migrate: bool = True) -> Store:
    """Open the store at `url` and bring its schema up to date.

    A store is never created by accident (a typo in --db would otherwise
    make an empty one): without `create`, a SQLite file that does not exist
    or a database with no keydesk schema is `StoreNotFound`. Only
    `keydesk init`, `keydesk demo` and the TUI's first run pass `create=True`."""
    parsed = _parse_url(url)
    where = shown_url(parsed)
    database = parsed.database or ""
    is_file = parsed.get_backend_name() == "sqlite" and _is_file_path(database)
    if is_file and not create and not os.path.exists(database):
        raise StoreNotFound(f"no keydesk store at {where} ({INIT_HINT})")
    engine = create_engine(parsed, create=create)
    try:
        _require_schema(engine, where, create=create, migrate=migrate)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)


def _require_schema(engine: Engine, where: str, *, create: bool, migrate: bool) -> None:
    from keydesk.migrations import HEAD, current_revision, upgrade  # Alembic only if needed

    password = engine.url.password
    try:
        revision = current_revision(engine)
        if revision is None and not create:
            raise StoreNotFound(f"no keydesk store at {where} ({INIT_HINT})")
        if migrate and revision != HEAD:
            upgrade(engine)
    except DBAPIError as exc:
        message = _describe(exc)
        if "not a database" in message:
            message = f"{where} is not a keydesk store (not a SQLite database)"
        raise StoreUnavailable(_without(message, password)) from None


def _parse_url(url: str) -> sa.URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise StoreUnavailable(f"not a database URL: {_hide_password(url)}") from None


def shown_url(url: sa.URL) -> str:
    """Where a store is, fit for a message: a SQLite file's path, or the URL
    without its password."""
    if url.get_backend_name() == "sqlite" and _is_file_path(url.database or ""):
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _is_file_path(database: str) -> bool:
    return bool(database) and database != ":memory:" and not database.startswith("file:")


_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def _hide_password(url: str) -> str:
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _without(message: str, password: str | None) -> str:
    return message.replace(password, "***") if password else message


def create_engine(url: sa.URL, *, create: bool = False, **options: object) -> Engine:
    """An engine on `url` set up the keydesk way (SQLite: owner-only file,
    WAL, busy timeout, foreign keys). With `create`, a missing SQLite file
    is made (owner-only). `options` go to SQLAlchemy."""
    backend = url.get_backend_name()
    try:
        if backend == "postgresql":
            return sa.create_engine(url, pool_pre_ping=True, **options)
        if backend != "sqlite":
            raise StoreUnavailable(
                f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://"
            )
        database = url.database
        if create and database and _is_file_path(database):
            _create_private_file(Path(database))
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
        )
    except ImportError as exc:  # e.g. postgresql:// names psycopg2, which is not installed
        raise StoreUnavailable(
            f"no driver for {url.drivername!r} ({exc.name or 'module'} is not installed): "
            "use sqlite:/// or postgresql+psycopg:// (pip install 'keydesk[postgres]')"
        ) from None
    except (ArgumentError, ValueError, TypeError) as exc:  # junk in the URL's query
        raise StoreUnavailable(
            f"not a usable database URL: {shown_url(url)} ({str(exc).splitlines()[0]})"
        ) from None
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the database owner-only before SQLite does; SQLite gives its
    -wal and -shm files the database file's mode."""
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:  # e.g. a part of the path is a file
        reason = (
            "a part of the path is not a folder"
            if isinstance(exc, FileExistsError)
            else exc.strerror
        )
        raise StoreUnavailable(f"cannot create the store at {path}: {reason}") from None
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
