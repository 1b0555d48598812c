"""What a restore must not give back besides keys: a member removed, a role
lowered, an SSH key's approval withdrawn, a notification channel removed
(notices would go to it again) after the backup was taken. Each
is access taken away, as a revocation is; the restored rows keep the
store's word on them. Only workspaces the store holds are judged (one made
after the backup is not in it; with no store there is nothing to judge)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from keydesk.views.workspaces import Role

# The trail's events of what is applied again, carried over like key.revoke's.
ACCESS_ACTIONS = ("member.remove", "member.set", "ssh.revoke")

_MEMBERS = (
    "SELECT w.name, a.name, m.role FROM {db}.membership m"
    " JOIN {db}.workspace w ON w.id = m.workspace_id JOIN {db}.account a ON a.id = m.account_id"
)
_APPROVALS = (
    "SELECT w.name, a.name, s.fingerprint FROM {db}.ssh_approval s"
    " JOIN {db}.workspace w ON w.id = s.workspace_id JOIN {db}.account a ON a.id = s.account_id"
)
_WHERE = (
    " WHERE workspace_id = (SELECT id FROM workspace WHERE name = ?)"
    " AND account_id = (SELECT id FROM account WHERE name = ?)"
)
_CHANNELS = "SELECT id, kind, target FROM notify_channel"
_CHANNELS_WHERE = (
    "SELECT c.id, c.kind, c.target, w.name FROM notify_channel c"
    " JOIN workspace w ON w.id = c.workspace_id"
)
_RANK = {role.value: rank for rank, role in enumerate(Role)}  # owner first, viewer last


@dataclass(frozen=True, slots=True)
class Access:
    workspaces: frozenset[str]
    roles: dict[tuple[str, str], str]  # (workspace, account) → role
    approvals: frozenset[tuple[str, str, str]]  # workspace, account, fingerprint
    channels: frozenset[tuple[int, str, str]]  # id, kind, target (an id may be reused)

    @classmethod
    def read(cls, connection: sqlite3.Connection) -> Access:
        workspaces = connection.execute("SELECT name FROM workspace").fetchall()
        members = connection.execute(_MEMBERS.format(db="main")).fetchall()
        approvals = connection.execute(_APPROVALS.format(db="main")).fetchall()
        return cls(
            frozenset(name for (name,) in workspaces),
            {(ws, name): role for ws, name, role in members},
            frozenset(approvals),
            frozenset(connection.execute(_CHANNELS).fetchall()),
        )

    def apply(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """On the restored rows: (members removed, roles lowered, approvals withdrawn)."""
        removed = lowered = 0
        for ws, name, role in connection.execute(_MEMBERS.format(db="main")).fetchall():
            if ws not in self.workspaces:
                continue
            now = self.roles.get((ws, name))
            if now is None:
                connection.execute("DELETE FROM membership" + _WHERE, (ws, name))  # noqa: S608
                removed += 1
            elif _RANK.get(now, len(_RANK)) > _RANK.get(role, len(_RANK)):
                connection.execute("UPDATE membership SET role = ?" + _WHERE, (now, ws, name))  # noqa: S608
                lowered += 1
        withdrawn = 0
        for ws, name, fingerprint in connection.execute(_APPROVALS.format(db="main")).fetchall():
            if ws in self.workspaces and (ws, name, fingerprint) not in self.approvals:
                connection.execute(
                    "DELETE FROM ssh_approval" + _WHERE + " AND fingerprint = ?",  # noqa: S608
                    (ws, name, fingerprint),
                )
                withdrawn += 1
        for channel_id, kind, target, ws in connection.execute(_CHANNELS_WHERE).fetchall():
            if ws in self.workspaces and (channel_id, kind, target) not in self.channels:
                connection.execute("DELETE FROM notify_channel WHERE id = ?", (channel_id,))
        return removed, lowered, withdrawn
