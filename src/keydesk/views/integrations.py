"""Integrations: their states and what one needs before it issues keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from keydesk.views.workspaces import Role


class IntegrationStatus(StrEnum):
    DRAFT = "draft"
    CONFIGURED = "configured"
    DISABLED = "disabled"


def missing_settings(client_id: str | None, redirect_uri: str | None) -> str:
    """The one rule of what a configured integration needs: the settings
    not yet given, as words ("client id and redirect URI"), or ""."""
    missing = [("client id", client_id), ("redirect URI", redirect_uri)]
    return " and ".join(what for what, value in missing if not value)


@dataclass(frozen=True, slots=True)
class IntegrationView:
    id: int
    workspace_id: int
    workspace: str
    name: str
    provider: str
    client_id: str | None
    redirect_uri: str | None
    scopes: str
    status: IntegrationStatus
    created_at: datetime
    updated_at: datetime
    active_keys: int
    role: Role  # the acting account's role in the integration's workspace
    expiring_keys: int = 0  # active keys that stop within EXPIRING_SOON
    max_key_lifetime_days: int | None = None  # its workspace's policy

    @property
    def scope_list(self) -> tuple[str, ...]:
        return tuple(self.scopes.split())

    @property
    def can_manage(self) -> bool:
        return self.role.can_manage

    @property
    def is_configured(self) -> bool:
        return self.status is IntegrationStatus.CONFIGURED

    @property
    def can_edit(self) -> bool:
        return self.can_manage

    @property
    def can_configure(self) -> bool:
        """Offered to managers of an integration that is not configured."""
        return self.can_manage and not self.is_configured

    @property
    def can_disable(self) -> bool:
        return self.can_manage and self.is_configured

    def missing_settings(self) -> str:
        """What configuring still needs ("client id and redirect URI"), or ""."""
        return missing_settings(self.client_id, self.redirect_uri)

    @property
    def can_issue_keys(self) -> bool:
        return self.why_no_new_keys() is None

    def why_no_new_keys(self) -> str | None:
        """Why the acting account cannot generate a key here, or None if it can."""
        if not self.can_manage:
            return (
                f"You are a {self.role} in {self.workspace}; only owners and admins "
                "can generate or revoke keys. Ask an owner to change your role."
            )
        if self.status is IntegrationStatus.DRAFT:
            if missing := self.missing_settings():  # named only when missing
                return f"This integration is a draft; configure it first (it needs its {missing})."
            return "This integration is a draft; configure it first."
        if self.status is IntegrationStatus.DISABLED:
            return "This integration is disabled; configure it again to issue keys."
        return None
