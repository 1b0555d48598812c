"""`keydesk notify`: claim what is due, send it through each channel, retry
what failed before. Each notice is sent once: inserting its row is the claim
(a unique key on key, kind and occasion), so of two runs, or two hosts on one
PostgreSQL store, one inserts it and the other's insert does nothing. Each
delivery is sent under a lease (a conditional update, renewed before each
send), so no two runs send it at once; a run that dies mid-send leaves a
lease that expires, and its deliveries are tried again (a send that
succeeded just before such a death may then arrive twice: at least once,
never silently dropped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk.errors import PermissionDenied
from keydesk.notify.channels import EMAIL, channel_name, owned_workspaces
from keydesk.notify.notices import Notice, due
from keydesk.notify.senders import (
    DeliveryFailed,
    ReceiverDown,
    send_email,
    send_webhook,
    smtp_server,
)
from keydesk.service.context import ServiceContext
from keydesk.service.rows import row_id
from keydesk.store.models import NotifyChannel, NotifyDelivery, NotifyNotice, UTCDateTime
from keydesk.validation import shown_literally
from keydesk.views import utcnow

LEASE = timedelta(minutes=5)  # longer than a run's sends take (10 s timeout each)
ERROR_MAX = 256  # NotifyDelivery.last_error


@dataclass(frozen=True, slots=True)
class Failure:
    channel: str  # `webhook 3 (https://host)`: its id and origin, or `email 4 (a@b)`
    notice: Notice
    error: str


@dataclass(frozen=True, slots=True)
class Pending:
    """A delivery not sent yet, which the next run tries again (a dry run's `would retry`)."""

    channel: str  # as Failure names it
    notice: Notice
    last_error: str | None  # None: its run died before it was tried


@dataclass(slots=True)
class RunReport:
    """What a run did: the notices it claimed (each printed once, on the
    run's stdout), deliveries sent, and the failures (tried again next run)."""

    notices: list[Notice] = field(default_factory=list)
    sent: int = 0
    failures: list[Failure] = field(default_factory=list)
    retries: list[Pending] = field(default_factory=list)  # dry run: what would be retried
    down: dict[int, str] = field(default_factory=dict)  # channel id: why not tried again


Sender = Callable[[NotifyChannel, Notice, int], None]


@dataclass(frozen=True, slots=True)
class _Leased:
    notice_id: int
    channel_id: int
    lease: datetime | None = None  # the lease_until this run set: its hold on the delivery


def send_through(channel: NotifyChannel, notice: Notice, notice_id: int) -> None:
    """The one way a notice leaves through a channel."""
    if channel.kind == EMAIL:
        server = smtp_server(channel.smtp_url, channel.password_file, channel.password_env)
        send_email(server, channel.smtp_sender, channel.target, notice)
    else:
        assert channel.secret is not None, "a webhook has its signing secret"
        send_webhook(channel.target, channel.secret, notice, notice_id)


class Notifier:
    """A run, as the acting account: it sends for the workspaces it owns."""

    def __init__(self, context: ServiceContext, send: Sender = send_through) -> None:
        self.context, self._send = context, send

    def due(self, workspace: str | None, now: datetime) -> list[Notice]:
        """What is due and not yet claimed by any run (what --dry-run shows)."""
        with self.context.session() as session:
            owned = self._owned(session, workspace)
            notices = due(session, owned, now)
            claimed = _claimed(session, [n.api_key_id for n in notices])
        return [n for n in notices if n.claim not in claimed]

    def _now(self, session: Session | None = None) -> datetime:
        """The store's clock on PostgreSQL: hosts sharing it may disagree by
        minutes, and one ahead would see another's lease as run out."""
        if not self.context.postgresql:
            return utcnow()  # SQLite: one host, one clock
        if session is None:
            with self.context.session() as own:
                return self._now(own)
        now: datetime = session.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
        return now.astimezone(UTC)

    def _owned(self, session: Session, workspace: str | None) -> list[int]:
        """The workspaces this run sends for; none is a mistake worth a line
        (a timer run as an account that owns nothing would otherwise say nothing)."""
        owned = owned_workspaces(self.context, session, workspace)
        if not owned:
            raise PermissionDenied(
                f"{self.context.actor} owns no workspace: keydesk notify sends for the "
                "workspaces its account owns (make it an owner)"
            )
        return owned

    def claim(self, notices: list[Notice], now: datetime) -> list[tuple[int, Notice]]:
        """Claim each notice (those another run claimed first are skipped)
        with a leased delivery per channel of its workspace; one transaction."""
        mine: list[tuple[int, Notice]] = []
        with self.context.session() as session:
            # In one order for every run: two runs on PostgreSQL wait on each
            # other's inserts, and opposite orders would deadlock.
            for notice in sorted(notices, key=lambda n: n.claim):
                notice_id = session.execute(_CLAIM, {
                    "workspace_id": notice.workspace_id, "api_key_id": notice.api_key_id,
                    "kind": notice.kind, "occasion": notice.occasion, "body": notice.body(),
                    "created_at": now,
                }).scalar()  # fmt: skip
                if notice_id is None:
                    continue
                session.execute(_DELIVER, {"notice_id": notice_id,
                                           "workspace_id": notice.workspace_id,
                                           "lease": now + LEASE})  # fmt: skip
                mine.append((notice_id, notice))
        return mine

    def run(
        self, workspace: str | None = None, *, dry_run: bool = False,
        tell: Callable[[Notice], None] = lambda _notice: None,
    ) -> RunReport:  # fmt: skip
        """Claim, `tell` each claimed notice (stdout) before any send: a run
        killed in a slow send has printed its lines, which no run repeats."""
        now = self._now()
        report = RunReport()
        if dry_run:
            report.notices = self.due(workspace, now)
            report.retries = [pending for _, pending in self._pending(workspace, now)]
            return report
        claimed = self.claim(self.due(workspace, now), now)
        report.notices = [notice for _, notice in claimed]
        for notice in report.notices:
            tell(notice)
        leased = [_Leased(nid, cid, now + LEASE) for nid, cid in self._leased_new(claimed)]
        leased += self._lease_retries(workspace, now)
        for item in leased:
            self._deliver(item, report)
        return report

    def _leased_new(self, claimed: list[tuple[int, Notice]]) -> list[tuple[int, int]]:
        if not claimed:
            return []
        with self.context.session() as session:
            rows = session.execute(
                sa.select(col(NotifyDelivery.notice_id), col(NotifyDelivery.channel_id)).where(
                    col(NotifyDelivery.notice_id).in_([nid for nid, _ in claimed])
                )
            ).all()
        return [(row[0], row[1]) for row in rows]

    def _pending(self, workspace: str | None, now: datetime) -> list[tuple[_Leased, Pending]]:
        """Deliveries not sent and not leased by a run now (failed before)."""
        with self.context.session() as session:
            owned = self._owned(session, workspace)
            rows = session.execute(
                sa.select(
                    col(NotifyDelivery.notice_id),
                    col(NotifyDelivery.channel_id),
                    col(NotifyNotice.body),
                    col(NotifyChannel.kind),
                    col(NotifyChannel.target),
                    col(NotifyDelivery.last_error),
                )
                .join(NotifyNotice, col(NotifyNotice.id) == NotifyDelivery.notice_id)
                .join(NotifyChannel, col(NotifyChannel.id) == NotifyDelivery.channel_id)
                .where(
                    col(NotifyNotice.workspace_id).in_(owned),
                    col(NotifyDelivery.sent_at).is_(None),
                    _lease_free(now),
                )
                .order_by(col(NotifyDelivery.notice_id), col(NotifyDelivery.channel_id))
            ).all()
        return [
            (
                _Leased(row[0], row[1]),
                Pending(channel_name(row[1], row[3], row[4]), Notice.from_body(row[2]), row[5]),
            )
            for row in rows
        ]

    def _lease_retries(self, workspace: str | None, now: datetime) -> list[_Leased]:
        leased = []
        for item, _notice in self._pending(workspace, now):
            with self.context.session() as session:
                taken = session.execute(
                    sa.update(NotifyDelivery)
                    .where(_is(item), col(NotifyDelivery.sent_at).is_(None), _lease_free(now))
                    .values(lease_until=now + LEASE)
                )
            if taken.rowcount == 1:  # type: ignore[attr-defined]  # a CursorResult
                leased.append(_Leased(item.notice_id, item.channel_id, now + LEASE))
        return leased

    def _deliver(self, item: _Leased, report: RunReport) -> None:
        """Send one delivery this run holds. Its lease is renewed first, only
        if this run still holds it: in a run long enough for it to run out,
        another run may have taken it, and that run sends it instead."""
        with self.context.session() as session:
            held = session.execute(
                sa.update(NotifyDelivery)
                .where(
                    _is(item),
                    col(NotifyDelivery.sent_at).is_(None),
                    col(NotifyDelivery.lease_until) == item.lease,
                )
                .values(lease_until=self._now(session) + LEASE)
            )
            if held.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
                return
            channel = session.get(NotifyChannel, item.channel_id)
            notice_row = session.get(NotifyNotice, item.notice_id)
            if channel is None or notice_row is None:  # removed meanwhile
                return
            session.expunge(channel)
            notice = Notice.from_body(notice_row.body)
        error = report.down.get(row_id(channel.id))
        if error is None:
            error = self._try(channel, notice, item.notice_id, report)
        now = self._now()
        values: dict[str, Any] = {"attempts": NotifyDelivery.attempts + 1, "lease_until": None}
        values |= {"sent_at": now} if error is None else {"last_error": error}
        with self.context.session() as session:
            session.execute(sa.update(NotifyDelivery).where(_is(item)).values(**values))
        if error is None:
            report.sent += 1
        else:
            where = channel_name(row_id(channel.id), channel.kind, channel.target)
            report.failures.append(Failure(where, notice, error))

    def _try(self, channel: NotifyChannel, notice: Notice, notice_id: int,
             report: RunReport) -> str | None:  # fmt: skip
        """Send; the error if it failed. A receiver found down is not tried
        again in this run: each try would wait out the timeout too."""
        error: str | None = None
        try:
            self._send(channel, notice, notice_id)
        except ReceiverDown as down:
            error = down.message
            report.down[row_id(channel.id)] = shown_literally(
                f"not tried (its receiver was down earlier in this run): {error}"
            )[:ERROR_MAX]
        except DeliveryFailed as failed:
            error = failed.message
        except Exception as unexpected:  # one channel's bug must not stop the others'
            error = f"{type(unexpected).__name__}: {unexpected}"
        return None if error is None else shown_literally(error)[:ERROR_MAX]


def _is(item: _Leased) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(NotifyDelivery.notice_id) == item.notice_id,
        col(NotifyDelivery.channel_id) == item.channel_id,
    )


