"""A workspace's notification channels, which only its owners configure
and see: a webhook (signed with a secret shown once) or an email address
(an SMTP server, and where the sending host reads its password)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import SplitResult, urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk import validation
from keydesk.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from keydesk.service.context import ServiceContext
from keydesk.service.rows import flush, row_id
from keydesk.store.models import NotifyChannel, NotifyDelivery, Workspace
from keydesk.validation import LOCAL_HOSTS
from keydesk.views import Role

WEBHOOK, EMAIL = "webhook", "email"
SMTP_SCHEMES = {"smtp": 587, "smtps": 465}  # submission with STARTTLS; implicit TLS
SMTP_URL_ENV = "KEYDESK_SMTP_URL"
_TARGET_MAX, _AUDITED_MAX = 2048, 128


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A channel as owners see it: never its signing secret."""

    id: int
    workspace: str
    kind: str
    target: str
    smtp_url: str | None
    smtp_sender: str | None
    password_from: str | None  # `file PATH` or `env NAME`
    created_by: str
    created_at: datetime
    failing: int  # deliveries not sent yet, after at least one attempt
    last_error: str | None = None  # the latest of those deliveries' errors

    @property
    def server(self) -> str:
        if self.kind == WEBHOOK:
            return ""
        return self.smtp_url or f"${SMTP_URL_ENV}"


@dataclass(frozen=True, slots=True)
class AddedWebhook:
    channel: ChannelView
    secret: str  # shown once, here; the receiver checks signatures with it


def owned_workspaces(context: ServiceContext, session: Session, workspace: str | None) -> list[int]:
    """The workspaces the actor owns (or the one named, which it must own)."""
    reads = context.reads(session)
    if workspace is not None:
        ws = context.workspace(session, workspace)
        require_owner(context, session, ws)
        return [row_id(ws.id)]
    return [ws.id for ws in reads.workspaces() if ws.role is Role.OWNER]


def require_owner(context: ServiceContext, session: Session, ws: Workspace) -> None:
    role = context.require_member(session, ws)
    if role is not Role.OWNER:
        raise PermissionDenied(
            f"{context.actor} is a {role} in {ws.name!r}; only owners may configure notifications"
        )


def webhook_url(value: str) -> str:
    """An absolute https:// URL (http:// only to this host), with no user or
    password in it: a user name may be a token, and the trail and failure
    lines name a webhook by its origin."""
    text = validation.printable_text(value, "the webhook URL", _TARGET_MAX)
    parts = _url(text, "the webhook URL")
    if "@" in parts.netloc:
        raise InvalidInput(
            "put no user or password in the webhook URL: a command line is seen by ps, "
            "and the trail names a webhook by its origin"
        )
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and (parts.hostname or "").lower() in LOCAL_HOSTS:
        return text
    raise InvalidInput(
        f"the webhook URL {text!r} must be an absolute https:// URL (http:// only to localhost)"
    )


def smtp_url(value: str, what: str, *, password_allowed: bool) -> str:
    """smtp://[user@]host[:port] (STARTTLS when offered) or smtps:// (implicit TLS)."""
    text = validation.printable_text(value, what, _TARGET_MAX)
    parts = _url(text, what)
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise InvalidInput(f"{what} must be smtp://host[:port] or smtps://host[:port]")
    if parts.password is not None and not password_allowed:
        raise InvalidInput(
            f"put no password in {what}: use --smtp-password-file or --smtp-password-env"
        )
    return text


def password_source(password_file: str | None, password_env: str | None) -> str | None:
    """Why this file or variable may not be read as an SMTP password, or None.
    A workspace's owner names both the server and where its password is read
    on the sending host: any file or variable (the store's URL, the host's
    $KEYDESK_SMTP_URL) would go, as the password, to a server of their
    choosing. Only one named for an SMTP password is read."""
    if password_file is not None:
        name = PurePosixPath(password_file).name.lower()
        if "smtp" not in name or "pass" not in name:
            return (f"the SMTP password file {password_file!r} is not named for one (its name "
                    "holds 'smtp' and 'pass', as /etc/keydesk/smtp-password)")  # fmt: skip
    if password_env is not None and not password_env.upper().endswith("SMTP_PASSWORD"):
        return (f"the SMTP password variable ${password_env} is not named for one (its name "
                "ends in SMTP_PASSWORD)")  # fmt: skip
    return None


def email_address(value: str) -> str:
    text = validation.printable_text(value, "the email address", 320)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>,;" for c in text):
        raise InvalidInput(f"{text!r} is not an email address (name@example.com)")
    return text


def shown_target(kind: str, target: str) -> str:
    """Where a channel sends, as the trail and error lines name it: a webhook
    by its origin only (a URL's path may hold a token, as Slack's do)."""
    if kind != WEBHOOK:
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}"


