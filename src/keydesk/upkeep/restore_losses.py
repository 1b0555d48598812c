"""What a restore loses: what the store holds that the backup lacks (keys,
integrations, workspaces, members and notification channels made since it
was taken, and the trail written since), compared by the names and public
keys a revocation is carried over by. Read before asking, with the backup
and the store both opened read-only, and again inside the restore's own
transaction, so the admin is told what goes before and what went after."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keydesk.store.sqlite_file import read_only_uri
from keydesk.validation import shown_literally
from keydesk.views.revocations import sampled
from keydesk.views.words import counted

# Each: rows of the store ("main") with no match in the backup ("restored").
_KEYS = (
    "SELECT k.public_key, k.label, i.name FROM main.api_key k"
    " JOIN main.integration i ON i.id = k.integration_id"
    " WHERE k.public_key NOT IN (SELECT public_key FROM restored.api_key)"
    " ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC"
)
_INTEGRATIONS = (
    "SELECT count(*) FROM main.integration i JOIN main.workspace w ON w.id = i.workspace_id"
    " WHERE NOT EXISTS (SELECT 1 FROM restored.integration r"
    " JOIN restored.workspace rw ON rw.id = r.workspace_id"
    " WHERE r.id = i.id OR (rw.name = w.name AND r.name = i.name))"
)
_WORKSPACES = (
    "SELECT count(*) FROM main.workspace WHERE name NOT IN (SELECT name FROM restored.workspace)"
)
_MEMBERS = (
    "SELECT count(*) FROM main.membership m JOIN main.workspace w ON w.id = m.workspace_id"
    " JOIN main.account a ON a.id = m.account_id WHERE NOT EXISTS (SELECT 1"
    " FROM restored.membership r JOIN restored.workspace rw ON rw.id = r.workspace_id"
    " JOIN restored.account ra ON ra.id = r.account_id WHERE rw.name = w.name"
    " AND ra.name = a.name)"
)
_CHANNELS = (
    "SELECT count(*) FROM main.notify_channel c WHERE NOT EXISTS (SELECT 1"
    " FROM restored.notify_channel r WHERE r.kind = c.kind AND r.target = c.target"
    " AND r.workspace_id = c.workspace_id)"
)
# An event the restore records again is not lost: a revocation's or a carried
# action's, in a workspace the backup holds (a rotation's: of a key it holds).
_EVENTS = (
    "SELECT count(*) FROM main.audit_event e LEFT JOIN main.workspace w ON w.id = e.workspace_id"
    " WHERE e.at >= ? AND NOT ((e.action LIKE 'key.revoke%'"
    " OR e.action IN (SELECT value FROM json_each(?)))"
    " AND EXISTS (SELECT 1 FROM restored.workspace rw WHERE rw.name = w.name)"
    " AND (e.action <> 'key.rotate'"
    " OR EXISTS (SELECT 1 FROM restored.api_key k WHERE k.public_key = e.target)))"
    " AND NOT EXISTS (SELECT 1 FROM restored.audit_event r WHERE r.at = e.at"
    " AND r.action = e.action AND r.target IS e.target)"
)


@dataclass(frozen=True, slots=True)
class Losses:
    """What the store holds and the backup does not: gone once it is restored
    (revocations, disabled integrations and access taken away are applied
    again, and their events recorded again)."""

    keys: tuple[tuple[str, str, str], ...] = ()  # public key, label, integration: active first
    integrations: int = 0
    workspaces: int = 0
    members: int = 0
    channels: int = 0
    events: int = 0

    @classmethod
    def read(cls, connection: sqlite3.Connection, since: str, carried: Sequence[str]) -> Losses:
        """With the backup attached as `restored`; `since`: when it was taken,
        as the store's columns hold times; `carried`: the actions whose events
        the restore records again."""

        def count(sql: str, *values: str) -> int:
            (found,) = connection.execute(sql, values).fetchone()
            return int(found)

        channels = 0
        with contextlib.suppress(sqlite3.OperationalError):  # a backup from before channels
            channels = count(_CHANNELS)
        return cls(
            tuple(connection.execute(_KEYS).fetchall()),
            count(_INTEGRATIONS),
            count(_WORKSPACES),
            count(_MEMBERS),
            channels,
            count(_EVENTS, since, json.dumps(list(carried))),
        )

    @property
    def nothing(self) -> bool:
        return not (
            self.keys
            or self.integrations
            or self.workspaces
            or self.members
            or self.channels
            or self.events
        )

    def lines(self) -> list[str]:
        """What is lost, as the confirmation and the report say it."""
        if self.nothing:
            return ["nothing made since the backup is lost"]
        parts = [
            counted(n, noun)
            for n, noun in (
                (len(self.keys), "key"),
                (self.integrations, "integration"),
                (self.workspaces, "workspace"),
                (self.members, "membership"),
                (self.channels, "notification channel"),
                (self.events, "audit event"),
            )
            if n
        ]
        lines = [f"lost, made since the backup: {', '.join(parts)}"]
        if self.keys:
            lines.append("keys lost (any still active stops working; create it again if needed):")
            lines += sampled(
                self.keys,
                lambda key: f"  {key[0]}  {shown_literally(key[1])}  ({shown_literally(key[2])})",
                indent="  ",
            )
        return lines

    def as_json(self) -> dict[str, object]:
        return {
            "keys": [
                {"public_key": public, "label": label, "integration": integration}
                for public, label, integration in self.keys
            ],
            "integrations": self.integrations,
            "workspaces": self.workspaces,
            "memberships": self.members,
            "notify_channels": self.channels,
            "audit_events": self.events,
        }


def preview(store: Path, backup: Path, since: str, carried: Sequence[str]) -> Losses | None:
    """What restoring `backup` over `store` would lose, both read-only; None
    when it cannot be told (no store, or a file the restore will refuse)."""
    if not store.is_file():
        return None
    try:
        connection = sqlite3.connect(read_only_uri(str(store)), uri=True)
    except sqlite3.Error:
        return None
    try:
        connection.execute("ATTACH DATABASE ? AS restored", (read_only_uri(str(backup)),))
        return Losses.read(connection, since, carried)
    except sqlite3.Error:
        return None
    finally:
        connection.close()
