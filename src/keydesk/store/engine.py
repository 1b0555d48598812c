"""Opening the store: SQLite (default, embedded) or PostgreSQL, schema
brought up to date by Alembic on open."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from keydesk.errors import (
    StoreNotFound,
    StoreUnavailable,
)
from keydesk.store.dbapi import describe, failure, first_line, is_refusal, without
from keydesk.store.path import FileId, Made, checked_store_path, create_private_file, file_id
from keydesk.store.schema import HEAD
from keydesk.store.sqlite_file import SQLITE_BUSY_TIMEOUT_MS, set_pragmas
from keydesk.store.urls import shown_url

if TYPE_CHECKING:
    from sqlmodel import Session


class Store:
    """One engine on one database. Cheap to share; make one per process."""

    def __init__(
        self,
        engine: Engine,
        sqlite_file: str | None = None,
        made: Made | None = None,
        sides: OpenSides | None = None,
    ) -> None:
        self.engine = engine
        # A SQLite store's file as opened (path, device, inode): a store
        # deleted or replaced under this process must not take writes into a
        # file nobody can reach any more (a key shown, then lost with it).
        self._file = (sqlite_file, file_id(sqlite_file)) if sqlite_file else None
        self._made = made  # what opening it made (a new SQLite store), if anything
        self._sides = sides  # its -wal and -shm as our open connections have them

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    def database_role(self) -> str | None:
        """On PostgreSQL, the session's role: who acts, as the server's
        authentication proved it (`session_user`, which SET ROLE cannot
        change). None on SQLite."""
        if self.backend != "postgresql":
            return None
        try:
            with self.engine.connect() as connection:
                return str(connection.execute(sa.text("SELECT session_user")).scalar_one())
        except DBAPIError as exc:
            raise StoreUnavailable(without(describe(exc.orig), self.engine.url.password)) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error, and
        driver errors turned into `StoreUnavailable` with a readable message."""
        if self._file is not None and (
            file_id(self._file[0]) != self._file[1]
            or (self._sides is not None and self._sides.replaced())
        ):
            raise StoreUnavailable(
                f"the store at {self._file[0]} was deleted or replaced under this process; "
                "restart keydesk to use the store now at that path"
            )
        try:
            from sqlmodel import Session  # the ORM only for sessions: a verifier needs none

            with Session(self.engine, expire_on_commit=False) as session:
                yield session
                session.commit()
        except DBAPIError as exc:  # OperationalError, and DatabaseError for a damaged file
            raise failure(exc.orig, self.engine.url.password, self.file) from None

    @property
    def file(self) -> str | None:
        """A SQLite store's file, as opened; None for any other store."""
        return self._file[0] if self._file else None

    def dispose(self) -> None:
        self.engine.dispose()

    def discard(self) -> None:
        """Close, and take away what opening it made: a command refused after
        it created the store (`keydesk init`) leaves nothing behind."""
        self.engine.dispose()
        if self._made is not None:
            self._made.remove()


class OpenSides:
    """The -wal and -shm files of a SQLite store as this process's open
    connections opened them. SQLite removes them only when the last
    connection closes; deleted or replaced while one of ours is open (by
    hand, by a copy of files), the store splits in two: our writes go to
    files nobody else reads (a revocation no verifier sees), and the next
    checkpoint damages it. Unknown while nothing is open."""

    def __init__(self, path: str) -> None:
        self._paths = (path + "-wal", path + "-shm")
        self._open: dict[int, tuple[FileId, FileId]] = {}  # id(DB-API connection) -> as opened

    def attach(self, engine: Engine) -> None:
        """Follow the engine's connections (before its first is made)."""
        event.listen(engine, "checkout", self._checked_out)
        event.listen(engine, "close", self._closed)
        event.listen(engine, "close_detached", self._closed)
        event.listen(engine, "invalidate", self._closed)
        # A connection checked out at dispose() is closed later, unannounced.
        event.listen(engine, "engine_disposed", lambda *_: self._open.clear())

    def replaced(self) -> bool:
        """Whether the files at the sides' paths are no longer those an open
        connection of ours has (deleted, moved away or replaced)."""
        if not self._open:
            return False
        now = (file_id(self._paths[0]), file_id(self._paths[1]))
        return any(opened != now for opened in list(self._open.values()))

    def _checked_out(self, connection: sqlite3.Connection, *_: object) -> None:
        """Noted the first time a connection is used once they exist (a new
        store has neither before its first write; they stay while it is open)."""
        if id(connection) not in self._open:
            opened = (file_id(self._paths[0]), file_id(self._paths[1]))
            if None not in opened:
                self._open[id(connection)] = opened

    def _closed(self, connection: sqlite3.Connection, *_: object) -> None:
        self._open.pop(id(connection), None)


INIT_HINT = "create one with: keydesk init --workspace NAME"


