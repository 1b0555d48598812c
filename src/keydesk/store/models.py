"""The store's tables (SQLModel). Schema changes go through Alembic
(keydesk.store.migrations); never edit a table here without a new revision."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from keydesk.views import IntegrationStatus, utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (which keeps no
    zone) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Ids a keydesk_users role draws on PostgreSQL, and the columns naming them:
# bigint there, so nobody can draw them all (revision 0006); SQLite's are 64-bit.
WIDE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

ACTIVE_KEY = "revoked_at IS NULL"  # the predicate of the partial unique index on labels


class Workspace(SQLModel, table=True):
    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # The owners' policy: keys issued here must expire within this many days
    # (None: keys may live forever). Revision 0003.
    max_key_lifetime_days: int | None = Field(default=None, nullable=True)


class Account(SQLModel, table=True):
    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Membership(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("workspace_id", "account_id"),)

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    workspace_id: int = Field(
        sa_type=WIDE_ID, foreign_key="workspace.id", index=True, ondelete="CASCADE"
    )
    account_id: int = Field(
        sa_type=WIDE_ID, foreign_key="account.id", index=True, ondelete="CASCADE"
    )
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Integration(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    workspace_id: int = Field(
        sa_type=WIDE_ID, foreign_key="workspace.id", index=True, ondelete="CASCADE"
    )
    name: str = Field(max_length=64)
    provider: str = Field(max_length=64)
    client_id: str | None = Field(default=None, max_length=256)
    redirect_uri: str | None = Field(default=None, max_length=2048)
    scopes: str = Field(default="", max_length=2048)  # space-separated, as OAuth writes them
    status: str = Field(default=IntegrationStatus.DRAFT, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    __table_args__ = (
        # The label is how people tell keys apart when auditing or revoking:
        # unique among the active keys of one integration. The migration makes
        # it partial on both backends; here only `sqlite_where` is declared,
        # because naming a dialect's option loads that dialect (`postgresql_*`
        # cost every SQLite store ~18 ms of imports), and autogenerate does not
        # compare a partial index's predicate anyway. tests/store/test_engine.py checks
        # the real index on each backend against ACTIVE_KEY.
        sa.Index(
            "uq_api_key_active_label",
            "integration_id",
            "label",
            unique=True,
            sqlite_where=sa.text(ACTIVE_KEY),
        ),
    )

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    integration_id: int = Field(
        sa_type=WIDE_ID, foreign_key="integration.id", index=True, ondelete="CASCADE"
    )
    public_key: str = Field(max_length=32, unique=True, index=True)
    label: str = Field(max_length=64)
    secret_hash: str = Field(max_length=256)  # argon2id of the private key, never the key
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: int = Field(sa_type=WIDE_ID, foreign_key="account.id")
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_by: int | None = Field(sa_type=WIDE_ID, default=None, foreign_key="account.id")
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # What the key may do: a subset of its integration's scopes when it was
    # created, space-separated; never widened (revision 0003).
    scopes: str = Field(default="", max_length=2048, sa_column_kwargs={"server_default": ""})
    # The lifetime it was issued with, in whole days (None: no expiry): what
    # its replacement gets when it is rotated.
    lifetime_days: int | None = Field(default=None, nullable=True)
    # The key this one replaced by a rotation.
    replaces_id: int | None = Field(
        sa_type=WIDE_ID, default=None, foreign_key="api_key.id", index=True
    )

    def __repr__(self) -> str:  # the hash is not a secret, but has no business in logs
        return f"ApiKey(id={self.id}, public_key={self.public_key!r}, label={self.label!r})"


class ApiKeyTag(SQLModel, table=True):
    """A key's tag (`env=prod`): one value per name and key (revision 0007)."""

    __tablename__ = "api_key_tag"
    __table_args__ = (sa.Index("ix_api_key_tag_name_value", "name", "value"),)

    api_key_id: int = Field(
        sa_type=WIDE_ID, foreign_key="api_key.id", primary_key=True, ondelete="CASCADE"
    )
    name: str = Field(max_length=20, primary_key=True)  # keydesk.views.tags' rules
    value: str = Field(max_length=40)


