"""`keydesk store check`: is the store sound, and set up as keydesk makes
it? Each problem is one finding (one line); none means all holds.

SQLite: the file's and folders' modes and owners (the one check,
keydesk.store.path), SQLite's integrity_check and foreign_key_check, the
schema version and its tables, indexes and triggers (sqlite_schema.py),
and every key's hash well-formed. PostgreSQL: the same
schema and hash checks, and the roles, grants, row-level-security
policies and triggers against what `keydesk postgres setup` makes
(keydesk.upkeep.pg_check)."""

from __future__ import annotations

import glob
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from keydesk.errors import InvalidInput, StoreNotFound, StoreUnavailable
from keydesk.store.schema import HEAD
from keydesk.store.sqlite_file import read_only_uri, sqlite_file_of
from keydesk.upkeep.backup import HEADER_TABLE, BackupHeader, read_header
from keydesk.upkeep.findings import Finding, hash_findings, schema_findings
from keydesk.upkeep.sqlite_schema import Catalogue, catalogue, schema_drift

_MAX_INTEGRITY_LINES = 20  # SQLite's own default for integrity_check


def check_store(url: str) -> list[Finding]:
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() == "postgresql":
        from keydesk.upkeep.pg_check import check_postgres

        return check_postgres(url)
    return check_sqlite(url)


def check_sqlite(url: str) -> list[Finding]:
    from keydesk.store.engine import open_store

    file = sqlite_file_of(url)
    if file is None:
        raise StoreUnavailable("store check needs a SQLite file (sqlite:///PATH) or PostgreSQL")
    try:
        opened = open_store(url, migrate=False)  # the one check of the file and its folders
        opened.dispose()
        real = opened.file
    except StoreNotFound:
        raise
    except StoreUnavailable as refused:  # unsafe modes, not a database: findings, not failures
        return [Finding("file", refused.message)]
    assert real is not None
    try:
        connection = sqlite3.connect(read_only_uri(real), uri=True)
        try:
            return [*_sqlite_findings(connection), *_leftovers(Path(real))]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:  # damaged beyond reading
        return [Finding("integrity", f"{real}: {exc}")]


def _sqlite_findings(connection: sqlite3.Connection) -> Iterable[Finding]:
    rows = connection.execute(f"PRAGMA integrity_check({_MAX_INTEGRITY_LINES})").fetchall()
    if rows != [("ok",)]:
        yield from (Finding("integrity", str(row[0])) for row in rows)
        return  # what follows would read damaged pages
    for table, rowid, parent, _ in connection.execute("PRAGMA foreign_key_check"):
        yield Finding("integrity", f"{table} row {rowid} refers to a missing {parent}")
    revision = _revision(connection)
    yield from schema_findings(revision)
    if revision == HEAD:  # an older schema differs as it should
        yield from schema_drift(connection, _header_table(connection))
    yield from hash_findings(connection.execute("SELECT public_key, secret_hash FROM api_key"))


def _header_table(connection: sqlite3.Connection) -> Catalogue:
    """A backup's header table, as `store backup` makes it (none in a store)."""
    found = catalogue(connection)
    key = ("table", HEADER_TABLE)
    return {key: found[key]} if key in found else {}


def backup_taken(url: str) -> BackupHeader | None:
    """When the SQLite file at `url` is a backup, not a store: its header."""
    file = sqlite_file_of(url)
    if file is None:
        return None
    try:
        return read_header(Path(file))
    except (StoreNotFound, InvalidInput):
        return None


def _leftovers(store: Path) -> Iterable[Finding]:
    """The staged copies of restores killed half-way (restore.py names them)."""
    for left in sorted(store.parent.glob(f".{glob.escape(store.name)}.restore-*")):
        if not re.fullmatch(r"[0-9a-f]+", left.name.rpartition(".restore-")[2]):
            continue  # its -wal or -journal: the copy itself is named
        yield Finding(
            "leftover",
            f"{left}, a killed restore's copy of a backup (every key's hash): remove it",
        )


def _revision(connection: sqlite3.Connection) -> str | None:
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])
