"""`keydesk store copy --to URL`: a SQLite store moved to a PostgreSQL
database prepared by `keydesk postgres setup`, with nothing lost: every
row of every table the schema has (those later revisions add included:
the tables are read from the databases, not listed here), ids, hashes,
times, rotation links, usage and the trail with its original actors and
times, plus one `store.copy` event in each workspace. SSH approvals
(SQLite only) are not copied, and said so.

All or nothing: one transaction, as the tables' owner. Revision 0006's
triggers write an event for every inserted key, integration and
membership; the trail copied is the original one, so those triggers (the
ones that call `keydesk_record`, the trail's one writer) are disabled
inside the transaction and enabled again before it commits. ALTER TABLE
locks each table until then: nobody else sees them off, and a copy killed
half-way rolls back with them on. Every other trigger and constraint runs
(names are checked as PostgreSQL checks them). The source is only read, on
a read-only connection, in one read transaction: one instant of it even
while `serve` and admins go on writing.

Accounts become database roles: an account's name is taken as the role of
the same name, unless mapped (`--map alice=alice_pg`). Every role needed
must exist and be in keydesk_users; all missing ones are named in one
message before anything is written."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DBAPIError

from keydesk.errors import InvalidInput, NotFound, PermissionDenied, StoreUnavailable
from keydesk.store.dbapi import first_line, without
from keydesk.store.postgres_roles import USERS_ROLE, VERIFIER_ROLE
from keydesk.store.schema import HEAD
from keydesk.store.sqlite_file import read_only_uri
from keydesk.upkeep.copy_proof import Proof, prove
from keydesk.upkeep.tables import SCHEMA_TABLE, sqlite_columns, sqlite_tables

NOT_COPIED = ("ssh_approval",)  # SSH access is for SQLite stores only
COPY_ACTION = "store.copy"
BATCH = 10_000  # rows between two progress reports
Progress = Callable[[int, int], None]  # rows done, rows in all


@dataclass(frozen=True, slots=True)
class CopyResult:
    source: str
    counts: dict[str, int]  # rows copied per table
    not_copied: dict[str, int]  # rows left behind per table (SSH approvals)
    roles: dict[str, str]  # account -> role
    proof: Proof
    disabled_triggers: tuple[str, ...] = field(default=())


def parse_map(pairs: list[str]) -> dict[str, str]:
    """`--map alice=alice_pg`, repeatable."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        account, equals, role = pair.partition("=")
        if not equals or not account or not role:
            raise InvalidInput(f"--map takes ACCOUNT=ROLE, not {pair!r}")
        mapping[account] = role
    return mapping


def copy_store(
    source_url: str,
    target_url: str,
    *,
    mapping: dict[str, str],
    copier: str,
    progress: Progress | None = None,
) -> CopyResult:
    from keydesk.store.engine import create_engine
    from keydesk.upkeep.backup import sqlite_store_file

    source = str(sqlite_store_file(source_url))
    try:
        target = sa.make_url(target_url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # Not echoed: what could not be parsed cannot be told apart from its password.
        raise InvalidInput("--to is not a database URL: postgresql+psycopg://…") from None
    if target.get_backend_name() != "postgresql":
        raise InvalidInput("store copy copies to PostgreSQL: --to postgresql+psycopg://…")
    engine = create_engine(target)
    try:
        with _read_only(source) as reading, engine.connect() as connection:
            transaction = connection.begin()
            try:
                result = _copy(reading, connection, source, mapping, copier, progress)
            except BaseException:
                transaction.rollback()
                raise
            transaction.commit()
            return result
    except DBAPIError as exc:
        reason = without(first_line(exc.orig), target.password)
        raise StoreUnavailable(f"the copy was refused, nothing was written: {reason}") from None
    finally:
        engine.dispose()


@contextmanager
def _read_only(path: str) -> Iterator[sqlite3.Connection]:
    """The source, read-only, in one read transaction: one instant of it."""
    connection = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None)
    try:
        connection.execute("BEGIN")
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision != HEAD:
            raise InvalidInput(
                f"the store at {path} is at schema {revision}, not {HEAD}: open it once with "
                "this keydesk (keydesk store check does not; keydesk key list does) to upgrade it"
            )
        yield connection
    finally:
        connection.close()


