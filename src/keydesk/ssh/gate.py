"""Where an SSH key may act: only in the workspaces where an owner of that
workspace approved it (its fingerprint) for its account (table
ssh_approval, revision 0005). Checked at every read and every change of an
SSH session, not once when the key is authorized: whoever authorized a key
for an account must not act through it in a workspace the account joins
later (issue #19, item 1).

A session knows its key from its forced command (`keydesk ssh-session
ACCOUNT SHA256:…`, keydesk.ssh.grant_line writes it): sshd runs that command
for that key alone, and nothing the client sends can change it.

Plain SQL on a DB-API connection (keydesk.store.dbapi): the list queries
(keydesk.store.queries) run it on a bare sqlite3 connection as the service
does on its own. The rules for granting approvals are keydesk.service.ssh_approvals.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING

from keydesk.errors import PermissionDenied

if TYPE_CHECKING:  # the screens import the wording here, never a store
    from keydesk.store.dbapi import DbConnection


class SshKeyNotApproved(PermissionDenied):
    """The session's SSH key may not act in this workspace (no approval row)."""


class RefusedOverSsh(PermissionDenied):
    """What an SSH session may not do at all (scan the server's files)."""


# Appended to a query whose `m` is the acting account's membership row.
APPROVED = """EXISTS (SELECT 1 FROM ssh_approval s WHERE s.workspace_id = m.workspace_id
  AND s.account_id = m.account_id AND s.fingerprint = :ssh_key)"""

_IS_APPROVED = """SELECT 1 FROM ssh_approval s JOIN account a ON a.id = s.account_id
WHERE s.workspace_id = :workspace_id AND a.name = :account AND s.fingerprint = :ssh_key"""

_ANY_APPROVAL = """SELECT 1 FROM ssh_approval s JOIN account a ON a.id = s.account_id
JOIN membership m ON m.workspace_id = s.workspace_id AND m.account_id = s.account_id
WHERE a.name = :account AND s.fingerprint = :ssh_key"""

SCAN_REFUSED = (
    "in an SSH session keydesk scans only text you send, never files of this server: "
    "ssh … scan - < FILE"
)


def approve_command(account: str, fingerprint: str, workspace: str) -> str:
    """The command an owner of `workspace` runs to approve the key there."""
    return shlex.join(
        ["keydesk", "ssh", "authorize", "--account", account, "--key", fingerprint,
         "--workspace", workspace]
    )  # fmt: skip


def not_approved(account: str, fingerprint: str, workspace: str) -> SshKeyNotApproved:
    return SshKeyNotApproved(
        f"SSH key {fingerprint} is not approved for {account} in {workspace!r}; an owner of "
        f"{workspace!r} approves it with: {approve_command(account, fingerprint, workspace)}"
        " (or from the Members screen)"
    )


def require_approved(
    db: DbConnection, account: str, fingerprint: str, workspace_id: int, workspace: str
) -> None:
    """SshKeyNotApproved unless the key is approved for `account` in the workspace."""
    params = {"workspace_id": workspace_id, "account": account, "ssh_key": fingerprint}
    if not db.rows(_IS_APPROVED, params):
        raise not_approved(account, fingerprint, workspace)


def require_any_approval(db: DbConnection, account: str, fingerprint: str) -> None:
    """At a session's start: the key acts in at least one of the account's workspaces."""
    if not db.rows(_ANY_APPROVAL, {"account": account, "ssh_key": fingerprint}):
        raise SshKeyNotApproved(
            f"SSH key {fingerprint} is approved for {account} in none of their workspaces; an "
            f"owner of one approves it with: "
            f"{approve_command(account, fingerprint, 'WORKSPACE')}"
        )


def awaiting_notice(workspace: str, account: str, fingerprints: Iterable[str]) -> str | None:
    """What `member add` says of an account's SSH keys not approved in `workspace`."""
    waiting = sorted(fingerprints)
    if not waiting:
        return None
    keys = f"{len(waiting)} SSH key{'s' if len(waiting) > 1 else ''} ({', '.join(waiting)})"
    return (
        f"{account} already has {keys} that cannot act in {workspace!r} until an owner of "
        f"{workspace!r} approves them: {approve_command(account, waiting[0], workspace)}"
        " (or from the Members screen)"
    )
