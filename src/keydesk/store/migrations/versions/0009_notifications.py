"""notifications: channels per workspace, notices sent once, deliveries retried

Revision ID: 0009
Revises: 0008

`keydesk notify` tells a workspace's owners what they must know (a key
expiring, a rotation's old key still used, a key revoked because it leaked,
a spike of wrong secrets), through channels its owners configure.

* `notify_channel`: a webhook (its URL and HMAC signing secret) or an email
  address (its SMTP server, sender, and where the SMTP password is read:
  a file or an environment variable of the host that sends, never the
  password itself).
* `notify_notice`: one row per notice, unique per (key, kind, occasion).
  Inserting it is the claim: of two `notify` runs, or two hosts on one
  PostgreSQL store, exactly one inserts it and sends it; the other's insert
  does nothing. It keeps what was sent, so a retry sends the same words.
* `notify_delivery`: one row per notice and channel; sent, or failed with
  its error and tried again by the next run. `lease_until` is a run's claim
  on a delivery it is sending, so two runs never send one twice.

On PostgreSQL only a workspace's owners (keydesk_owned_workspaces) read or
write these rows, under row-level security; ids are bigint and INSERT is
granted column by column, as revision 0006 does; a channel's creation and
removal are in the trail (written by the database, as 0006's are); the
server's clock stamps them. On SQLite, triggers delete a deleted
workspace's, key's, notice's or channel's rows whatever PRAGMA foreign_keys
says, as revision 0005's do.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from keydesk.store.migrations.pg_rules import UNPRINTABLE
from keydesk.store.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

USERS = "keydesk_users"
TABLES = ("notify_channel", "notify_notice", "notify_delivery")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

OWNED = "workspace_id IN (SELECT keydesk_owned_workspaces())"
# A notice about a key of its own workspace (the key as the role may see it).
OWN_KEY = (
    "api_key_id IN (SELECT k.id FROM api_key k JOIN integration i ON i.id = k.integration_id"
    " WHERE i.workspace_id = notify_notice.workspace_id)"
)
# A delivery joins a notice and a channel of one workspace the role owns.
SAME_WORKSPACE = (
    "EXISTS (SELECT 1 FROM notify_notice n JOIN notify_channel c"
    " ON c.workspace_id = n.workspace_id WHERE n.id = notice_id AND c.id = channel_id)"
)
OWNED_NOTICE = "notice_id IN (SELECT id FROM notify_notice)"

# (table, policy, command, USING, WITH CHECK), all to keydesk_users.
POLICIES: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("notify_channel", "notify_channel_read", "SELECT", OWNED, None),
    ("notify_channel", "notify_channel_add", "INSERT", None,
     f"{OWNED} AND created_by = session_user"),
    ("notify_channel", "notify_channel_remove", "DELETE", OWNED, None),
    ("notify_notice", "notify_notice_read", "SELECT", OWNED, None),
    ("notify_notice", "notify_notice_claim", "INSERT", None, f"{OWNED} AND {OWN_KEY}"),
    ("notify_delivery", "notify_delivery_read", "SELECT", OWNED_NOTICE, None),
    ("notify_delivery", "notify_delivery_add", "INSERT", None, SAME_WORKSPACE),
    ("notify_delivery", "notify_delivery_try", "UPDATE", OWNED_NOTICE, SAME_WORKSPACE),
)  # fmt: skip

GRANTS = (
    f"GRANT SELECT ON notify_channel, notify_notice, notify_delivery TO {USERS}",
    f"GRANT INSERT (workspace_id, kind, target, secret, smtp_url, smtp_sender, password_file,"
    f" password_env, created_by, created_at) ON notify_channel TO {USERS}",
    f"GRANT DELETE ON notify_channel TO {USERS}",
    f"GRANT INSERT (workspace_id, api_key_id, kind, occasion, body, created_at)"
    f" ON notify_notice TO {USERS}",
    f"GRANT INSERT (notice_id, channel_id, attempts, sent_at, last_error, lease_until)"
    f" ON notify_delivery TO {USERS}",
    f"GRANT UPDATE (attempts, sent_at, last_error, lease_until) ON notify_delivery TO {USERS}",
    f"GRANT USAGE ON SEQUENCE notify_channel_id_seq, notify_notice_id_seq TO {USERS}",
)

CHECKS = (
    ("notify_channel", "notify_channel_kind_known", "kind IN ('webhook', 'email')"),
    ("notify_channel", "notify_channel_text_printable",
     " AND ".join(f"coalesce({c}, '') !~ '{UNPRINTABLE}'"
                  for c in ("target", "smtp_url", "smtp_sender", "password_file",
                            "password_env"))),
)  # fmt: skip

# The trail of a channel's creation and removal: its kind and where it
# sends (a webhook's origin only: a URL's path may hold a token).
AUDIT_CHANNEL = r"""
CREATE FUNCTION keydesk_audit_notify_channel() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    row_ notify_channel;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_ := OLD;
    ELSE
        row_ := NEW;
    END IF;
    PERFORM keydesk_record(row_.workspace_id, NULL,
        CASE TG_OP WHEN 'DELETE' THEN 'notify.remove' ELSE 'notify.add' END,
        CASE row_.kind WHEN 'webhook' THEN coalesce(substring(row_.target from
            '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'), 'webhook') ELSE row_.target END,
        row_.kind);
    RETURN NULL;