def _copy(
    reading: sqlite3.Connection,
    connection: sa.Connection,
    source: str,
    mapping: dict[str, str],
    copier: str,
    progress: Progress | None,
) -> CopyResult:
    tables = [t for t in sqlite_tables(reading) if t not in NOT_COPIED]
    roles = _roles(reading, connection, mapping)
    _become_owner(connection)
    _require_empty(connection, tables)
    counts = {t: _count(reading, t) for t in tables}
    off = _trail_triggers(connection)
    for table, trigger in off:
        connection.execute(sa.text(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"'))
    rows = _Rows(sum(counts.values()), progress)
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        for table in tables:
            _copy_table(reading, cursor, table, roles, rows)
        _continue_ids(cursor, [t for t in tables if "id" in sqlite_columns(reading, t)])
    for table, trigger in off:
        connection.execute(sa.text(f'ALTER TABLE "{table}" ENABLE TRIGGER "{trigger}"'))
    _record(connection, source, copier, counts)
    proof = prove(reading, source, connection)
    left = {t: _count(reading, t) for t in NOT_COPIED if _has_table(reading, t)}
    return CopyResult(source, counts, left, roles, proof, tuple(t for _, t in off))


class _Rows:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def add(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


def _roles(
    reading: sqlite3.Connection, connection: sa.Connection, mapping: dict[str, str]
) -> dict[str, str]:
    """account -> role, every role there and in keydesk_users, or one refusal naming all."""
    accounts = [name for (name,) in reading.execute("SELECT name FROM account ORDER BY name")]
    unknown = sorted(set(mapping) - set(accounts))
    if unknown:
        raise InvalidInput(f"--map names accounts the store does not have: {', '.join(unknown)}")
    roles = {account: mapping.get(account, account) for account in accounts}
    found = {
        row.rolname: row.member
        for row in connection.execute(
            sa.text(
                "SELECT rolname, pg_has_role(oid, :users, 'MEMBER') AS member FROM pg_roles"
                " WHERE rolname = ANY(:names)"
            ),
            {"names": list(roles.values()), "users": USERS_ROLE},
        )
    }
    missing = sorted(role for role in set(roles.values()) if role not in found)
    outside = sorted(role for role, member in found.items() if not member)
    if missing or outside:
        parts = []
        if missing:
            parts.append(f"missing roles: {', '.join(missing)}")
        if outside:
            parts.append(f"roles not in {USERS_ROLE}: {', '.join(outside)}")
        raise NotFound(
            f"nothing was copied; {'; '.join(parts)} (a DBA makes each: CREATE ROLE name LOGIN "
            f"IN ROLE {USERS_ROLE}; GRANT {USERS_ROLE} TO name; or map an account to another "
            "role: --map account=role)"
        )
    return roles


def _become_owner(connection: sa.Connection) -> str:
    """Act as the tables' owner (who may choose ids and switch triggers)."""
    owner = connection.execute(
        sa.text(
            "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename = :t"
        ),
        {"t": SCHEMA_TABLE},
    ).scalar()
    if owner is None:
        raise NotFound("the target has no keydesk schema: prepare it with keydesk postgres setup")
    revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    if revision != HEAD:
        raise InvalidInput(
            f"the target is at schema {revision}, not {HEAD}: run keydesk postgres setup on it"
        )
    # It writes as the owner and proves as the verifier (keydesk_verifier).
    allowed = connection.execute(
        sa.text(
            "SELECT pg_has_role(session_user, :owner, 'MEMBER')"
            " AND pg_has_role(session_user, :verifier, 'MEMBER')"
        ),
        {"owner": owner, "verifier": VERIFIER_ROLE},
    ).scalar()
    if not allowed:
        raise PermissionDenied(
            f"the copy writes as the store's owner role {owner} and reads back as "
            f"{VERIFIER_ROLE}: connect as a superuser (or a member of both)"
        )
    connection.execute(sa.text(f'SET LOCAL ROLE "{owner}"'))
    connection.execute(sa.text("SET LOCAL TimeZone = 'UTC'"))  # SQLite's times are UTC
    return str(owner)


def _require_empty(connection: sa.Connection, tables: list[str]) -> None:
    names = ", ".join(f'"{t}"' for t in tables)
    # Nobody writes meanwhile (a lock held elsewhere: busy after the usual wait).
    connection.execute(sa.text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))
    holding = [
        table
        for table in tables
        if connection.execute(
            sa.text(f'SELECT EXISTS (SELECT 1 FROM "{table}")')  # noqa: S608 (its own names)
        ).scalar()
    ]
    if holding:
        raise InvalidInput(
            f"the target already holds keydesk data ({', '.join(holding)}); copy into a new "
            "database prepared with keydesk postgres setup"
        )


def _trail_triggers(connection: sa.Connection) -> list[tuple[str, str]]:
    """(table, trigger) of every enabled trigger whose function writes the
    trail (calls keydesk_record): revision 0006's, and any a later one adds."""
    return [
        (row.relname, row.tgname)
        for row in connection.execute(
            sa.text(
                "SELECT c.relname, t.tgname FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid"
                " WHERE c.relnamespace = CAST(current_schema() AS regnamespace)"
                " AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
                " AND p.prosrc LIKE '%keydesk_record%' ORDER BY 1, 2"
            )
        )
    ]


def _copy_table(
    reading: sqlite3.Connection, cursor: Any, table: str, roles: dict[str, str], rows: _Rows
) -> None:
    columns = sqlite_columns(reading, table)
    named = ", ".join(f'"{c}"' for c in columns)
    source = reading.execute(f'SELECT {named} FROM "{table}" ORDER BY rowid')  # noqa: S608
    rename = columns.index("name") if table == "account" else None
    with cursor.copy(f'COPY "{table}" ({named}) FROM STDIN') as copy:
        while batch := source.fetchmany(BATCH):
            for row in batch:
                if rename is not None:
                    row = (*row[:rename], roles[row[rename]], *row[rename + 1 :])
                copy.write_row(row)
            rows.add(len(batch))


def _continue_ids(cursor: Any, tables: list[str]) -> None:
    """Each id sequence goes on after the ids copied (tables with an `id`)."""
    for table in tables:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (f'"{table}"',))
        (sequence,) = cursor.fetchone() or (None,)
        if sequence is not None:
            cursor.execute(
                f'SELECT setval(%s, coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)',  # noqa: S608
                (sequence,),
            )


def _record(connection: sa.Connection, source: str, copier: str, counts: dict[str, int]) -> None:
    """One event in each workspace: this store was copied here, from where, by whom."""
    label = f"{counts.get('api_key', 0)} keys, {counts.get('audit_event', 0)} events; by {copier}"
    connection.execute(
        sa.text(
            "INSERT INTO audit_event (workspace_id, actor, action, target, label, at)"
            " SELECT id, session_user, :action, :target, :label, statement_timestamp()"
            " FROM workspace"
        ),
        {"action": COPY_ACTION, "target": f"from {source}"[:128], "label": label[:64]},
    )


def _count(reading: sqlite3.Connection, table: str) -> int:
    return int(reading.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608


def _has_table(reading: sqlite3.Connection, table: str) -> bool:
    return bool(
        reading.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    )
