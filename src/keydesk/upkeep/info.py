"""`keydesk store info`: which store, where, at which schema, how many rows
of each kind and how big; read without migrating or writing anything."""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from keydesk.store.engine import Store, open_store
from keydesk.store.urls import shown_url

# Not a kind of row anyone counts (the schema's own bookkeeping).
SCHEMA_TABLES = frozenset({"alembic_version"})


@dataclass(frozen=True, slots=True)
class StoreInfo:
    backend: str
    where: str  # a SQLite file, or the URL without its password
    schema: str | None
    counts: dict[str, int]  # rows per table, as the caller may see them
    size_bytes: int | None


def store_info(url: str) -> StoreInfo:
    store = open_store(url, migrate=False)
    try:
        return _info(store, url)
    finally:
        store.dispose()


def _info(store: Store, url: str) -> StoreInfo:
    from keydesk.store.migrations import current_revision

    schema = current_revision(store.engine)
    with store.engine.connect() as connection:
        counts = table_counts(connection)
        if store.backend == "postgresql":
            size: int | None = int(
                connection.execute(
                    sa.text("SELECT pg_database_size(current_database())")
                ).scalar_one()
            )
        else:
            size = sqlite_size(store.file)
    return StoreInfo(store.backend, store.file or shown_url(url), schema, counts, size)


def table_counts(connection: sa.Connection) -> dict[str, int]:
    """Rows of every keydesk table in the store's schema, tables other
    revisions add included (on PostgreSQL: those the role may see; a table
    it may not read at all is left out)."""
    counts: dict[str, int] = {}
    for name in sorted(set(sa.inspect(connection).get_table_names()) - SCHEMA_TABLES):
        count = sa.select(sa.func.count()).select_from(sa.table(name))
        try:
            with connection.begin_nested():
                counts[name] = int(connection.execute(count).scalar_one())
        except DBAPIError:  # permission denied for this role
            continue
    return counts


def sqlite_size(file: str | None) -> int | None:
    """The file and its -wal, as they take disk space now."""
    if file is None:
        return None
    return sum(os.stat(path).st_size for path in (file, f"{file}-wal") if os.path.exists(path))
