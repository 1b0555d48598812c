"""Revoking many keys at once (a compromised CI runner's, a whole staging
environment's), as plain SQL on a DB-API connection: the active keys a
selection matches, then all of them in one transaction, with one audit
event per key and one per workspace for the batch (`key.revoke.batch`,
naming what was asked and how many).

The service runs it on its session's connection (keydesk.service.bulk_revoke);
`keydesk key revoke --tag …` on an up-to-date SQLite store runs it on a bare
sqlite3 connection (`bare_sqlite_writes`), so 10,000 keys take well under a
second of CPU, all in: importing SQLAlchemy and SQLModel alone cost ~1 s.

The match is one query of the four columns the confirmation shows (full key
views cost 10,000 keys seconds); the revoke one conditional UPDATE (RETURNING
what it revoked), the public keys passed as one parameter (a JSON array, an
array on PostgreSQL); on SQLite each key's event from one INSERT … SELECT.
On PostgreSQL the database writes each key's event (its trigger) and the
batch's (keydesk_record_revocations, which counts them).

Nothing here imports SQLAlchemy, SQLModel or a driver.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from keydesk.errors import InvalidInput, PermissionDenied, StoreUnavailable
from keydesk.store.dbapi import DbConnection, driver_errors
from keydesk.store.path import file_id
from keydesk.store.queries import Reads
from keydesk.validation import shown_literally
from keydesk.views import utcnow
from keydesk.views.revocations import BulkRevocation, KeySelection, MatchedKey

NOTE_MAX = 128  # AuditEvent.target


def matching(reads: Reads, selection: KeySelection) -> list[MatchedKey]:
    """The active keys matching every filter of `selection` that the actor
    may revoke (owners and admins of their workspaces), stalest first with
    --unused-for, else newest first."""
    if selection.empty:
        raise InvalidInput(
            "give at least one filter: --tag, --created-by, --integration or --unused-for"
        )
    managed = {i.id for i in reads.integrations(selection.workspace) if i.role.can_manage}
    if not managed:
        return []
    found = reads.revocable_keys(
        selection.integration,
        workspace=selection.workspace,
        unused_for=selection.unused_for,
        tags=selection.tags,
        created_by=selection.created_by,
    )
    return [
        MatchedKey(public, label, integration, creator, gone)
        for public, label, integration, creator, gone, integration_id in found
        if integration_id in managed
    ]


def revoke(reads: Reads, public_keys: Iterable[str], note: str) -> BulkRevocation:
    """Revoke every key of `public_keys` that is still active and the
    actor's to revoke, uncommitted (the caller's transaction); the others
    are left as they are and named in `skipped`. `note` says why (the
    selection, or "selected in the TUI"), in the batch's event."""
    asked = list(dict.fromkeys(key.strip() for key in public_keys))
    note = _clipped(note)
    db = reads.db
    postgresql = db.backend == "postgresql"
    managed = {i.id: i.workspace_id for i in reads.integrations() if i.role.can_manage}
    now = db.time(utcnow())
    params = {
        "now": now,
        "by": _account_id(db, reads.actor),
        "keys": asked,
        "managed": list(managed),
    }
    if not postgresql:  # one parameter each, whatever their number
        params |= {"keys": json.dumps(asked), "managed": json.dumps(list(managed))}
    revoked = [
        (str(public), str(label), int(integration))
        for public, label, integration in db.rows(_REVOKE[db.backend], params)
    ]
    if postgresql:  # each key's event is the trigger's; the batch's counts them
        db.rows("SELECT keydesk_record_revocations(:note)", {"note": note})
    elif revoked:  # each key's event in SQL (no row through Python), then the batch's
        events = {"actor": reads.actor, "at": now, "keys": json.dumps([k for k, _, _ in revoked])}
        db.rows(_KEY_EVENTS, events)
        db.run_many(_EVENT, _events(reads.actor, revoked, managed, note, now))
    done = {public for public, _, _ in revoked}
    return BulkRevocation(
        tuple(k for k in asked if k in done), tuple(k for k in asked if k not in done), note
    )


