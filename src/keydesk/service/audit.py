"""The audit trail, read a page at a time (keydesk.store.audit_queries, the
same SQL `keydesk audit` runs bare). (Events are written by
ServiceContext.audit, or on PostgreSQL by the database itself.)"""

from __future__ import annotations

from datetime import datetime

from keydesk.service.context import ServiceContext
from keydesk.store import audit_queries
from keydesk.store.audit_queries import AUDIT_PAGE
from keydesk.views import AuditView

__all__ = ["AUDIT_PAGE", "audit_page"]


def audit_page(
    context: ServiceContext,
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
    """One page of events in the actor's workspaces: see audit_queries.audit_page."""
    with context.reading() as reads:
        return audit_queries.audit_page(
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
