"""The tables a store holds, in an order that puts every table after those
it refers to: read from the database itself, so a table a later revision
adds is carried along without being named here."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

# Alembic's bookkeeping: each store keeps its own.
SCHEMA_TABLE = "alembic_version"


def parents_first(parents: Mapping[str, set[str]]) -> list[str]:
    """Tables ordered so each comes after the tables it refers to (a table
    referring to itself, as api_key's rotation link does, is no cycle)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(table: str, path: tuple[str, ...]) -> None:
        if table in seen or table in path:
            return
        for parent in sorted(parents.get(table, set()) - {table}):
            if parent in parents:
                visit(parent, (*path, table))
        seen.add(table)
        done.append(table)

    for table in sorted(parents):
        visit(table, ())
    return done


def sqlite_tables(connection: sqlite3.Connection, schema: str = "main") -> list[str]:
    """A SQLite store's tables, parents first."""
    names = [
        name
        for (name,) in connection.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"  # noqa: S608
            " AND name NOT LIKE 'sqlite_%'"
        )
        if name != SCHEMA_TABLE
    ]
    return parents_first(
        {
            name: {
                row[2] for row in connection.execute(f"PRAGMA {schema}.foreign_key_list('{name}')")
            }
            for name in names
        }
    )


def sqlite_columns(connection: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA {schema}.table_info('{table}')")]


def schema_tables(connection: sa.Connection, skip: Sequence[str] = ()) -> list[str]:
    """Any store's tables (as SQLAlchemy reflects them), parents first."""
    inspector = sa.inspect(connection)
    names = [n for n in inspector.get_table_names() if n != SCHEMA_TABLE and n not in skip]
    return parents_first(
        {name: {fk["referred_table"] for fk in inspector.get_foreign_keys(name)} for name in names}
    )