END
$fn$
"""

TRIGGERS = (
    ("notify_channel_created_at", "notify_channel", "BEFORE INSERT", "keydesk_server_times()"),
    ("notify_notice_created_at", "notify_notice", "BEFORE INSERT", "keydesk_server_times()"),
    ("notify_channel_audit", "notify_channel", "AFTER INSERT OR DELETE",
     "keydesk_audit_notify_channel()"),
)  # fmt: skip

# SQLite: (table deleted from, trigger name, its children (table, column)).
_CASCADES = (
    ("workspace", "workspace_notify_cascade",
     (("notify_channel", "workspace_id"), ("notify_notice", "workspace_id"))),
    ("api_key", "api_key_notify_cascade", (("notify_notice", "api_key_id"),)),
    ("notify_notice", "notify_notice_cascade", (("notify_delivery", "notice_id"),)),
    ("notify_channel", "notify_channel_cascade", (("notify_delivery", "channel_id"),)),
)  # fmt: skip


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "notify_channel",
        sa.Column("id", _ID, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("target", _text(2048), nullable=False),
        sa.Column("secret", _text(128), nullable=True),
        sa.Column("smtp_url", _text(2048), nullable=True),
        sa.Column("smtp_sender", _text(320), nullable=True),
        sa.Column("password_file", _text(1024), nullable=True),
        sa.Column("password_env", _text(128), nullable=True),
        sa.Column("created_by", _text(64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "kind", "target"),
    )
    op.create_table(
        "notify_notice",
        sa.Column("id", _ID, nullable=False),
        sa.Column("workspace_id", _ID, nullable=False),
        sa.Column("api_key_id", _ID, nullable=False),
        sa.Column("kind", _text(32), nullable=False),
        sa.Column("occasion", _text(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_key_id", "kind", "occasion"),
    )
    op.create_index("ix_notify_notice_workspace_id", "notify_notice", ["workspace_id"])
    op.create_table(
        "notify_delivery",
        sa.Column("notice_id", _ID, nullable=False),
        sa.Column("channel_id", _ID, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", _text(256), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notify_notice.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["notify_channel.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notice_id", "channel_id"),
    )
    op.create_index("ix_notify_delivery_channel_id", "notify_delivery", ["channel_id"])
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for parent, name, children in _CASCADES:
            steps = "".join(
                f"DELETE FROM {child} WHERE {column} = OLD.id; "  # noqa: S608 (names of ours)
                for child, column in children
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER DELETE ON {parent} FOR EACH ROW BEGIN {steps}END"
            )
    if dialect == "postgresql":
        _enforce_in_postgres()


def _enforce_in_postgres() -> None:
    for table, name, check in CHECKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")
    op.execute(AUDIT_CHANNEL)
    op.execute(
        "DO $do$ BEGIN EXECUTE format('ALTER FUNCTION keydesk_audit_notify_channel()"
        " SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $do$"
    )
    op.execute("REVOKE ALL ON FUNCTION keydesk_audit_notify_channel() FROM PUBLIC")
    for name, table, when, call in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {call}")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    for table, policy, command, using, allowed in POLICIES:
        op.execute(
            f"CREATE POLICY {policy} ON {table} FOR {command} TO {USERS}"
            + (f" USING ({using})" if using is not None else "")
            + (f" WITH CHECK ({allowed})" if allowed is not None else "")
        )
    for grant in GRANTS:
        op.execute(grant)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for _parent, name, _children in _CASCADES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        for name, table, *_ in TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION keydesk_audit_notify_channel()")
    op.drop_index("ix_notify_delivery_channel_id", table_name="notify_delivery")
    op.drop_table("notify_delivery")
    op.drop_index("ix_notify_notice_workspace_id", table_name="notify_notice")
    op.drop_table("notify_notice")
    op.drop_table("notify_channel")
