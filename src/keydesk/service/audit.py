"""The audit trail, read a page at a time: every page is one indexed range
read however long the trail is. (Events are written by
ServiceContext.audit, or on PostgreSQL by the database itself.)"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk.errors import InvalidInput
from keydesk.service.context import ServiceContext
from keydesk.store.models import ApiKey, AuditEvent, Integration, Workspace
from keydesk.views import AuditView

AUDIT_PAGE = 200  # events per page: screens and `keydesk audit` read the trail in pages

_Query = sa.Select[*tuple[Any, ...]]


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
    """One page of events in the actor's workspaces (or one workspace,
    integration or key), newest first unless `oldest_first`. The next
    page starts `after` the last event of this one. `matching`: only events
    with that text (any case) in a column or the label of their key."""
    if limit < 1:
        raise InvalidInput("the page size must be at least 1")
    with context.session() as session:
        query = _about(context, session, _AUDIT_QUERY, workspace, integration, key)
        if matching:
            query = query.where(_holding(matching, context.postgresql))
        if since is not None:
            query = query.where(col(AuditEvent.at) >= since)
        at, id_ = col(AuditEvent.at), col(AuditEvent.id)
        if after is not None:
            if oldest_first:
                query = query.where(sa.or_(at > after.at, sa.and_(at == after.at, id_ > after.id)))
            else:
                query = query.where(sa.or_(at < after.at, sa.and_(at == after.at, id_ < after.id)))
        order = (at.asc(), id_.asc()) if oldest_first else (at.desc(), id_.desc())
        rows = session.execute(query.order_by(*order).limit(limit)).all()
    return [AuditView(**row._mapping) for row in rows]


def _about(
    context: ServiceContext,
    session: Session,
    query: _Query,
    workspace: str | None,
    integration: str | int | None,
    key: str | None,
) -> _Query:
    """`query` narrowed to what the events are about, as far as the actor may see."""
    if workspace is not None:
        ws = context.workspace(session, workspace)
        context.require_member(session, ws)
        query = query.where(col(AuditEvent.workspace_id) == ws.id)
    else:
        mine = [ws.id for ws in context.reads(session).workspaces()]
        query = query.where(col(AuditEvent.workspace_id).in_(mine))
    if integration is not None:
        view = context.integration(session, integration, workspace)
        query = query.where(col(AuditEvent.integration_id) == view.id)
    if key is not None:
        ref = context.member_key(session, key)
        query = query.where(
            sa.or_(
                col(AuditEvent.target) == ref.public_key,
                col(AuditEvent.related) == ref.public_key,
            ),
            col(AuditEvent.action).startswith("key."),
        )
    return query


_AUDIT_QUERY: _Query = (
    sa.select(
        col(AuditEvent.id),
        col(AuditEvent.at),
        col(Workspace.name).label("workspace"),
        col(Integration.name).label("integration"),
        col(AuditEvent.actor),
        col(AuditEvent.action),
        col(AuditEvent.target),
        col(AuditEvent.label),
        col(AuditEvent.related),
        col(ApiKey.label).label("key_label"),
    )
    .join(Workspace, col(Workspace.id) == AuditEvent.workspace_id)
    .outerjoin(Integration, col(Integration.id) == AuditEvent.integration_id)
    # A key event's target is its public key (unique, indexed): its label,
    # which the event's own label may not hold.
    .outerjoin(ApiKey, col(ApiKey.public_key) == AuditEvent.target)
)


def _holding(text: str, postgresql: bool) -> sa.ColumnElement[bool]:
    """Events holding `text`, in any case, in a column (not `at`, whose text
    differs by backend), their integration's name or their key's label. A
    whole trail is scanned: SQLite's own LIKE (ASCII case ignored, as its
    lower() folds only ASCII) and the names and labels looked up once, in
    subqueries, took 5 s on 1,000,000 events where lower() LIKE on the
    joined columns took 14 s."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"

    def has(column: Any) -> sa.ColumnElement[bool]:
        like = col(column).ilike if postgresql else col(column).like
        return like(pattern, escape="\\")

    named = sa.select(col(Integration.id)).where(has(Integration.name))
    labelled = sa.select(col(ApiKey.public_key)).where(has(ApiKey.label))
    return sa.or_(
        *(has(c) for c in (AuditEvent.actor, AuditEvent.action, AuditEvent.target)),
        has(AuditEvent.label),
        has(AuditEvent.related),
        col(AuditEvent.integration_id).in_(named),
        col(AuditEvent.target).in_(labelled),
    )
