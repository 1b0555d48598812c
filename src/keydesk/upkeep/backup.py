"""`keydesk store backup PATH`: a consistent copy of a SQLite store, taken
while `keydesk serve` and admins keep working, with when it was taken and
its schema recorded inside it.

SQLite's online backup API copies the pages of one read transaction: in WAL
mode writers go on meanwhile, and the copy is the store as of one instant.
The file is made `0600` (folders missing on the way `0700`) and must lie in
a folder only its owner may enter: a backup holds every key's hash and the
whole trail. The copy is one self-contained file (rollback journal, no
-wal), with a table `keydesk_backup` saying when and at which schema."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from keydesk import __version__
from keydesk.errors import AlreadyExists, InvalidInput, StoreNotFound, UnsafeStore
from keydesk.store.path import checked_store_path, create_private_file
from keydesk.store.sqlite_file import SQLITE_BUSY_TIMEOUT_MS, read_only_uri
from keydesk.views import utcnow

HEADER_TABLE = "keydesk_backup"


@dataclass(frozen=True, slots=True)
class BackupHeader:
    taken_at: datetime
    schema: str
    keydesk: str  # the version that took it
    source: str  # the store's file


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: str
    header: BackupHeader
    size_bytes: int


def require_sqlite(url: str) -> None:
    """These commands work on SQLite only (PostgreSQL has pg_dump): said
    before anything else about the store or the backup is looked at."""
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() != "sqlite":
        raise InvalidInput(
            "store backup and restore are for SQLite stores; on PostgreSQL use pg_dump "
            "(see the README's 'Deploying for a team')"
        )


def sqlite_store_file(url: str) -> Path:
    """The checked file of the SQLite store at `url` (`require_sqlite`)."""
    from keydesk.store.engine import open_store

    require_sqlite(url)
    store = open_store(url, migrate=False)  # the one check, and "no store" said as usual
    store.dispose()
    assert store.file is not None
    return Path(store.file)


def backup(url: str, destination: str) -> BackupResult:
    source = sqlite_store_file(url)
    real = private_new_file(destination)
    try:
        header = _copy(source, real)
    except BaseException:
        real.unlink(missing_ok=True)
        raise
    return BackupResult(str(real), header, real.stat().st_size)


def private_new_file(destination: str) -> Path:
    """`destination` made empty and `0600` in a folder only its owner may
    enter (made `0700` when missing); an existing file is never replaced."""
    try:
        real = checked_store_path(destination)  # yours, no symlink games, not writable by others
    except UnsafeStore as unsafe:  # said of a store being opened: say it of a backup written
        raise UnsafeStore(
            unsafe.message.replace("refusing to open", "refusing to write a backup to", 1)
            .replace("the store", "the backup")
            .replace("move it to a folder", "name a file in a folder")
        ) from None
    if os.path.lexists(real):
        raise AlreadyExists(f"{real} exists; a backup never replaces a file: name a new one")
    made = create_private_file(real)
    if made.file is None:  # made by someone else meanwhile
        raise AlreadyExists(f"{real} exists; a backup never replaces a file: name a new one")
    mode = stat.S_IMODE(real.parent.stat().st_mode)
    if mode & 0o077:
        made.remove()
        raise UnsafeStore(
            f"refusing to write a backup in {real.parent}: others may enter it (mode "
            f"{mode:04o}); a backup holds every key's hash: fix: chmod 700 {real.parent}"
        )
    return real


def _copy(source: Path, target: Path) -> BackupHeader:
    reading = sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    writing = sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        taken_at = utcnow()
        reading.backup(writing)  # all pages in one step: one read transaction, one instant
        (schema,) = writing.execute("SELECT version_num FROM alembic_version").fetchone()
        header = BackupHeader(taken_at, str(schema), __version__, str(source))
        writing.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        writing.execute(
            f"CREATE TABLE {HEADER_TABLE} (taken_at TEXT NOT NULL, schema TEXT NOT NULL,"
            " keydesk TEXT NOT NULL, source TEXT NOT NULL)"
        )
        writing.execute(
            f"INSERT INTO {HEADER_TABLE} VALUES (?, ?, ?, ?)",  # noqa: S608 (a constant)
            (taken_at.isoformat(), header.schema, header.keydesk, header.source),
        )
        writing.commit()
    finally:
        reading.close()
        writing.close()
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return header


def read_header(path: Path) -> BackupHeader:
    """What a backup says of itself; a file that is no keydesk backup is said so."""
    try:
        connection = sqlite3.connect(read_only_uri(str(path)), uri=True)
        try:
            row = connection.execute(
                f"SELECT taken_at, schema, keydesk, source FROM {HEADER_TABLE}"  # noqa: S608
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        row = None
    if row is None:
        raise StoreNotFound(f"{path} is not a keydesk backup (made with: keydesk store backup)")
    try:
        taken_at = datetime.fromisoformat(row[0])
        if taken_at.tzinfo is None or not all(isinstance(v, str) for v in row):
            raise ValueError(row)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{path}: its keydesk_backup header was altered; not restoring it"
        ) from None
    return BackupHeader(taken_at, row[1], row[2], row[3])