class BareWrites:
    """The reads, and `revoke`'s writes, on a bare sqlite3 connection to an
    up-to-date SQLite store (see `bare_sqlite_writes`)."""

    def __init__(self, reads: Reads, path: str) -> None:
        self.reads = reads
        self._file = (path, file_id(path))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction (the connection is autocommit otherwise), taking
        the write lock at once: committed when the block ends, else rolled
        back. A store deleted or replaced since it was opened (while the
        confirmation waited) takes no writes: they would be lost with the old file."""
        if file_id(self._file[0]) != self._file[1]:
            raise StoreUnavailable(
                f"the store at {self._file[0]} was deleted or replaced under this process; "
                "nothing was revoked"
            )
        connection = self.reads.db.connection
        assert isinstance(connection, sqlite3.Connection), "bare_sqlite_writes' connection"
        with driver_errors():
            connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.rollback()
            raise
        with driver_errors():
            connection.execute("COMMIT")


@contextmanager
def bare_sqlite_writes(
    url: str, proven: str | None = None, ssh_key: str | None = None
) -> Iterator[BareWrites | None]:
    """The store at `url` opened bare for writing, as `bare_sqlite_reads`
    opens it for reading: as the OS user (or the `proven` account, through
    the SSH key `ssh_key`); None when the bare way does not apply."""
    from keydesk.identity import sqlite_account
    from keydesk.store.sqlite_file import open_for_writing

    with driver_errors(), open_for_writing(url) as connection:
        if connection is None:
            yield None
            return
        db = DbConnection(connection, "sqlite")
        (path,) = [row[2] for row in db.rows("PRAGMA database_list", {}) if row[1] == "main"]
        yield BareWrites(Reads(db, sqlite_account(proven), ssh_key), path)


def _account_id(db: DbConnection, name: str) -> int:
    rows = db.rows("SELECT id FROM account WHERE name = :name", {"name": name})
    if not rows:
        raise PermissionDenied(f"{name} is not a member of any workspace")
    return int(rows[0][0])


# One conditional UPDATE for them all: two admins revoking at once never
# revoke a key twice, and a key revoked meanwhile is skipped, not an error.
_REVOKE = {
    "sqlite": """UPDATE api_key SET revoked_at = :now, revoked_by = :by
WHERE public_key IN (SELECT value FROM json_each(:keys))
  AND integration_id IN (SELECT value FROM json_each(:managed))
  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)
RETURNING public_key, label, integration_id""",
    "postgresql": """UPDATE api_key SET revoked_at = :now, revoked_by = :by
WHERE public_key = ANY(:keys) AND integration_id = ANY(:managed)
  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)
RETURNING public_key, label, integration_id""",
}
_KEY_EVENTS = """INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label,
  related, at) SELECT i.workspace_id, k.integration_id, :actor, 'key.revoke', k.public_key, k.label,
  NULL, :at FROM json_each(:keys) j JOIN api_key k ON k.public_key = j.value
  JOIN integration i ON i.id = k.integration_id"""
_EVENT = """INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label,
  related, at) VALUES (:workspace_id, :integration_id, :actor, :action, :target, :label, NULL, :at)"""


def _events(
    actor: str,
    revoked: list[tuple[str, str, int]],
    managed: dict[int, int],
    note: str,
    at: object,
) -> list[dict[str, object]]:
    """SQLite: the batch's events PostgreSQL's keydesk_record_revocations
    writes: one per workspace (naming its integration if only one)."""
    events: list[dict[str, object]] = []
    per_workspace: dict[int, list[int]] = {}
    for _, _, integration in revoked:
        per_workspace.setdefault(managed[integration], []).append(integration)
    for workspace, integrations in per_workspace.items():
        count = len(integrations)
        events.append(
            {"workspace_id": workspace,
             "integration_id": integrations[0] if len(set(integrations)) == 1 else None,
             "actor": actor, "action": "key.revoke.batch", "target": note,
             "label": f"{count} key{'s' * (count != 1)} revoked", "at": at}
        )  # fmt: skip
    return events


def _clipped(note: str) -> str:
    note = " ".join(shown_literally(note).split()) or "keys chosen one by one"
    return note if len(note) <= NOTE_MAX else note[: NOTE_MAX - 1] + "…"
