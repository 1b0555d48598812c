"""`store check` on SQLite: is the schema the one keydesk's migrations make?
The rows can be intact while the schema is not: a trigger added that puts
`revoked_at` back to NULL, a unique index dropped (two rows for one public
key), a cascade trigger dropped. Not a list kept in keydesk: the expected
catalogue is that of a scratch store migrated here (once per process), as
pg_check does on PostgreSQL with a scratch schema."""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from keydesk.upkeep.findings import Finding

# (type, name) → (table, what it is: a table's columns, else its SQL)
Catalogue = dict[tuple[str, str], tuple[str, str]]


def schema_drift(
    connection: sqlite3.Connection, also: Catalogue | None = None
) -> Iterable[Finding]:
    """Every table, index, trigger and view missing, unexpected or changed
    against what the migrations make (and `also`: a backup's header table).
    Only for a store at this keydesk's schema (an older one is upgraded by
    any other command)."""
    expected, found = _expected() | (also or {}), catalogue(connection)
    for key in sorted(expected.keys() | found.keys()):
        kind, name = key
        if key not in found:
            yield Finding("schema", f"missing: {kind} {name} on {expected[key][0]}")
        elif key not in expected:
            yield Finding("schema", f"unexpected: {kind} {name} on {found[key][0]}")
        elif found[key] != expected[key]:
            yield Finding("schema", f"changed: {kind} {name} on {found[key][0]}")


def catalogue(connection: sqlite3.Connection) -> Catalogue:
    rows = connection.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {
        (kind, name): (table, _columns(connection, name) if kind == "table" else _words(sql))
        for kind, name, table, sql in rows
    }


def _columns(connection: sqlite3.Connection, table: str) -> str:
    """A table by its columns (its SQL text differs between a table made at
    once and one grown by ALTER TABLE, for the same columns)."""
    rows = connection.execute(
        'SELECT name, type, "notnull", pk FROM pragma_table_info(?)', (table,)
    )
    return "; ".join(f"{name} {kind.upper()} {notnull} {pk}" for name, kind, notnull, pk in rows)


def _words(sql: str | None) -> str:
    return " ".join((sql or "").split())


@functools.cache
def _expected() -> Catalogue:
    from keydesk.store.engine import open_store

    with tempfile.TemporaryDirectory(prefix="keydesk-check-") as folder:
        url = f"sqlite:///{Path(folder) / 'scratch.db'}"
        open_store(url, create=True).dispose()
        connection = sqlite3.connect(Path(folder) / "scratch.db")
        try:
            return catalogue(connection)
        finally:
            connection.close()
