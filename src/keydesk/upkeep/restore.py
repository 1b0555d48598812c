"""`keydesk store restore PATH`: put a backup back without bringing a
revoked key back to life.

A backup is older than the store it replaces: keys revoked since were
active in it, and a plain copy of the file would make them valid again.
So, in one write transaction on the store in place (its file, mode and
identity kept, `serve` reading on as before), its rows are replaced by the
backup's and then every revocation, disabled integration and expiry brought
forward that the store holds and the backup lacks is applied again, with
the times and actors it had. The backup is first copied and brought up to
this keydesk's schema on the side (an older one is upgraded; a newer one
refused). With no store left to take revocations from, the restore is
refused unless the caller accepts that they are lost."""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from keydesk.errors import InvalidInput, PermissionDenied, StoreNotFound
from keydesk.store.path import COMPANIONS, checked_store_path, create_private_file
from keydesk.store.schema import HEAD
from keydesk.store.sqlite_file import SQLITE_BUSY_TIMEOUT_MS, read_only_uri
from keydesk.upkeep.backup import HEADER_TABLE, BackupHeader, read_header
from keydesk.upkeep.restore_access import ACCESS_ACTIONS, Access
from keydesk.upkeep.restore_limits import Limits
from keydesk.upkeep.restore_losses import Losses, preview
from keydesk.upkeep.tables import sqlite_columns, sqlite_tables
from keydesk.views import stop_time, utcnow
from keydesk.views.words import counted

RESTORE_ACTION = "store.restore"
# Besides key.revoke*: the events of what a restore applies again. An earlier
# stop's is key.expire on PostgreSQL (a trigger's) and key.rotate on SQLite.
CARRIED_ACTIONS = ("key.expire", "key.rotate", "integration.disable", *ACCESS_ACTIONS)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    store: str
    header: BackupHeader
    revocations: int  # applied again: revoked in the store, active in the backup
    disabled: int  # integrations disabled again
    expiries: int  # keys whose earlier stop was kept
    created: bool  # there was no store: revocations since the backup may be lost
    active_in_backup: int  # keys the backup holds as active
    members_removed: int = 0  # memberships the store no longer has
    roles_lowered: int = 0  # kept at the store's lower role
    ssh_withdrawn: int = 0  # SSH approvals the store no longer has
    lost: Losses = field(default_factory=Losses)  # what the store held that the backup lacked


