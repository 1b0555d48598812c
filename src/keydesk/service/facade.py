"""The key service: everything keydesk does, with permission checks and an
audit trail, for the CLI, the TUI and scripts alike. Knows nothing of screens.

What it returns are the read-models of `keydesk.views`: detached from the
database session, and never carrying a secret or a hash. `KeyService` is a
facade: each concern has its module beside this one, all sharing one
`ServiceContext` (the store, the acting account, the one permission check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TypeVar

from keydesk import validation
from keydesk.keys import KeyPairSource, PrivateKey, generate_key_pair
from keydesk.service.bulk_revoke import matching_keys, revoke_keys
from keydesk.service.context import ServiceContext
from keydesk.service.integrations import Integrations
from keydesk.service.key_limits import KeyLimitRules
from keydesk.service.keys import Keys
from keydesk.service.leaks import Leaks
from keydesk.service.members import Members
from keydesk.service.ssh_approvals import Approval
from keydesk.service.ssh_keys import SshKeys
from keydesk.service.tags import edit_tags
from keydesk.service.usage import key_usage
from keydesk.service.workspaces import Workspaces
from keydesk.store.audit_queries import AUDIT_PAGE, audit_page
from keydesk.store.engine import Store
from keydesk.store.queries import Reads
from keydesk.views import (
    AuditView,
    CreatedKey,
    FoundKey,
    IntegrationView,
    KeyView,
    MembersView,
    MemberView,
    RotatedKey,
    UsageView,
    WorkspaceView,
)
from keydesk.views.revocations import BulkRevocation, KeySelection, MatchedKey

__all__ = ["AUDIT_PAGE", "KeyService"]

_T = TypeVar("_T")


class KeyService:
    """keydesk's operations, performed as `actor` (an account name); in an
    SSH session through the SSH key `ssh_key` (a fingerprint), which acts
    only where an owner approved it (keydesk.ssh.gate). `key_pairs` makes
    new keys' pairs (pictures and tests pass a repeatable source)."""

    def __init__(
        self, store: Store, actor: str, *, key_pairs: KeyPairSource = generate_key_pair,
        ssh_key: str | None = None,
    ) -> None:  # fmt: skip
        self.store, self.ssh_key = store, ssh_key
        self.actor = validation.name(actor, "the account name")
        self._context = context = ServiceContext(store, self.actor, ssh_key)
        self._workspaces, self._members = Workspaces(context), Members(context)
        self._integrations, self._keys = Integrations(context), Keys(context, key_pairs)
        self._leaks, self._ssh = Leaks(context), SshKeys(context)
        self._limits = KeyLimitRules(context)

    def reading(self) -> AbstractContextManager[Reads]:
        """The list reads (keydesk.store.queries) as this actor, in one unit of
        work: what the CLI streams and the TUI's lists read."""
        return self._context.reading()

    # -- workspaces and members (workspaces.py, members.py) ----------------------

    def workspaces(self) -> list[WorkspaceView]:
        return self._workspaces.all()

    def workspace(self, name: str | None = None) -> WorkspaceView:
        """One of the actor's workspaces; with no name, the only one."""
        return self._workspaces.one(name)

    def set_key_policy(self, workspace: str | None, max_lifetime_days: int | None) -> WorkspaceView:
        """Owners cap how long new keys may live (None: no cap)."""
        return self._workspaces.set_key_policy(workspace, max_lifetime_days)

    def create_workspace(self, name: str) -> WorkspaceView:
        """A new workspace, with the acting account as its first owner."""
        return self._workspaces.create(name)

    def members(self, workspace: str) -> MembersView:
        """Who is in `workspace`, owners first (members may look)."""
        return self._members.of(workspace)

    def add_member(self, workspace: str, account: str, role: str) -> MemberView:
        """Add `account` to `workspace` as `role`, or change its role if it is in."""
        return self._members.set(workspace, account, role, must_exist=False)

    def set_member_role(self, workspace: str, account: str, role: str) -> MemberView:
        return self._members.set(workspace, account, role, must_exist=True)

    def remove_member(self, workspace: str, account: str) -> MemberView:
        """Take `account` out of `workspace` (anyone may leave); its keys stay."""
        return self._members.remove(workspace, account)

    # -- integrations (integrations.py) ----------------------------------------

    def integrations(self, workspace: str | None = None) -> list[IntegrationView]:
        """Integrations in the actor's workspaces (or one of them), by name."""
        return self._integrations.all(workspace)

    def integration(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        return self._integrations.one(ref, workspace)

    def add_integration(
        self,
        workspace: str,
        name: str,
        provider: str,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        scopes: str = "",
        configure: bool = False,
    ) -> IntegrationView:
        return self._integrations.add(
            workspace, name, provider, client_id, redirect_uri, scopes, configure
        )

    def update_integration(
        self,
        ref: str | int,
        *,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        scopes: str | None = None,
        configure: bool = False,
        workspace: str | None = None,
    ) -> IntegrationView:
        """Change OAuth settings (None: unchanged; "": cleared), and with
        `configure` configure it: all of the change or none of it."""
        return self._integrations.update(
            ref,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            configure=configure,
            workspace=workspace,
        )

    def configure_integration(
        self, ref: str | int, workspace: str | None = None
    ) -> IntegrationView:
        """Configure a draft, or enable a disabled integration again."""
        return self._integrations.configure(ref, workspace)

    def disable_integration(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        """Its keys stop verifying, and it issues none, until configured again."""
        return self._integrations.disable(ref, workspace)

    # -- keys (keys.py, usage.py) ------------------------------------------------

    def create_key(
        self,
        integration: str | int,
        label: str,
        *,
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
        tags: Iterable[str] = (),
        rate: str | None = None,
        quota: str | None = None,
        allow_from: Iterable[str] = (),
    ) -> CreatedKey:
        """Issue a key. The private key is returned here and nowhere else, ever.
        `rate`/`quota` `600/min` (rate None: the workspace's default),
        `allow_from` CIDRs (none: anywhere)."""
        return self._keys.create(
            integration, label, expires_at=expires_at, scopes=scopes, tags=tags,
            rate=rate, quota=quota, allow_from=allow_from,
        )  # fmt: skip

    # -- limits and networks (key_limits.py) --------------------------------------

    def edit_key_limits(
        self,
        public_key: str,
        *,
        rate: str | None = None,
        quota: str | None = None,
        allow_from: Iterable[str] | None = None,
    ) -> KeyView:
        """Change a key's rate/quota (a limit or `none`; None: unchanged) and
        networks (CIDRs, empty: anywhere; None: unchanged), audited."""
        return self._limits.edit(public_key, rate=rate, quota=quota, allow_from=allow_from)

    def set_default_rate(self, workspace: str | None, rate: str | None) -> str | None:
        """Owners: the rate new keys get unless made with one (`none`/None: none)."""
        return self._limits.set_default_rate(self.workspace(workspace).name, rate)

    def default_rate(self, workspace: str) -> str | None:
        return self._limits.default_rate(workspace)

    def quota_used(self, public_key: str) -> int | None:
        """How much of its quota's window the key has used (None: no quota)."""
        return self._limits.quota_used(public_key)

    def key_sources(self, public_key: str, since_hour: int) -> list[tuple[int, str, int]]:
        """Where the key was used from, per hour: (hour, address or network, count)."""
        return self._limits.sources(public_key, since_hour)

    def rotate_key(
        self, public_key: str, overlap: timedelta, *, label: str | None = None
    ) -> RotatedKey:
        """Replace a key; the old one stops at now + `overlap` (at once for 0)."""
        return self._keys.rotate(public_key, overlap, label=label)

    def keep_key(self, public_key: str) -> KeyView:
        """Cancel the stop a rotation set (its replacement revoked, say)."""
        return self._keys.keep(public_key)

    def keys(
        self,
        integration: str | int | None = None,
        *,
        workspace: str | None = None,
        include_revoked: bool = True,
        expiring_within: timedelta | None = None,
        unused_for: timedelta | None = None,
    ) -> list[KeyView]:
        """An integration's keys (or a workspace's, or all the actor's), active
        first, newest first; `reading()` streams them."""
        return self._keys.listed(
            integration,
            workspace=workspace,
            include_revoked=include_revoked,
            expiring_within=expiring_within,
            unused_for=unused_for,
        )

    def key(self, public_key: str) -> KeyView:
        return self._keys.one(public_key)

    def key_usage(self, public_key: str, since: datetime) -> UsageView:
        """A key's presentations per hour since `since`, as verifiers counted them."""
        return key_usage(self._context, public_key, since)

    def revoke_key(self, public_key: str, *, leaked_at: str | None = None) -> KeyView:
        """Revoke now, for good (`leaked_at`: where it was found leaked)."""
        return self._keys.revoke(public_key, leaked_at=leaked_at)

    def edit_key_tags(
        self, public_key: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> KeyView:
        """Tag (`env=prod`) and untag (`env`) a key, audited per tag (tags.py)."""
        return edit_tags(self._context, public_key, add, remove)

    def matching_keys(self, selection: KeySelection) -> list[MatchedKey]:
        """The active keys `selection` matches that the actor may revoke (bulk_revoke.py)."""
        return matching_keys(self._context, selection)

    def revoke_keys(self, public_keys: Iterable[str], *, note: str) -> BulkRevocation:
        """Revoke these keys together, in one transaction (those still
        active and the actor's to revoke); `note` says why, in the audit."""
        return revoke_keys(self._context, public_keys, note)

    # -- leaked keys: presenting the private key is the proof (leaks.py) ---------

    def found_key(self, private_key: PrivateKey) -> FoundKey:
        """What this store says of a private key found leaked, as far as the actor may know."""
        return self._leaks.found_key(private_key)

    def revoke_found_key(self, private_key: PrivateKey, found_at: str) -> KeyView:
        """Revoke a key found leaked at `found_at`, proven by its secret."""
        return self._leaks.revoke_found_key(private_key, found_at)

    def revoke_leaked_key(self, private_key: PrivateKey, found_at: str) -> str:
        """Revoke the one key `private_key` proves (POST /v1/revoke); its public key."""
        return self._leaks.revoke_leaked_key(private_key, found_at)

    # -- the audit trail (store/audit_queries.py) ----------------------------------

    def audit(
        self,
        workspace: str | None = None,
        *,
        integration: str | int | None = None,
        key: str | None = None,
        since: datetime | None = None,
        after: AuditView | None = None,
        limit: int = AUDIT_PAGE,
        oldest_first: bool = False,
        matching: str | None = None,
    ) -> list[AuditView]:
        """One page of events, newest first unless `oldest_first`; the next
        page starts `after` the last event of this one; `matching`: only
        events holding that text."""
        with self._context.reading() as reads:  # the SQL `keydesk audit` runs bare
            return audit_page(
                reads,
                workspace,
                integration=integration,
                key=key,
                since=since,
                after=after,
                limit=limit,
                oldest_first=oldest_first,
                matching=matching,
            )

    # -- SSH access: keys that open keydesk as an account (ssh_keys.py) ------------

    def authorize_ssh_key(
        self, account: str, fingerprint: str, write: Callable[[], _T], *,
        workspace: str | None = None, new_key: bool = True,
    ) -> Approval[_T]:  # fmt: skip
        """Approve the SSH key `fingerprint` for `account`; `write` then adds its line."""
        return self._ssh.authorize(
            account, fingerprint, write, workspace=workspace, new_key=new_key
        )

    def revoke_ssh_key(self, account: str, fingerprint: str, remove: Callable[[], _T]) -> _T:
        """Stop the key `fingerprint` opening keydesk as `account`."""
        return self._ssh.revoke(account, fingerprint, remove)

    def ssh_keys_awaiting(self, workspace: str, account: str) -> tuple[str, ...]:
        """`account`'s SSH keys that wait for an owner's approval in `workspace`."""
        return self._ssh.awaiting(workspace, account)

    def approve_ssh_keys(
        self, workspace: str, account: str, fingerprints: Iterable[str]
    ) -> Approval[None]:
        """An owner of `workspace` lets these keys of `account` act there."""
        return self._ssh.approve(workspace, account, fingerprints)
