"""Who may let an SSH key in, and where it may act: the service's rules for
`keydesk ssh authorize/revoke` and for owners' approvals (table
ssh_approval, revision 0005; keydesk.ssh.gate checks them at every step of
a session).

A key acts in a workspace only once an owner of that workspace approved it
for its account. `ssh authorize` by an owner approves it in the account's
workspaces that owner owns (or the one named); an owner of any other
workspace of the account approves it there later, with the same command
and `--workspace`, or from the TUI's Members screen. Every authorization,
approval and revocation is an audit event in each workspace it concerns.

SSH access is a SQLite feature (one service account, forced commands): on
PostgreSQL each admin connects as their own role, and no keydesk role may
touch this table, so every entry point here refuses, or (for the notice
`member add` gives) says there is nothing to approve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk import validation
from keydesk.errors import NotFound, PermissionDenied
from keydesk.ssh.gate import approve_command
from keydesk.store.models import Account, AuditEvent, SshApproval, Workspace
from keydesk.store.queries import Reads
from keydesk.views import Role, WorkspaceView

_T = TypeVar("_T")

AUTHORIZE, APPROVE, REVOKE = "ssh.authorize", "ssh.approve", "ssh.revoke"


@dataclass(frozen=True)
class Approval(Generic[_T]):
    """What an authorization or approval did: the workspaces where the key
    acts now (`approved`: just approved; `already`: before), those of the
    account's where it waits for an owner (`awaiting`), and what the change
    of authorized_keys returned (`written`)."""

    account: str
    fingerprint: str
    approved: tuple[str, ...]
    already: tuple[str, ...]
    awaiting: tuple[str, ...]
    written: _T

    def awaiting_note(self) -> str | None:
        """One line on where the key cannot act yet, and who may change that."""
        if not self.awaiting:
            return None
        return (
            f"it cannot act in {_names(self.awaiting)} until an owner there approves it: "
            f"{approve_command(self.account, self.fingerprint, self.awaiting[0])}"
        )


class SshApprovals:
    """The rules, in one unit of work of the service (`session`, and the
    list reads on its connection), as `actor`."""

    def __init__(self, session: Session, reads: Reads, actor: str, postgresql: bool) -> None:
        self.session = session
        self.reads = reads
        self.actor = actor
        self.postgresql = postgresql

    # -- keydesk ssh authorize / revoke -------------------------------------------------

    def authorize(
        self,
        account: str,
        fingerprint: str,
        change: Callable[[], _T],
        *,
        workspace: str | None,
        new_key: bool,
    ) -> Approval[_T]:
        """Approve the key for `account` in `workspace`, or in each of the
        account's workspaces the actor owns; `change` then writes its
        authorized_keys line (`new_key`: a line is added, audited as an
        authorization in every workspace of the account, approved or not).
        Events first, then `change`, in one transaction: a refusal edits
        nothing, a failed edit records nothing."""
        self._refuse_postgresql()
        account = validation.name(account, "the account name")
        owned = self._owned()
        theirs = self.reads.workspaces(account)
        if not theirs:
            raise NotFound(
                f"{account} is not a member of any workspace; add them first: keydesk "
                f"member add --workspace {owned[0].name} --member {account} --role admin"
            )
        targets = self._targets(account, theirs, owned, workspace)
        account_id = self._account_id(account)
        before = set(self._approved_in(account_id, fingerprint))
        if new_key:
            for ws in theirs:
                self._audit(ws.id, AUTHORIZE, fingerprint, account)
        for ws in targets:
            if ws.id not in before:
                self._approve(ws.id, account_id, fingerprint, account)
        self.session.flush()
        written = change()
        return Approval(
            account,
            fingerprint,
            tuple(ws.name for ws in targets if ws.id not in before),
            tuple(ws.name for ws in theirs if ws.id in before),
            tuple(ws.name for ws in theirs if ws.id not in before and ws not in targets),
            written,
        )

    def revoke(self, account: str, fingerprint: str, change: Callable[[], _T]) -> _T:
        """Stop the key opening keydesk as `account` (`change` removes its
        line) and drop its approvals. Unless the key is the actor's own, the
        actor must own every workspace where it acts (where it acts nowhere:
        every workspace of the account), so no owner cuts another
        workspace's admin off."""
        self._refuse_postgresql()
        account = validation.name(account, "the account name")
        owned = {ws.id for ws in self._owned()}
        theirs = {ws.id: ws.name for ws in self.reads.workspaces(account)}
        account_id = self._maybe_account_id(account)
        approved = self._approved_in(account_id, fingerprint) if account_id else {}
        if account != self.actor:
            for ws_id, name in (approved or theirs).items():
                if ws_id not in owned:
                    raise PermissionDenied(
                        f"{fingerprint} acts as {account} in {name!r}, which {self.actor} does "
                        f"not own; ask an owner of {name!r}"
                    )
        for ws_id in sorted(set(theirs) | set(approved)) or sorted(owned):
            self._audit(ws_id, REVOKE, fingerprint, account)
        if account_id is not None:
            self.session.execute(
                sa.delete(SshApproval).where(
                    col(SshApproval.account_id) == account_id,
                    col(SshApproval.fingerprint) == fingerprint,
                )
            )
        self.session.flush()
        return change()

    # -- owners approving a known key (the Members screen) ------------------------------

    def awaiting(self, workspace: str, account: str) -> tuple[str, ...]:
        """`account`'s SSH keys (those approved in any workspace) that may not
        act in `workspace` yet; any member of it may ask."""
        if self.postgresql:
            return ()  # no SSH access on PostgreSQL: nothing waits
        workspace_id = self.reads.workspace_id(workspace)
        account_id = self._maybe_account_id(account)
        if account_id is None:
            return ()
        known = self.session.execute(
            sa.select(col(SshApproval.fingerprint), col(SshApproval.workspace_id)).where(
                col(SshApproval.account_id) == account_id
            )
        ).all()
        here = {fp for fp, ws_id in known if ws_id == workspace_id}
        return tuple(sorted({fp for fp, _ in known} - here))

    def approve(self, workspace: str, account: str, fingerprints: Iterable[str]) -> Approval[None]:
        """Approve keys `awaiting` names for `account` in `workspace` (owners of it only)."""
        self._refuse_postgresql()
        account = validation.name(account, "the account name")
        waiting = set(self.awaiting(workspace, account))
        wanted = sorted(set(fingerprints))
        name = validation.as_stored(workspace)
        mine = self.reads.workspaces()
        ws = next((w for w in mine if w.name == name and w.role is Role.OWNER), None)
        if ws is None:
            raise self._not_owner(name, account)
        if not wanted or not set(wanted) <= waiting:
            unknown = ", ".join(fp for fp in wanted if fp not in waiting) or "none given"
            raise NotFound(f"no SSH key of {account} awaits approval in {ws.name!r}: {unknown}")
        if not any(ws.name == w.name for w in self.reads.workspaces(account)):
            raise NotFound(f"{account} is not a member of {ws.name!r}")
        account_id = self._account_id(account)
        for fingerprint in wanted:
            self._approve(ws.id, account_id, fingerprint, account)
        self.session.flush()
        return Approval(account, ", ".join(wanted), (ws.name,), (), (), None)

    # -- internals ----------------------------------------------------------------------

    def _refuse_postgresql(self) -> None:
        if self.postgresql:
            raise PermissionDenied(
                "SSH access shares one SQLite store through a service account; on PostgreSQL "
                "each admin connects as their own database role instead"
            )

    def _owned(self) -> list[WorkspaceView]:
        owned = [ws for ws in self.reads.workspaces() if ws.role is Role.OWNER]
        if not owned:
            raise PermissionDenied(
                f"only owners may let SSH keys in or out; {self.actor} owns no workspace"
            )
        return owned

    def _targets(
        self,
        account: str,
        theirs: list[WorkspaceView],
        owned: list[WorkspaceView],
        workspace: str | None,
    ) -> list[WorkspaceView]:
        """Where this authorization approves the key: the named workspace,
        or each of the account's that the actor owns."""
        owned_ids = {ws.id for ws in owned}
        if workspace is not None:
            name = validation.as_stored(workspace)
            named = [ws for ws in theirs if ws.name == name]
            if not named:
                raise NotFound(f"{account} is not a member of {name!r}; add them there first")
            if named[0].id not in owned_ids:
                raise self._not_owner(name, account)
            return named
        targets = [ws for ws in theirs if ws.id in owned_ids]
        if not targets:
            names = _names(ws.name for ws in theirs)
            raise PermissionDenied(
                f"{account} is in no workspace {self.actor} owns (only {names}); an owner there "
                f"approves the key: keydesk ssh authorize --account {account} --key … "
                "--workspace NAME"
            )
        return targets

    def _not_owner(self, workspace: str, account: str) -> PermissionDenied:
        return PermissionDenied(
            f"only an owner of {workspace!r} may approve an SSH key of {account} there; "
            f"{self.actor} is not one"
        )

    def _approve(self, workspace_id: int, account_id: int, fingerprint: str, account: str) -> None:
        self.session.add(
            SshApproval(
                workspace_id=workspace_id,
                account_id=account_id,
                fingerprint=fingerprint,
                approved_by=self.actor,
            )
        )
        self._audit(workspace_id, APPROVE, fingerprint, account)

    def _audit(self, workspace_id: int, action: str, fingerprint: str, account: str) -> None:
        self.session.add(
            AuditEvent(
                workspace_id=workspace_id,
                actor=self.actor,
                action=action,
                target=fingerprint,
                label=account,
            )
        )

    def _account_id(self, account: str) -> int:
        found = self._maybe_account_id(account)
        if found is None:
            raise NotFound(f"{account} is not a member of any workspace")
        return found

    def _maybe_account_id(self, account: str) -> int | None:
        return self.session.execute(
            sa.select(col(Account.id)).where(col(Account.name) == account)
        ).scalar_one_or_none()

    def _approved_in(self, account_id: int | None, fingerprint: str) -> dict[int, str]:
        """The workspaces (id: name) where the key is approved for the account."""
        rows = self.session.execute(
            sa.select(col(SshApproval.workspace_id), col(Workspace.name))
            .join(Workspace, col(Workspace.id) == SshApproval.workspace_id)
            .where(
                col(SshApproval.account_id) == account_id,
                col(SshApproval.fingerprint) == fingerprint,
            )
        ).all()
        return {ws_id: name for ws_id, name in rows}


def forget(session: Session, workspace_id: int, account_id: int, *, postgresql: bool) -> None:
    """An account leaving a workspace takes its keys' approvals there with
    it: added again later, its keys wait for an owner again."""
    if not postgresql:
        session.execute(
            sa.delete(SshApproval).where(
                col(SshApproval.workspace_id) == workspace_id,
                col(SshApproval.account_id) == account_id,
            )
        )


def approve_created(session: Session, workspace_id: int, actor: str, ssh_key: str | None) -> None:
    """A workspace made in an SSH session: its owner made it through this
    key, so the key may act there (and the approval is audited there)."""
    if ssh_key is None:
        return
    account_id = session.execute(
        sa.select(col(Account.id)).where(col(Account.name) == actor)
    ).scalar_one()
    session.add(
        SshApproval(
            workspace_id=workspace_id, account_id=account_id, fingerprint=ssh_key, approved_by=actor
        )
    )
    session.add(
        AuditEvent(
            workspace_id=workspace_id, actor=actor, action=APPROVE, target=ssh_key, label=actor
        )
    )


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)
