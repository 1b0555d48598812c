"""Integrations: adding one, editing its OAuth settings, and moving it
between draft, configured and disabled (only a configured one issues keys,
and a disabled one's keys stop verifying)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from sqlmodel import Session, select

from keydesk import validation
from keydesk.errors import AlreadyExists, IntegrationNotConfigured, InvalidInput
from keydesk.service.context import ServiceContext
from keydesk.service.rows import flush, refuse_look_alike, row_id
from keydesk.store.models import Integration, Workspace
from keydesk.views import IntegrationStatus, IntegrationView, missing_settings, utcnow


class Integrations:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def all(self, workspace: str | None = None) -> list[IntegrationView]:
        """Integrations in the actor's workspaces (or one of them), by name."""
        with self.context.reading() as reads:
            return reads.integrations(workspace)

    def one(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        with self.context.session() as session:
            return self.context.integration(session, ref, workspace)

    def add(
        self,
        workspace: str,
        name: str,
        provider: str,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        scopes: str = "",
        configure: bool = False,
    ) -> IntegrationView:
        name = validation.name(name, "the integration name")
        provider = validation.name(provider, "the provider")
        client_id = validation.name(client_id, "the client id") if client_id else None
        redirect_uri = validation.redirect_uri(redirect_uri) if redirect_uri else None
        scopes = validation.scopes(scopes)
        context = self.context
        with context.session() as session:
            ws = context.workspace(session, workspace)
            context.require_manage(session, ws, "add integrations")
            _refuse_taken(session, ws, name)
            integration = Integration(
                workspace_id=row_id(ws.id),
                name=name,
                provider=provider,
                client_id=client_id,
                redirect_uri=redirect_uri,
                scopes=scopes,
            )
            if configure:
                _configure(integration)
            session.add(integration)
            flush(session, f"{ws.name} already has an integration named {name!r}")
            context.audit(
                session, row_id(ws.id), "integration.add", name, integration_id=integration.id
            )
            if configure:
                context.audit(
                    session,
                    row_id(ws.id),
                    "integration.configure",
                    name,
                    integration_id=integration.id,
                )
            session.flush()
            return context.integration(session, row_id(integration.id))

    def update(
        self,
        ref: str | int,
        *,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        scopes: str | None = None,
        configure: bool = False,
        workspace: str | None = None,
    ) -> IntegrationView:
        """Change OAuth settings (None: unchanged; "": cleared) and, with
        `configure`, configure the integration: one transaction, all of the
        change or none of it. A configured integration's client id and
        redirect URI cannot be cleared: its keys depend on them."""
        client = _optional(client_id, lambda v: validation.name(v, "the client id"))
        redirect = _optional(redirect_uri, validation.redirect_uri)
        scopes = None if scopes is None else validation.scopes(scopes)
        context = self.context
        with context.session() as session:
            integration = context.managed_integration(session, ref, workspace, "edit integrations")
            before = (integration.client_id, integration.redirect_uri, integration.scopes)
            if client is not None:
                integration.client_id = client or None
            if redirect is not None:
                integration.redirect_uri = redirect or None
            if scopes is not None:
                integration.scopes = scopes
            missing = _missing_settings(integration)
            if missing and integration.status == IntegrationStatus.CONFIGURED:
                raise InvalidInput(
                    f"integration {integration.name!r} is configured and its keys depend on its "
                    f"{missing}: enter a new one instead of clearing it (or disable the "
                    "integration first)"
                )
            # With its integration's id, as every other event: the
            # integration's Audit tab left out its edits.
            audit = functools.partial(
                context.audit, session, integration.workspace_id, integration_id=integration.id
            )
            if (integration.client_id, integration.redirect_uri, integration.scopes) != before:
                integration.updated_at = utcnow()  # a save that changed nothing is no event
                session.add(integration)
                audit("integration.update", integration.name)
            if configure and integration.status != IntegrationStatus.CONFIGURED:
                _configure(integration)
                audit("integration.configure", integration.name)
            session.flush()
            return context.integration(session, row_id(integration.id))

    def configure(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        """Configure a draft, or enable a disabled integration again (its
        keys verify again, unless revoked or expired meanwhile)."""

        def configure(integration: Integration) -> None:
            if integration.status == IntegrationStatus.CONFIGURED:
                raise InvalidInput(f"integration {integration.name!r} is already configured")
            _configure(integration)

        return self._change(
            ref, workspace, "configure integrations", "integration.configure", configure
        )

    def disable(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        """Disabled integrations issue no keys and their keys stop verifying
        until the integration is configured again."""

        def disable(integration: Integration) -> None:
            if integration.status == IntegrationStatus.DISABLED:
                raise InvalidInput(f"integration {integration.name!r} is already disabled")
            integration.status = IntegrationStatus.DISABLED
            integration.updated_at = utcnow()

        return self._change(ref, workspace, "disable integrations", "integration.disable", disable)

    def _change(
        self,
        ref: str | int,
        workspace: str | None,
        permission: str,
        audit_action: str,
        change: Callable[[Integration], None],
    ) -> IntegrationView:
        """Permission check, change, audit event, fresh view: one transaction."""
        context = self.context
        with context.session() as session:
            integration = context.managed_integration(session, ref, workspace, permission)
            change(integration)
            session.add(integration)
            context.audit(
                session,
                integration.workspace_id,
                audit_action,
                integration.name,
                integration_id=integration.id,
            )
            session.flush()
            return context.integration(session, row_id(integration.id))


def _refuse_taken(session: Session, ws: Workspace, name: str) -> None:
    """A new integration's name: not in use in its workspace, nor like one that is."""
    names = select(Integration.name).where(Integration.workspace_id == row_id(ws.id))
    if session.exec(names.where(Integration.name == name)).first():
        raise AlreadyExists(f"{ws.name} already has an integration named {name!r}")
    refuse_look_alike(name, session.exec(names), f"integration in {ws.name}")


def _configure(integration: Integration) -> None:
    if missing := _missing_settings(integration):
        raise IntegrationNotConfigured(
            f"integration {integration.name!r} cannot be configured: set its {missing} first"
        )
    integration.status = IntegrationStatus.CONFIGURED
    integration.updated_at = utcnow()


def _missing_settings(integration: Integration) -> str:
    return missing_settings(integration.client_id, integration.redirect_uri)


def _optional(value: str | None, check: Callable[[str], str]) -> str | None:
    """An optional form value: None stays None (unchanged), blank is ""
    (cleared), anything else must pass `check`."""
    if value is None:
        return None
    return check(value) if value.strip() else ""
