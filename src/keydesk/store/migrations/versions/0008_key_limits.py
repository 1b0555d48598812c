"""per-key rate limits, quotas and network allowlists; where keys are used from

Revision ID: 0008
Revises: 0007

On every backend:

* `key_policy`: a key's rate (`600/min`), quota (`1000000/month`) and the
  networks it may be used from (CIDRs; empty: anywhere). No row: no limit.
* `workspace_policy`: the rate owners give new keys by default.
* `key_window`: per key, kind (`rate`, `quota`), window and verifier
  process, what that process accepted: verifiers write their own rows in
  batches and read the sum (keydesk.verify.limits).
* `key_source`: per key and hour, the addresses (or /24, /48 networks) it
  was used from, with counts, written with the usage counts.
Rows go with their key or workspace (ON DELETE CASCADE, and on SQLite
triggers that do so whatever PRAGMA foreign_keys says, as 0005's do).

On PostgreSQL, the rules of 0002, 0003 and 0006 extended to them:

* admins set the limits of the keys of workspaces they manage, owners the
  workspace's default; members read them (row-level security); values are
  in keydesk's form (CHECK);
* every change writes its event from a trigger, as the owner, with the
  actor `session_user`: `key.limits` (`rate 600/min, quota none, from
  anywhere`) and `workspace.policy` (`default rate 600/min`);
* `keydesk_verifier` reads the limits, and writes `key_window` and
  `key_source`; members read the windows and sources of the keys they see.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from keydesk.limits import LIMIT_PATTERN
from keydesk.store.models import WIDE_ID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

USERS = "keydesk_users"
VERIFIER = "keydesk_verifier"

VISIBLE_KEY = "api_key_id IN (SELECT id FROM api_key)"  # api_key's own policy decides
MANAGED_KEY = (
    "api_key_id IN (SELECT k.id FROM api_key k JOIN integration i ON i.id = k.integration_id"
    " WHERE i.workspace_id IN (SELECT keydesk_managed_workspaces()))"
)
VISIBLE_WORKSPACE = "workspace_id IN (SELECT keydesk_visible_workspaces())"
OWNED_WORKSPACE = "workspace_id IN (SELECT keydesk_owned_workspaces())"

# (table, policy, command, role, USING, WITH CHECK)
POLICIES: tuple[tuple[str, str, str, str, str | None, str | None], ...] = (
    ("key_policy", "key_policy_read", "SELECT", USERS, VISIBLE_KEY, None),
    ("key_policy", "key_policy_set", "INSERT", USERS, None, MANAGED_KEY),
    ("key_policy", "key_policy_change", "UPDATE", USERS, VISIBLE_KEY, MANAGED_KEY),
    ("key_policy", "key_policy_verify", "SELECT", VERIFIER, "true", None),
    ("workspace_policy", "workspace_policy_read", "SELECT", USERS, VISIBLE_WORKSPACE, None),
    ("workspace_policy", "workspace_policy_set", "INSERT", USERS, None, OWNED_WORKSPACE),
    ("workspace_policy", "workspace_policy_change", "UPDATE", USERS, VISIBLE_WORKSPACE,
     OWNED_WORKSPACE),
    ("key_window", "key_window_read", "SELECT", USERS, VISIBLE_KEY, None),
    ("key_window", "key_window_verify", "ALL", VERIFIER, "true", "true"),
    ("key_source", "key_source_read", "SELECT", USERS, VISIBLE_KEY, None),
    ("key_source", "key_source_verify", "ALL", VERIFIER, "true", "true"),
)  # fmt: skip
GRANTS = (
    f"GRANT SELECT ON key_policy, workspace_policy, key_window, key_source TO {USERS}",
    f"GRANT INSERT (api_key_id, rate_limit, quota, allow_from) ON key_policy TO {USERS}",
    f"GRANT UPDATE (rate_limit, quota, allow_from) ON key_policy TO {USERS}",
    f"GRANT INSERT (workspace_id, default_rate) ON workspace_policy TO {USERS}",
    f"GRANT UPDATE (default_rate) ON workspace_policy TO {USERS}",
    f"GRANT SELECT ON key_policy TO {VERIFIER}",
    f"GRANT SELECT, INSERT, UPDATE (count), DELETE ON key_window TO {VERIFIER}",
    f"GRANT SELECT, INSERT, UPDATE (count) ON key_source TO {VERIFIER}",
)
_LIMIT_FORM = f"~ '^{LIMIT_PATTERN}$'"
CHECKS = (
    ("key_policy", "key_policy_rate_form", f"rate_limit {_LIMIT_FORM}"),
    ("key_policy", "key_policy_quota_form", f"quota {_LIMIT_FORM}"),
    # keydesk.limits.parse_networks' canonical CIDRs, one space apart.
    ("key_policy", "key_policy_allow_from_form",
     r"allow_from ~ '^([0-9a-f.:]+/[0-9]{1,3}( [0-9a-f.:]+/[0-9]{1,3})*)?$'"),
    ("workspace_policy", "workspace_policy_rate_form", f"default_rate {_LIMIT_FORM}"),
    ("key_window", "key_window_kind", "kind IN ('rate', 'quota') AND count >= 0"),
)  # fmt: skip

# The event's label, as keydesk.service writes it on SQLite (views.limits_note).
FUNCTIONS = {
    "keydesk_audit_key_policy()": """