@dataclass(frozen=True, slots=True)
class _Stops:
    """What the store holds that must never be undone by a restore."""

    revoked: list[tuple[str, str, str | None]]  # public key, when, by whom (a name)
    disabled: list[tuple[str, str, str, int]]  # workspace, integration, since, its id
    expiries: list[tuple[str, str]]  # public key, expires_at
    events: list[tuple[Any, ...]]  # their events since the backup, by workspace name

    @classmethod
    def read(cls, connection: sqlite3.Connection, since: str) -> _Stops:
        return cls(
            connection.execute(
                "SELECT k.public_key, k.revoked_at, a.name FROM api_key k"
                " LEFT JOIN account a ON a.id = k.revoked_by WHERE k.revoked_at IS NOT NULL"
            ).fetchall(),
            connection.execute(
                "SELECT w.name, i.name, i.updated_at, i.id FROM integration i"
                " JOIN workspace w ON w.id = i.workspace_id WHERE i.status = 'disabled'"
            ).fetchall(),
            connection.execute(
                "SELECT public_key, expires_at FROM api_key WHERE expires_at IS NOT NULL"
            ).fetchall(),
            connection.execute(
                "SELECT w.name, i.name, e.actor, e.action, e.target, e.label, e.related, e.at"
                " FROM audit_event e JOIN workspace w ON w.id = e.workspace_id"
                " LEFT JOIN integration i ON i.id = e.integration_id WHERE e.at >= ?"
                " AND (e.action LIKE 'key.revoke%'"
                " OR e.action IN (SELECT value FROM json_each(?)))",
                (since, json.dumps(CARRIED_ACTIONS)),
            ).fetchall(),
        )

    def apply(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        revoked = connection.executemany(
            "UPDATE api_key SET revoked_at = ?2,"
            " revoked_by = (SELECT id FROM account WHERE name = ?3)"
            " WHERE public_key = ?1 AND revoked_at IS NULL",
            self.revoked,
        ).rowcount
        disabled = connection.executemany(
            # By id too: a backup whose integration was renamed (by hand) is
            # still the same integration, whose keys stay refused.
            "UPDATE integration SET status = 'disabled', updated_at = ?3"
            " WHERE status <> 'disabled' AND (id = ?4 OR (name = ?2"
            " AND workspace_id = (SELECT id FROM workspace WHERE name = ?1)))",
            self.disabled,
        ).rowcount
        expiries = connection.executemany(
            "UPDATE api_key SET expires_at = ?2 WHERE public_key = ?1"
            " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
            self.expiries,
        ).rowcount
        # The trail says who did them, once (one made as the backup was taken is in it).
        connection.executemany(
            "INSERT INTO audit_event"
            " (workspace_id, integration_id, actor, action, target, label, related, at)"
            " SELECT w.id, (SELECT i.id FROM integration i WHERE i.workspace_id = w.id"
            " AND i.name = ?2), ?3, ?4, ?5, ?6, ?7, ?8 FROM workspace w WHERE w.name = ?1"
            " AND NOT EXISTS (SELECT 1 FROM audit_event e WHERE e.workspace_id = w.id"
            " AND e.action = ?4 AND e.target = ?5 AND e.at = ?8)"
            # A rotation's, only of an old key the backup holds (its stop is applied again).
            " AND (?4 <> 'key.rotate' OR EXISTS (SELECT 1 FROM api_key k WHERE k.public_key = ?5))",
            self.events,
        )
        return revoked, disabled, expiries


def revision_number(revision: str) -> int:
    """keydesk's revisions are numbered in order (0001, 0002, …)."""
    if not revision.isdigit():
        raise InvalidInput(f"schema {revision!r} is not one keydesk makes")
    return int(revision)


def losses(url: str, backup: str, actor: str) -> Losses | None:
    """What restoring `backup` over the store at `url` would lose, told
    before asking; None when there is no store (or it cannot be told)."""
    from keydesk.upkeep.backup import require_sqlite, sqlite_store_file

    require_sqlite(url)
    source, header = _backup(backup)  # a file that is no backup is said so before asking
    try:
        store = sqlite_store_file(url)
    except StoreNotFound:
        return None
    connection = sqlite3.connect(read_only_uri(str(store)), uri=True)
    try:
        require_owner_everywhere(connection, actor)  # refused before asking, not after
    finally:
        connection.close()
    return preview(store, source, sqlite_time(header.taken_at), CARRIED_ACTIONS)


def require_owner_everywhere(connection: sqlite3.Connection, actor: str) -> None:
    """A restore replaces every workspace's keys, members and trail: only an
    account that owns each workspace in the store may ask for it (a store
    with none: whoever may write its file)."""
    rows = connection.execute(
        "SELECT w.name FROM workspace w WHERE NOT EXISTS (SELECT 1 FROM membership m"
        " JOIN account a ON a.id = m.account_id"
        " WHERE m.workspace_id = w.id AND a.name = ? AND m.role = 'owner') ORDER BY w.name",
        (actor,),
    ).fetchall()
    if rows:
        names = ", ".join(repr(name) for (name,) in rows[:3]) + (
            " and more" if len(rows) > 3 else ""
        )
        raise PermissionDenied(
            f"{actor} does not own {names}: a restore replaces every workspace's keys, "
            "so only an owner of each may restore the store"
        )


def _backup(backup: str) -> tuple[Path, BackupHeader]:
    source = checked_store_path(backup)
    if not source.is_file():
        raise StoreNotFound(f"no backup at {source}")
    return source, read_header(source)


def restore(url: str, backup: str, *, actor: str, accept_lost_revocations: bool) -> RestoreResult:
    from keydesk.store.engine import open_store
    from keydesk.upkeep.backup import require_sqlite, sqlite_store_file

    require_sqlite(url)
    source, header = _backup(backup)
    if revision_number(header.schema) > revision_number(HEAD):
        raise InvalidInput(
            f"the backup's schema {header.schema} is newer than this keydesk's ({HEAD}): "
            "restore it with the keydesk that took it, or a newer one"
        )
    created = False
    try:
        sqlite_store_file(url)  # the one check; the open below upgrades it
    except StoreNotFound:
        if not accept_lost_revocations:
            raise PermissionDenied(
                f"there is no store to take revocations from: keys revoked since the backup "
                f"({stop_time(header.taken_at)}) would be valid again; to restore it anyway: "
                "--accept-lost-revocations"
            ) from None
        created = True
    opened = open_store(url, create=created)  # a missing store made; an older one upgraded
    opened.engine.dispose()
    assert opened.file is not None
    store = Path(opened.file)
    staged = store.with_name(f".{store.name}.restore-{secrets.token_hex(4)}")
    try:
        _stage(source, staged, header)
        return _replace(store, staged, header, actor, created)
    except BaseException:
        opened.discard()  # a store made here goes (one that was there stays as it was)
        raise
    finally:
        for suffix in ("", *COMPANIONS):
            Path(f"{staged}{suffix}").unlink(missing_ok=True)


def _stage(backup: Path, staged: Path, header: BackupHeader) -> None:
    """The backup copied beside the store (owner-only), its header dropped,
    brought up to this keydesk's schema by the usual migrations, once its
    tables are at the schema its header says (else it was altered)."""
    from keydesk.store.engine import open_store

    create_private_file(staged)
    reading = sqlite3.connect(backup)
    writing = sqlite3.connect(staged)
    try:
        reading.backup(writing)
        writing.execute(f"DROP TABLE {HEADER_TABLE}")
        writing.commit()
        versions = writing.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        versions = []
    finally:
        reading.close()
        writing.close()
    if versions != [(header.schema,)]:
        raise InvalidInput(
            f"{backup}: its tables are not at the schema its header says ({header.schema}): "
            "it was altered; not restoring it"
        )
    open_store(f"sqlite:///{quote(str(staged))}").dispose()  # Alembic upgrades an older backup


def _replace(
    store: Path, staged: Path, header: BackupHeader, actor: str, created: bool
) -> RestoreResult:
    connection = sqlite3.connect(store, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("BEGIN IMMEDIATE")  # writers wait; readers read the old rows
        try:
            connection.execute("PRAGMA defer_foreign_keys=ON")
            require_owner_everywhere(connection, actor)
            stops = _Stops.read(connection, sqlite_time(header.taken_at))
            access, limits = Access.read(connection), Limits.read(connection)
            connection.execute("ATTACH DATABASE ? AS restored", (str(staged),))
            lost = Losses.read(connection, sqlite_time(header.taken_at), CARRIED_ACTIONS)
            tables = sqlite_tables(connection)
            for table in reversed(tables):
                connection.execute(f'DELETE FROM main."{table}"')  # noqa: S608 (its own names)
            for table in tables:
                # Both are at this keydesk's schema: the same columns. (A
                # table the backup lacks stays empty.)
                shared = set(sqlite_columns(connection, table, "restored"))
                named = [c for c in sqlite_columns(connection, table) if c in shared]
                if not named:
                    continue
                columns = ", ".join(f'"{c}"' for c in named)
                connection.execute(
                    f'INSERT INTO main."{table}" ({columns})'  # noqa: S608 (its own names)
                    f' SELECT {columns} FROM restored."{table}"'
                )
            revoked, disabled, expiries = stops.apply(connection)
            taken_away = access.apply(connection)
            limits.apply(connection)
            _record(connection, header, actor, (revoked, disabled, expiries))
            (active,) = connection.execute(
                "SELECT count(*) FROM api_key WHERE revoked_at IS NULL"
            ).fetchone()
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        connection.execute("DETACH DATABASE restored")
    finally:
        connection.close()
    return RestoreResult(
        str(store),
        header,
        revoked,
        disabled,
        expiries,
        created,
        0 if not created else active,
        *taken_away,
        lost=lost,
    )


def _record(
    connection: sqlite3.Connection,
    header: BackupHeader,
    actor: str,
    applied: tuple[int, int, int],
) -> None:
    """One event in each workspace: who restored which backup, and how many
    revocations, disabled integrations and earlier stops were applied again."""
    revoked, disabled, expiries = applied
    connection.execute(
        "INSERT INTO audit_event (workspace_id, actor, action, target, label, at)"
        " SELECT id, ?, ?, ?, ?, ? FROM workspace",
        (
            actor,
            RESTORE_ACTION,
            f"backup of {stop_time(header.taken_at)}",
            f"applied again: {stops_applied(revoked, disabled, expiries)}",
            sqlite_time(utcnow()),
        ),
    )


def stops_applied(revoked: int, disabled: int, expiries: int) -> str:
    """What a restore applied again, in words (its output and its event)."""
    return (
        f"{counted(revoked, 'revocation')}, {counted(disabled, 'disabled integration')}, "
        f"{counted(expiries, 'earlier expiry', 'earlier expiries')}"
    )


def sqlite_time(moment: datetime) -> str:
    """A time as keydesk's SQLite columns hold it (SQLAlchemy's form, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
