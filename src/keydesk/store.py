"""Opening the store: SQLite (default, embedded) or PostgreSQL, schema
brought up to date by Alembic on open."""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlmodel import Session

from keydesk.errors import KeydeskError, PermissionDenied, StoreUnavailable, UnsafeStore

SQLITE_BUSY_TIMEOUT_MS = 5000


class Store:
    """One engine on one database. Cheap to share; make one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        except OperationalError as exc:
            raise StoreUnavailable(_describe(exc)) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error, and
        driver errors turned into typed errors with a readable message."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
                session.commit()
        except OperationalError as exc:
            raise StoreUnavailable(_describe(exc)) from None
        except DBAPIError as exc:
            raise _refusal(exc) from None

    def dispose(self) -> None:
        self.engine.dispose()


# SQLSTATEs of the refusals PostgreSQL makes for keydesk (revision 0002):
# 42501 is a privilege or row-level security refusal; KD001 the last owner;
# KD002 a change to a revocation.
_REFUSALS = frozenset({"42501", "KD001", "KD002"})


def _refusal(exc: DBAPIError) -> KeydeskError:
    """What the database refused, in one line. The service checks the same
    rules first, so this is a race or a store set up differently."""
    text = _first_line(exc)
    if getattr(exc.orig, "sqlstate", None) in _REFUSALS:
        return PermissionDenied(f"the database refused this: {text}")
    return StoreUnavailable(f"the store refused this: {text}")


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"


def _describe(exc: DBAPIError) -> str:
    text = _first_line(exc)
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
        except DBAPIError as exc:  # a role that may not migrate the store, or not use it
            engine.dispose()
            raise StoreUnavailable(_upgrade_refused(exc)) from None
    return store


def _upgrade_refused(exc: DBAPIError) -> str:
    text = _first_line(exc)
    if "alembic_version" in text:  # the first thing every keydesk role may read
        return (
            f"your database role may not use this store ({text}); "
            "a DBA grants it: GRANT keydesk_users TO your_role"
        )
    return (
        f"cannot bring the store's schema up to date ({text}); "
        "its owner does that: keydesk postgres setup"
    )


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
        check_private_store(Path(database).expanduser())
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the database owner-only before SQLite does; SQLite gives its
    -wal and -shm files the database file's mode."""
    path = path.expanduser()
    make_private_folders(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the store at {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken the owner's own bits
    finally:
        os.close(fd)


def make_private_folders(folder: Path) -> None:
    """Create `folder` and its missing parents, each 0700 whatever the umask.
    (`mkdir -p` gives the parents the umask's mode: ~/.local would be 0777
    under umask 000.) Folders that exist are left as they are."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        try:
            os.mkdir(each, 0o700)  # umask can only take bits away: never wider than 0700
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the folder {each}: {exc.strerror}") from None
        os.chmod(each, 0o700)


# The files SQLite keeps beside the database; each holds the store's data.
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def check_private_store(path: Path) -> None:
    """Refuse, as OpenSSH's StrictModes does, a store file someone else
    could read or change: owned by another user, readable or writable by
    group or others (the file or its -wal/-shm), or in a folder others can
    write to (they could replace it). One line that gives the fix."""
    me = os.geteuid()
    loose: list[str] = []
    for suffix in _COMPANIONS:
        file = Path(f"{path}{suffix}")
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {file}: {exc.strerror}") from None
        if info.st_uid != me:
            owner, you = _user_name(info.st_uid), _user_name(me)
            raise UnsafeStore(
                f"refusing to open {file}: it belongs to {owner}, not to you ({you}); "
                f"run keydesk as its owner (sudo -u {owner} keydesk …), or if it is yours: "
                f"chown {you} {file}"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            loose.append(str(file))
    if loose:
        mode = stat.S_IMODE(Path(loose[0]).stat().st_mode)
        raise UnsafeStore(
            f"refusing to open {loose[0]}: its mode {mode:04o} lets other users read or change "
            f"the store; fix: chmod 600 {' '.join(loose)}"
        )
    _check_private_folder(path)


def _check_private_folder(path: Path) -> None:
    folder = path.parent
    try:
        info = folder.stat()
    except FileNotFoundError:
        return  # no store here to protect (SQLite will say so)
    if info.st_uid not in (os.geteuid(), 0):
        raise UnsafeStore(
            f"refusing to open {path}: its folder {folder} belongs to {_user_name(info.st_uid)}, "
            "who could replace the store; move it to a folder of your own"
        )
    if info.st_mode & stat.S_IWOTH:
        fix = (
            "move it to a folder of your own (mkdir -m 700 …)"
            if info.st_mode
            & stat.S_ISVTX  # a shared folder such as /tmp: others may still add a -wal
            else f"fix: chmod o-w {folder}"
        )
        raise UnsafeStore(
            f"refusing to open {path}: its folder {folder} is writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}), who could replace the store; {fix}"
        )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit costs no fsync
    cursor.close()