CREATE FUNCTION keydesk_audit_key_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    limited record;
BEGIN
    SELECT k.public_key, k.integration_id, i.workspace_id INTO limited
        FROM api_key k JOIN integration i ON i.id = k.integration_id WHERE k.id = NEW.api_key_id;
    PERFORM keydesk_record(limited.workspace_id, limited.integration_id, 'key.limits',
        limited.public_key, 'rate ' || coalesce(NEW.rate_limit, 'none') || ', quota '
        || coalesce(NEW.quota, 'none') || ', from '
        || CASE NEW.allow_from WHEN '' THEN 'anywhere' ELSE NEW.allow_from END);
    RETURN NULL;
END
$fn$
""",
    "keydesk_audit_workspace_policy()": """
CREATE FUNCTION keydesk_audit_workspace_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    PERFORM keydesk_record(NEW.workspace_id, NULL, 'workspace.policy',
        (SELECT name FROM workspace WHERE id = NEW.workspace_id),
        'default rate ' || coalesce(NEW.default_rate, 'none'));
    RETURN NULL;
END
$fn$
""",
}
TRIGGERS = (
    ("key_policy_audit", "key_policy", "keydesk_audit_key_policy()"),
    ("workspace_policy_audit", "workspace_policy", "keydesk_audit_workspace_policy()"),
)


def _limit_column(name: str) -> sa.Column[str]:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True)


def upgrade() -> None:
    op.create_table(
        "key_policy",
        sa.Column("api_key_id", WIDE_ID, nullable=False),
        _limit_column("rate_limit"),
        _limit_column("quota"),
        sa.Column(
            "allow_from",
            sqlmodel.sql.sqltypes.AutoString(length=2048),
            nullable=False,
            server_default="",
        ),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id"),
    )
    op.create_table(
        "workspace_policy",
        sa.Column("workspace_id", WIDE_ID, nullable=False),
        _limit_column("default_rate"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id"),
    )
    op.create_table(
        "key_window",
        sa.Column("api_key_id", WIDE_ID, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("starts", sa.BigInteger(), nullable=False),
        sa.Column("verifier", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "kind", "starts", "verifier"),
    )
    op.create_table(
        "key_source",
        sa.Column("api_key_id", WIDE_ID, nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "hour", "source"),
    )
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER api_key_limits_cascade AFTER DELETE ON api_key FOR EACH ROW BEGIN"
            " DELETE FROM key_policy WHERE api_key_id = OLD.id;"
            " DELETE FROM key_window WHERE api_key_id = OLD.id;"
            " DELETE FROM key_source WHERE api_key_id = OLD.id; END"
        )
        op.execute(
            "CREATE TRIGGER workspace_policy_cascade AFTER DELETE ON workspace FOR EACH ROW"
            " BEGIN DELETE FROM workspace_policy WHERE workspace_id = OLD.id; END"
        )
    if dialect == "postgresql":
        _enforce_in_postgres()


def _enforce_in_postgres() -> None:
    for table, name, rule in CHECKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({rule})")
    for table in ("key_policy", "workspace_policy", "key_window", "key_source"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    for table, name, command, role, using, check in POLICIES:
        sql = f"CREATE POLICY {name} ON {table} FOR {command} TO {role}"
        sql += f" USING ({using})" if using else ""
        sql += f" WITH CHECK ({check})" if check else ""
        op.execute(sql)
    for grant in GRANTS:
        op.execute(grant)
    for signature, sql in FUNCTIONS.items():
        op.execute(sql)
        # As 0006's: no function finds objects in a schema its caller controls.
        op.execute(
            f"DO $do$ BEGIN EXECUTE format('ALTER FUNCTION {signature}"
            " SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $do$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    for name, table, call in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {call}"
        )


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS api_key_limits_cascade")
        op.execute("DROP TRIGGER IF EXISTS workspace_policy_cascade")
    for table in ("key_source", "key_window", "workspace_policy", "key_policy"):
        op.drop_table(table)  # its triggers and policies with it
    if dialect == "postgresql":
        for signature in FUNCTIONS:
            op.execute(f"DROP FUNCTION {signature}")
