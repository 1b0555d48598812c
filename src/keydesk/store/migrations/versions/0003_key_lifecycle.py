"""the key's whole life: expiry policy, rotation, per-key scopes, usage

Revision ID: 0003
Revises: 0002

On every backend:

* `workspace.max_key_lifetime_days`: the owners' cap on a new key's
  lifetime (NULL: none).
* `api_key.scopes`: what the key may do, a subset of its integration's
  scopes when it was made; existing keys get their integration's scopes.
* `api_key.lifetime_days`: the lifetime it was issued with (a rotation gives
  the replacement the same); `api_key.replaces_id`: the key it replaced.
* `audit_event.related`: another key an event concerns (a rotation's new key).
* `key_usage`: presentations per key, hour and outcome, added up by verifiers.

On PostgreSQL, the rules of revision 0002 extended to them:

* a new key's scopes must be within its integration's, its expiry within the
  workspace's cap, and the key it replaces in the same integration;
* no one but the store's owner changes a key's scopes (no grant), and an
  expiry may only be brought forward by admins (a rotation) — never removed
  or pushed back, and never changed on a revoked key (triggers);
* only owners set the workspace's cap;
* `keydesk_verifier` adds to usage counts (which only grow) and reads a
  key's scopes; admins read the counts of the keys they see.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

USERS = "keydesk_users"
VERIFIER = "keydesk_verifier"

VISIBLE_INTEGRATION = "integration_id IN (SELECT id FROM integration)"
MANAGED_INTEGRATION = (
    "integration_id IN (SELECT id FROM integration"
    " WHERE workspace_id IN (SELECT keydesk_managed_workspaces()))"
)
OWNED_WORKSPACE = "id IN (SELECT keydesk_owned_workspaces())"
# Revision 0002's, which this one replaces with the new columns' rules.
ISSUE_0002 = (
    f"{MANAGED_INTEGRATION} AND created_by = keydesk_account_id()"
    " AND revoked_at IS NULL AND revoked_by IS NULL AND last_used_at IS NULL"
)
ISSUE = (
    f"{ISSUE_0002}"
    " AND keydesk_scopes_within(scopes, integration_id)"
    " AND keydesk_lifetime_allowed(integration_id, expires_at)"
    " AND (replaces_id IS NULL OR keydesk_replaceable(replaces_id, integration_id))"
)

# Run as the caller (they read only their own workspaces' rows anyway), but
# for keydesk_replaceable: a policy on api_key cannot query api_key itself
# (PostgreSQL sees a recursion), so it runs as the owner and says only
# whether one key belongs to one integration.
FUNCTIONS = {
    "keydesk_replaceable(integer, integer)": """
CREATE FUNCTION keydesk_replaceable(p_key integer, p_integration integer) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER AS $fn$
    SELECT EXISTS (SELECT 1 FROM api_key WHERE id = p_key AND integration_id = p_integration)
$fn$
""",
    "keydesk_scopes_within(text, integer)": """
CREATE FUNCTION keydesk_scopes_within(p_scopes text, p_integration integer) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(string_to_array(p_scopes, ' ') <@ string_to_array(i.scopes, ' '), false)
    FROM integration i WHERE i.id = p_integration
$fn$
""",
    # A few minutes of slack: the client computed `now + cap` on its own clock.
    "keydesk_lifetime_allowed(integer, timestamp with time zone)": """
