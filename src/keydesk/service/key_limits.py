"""Key limits: a key's rate, quota and networks (keydesk.limits), set when
it is made (its rate from the workspace's default unless given), carried by
a rotation, changed by owners and admins, each change audited as
`key.limits` (as PostgreSQL's trail writes it, revision 0008); the
workspace's default rate, set by owners (`workspace.policy`)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk.errors import PermissionDenied
from keydesk.limits import Limit, parse_limit, parse_networks, stored_limit
from keydesk.service.context import ServiceContext
from keydesk.service.rows import KeyRef, row_id
from keydesk.store.models import KeyPolicy, KeySource, KeyWindow, WorkspacePolicy
from keydesk.views import KeyView, Role
from keydesk.views.limits import NO_LIMITS, KeyLimits
from keydesk.views.usage import usage_hour

NONE = "none"  # what `--rate none` and `--default-rate none` say


def limit_text(text: str | None, what: str) -> str | None:
    """A typed limit as stored (None for None or `none`)."""
    if text is None or text.strip().lower() == NONE:
        return None
    return str(parse_limit(text, what))


def new_limits(
    rate: str | None, quota: str | None, allow_from: Iterable[str], default_rate: str | None
) -> KeyLimits:
    """A new key's limits: its own, or the workspace's default rate."""
    return KeyLimits(
        limit_text(rate, "--rate") if rate is not None else default_rate,
        limit_text(quota, "--quota"),
        parse_networks(allow_from),
    )


def default_rate(session: Session, workspace_id: int) -> str | None:
    return session.execute(
        sa.select(col(WorkspacePolicy.default_rate)).where(
            col(WorkspacePolicy.workspace_id) == workspace_id
        )
    ).scalar_one_or_none()


def key_limits(session: Session, key_id: int) -> KeyLimits:
    row = session.get(KeyPolicy, key_id)
    if row is None:
        return NO_LIMITS
    return KeyLimits(row.rate_limit, row.quota, tuple(row.allow_from.split()))


def write_limits(
    context: ServiceContext,
    session: Session,
    key: KeyRef,
    workspace_id: int,
    limits: KeyLimits,
    *,
    before: KeyLimits = NO_LIMITS,
) -> None:
    """Store `limits` for `key` (which had `before`), audited when they change."""
    if limits == before:
        return
    networks = " ".join(limits.allow_from)
    row = session.get(KeyPolicy, key.id)
    if row is None:
        row = KeyPolicy(api_key_id=key.id)
        session.add(row)
    row.rate_limit, row.quota, row.allow_from = limits.rate, limits.quota, networks
    session.flush()
    context.audit(
        session, workspace_id, "key.limits", key.public_key, limits.note(),
        integration_id=key.integration_id,
    )  # fmt: skip


class KeyLimitRules:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def edit(
        self,
        public_key: str,
        *,
        rate: str | None = None,
        quota: str | None = None,
        allow_from: Iterable[str] | None = None,
    ) -> KeyView:
        """Change a key's limits: `rate`/`quota` a limit or `none` (None:
        unchanged); `allow_from` CIDRs, empty for anywhere (None: unchanged)."""
        rate_text = limit_text(rate, "--rate") if rate is not None else None
        quota_text = limit_text(quota, "--quota") if quota is not None else None
        networks = parse_networks(allow_from) if allow_from is not None else None
        context = self.context
        with context.session() as session:
            key = context.key_ref(session, public_key)
            ws = context.key_workspace(session, key)
            context.require_manage(session, ws, "change key limits")
            before = key_limits(session, key.id)
            after = KeyLimits(
                rate_text if rate is not None else before.rate,
                quota_text if quota is not None else before.quota,
                networks if networks is not None else before.allow_from,
            )
            write_limits(context, session, key, row_id(ws.id), after, before=before)
            return context.key_view(session, key.id)

    def set_default_rate(self, workspace: str, rate: str | None) -> str | None:
        """Owners set the rate new keys get unless made with one (None: none)."""
        text = limit_text(rate, "--default-rate")
        context = self.context
        with context.session() as session:
            ws = context.workspace(session, workspace)
            role = context.require_member(session, ws)
            if role is not Role.OWNER:
                raise PermissionDenied(
                    f"{context.actor} is a {role} in {ws.name!r}; "
                    "only owners may set its default rate"
                )
            workspace_id = row_id(ws.id)
            row = session.get(WorkspacePolicy, workspace_id)
            if row is None:
                session.add(WorkspacePolicy(workspace_id=workspace_id, default_rate=text))
            else:
                row.default_rate = text
            session.flush()
            context.audit(
                session, workspace_id, "workspace.policy", ws.name, f"default rate {text or NONE}"
            )
            return text

    def default_rate(self, workspace: str) -> str | None:
        context = self.context
        with context.session() as session:
            ws = context.workspace(session, workspace)
            context.require_member(session, ws)
            return default_rate(session, row_id(ws.id))

    def quota_used(self, public_key: str, now: float | None = None) -> int | None:
        """What verifiers had counted of the key's quota window, as of their
        last writes (None: no quota)."""
        context = self.context
        with context.session() as session:
            key = context.member_key(session, public_key)
            quota = stored_limit(key_limits(session, key.id).quota)
            if quota is None:
                return None
            return _window_total(session, key.id, quota, now or time.time())

    def sources(self, public_key: str, since_hour: int) -> list[tuple[int, str, int]]:
        """Where the key was used from, per hour since `since_hour`: (hour,
        address or network, count), busiest first within each hour."""
        context = self.context
        with context.session() as session:
            key = context.member_key(session, public_key)
            rows = session.execute(
                sa.select(col(KeySource.hour), col(KeySource.source), col(KeySource.count))
                .where(col(KeySource.api_key_id) == key.id, col(KeySource.hour) >= since_hour)
                .order_by(col(KeySource.hour), col(KeySource.count).desc(), col(KeySource.source))
            ).all()
        return [(int(h), str(s), int(c)) for h, s, c in rows]


def _window_total(session: Session, key_id: int, quota: Limit, now: float) -> int:
    starts, _ = quota.window(now)
    total = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(col(KeyWindow.count)), 0)).where(
            col(KeyWindow.api_key_id) == key_id,
            col(KeyWindow.kind) == "quota",
            col(KeyWindow.starts) == starts,
        )
    ).scalar_one()
    return int(total)


def current_hour() -> int:
    return usage_hour(time.time())
