"""A SQLite store's file: made owner-only, refused when others could read
or replace it, and opened bare for reading. Nothing here imports SQLAlchemy:
the verifier and the read-only commands use it to start as fast as Python.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from keydesk.errors import StoreUnavailable, UnsafeStore
from keydesk.schema import HEAD

SQLITE_BUSY_TIMEOUT_MS = 5000
BARE_PROBE_TIMEOUT_MS = 200  # open_for_reading's first look, before the full way

FileId = tuple[int, int] | None  # (device, inode); None when there is no file


def file_id(path: str) -> FileId:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


def is_file_path(database: str) -> bool:
    """A SQLAlchemy SQLite URL's database part names a file (not memory, not a URI)."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


def sqlite_file_of(url: str) -> str | None:
    """The file of a plain `sqlite:///PATH` URL (no query options), else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = urllib.parse.unquote(url[len(prefix) :])  # as SQLAlchemy reads it: %41 is "A"
    return os.path.abspath(os.path.expanduser(path)) if is_file_path(path) else None


def read_only_uri(path: str) -> str:
    """The URI that opens the store at `path` read-only, never creating it."""
    return f"file:{urllib.parse.quote(path)}?mode=ro"


@contextmanager
def open_for_reading(url: str) -> Iterator[sqlite3.Connection | None]:
    """A read-only sqlite3 connection on the up-to-date store at `url`, or
    None when the bare way does not apply (not a plain SQLite file, no file,
    not a keydesk store, a schema to upgrade, any error opening it): the
    caller then opens the store the full way, which migrates, or says in
    one line what is wrong. A store others could read or replace is refused
    here as there (UnsafeStore)."""
    path = sqlite_file_of(url)
    if path is None or not os.path.isfile(path):
        yield None
        return
    check_private_store(Path(path))
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


def create_private_file(path: Path) -> None:
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


def set_pragmas(dbapi_connection: sqlite3.Connection, _record: object = None) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit costs no fsync
    cursor.close()
