"""SSH access (keydesk ssh): the SSH keys that open keydesk as an account,
and the owners' approvals they need. The rules are keydesk.service.ssh_approvals;
this module runs them in a unit of work as the acting account."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from keydesk.service.context import ServiceContext
from keydesk.service.ssh_approvals import Approval, SshApprovals

_T = TypeVar("_T")


class SshKeys:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def authorize(
        self, account: str, fingerprint: str, write: Callable[[], _T], *,
        workspace: str | None = None, new_key: bool = True,
    ) -> Approval[_T]:  # fmt: skip
        """Approve the SSH key `fingerprint` for `account` in `workspace` (or
        in each of its workspaces the actor owns); `write` then adds or
        updates its authorized_keys line (see SshApprovals.authorize)."""
        with self._approvals() as ssh:
            return ssh.authorize(account, fingerprint, write, workspace=workspace, new_key=new_key)

    def revoke(self, account: str, fingerprint: str, remove: Callable[[], _T]) -> _T:
        """Stop the key `fingerprint` opening keydesk as `account`: `remove`
        takes its line out once the actor may (see SshApprovals.revoke)."""
        with self._approvals() as ssh:
            return ssh.revoke(account, fingerprint, remove)

    def awaiting(self, workspace: str, account: str) -> tuple[str, ...]:
        """`account`'s SSH keys that may not act in `workspace` until an owner approves them."""
        with self._approvals() as ssh:
            return ssh.awaiting(workspace, account)

    def approve(self, workspace: str, account: str, fingerprints: Iterable[str]) -> Approval[None]:
        """An owner of `workspace` lets these keys of `account` act there."""
        with self._approvals() as ssh:
            return ssh.approve(workspace, account, fingerprints)

    @contextmanager
    def _approvals(self) -> Iterator[SshApprovals]:
        context = self.context
        with context.session() as session:
            yield SshApprovals(session, context.reads(session), context.actor, context.postgresql)
