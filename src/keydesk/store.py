"""Opening the store: SQLite (default, embedded) or PostgreSQL, schema
brought up to date by Alembic on open."""

from __future__ import annotations

import os
import pwd
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from keydesk.errors import (
    KeydeskError,
    PermissionDenied,
    StoreNotFound,
    StoreUnavailable,
    UnsafeStore,
)

if TYPE_CHECKING:
    from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 5000


class Store:
    """One engine on one database. Cheap to share; make one per process."""

    def __init__(self, engine: Engine, sqlite_file: str | None = None) -> None:
        self.engine = engine
        # A SQLite store's file as opened (path, device, inode): a store
        # deleted or replaced under this process must not take writes into a
        # file nobody can reach any more (a key shown, then lost with it).
        self._file = (sqlite_file, _file_id(sqlite_file)) if sqlite_file else None

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
            raise StoreUnavailable(_without(_describe(exc), self.engine.url.password)) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error, and
        driver errors turned into `StoreUnavailable` with a readable message."""
        if self._file is not None and _file_id(self._file[0]) != self._file[1]:
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
            raise _failure(exc, self.engine.url.password) from None

    def dispose(self) -> None:
        self.engine.dispose()


# SQLSTATEs of the refusals PostgreSQL makes for keydesk (revision 0002):
# 42501 is a privilege or row-level security refusal; KD001 the last owner;
# KD002 a change to a revocation.
_REFUSALS = frozenset({"42501", "KD001", "KD002"})


def _is_refusal(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _REFUSALS


def _failure(exc: DBAPIError, password: str | None) -> KeydeskError:
    """A driver error as one line. A refusal by the database is a
    PermissionDenied: the service checks the same rules first, so it is a
    race, or a store set up differently."""
    if _is_refusal(exc):
        return PermissionDenied(f"the database refused this: {_first_line(exc)}")
    return StoreUnavailable(_without(_describe(exc), password))


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"


def _describe(exc: DBAPIError) -> str:
    text = _first_line(exc)
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
    return Store(engine, os.path.abspath(os.path.expanduser(database)) if is_file else None)


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


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
        message = _upgrade_refused(exc) if _is_refusal(exc) else _describe(exc)
        if "not a database" in message:
            message = f"{where} is not a keydesk store (not a SQLite database)"
        raise StoreUnavailable(_without(message, password)) from None


def _upgrade_refused(exc: DBAPIError) -> str:
    """A role that may not use the store, or not migrate it (PostgreSQL)."""
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
        if database and _is_file_path(database):
            check_private_store(Path(database).expanduser())
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
        make_private_folders(path.parent)
    except OSError as exc:  # e.g. a part of the path is a file
        reason = (
            "a part of the path is not a folder"
            if isinstance(exc, FileExistsError | NotADirectoryError)
            else exc.strerror
        )
        raise StoreUnavailable(f"cannot create the store at {path}: {reason}") from None
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
    under umask 000.) Folders that exist are left as they are. Raises
    OSError (NotADirectoryError when a part of the path is a file)."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    for each in reversed(missing):
        try:
            os.mkdir(each, 0o700)  # umask can only take bits away: never wider than 0700
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        os.chmod(each, 0o700)


# The files SQLite keeps beside the database; each holds the store's data.
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def check_private_store(path: Path) -> None:
    """Refuse, as OpenSSH's StrictModes does, a store file someone else
    could read or change: owned by another user, readable or writable by
    group or others (the file or its -wal/-shm), or in a folder others can
    write to (they could replace it). One line that gives the fix."""
    if not _is_store_file(path):
        return  # not a database at all: opening it says so, with no bad advice on modes
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


_SQLITE_HEADER = b"SQLite format 3\x00"


def _is_store_file(path: Path) -> bool:
    """A SQLite database, or an empty file SQLite would make one in (or no
    file yet): what the checks protect. Reading 16 bytes trusts nothing."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return True
    except OSError:
        return True  # unreadable: let the checks (or SQLite) say why
    return head in (b"", _SQLITE_HEADER)


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