def open_store(url: str, *, create: bool = False, migrate: bool = True) -> Store:
    """Open the store at `url` and bring its schema up to date.

    A store is never created by accident (a typo in --db would otherwise
    make an empty one): without `create`, a SQLite file that does not exist
    or a database with no keydesk schema is `StoreNotFound`. Only
    `keydesk init`, `keydesk demo` and the TUI's first run pass `create=True`."""
    parsed = _parse_url(url)
    where = _shown(parsed)
    real = sqlite_store_file(parsed)  # checked before anything is made
    made = None
    if real is not None and not real.exists():
        if not create:
            raise StoreNotFound(f"no keydesk store at {where} ({INIT_HINT})")
        made = create_private_file(real)
    elif real is not None and not create and real.stat().st_size == 0:
        # Said before SQLite opens it (which would write a header into it).
        # `init` makes the store in it: SQLite takes it for an empty database.
        raise StoreNotFound(
            f"{where} is an empty file, not a keydesk store; make the store in it with: "
            f"keydesk --db {where} init --workspace NAME (or name the store's own file)"
        )
    try:
        engine = create_engine(parsed)  # checks the file again, now that it is there
        sides = None
        if real is not None:
            sides = OpenSides(str(real))
            sides.attach(engine)  # before the first connection
        try:
            _require_schema(engine, where, create=create, migrate=migrate)
        except BaseException:
            engine.dispose()
            raise
    except BaseException:
        if made is not None:
            made.remove()
        raise
    return Store(engine, str(real) if real is not None else None, made, sides)


def sqlite_store_file(url: sa.URL) -> Path | None:
    """The real file of a SQLite store, once `checked_store_path` passed it
    (whether named by a path, `sqlite:///`, `%XX`, or a symlink); None for
    any other store, or SQLite in memory. SQLite's URI file names, which
    could open another file than the one checked, are refused."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if "uri" in url.query:
        raise StoreUnavailable(
            f"SQLite URI options are not accepted ({_shown(url)}): name the store's file, "
            "as sqlite:////path/to/keydesk.db, so keydesk can check it"
        )
    if not database or database == ":memory:":
        return None
    return checked_store_path(database)


def _require_schema(engine: Engine, where: str, *, create: bool, migrate: bool) -> None:
    from keydesk.store.migrations import current_revision, upgrade  # Alembic only if needed

    password = engine.url.password
    try:
        revision = current_revision(engine)
        if revision is None and not create:
            raise StoreNotFound(f"no keydesk store at {where} ({INIT_HINT})")
        if migrate and revision != HEAD:
            upgrade(engine)
    except DBAPIError as exc:
        file = engine.url.database if engine.dialect.name == "sqlite" else None
        message = _upgrade_refused(exc) if is_refusal(exc.orig) else describe(exc.orig, file)
        if "not a database" in message:
            message = f"{where} is not a keydesk store (not a SQLite database)"
        raise StoreUnavailable(without(message, password)) from None


def _upgrade_refused(exc: DBAPIError) -> str:
    """A role that may not use the store, or not migrate it (PostgreSQL)."""
    text = first_line(exc.orig)
    if "alembic_version" in text:  # the first thing every keydesk role may read
        return (
            f"your database role may not use this store ({text}); "
            "a DBA grants it: GRANT keydesk_users TO your_role"
        )
    return (
        f"cannot bring the store's schema up to date ({text}); "
        "its owner does that: keydesk postgres setup"
    )


def _parse_url(url: str) -> sa.URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise StoreUnavailable(f"not a database URL: {shown_url(url)}") from None


def _shown(url: sa.URL) -> str:
    """`url` as keydesk.store.urls shows it (as SQLAlchemy writes it back)."""
    return shown_url(url.render_as_string(hide_password=False))


PG_CONNECT_TIMEOUT_SECONDS = 10  # a server that does not answer at all


def _bounded_waits(url: sa.URL) -> dict[str, object]:
    """PostgreSQL waits as SQLite does: a lock held elsewhere (another
    session's transaction, a `LOCK TABLE`) is given the same 5 s as SQLite's
    busy timeout, then the statement fails as "busy"; a server that does not
    answer a new connection, 10 s. What the URL sets wins (its `-c`
    options come later; its connect_timeout is kept)."""
    waits = f"-c lock_timeout={SQLITE_BUSY_TIMEOUT_MS}"
    given = url.query.get("options")
    bounded: dict[str, object] = {
        "options": f"{waits} {given}" if isinstance(given, str) else waits
    }
    if "connect_timeout" not in url.query:
        bounded["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    return bounded


def create_engine(url: sa.URL, **options: Any) -> Engine:
    """An engine on `url` set up the keydesk way (SQLite: the file checked
    and opened by its real path, WAL, busy timeout, foreign keys).
    `options` go to SQLAlchemy."""
    backend = url.get_backend_name()
    try:
        if backend == "postgresql":
            connect_args = _bounded_waits(url) | dict(options.pop("connect_args", None) or {})
            return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)
        if backend != "sqlite":
            raise StoreUnavailable(
                f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://"
            )
        real = sqlite_store_file(url)
        if real is not None:
            url = url.set(database=str(real))
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
            f"not a usable database URL: {_shown(url)} ({str(exc).splitlines()[0]})"
        ) from None
    event.listen(engine, "connect", set_pragmas)
    return engine