def channel_name(channel_id: int, kind: str, target: str) -> str:
    """A channel as a run's lines name it: `webhook 3 (https://host)`, `email 4 (a@b)`."""
    return f"{kind} {channel_id} ({shown_target(kind, target)})"


def _url(text: str, what: str) -> SplitResult:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:  # not repeated: it may hold a password
        raise InvalidInput(f"{what} is not a valid URL (check the host and port)") from None
    return parts


class Channels:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def add_webhook(self, workspace: str, url: str) -> AddedWebhook:
        secret = secrets.token_urlsafe(32)
        channel = self._add(workspace, WEBHOOK, webhook_url(url), secret=secret)
        return AddedWebhook(channel, secret)

    def add_email(
        self, workspace: str, address: str, *, smtp: str | None = None,
        sender: str | None = None, password_file: str | None = None,
        password_env: str | None = None,
    ) -> ChannelView:  # fmt: skip
        if password_file is not None and password_env is not None:
            raise InvalidInput("give the SMTP password one way: a file or an environment variable")
        refused = password_source(password_file, password_env)
        if refused is not None:
            raise InvalidInput(refused)
        return self._add(
            workspace, EMAIL, email_address(address),
            smtp_url=None if smtp is None else smtp_url(smtp, "--smtp", password_allowed=False),
            smtp_sender=None if sender is None else email_address(sender),
            password_file=None if password_file is None
            else validation.printable_text(password_file, "the password file", 1024),
            password_env=None if password_env is None
            else validation.name(password_env, "the password variable"),
        )  # fmt: skip

    def listed(self, workspace: str | None = None) -> list[ChannelView]:
        with self.context.session() as session:
            owned = owned_workspaces(self.context, session, workspace)
            return _views(session, col(NotifyChannel.workspace_id).in_(owned))

    def remove(self, ref: str, workspace: str | None = None) -> ChannelView:
        """Remove a channel, named by its id or its URL or address."""
        with self.context.session() as session:
            owned = owned_workspaces(self.context, session, workspace)
            match = col(NotifyChannel.target) == ref.strip()
            if ref.strip().isdigit():
                match = sa.or_(match, col(NotifyChannel.id) == int(ref))
            found = _views(session, match, col(NotifyChannel.workspace_id).in_(owned))
            if not found:
                raise NotFound(f"no notification channel {ref!r} in a workspace you own")
            if len(found) > 1:
                raise InvalidInput(
                    f"{ref!r} names {len(found)} channels; give --workspace or an id"
                )
            channel = found[0]
            session.execute(sa.delete(NotifyChannel).where(col(NotifyChannel.id) == channel.id))
            self._audit(session, channel, "notify.remove")
            return channel

    def _add(self, workspace: str, kind: str, target: str, **values: str | None) -> ChannelView:
        context = self.context
        with context.session() as session:
            ws = context.workspace(session, workspace)
            require_owner(context, session, ws)
            row = NotifyChannel(
                workspace_id=row_id(ws.id), kind=kind, target=target, created_by=context.actor
            )
            for name, value in values.items():  # the kind's own settings
                setattr(row, name, value)
            session.add(row)
            flush(session, f"{ws.name} already sends notices to {target}", AlreadyExists)
            channel = _views(session, col(NotifyChannel.id) == row.id)[0]
            self._audit(session, channel, "notify.add")
            return channel

    def _audit(self, session: Session, channel: ChannelView, action: str) -> None:
        """What was configured: a webhook by its origin only (a path may hold a token)."""
        target = shown_target(channel.kind, channel.target)
        ws_id = session.execute(
            sa.select(col(Workspace.id)).where(col(Workspace.name) == channel.workspace)
        ).scalar_one()
        self.context.audit(session, ws_id, action, target[:_AUDITED_MAX], channel.kind)


def _views(session: Session, *where: sa.ColumnElement[bool]) -> list[ChannelView]:
    unsent = (
        col(NotifyDelivery.channel_id) == NotifyChannel.id,
        col(NotifyDelivery.sent_at).is_(None),
        col(NotifyDelivery.attempts) > 0,
    )
    failing = sa.select(sa.func.count()).where(*unsent).scalar_subquery()
    last_error = (
        sa.select(col(NotifyDelivery.last_error))
        .where(*unsent)
        .order_by(col(NotifyDelivery.notice_id).desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(NotifyChannel, col(Workspace.name), failing, last_error)
        .join(Workspace, col(Workspace.id) == NotifyChannel.workspace_id)
        .where(*where)
        .order_by(col(Workspace.name), col(NotifyChannel.id))
    ).all()
    return [
        ChannelView(
            row_id(c.id),
            name,
            c.kind,
            c.target,
            c.smtp_url,
            c.smtp_sender,
            f"file {c.password_file}"
            if c.password_file
            else f"env {c.password_env}"
            if c.password_env
            else None,
            c.created_by,
            c.created_at,
            count,
            error,
        )
        for c, name, count, error in rows
    ]