class AuditEvent(SQLModel, table=True):
    """Append-only. On PostgreSQL the database sets who and when (revision
    0002): `actor` must be the session's role, `at` is the server's clock."""

    __tablename__ = "audit_event"
    __table_args__ = (
        # The audit screens page newest first through one workspace or one
        # integration: each reads an index in order, whatever the trail's size.
        sa.Index("ix_audit_event_workspace_at", "workspace_id", "at"),
        sa.Index("ix_audit_event_integration_at", "integration_id", "at"),
    )

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    workspace_id: int = Field(
        sa_type=WIDE_ID, foreign_key="workspace.id", index=True, ondelete="CASCADE"
    )
    # The integration an event concerns (its own events and its keys'), if any.
    integration_id: int | None = Field(
        sa_type=WIDE_ID, default=None, foreign_key="integration.id", ondelete="SET NULL"
    )
    actor: str = Field(max_length=64)  # a name, so the trail survives account changes
    action: str = Field(max_length=32)
    target: str = Field(max_length=128)
    label: str | None = Field(default=None, max_length=64)
    # Another key the event concerns: a rotation's replacement (revision 0003).
    related: str | None = Field(default=None, max_length=128, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


class KeyUsage(SQLModel, table=True):
    """How often a key was presented, per hour and outcome (`accepted`, or a
    refusal reason: `wrong_secret`, `revoked`, `expired`,
    `integration_disabled`). Written by verifiers in batches, off the
    request path: counts add up, they are never rewritten."""

    __tablename__ = "key_usage"

    api_key_id: int = Field(
        sa_type=WIDE_ID, foreign_key="api_key.id", primary_key=True, ondelete="CASCADE"
    )
    hour: int = Field(primary_key=True)  # hours since 1970-01-01 00:00 UTC
    outcome: str = Field(primary_key=True, max_length=32)
    count: int = Field(default=0)


class SshApproval(SQLModel, table=True):
    """An owner's approval of one SSH key (by fingerprint) for one account in
    one workspace: without it the key cannot act there (revision 0005)."""

    __tablename__ = "ssh_approval"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "account_id", "fingerprint"),)

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    workspace_id: int = Field(sa_type=WIDE_ID, foreign_key="workspace.id", ondelete="CASCADE")
    account_id: int = Field(sa_type=WIDE_ID, foreign_key="account.id", ondelete="CASCADE")
    fingerprint: str = Field(max_length=64, index=True)
    approved_by: str = Field(max_length=64)  # a name, as the audit trail keeps actors
    approved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class KeyPolicy(SQLModel, table=True):
    """A key's limits and networks (revision 0008): at most `rate_limit`
    and `quota` requests (`600/min`, keydesk.limits), from `allow_from`
    (CIDRs, space-separated; empty: anywhere). No row: no limit."""

    __tablename__ = "key_policy"

    api_key_id: int = Field(
        sa_type=WIDE_ID, foreign_key="api_key.id", primary_key=True, ondelete="CASCADE"
    )
    rate_limit: str | None = Field(default=None, max_length=24)
    quota: str | None = Field(default=None, max_length=24)
    allow_from: str = Field(default="", max_length=2048, sa_column_kwargs={"server_default": ""})


class WorkspacePolicy(SQLModel, table=True):
    """The rate a workspace's new keys get unless created with one of their
    own (owners set it; revision 0008)."""

    __tablename__ = "workspace_policy"

    workspace_id: int = Field(
        sa_type=WIDE_ID, foreign_key="workspace.id", primary_key=True, ondelete="CASCADE"
    )
    default_rate: str | None = Field(default=None, max_length=24)


class KeyWindow(SQLModel, table=True):
    """What each verifier process accepted of a key in one window of its
    rate or quota (`kind`), written in batches: their sum is the key's count
    in that window across processes (keydesk.verify.limits)."""

    __tablename__ = "key_window"

    api_key_id: int = Field(
        sa_type=WIDE_ID, foreign_key="api_key.id", primary_key=True, ondelete="CASCADE"
    )
    kind: str = Field(primary_key=True, max_length=8)
    starts: int = Field(sa_type=sa.BigInteger, primary_key=True)  # epoch seconds
    verifier: str = Field(primary_key=True, max_length=32)
    count: int = Field(sa_type=sa.BigInteger, default=0)


class KeySource(SQLModel, table=True):
    """Where a key was used from, per hour: an address, or its /24 or /48
    once the hour has had many (keydesk.verify.usage), with the count."""

    __tablename__ = "key_source"

    api_key_id: int = Field(
        sa_type=WIDE_ID, foreign_key="api_key.id", primary_key=True, ondelete="CASCADE"
    )
    hour: int = Field(primary_key=True)
    source: str = Field(primary_key=True, max_length=64)
    count: int = Field(default=0)


class NotifyChannel(SQLModel, table=True):
    """Where a workspace's notices go: a webhook (its URL and HMAC signing
    secret) or an email address (its SMTP server, or None for the sending
    host's $KEYDESK_SMTP_URL; where that host reads the SMTP password: a
    file or an environment variable, never the password). Revision 0009."""

    __tablename__ = "notify_channel"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "kind", "target"),)

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    workspace_id: int = Field(sa_type=WIDE_ID, foreign_key="workspace.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)  # webhook, email
    target: str = Field(max_length=2048)  # the URL, or the address
    secret: str | None = Field(default=None, max_length=128)
    smtp_url: str | None = Field(default=None, max_length=2048)
    smtp_sender: str | None = Field(default=None, max_length=320)
    password_file: str | None = Field(default=None, max_length=1024)
    password_env: str | None = Field(default=None, max_length=128)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    def __repr__(self) -> str:  # the signing secret has no business in logs
        return f"NotifyChannel(id={self.id}, kind={self.kind!r})"


class NotifyNotice(SQLModel, table=True):
    """A notice claimed for sending: inserting it is the claim, once per
    (key, kind, occasion), whichever run or host gets there first."""

    __tablename__ = "notify_notice"
    __table_args__ = (sa.UniqueConstraint("api_key_id", "kind", "occasion"),)

    id: int | None = Field(sa_type=WIDE_ID, default=None, primary_key=True)
    workspace_id: int = Field(
        sa_type=WIDE_ID, foreign_key="workspace.id", index=True, ondelete="CASCADE"
    )
    api_key_id: int = Field(sa_type=WIDE_ID, foreign_key="api_key.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    occasion: str = Field(max_length=64)
    body: str = Field(sa_type=sa.Text)  # the notice as sent (JSON), for retries
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class NotifyDelivery(SQLModel, table=True):
    """A notice's delivery to one channel: sent, or failed and retried by
    the next run; `lease_until` is the claim of the run sending it."""

    __tablename__ = "notify_delivery"

    notice_id: int = Field(
        sa_type=WIDE_ID, foreign_key="notify_notice.id", primary_key=True, ondelete="CASCADE"
    )
    channel_id: int = Field(
        sa_type=WIDE_ID,
        foreign_key="notify_channel.id",
        primary_key=True,
        index=True,
        ondelete="CASCADE",
    )
    attempts: int = Field(default=0)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_error: str | None = Field(default=None, max_length=256)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