CREATE FUNCTION keydesk_lifetime_allowed(p_integration integer, p_expires timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT w.max_key_lifetime_days IS NULL OR (p_expires IS NOT NULL AND p_expires
        <= statement_timestamp() + make_interval(days => w.max_key_lifetime_days, mins => 5))
    FROM integration i JOIN workspace w ON w.id = i.workspace_id WHERE i.id = p_integration
$fn$
""",
    "keydesk_expiry_only_earlier()": """
CREATE FUNCTION keydesk_expiry_only_earlier() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT keydesk_privileged() AND (NEW.expires_at IS NULL
            OR (OLD.expires_at IS NOT NULL AND NEW.expires_at > OLD.expires_at)) THEN
        RAISE EXCEPTION USING ERRCODE = 'KD003',
            MESSAGE = 'key ' || OLD.public_key || '''s expiry can only be brought forward'
                || ' (rotate the key to issue one that lives longer)';
    END IF;
    RETURN NEW;
END
$fn$
""",
    "keydesk_usage_only_grows()": """
CREATE FUNCTION keydesk_usage_only_grows() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.api_key_id <> OLD.api_key_id OR NEW.hour <> OLD.hour OR NEW.outcome <> OLD.outcome
            OR NEW.count < OLD.count THEN
        RAISE EXCEPTION USING ERRCODE = 'KD004',
            MESSAGE = 'usage counts only grow; they are never rewritten';
    END IF;
    RETURN NEW;
END
$fn$
""",
}

# Revision 0002's trigger function, now covering a revoked key's expiry too.
REVOCATION_IS_FINAL = """
CREATE OR REPLACE FUNCTION keydesk_revocation_is_final() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.revoked_by IS DISTINCT FROM OLD.revoked_by
            OR NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        RAISE EXCEPTION USING ERRCODE = 'KD002',
            MESSAGE = 'key ' || OLD.public_key || ' is revoked; a revocation is final and cannot be changed';
    END IF;
    RETURN NEW;
END
$fn$
"""
REVOCATION_IS_FINAL_0002 = REVOCATION_IS_FINAL.replace(
    "\n            OR NEW.expires_at IS DISTINCT FROM OLD.expires_at", ""
)

# (table, policy, command, role, USING, WITH CHECK)
POLICIES = (
    ("workspace", "workspace_policy", "UPDATE", USERS, OWNED_WORKSPACE, OWNED_WORKSPACE),
    # Rotation: an admin sets an active key's expiry (the trigger allows only earlier).
    ("api_key", "api_key_expire", "UPDATE", USERS, VISIBLE_INTEGRATION,
     f"{MANAGED_INTEGRATION} AND revoked_at IS NULL AND expires_at IS NOT NULL"),
    ("key_usage", "key_usage_read", "SELECT", USERS, "api_key_id IN (SELECT id FROM api_key)", None),
    ("key_usage", "key_usage_verify", "SELECT", VERIFIER, "true", None),
    ("key_usage", "key_usage_count", "INSERT", VERIFIER, None, "true"),
    ("key_usage", "key_usage_add", "UPDATE", VERIFIER, "true", "true"),
)  # fmt: skip

GRANTS = (
    f"GRANT SELECT (scopes, lifetime_days, replaces_id) ON api_key TO {USERS}",
    f"GRANT UPDATE (expires_at) ON api_key TO {USERS}",
    f"GRANT UPDATE (max_key_lifetime_days) ON workspace TO {USERS}",
    f"GRANT SELECT ON key_usage TO {USERS}",
    f"GRANT SELECT (scopes) ON api_key TO {VERIFIER}",
    f"GRANT SELECT (scopes) ON integration TO {VERIFIER}",
    f"GRANT SELECT, INSERT, UPDATE (count) ON key_usage TO {VERIFIER}",
)


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.add_column("workspace", sa.Column("max_key_lifetime_days", sa.Integer(), nullable=True))
    op.add_column(
        "api_key",
        sa.Column(
            "scopes",
            sqlmodel.sql.sqltypes.AutoString(length=2048),
            nullable=False,
            server_default="",
        ),
    )
    op.add_column("api_key", sa.Column("lifetime_days", sa.Integer(), nullable=True))
    if dialect == "sqlite":  # SQLite adds a column with its reference in place
        op.execute("ALTER TABLE api_key ADD COLUMN replaces_id INTEGER REFERENCES api_key (id)")
    else:
        op.add_column("api_key", sa.Column("replaces_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_api_key_replaces_id_api_key",
            "api_key",
            "api_key",
            ["replaces_id"],
            ["id"],
        )
    op.create_index("ix_api_key_replaces_id", "api_key", ["replaces_id"])
    op.add_column(
        "audit_event",
        sa.Column("related", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    )
    op.create_index("ix_audit_event_related", "audit_event", ["related"])
    op.create_table(
        "key_usage",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "hour", "outcome"),
    )
    # Keys made before per-key scopes could do all their integration could.
    op.execute(
        "UPDATE api_key SET scopes = (SELECT i.scopes FROM integration i"
        " WHERE i.id = api_key.integration_id)"
    )
    # ... and were issued for the lifetime they have, in whole days.
    if dialect == "sqlite":
        days = "max(1, CAST(julianday(expires_at) - julianday(created_at) + 0.999999 AS INTEGER))"
    else:
        days = "greatest(1, CAST(ceil(extract(epoch FROM expires_at - created_at) / 86400) AS INTEGER))"
    op.execute(f"UPDATE api_key SET lifetime_days = {days} WHERE expires_at IS NOT NULL")  # noqa: S608 (constant SQL)
    if dialect == "postgresql":
        _enforce_in_postgres()


def _enforce_in_postgres() -> None:
    for sql in FUNCTIONS.values():
        op.execute(sql)
    op.execute(REVOCATION_IS_FINAL)
    for signature in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(
            f"DO $do$ BEGIN EXECUTE format('ALTER FUNCTION {signature}"
            " SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $do$"
        )
    op.execute(
        f"GRANT EXECUTE ON FUNCTION keydesk_replaceable(integer, integer),"
        f" keydesk_scopes_within(text, integer),"
        f" keydesk_lifetime_allowed(integer, timestamp with time zone) TO {USERS}"
    )
    op.execute(
        "CREATE TRIGGER api_key_expiry_only_earlier BEFORE UPDATE OF expires_at ON api_key"
        " FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.expires_at IS DISTINCT FROM OLD.expires_at)"
        " EXECUTE FUNCTION keydesk_expiry_only_earlier()"
    )
    op.execute(
        "CREATE TRIGGER key_usage_only_grows BEFORE UPDATE ON key_usage"
        " FOR EACH ROW EXECUTE FUNCTION keydesk_usage_only_grows()"
    )
    op.execute("ALTER TABLE key_usage ENABLE ROW LEVEL SECURITY")
    op.execute("DROP POLICY api_key_issue ON api_key")
    op.execute(f"CREATE POLICY api_key_issue ON api_key FOR INSERT TO {USERS} WITH CHECK ({ISSUE})")
    for table, name, command, role, using, check in POLICIES:
        sql = f"CREATE POLICY {name} ON {table} FOR {command} TO {role}"
        if using is not None:
            sql += f" USING ({using})"
        if check is not None:
            sql += f" WITH CHECK ({check})"
        op.execute(sql)
    for grant in GRANTS:
        op.execute(grant)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        for table, name, *_ in POLICIES:
            op.execute(f"DROP POLICY {name} ON {table}")
        op.execute("DROP POLICY api_key_issue ON api_key")
        op.execute(
            f"CREATE POLICY api_key_issue ON api_key FOR INSERT TO {USERS}"
            f" WITH CHECK ({ISSUE_0002})"
        )
        op.execute(f"REVOKE ALL ON key_usage FROM {USERS}, {VERIFIER}")
        op.execute(f"REVOKE UPDATE (expires_at) ON api_key FROM {USERS}")
        op.execute(f"REVOKE UPDATE (max_key_lifetime_days) ON workspace FROM {USERS}")
        op.execute("DROP TRIGGER key_usage_only_grows ON key_usage")
        op.execute("DROP TRIGGER api_key_expiry_only_earlier ON api_key")
        op.execute(REVOCATION_IS_FINAL_0002)
        for signature in FUNCTIONS:
            op.execute(f"DROP FUNCTION {signature}")
    op.drop_table("key_usage")
    op.drop_index("ix_audit_event_related", table_name="audit_event")
    op.drop_index("ix_api_key_replaces_id", table_name="api_key")
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.drop_column("related")
    if dialect != "sqlite":
        op.drop_constraint("fk_api_key_replaces_id_api_key", "api_key", type_="foreignkey")
    # SQLite 3.35+ drops a column in place (the reference goes with it).
    for column in ("replaces_id", "lifetime_days", "scopes"):
        op.drop_column("api_key", column)
    op.drop_column("workspace", "max_key_lifetime_days")
