"""The store calls the interface makes, and nothing more of the service.

Screens and flows reach the service only through `StoreCalls` (the app's
`calls`): each method is one call of keydesk.service.KeyService, made when
it is called, so a call made in a worker waits for a store still opening
(the app's `service`). Every call blocks (a store round trip, maybe an
argon2 hash): run it in a worker (keydesk.tui.calls.call_service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey
    from keydesk.service import KeyService
    from keydesk.service.ssh_approvals import Approval
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
    from keydesk.views.revocations import BulkRevocation


class StoreCalls:
    def __init__(self, service: Callable[[], KeyService]) -> None:
        """`service`: the app's service, waiting in a worker for a store still opening."""
        self._service = service

    # -- workspaces and members ---------------------------------------------------------

    def workspaces(self) -> list[WorkspaceView]:
        return self._service().workspaces()

    def create_workspace(self, name: str) -> WorkspaceView:
        return self._service().create_workspace(name)

    def set_key_policy(self, workspace: str | None, max_lifetime_days: int | None) -> WorkspaceView:
        return self._service().set_key_policy(workspace, max_lifetime_days)

    def members(self, workspace: str) -> MembersView:
        return self._service().members(workspace)

    def add_member(self, workspace: str, account: str, role: str) -> MemberView:
        return self._service().add_member(workspace, account, role)

    def set_member_role(self, workspace: str, account: str, role: str) -> MemberView:
        return self._service().set_member_role(workspace, account, role)

    def remove_member(self, workspace: str, account: str) -> MemberView:
        return self._service().remove_member(workspace, account)

    def ssh_keys_awaiting(self, workspace: str, account: str) -> tuple[str, ...]:
        return self._service().ssh_keys_awaiting(workspace, account)

    def approve_ssh_keys(
        self, workspace: str, account: str, fingerprints: Iterable[str]
    ) -> Approval[None]:
        return self._service().approve_ssh_keys(workspace, account, fingerprints)

    # -- integrations ---------------------------------------------------------------------

    def integrations(self, workspace: str | None) -> list[IntegrationView]:
        return self._service().integrations(workspace)

    def integration(self, integration_id: int) -> IntegrationView:
        return self._service().integration(integration_id)

    def add_integration(
        self,
        workspace: str,
        name: str,
        provider: str,
        *,
        client_id: str | None,
        redirect_uri: str | None,
        scopes: str,
        configure: bool,
    ) -> IntegrationView:
        return self._service().add_integration(
            workspace, name, provider, client_id=client_id, redirect_uri=redirect_uri,
            scopes=scopes, configure=configure,
        )  # fmt: skip

    def update_integration(
        self,
        integration_id: int,
        *,
        client_id: str | None,
        redirect_uri: str | None,
        scopes: str | None,
        configure: bool,
    ) -> IntegrationView:
        """Every setting as given: None leaves it, "" clears it."""
        return self._service().update_integration(
            integration_id, client_id=client_id, redirect_uri=redirect_uri, scopes=scopes,
            configure=configure,
        )  # fmt: skip

    def configure_integration(self, integration_id: int) -> IntegrationView:
        return self._service().configure_integration(integration_id)

    def disable_integration(self, integration_id: int) -> IntegrationView:
        return self._service().disable_integration(integration_id)

    # -- keys -----------------------------------------------------------------------------

    def key(self, public_key: str) -> KeyView:
        return self._service().key(public_key)

    def key_usage(self, public_key: str, since: datetime) -> UsageView:
        return self._service().key_usage(public_key, since)

    def create_key(
        self,
        integration_id: int,
        label: str,
        *,
        expires_at: datetime | None,
        scopes: Iterable[str],
        rate: str | None = None,
        quota: str | None = None,
        allow_from: Iterable[str] = (),
    ) -> CreatedKey:
        return self._service().create_key(
            integration_id, label, expires_at=expires_at, scopes=scopes,
            rate=rate, quota=quota, allow_from=allow_from,
        )  # fmt: skip

    def quota_used(self, public_key: str) -> int | None:
        """What the key has used of its quota's window (None: no quota)."""
        return self._service().quota_used(public_key)

    def key_sources(self, public_key: str, since_hour: int) -> list[tuple[int, str, int]]:
        """Where the key was used from, per hour: (hour, address or network, count)."""
        return self._service().key_sources(public_key, since_hour)

    def rotate_key(self, public_key: str, overlap: timedelta) -> RotatedKey:
        return self._service().rotate_key(public_key, overlap)

    def revoke_key(self, public_key: str) -> KeyView:
        return self._service().revoke_key(public_key)

    def revoke_keys(self, public_keys: list[str], note: str) -> BulkRevocation:
        """Revoke these keys together, in one transaction (those still active)."""
        return self._service().revoke_keys(public_keys, note=note)

    def keep_key(self, public_key: str) -> KeyView:
        """Cancel the stop a rotation set (its replacement was revoked)."""
        return self._service().keep_key(public_key)

    def default_rate(self, workspace: str) -> str | None:
        return self._service().default_rate(workspace)

    def edit_key_limits(self, public_key: str, **limits: Any) -> KeyView:
        """Change a key's rate, quota and networks (keydesk.service's arguments)."""
        return self._service().edit_key_limits(public_key, **limits)

    def found_key(self, private_key: PrivateKey) -> FoundKey:
        """What the store says of a private key found by a scan."""
        return self._service().found_key(private_key)

    def revoke_found_key(self, private_key: PrivateKey, found_at: str) -> KeyView:
        """Revoke a key found leaked at `found_at`, audited as leaked."""
        return self._service().revoke_found_key(private_key, found_at)

    # -- the audit trail --------------------------------------------------------------------

    def audit(
        self,
        workspace: str | None = None,
        *,
        integration: int | None = None,
        key: str | None = None,
        after: AuditView | None = None,
        limit: int,
        matching: str | None = None,
    ) -> list[AuditView]:
        """A page of `limit` events, newest first (`after`: the last one
        shown; `matching`: only events holding that text)."""
        return self._service().audit(
            workspace, integration=integration, key=key, after=after, limit=limit,
            matching=matching,
        )  # fmt: skip