def _lease_free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(col(NotifyDelivery.lease_until).is_(None), col(NotifyDelivery.lease_until) < now)


def _claimed(session: Session, key_ids: list[int]) -> set[tuple[int, str, str]]:
    if not key_ids:
        return set()
    rows = session.execute(
        sa.select(
            col(NotifyNotice.api_key_id), col(NotifyNotice.kind), col(NotifyNotice.occasion)
        ).where(col(NotifyNotice.api_key_id).in_(set(key_ids)))
    ).all()
    return {(row[0], row[1], row[2]) for row in rows}


# The claim: the same SQL on SQLite (3.35+) and PostgreSQL; no row back
# means another run holds it.
_CLAIM = sa.text(
    "INSERT INTO notify_notice (workspace_id, api_key_id, kind, occasion, body, created_at)"
    " VALUES (:workspace_id, :api_key_id, :kind, :occasion, :body, :created_at)"
    " ON CONFLICT (api_key_id, kind, occasion) DO NOTHING RETURNING id"
).bindparams(sa.bindparam("created_at", type_=UTCDateTime()))
_DELIVER = sa.text(
    "INSERT INTO notify_delivery (notice_id, channel_id, attempts, lease_until)"
    " SELECT :notice_id, id, 0, :lease FROM notify_channel WHERE workspace_id = :workspace_id"
).bindparams(sa.bindparam("lease", type_=UTCDateTime()))
