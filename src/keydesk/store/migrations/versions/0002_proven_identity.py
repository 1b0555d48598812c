"""proven identity: permissions the database enforces, an audit trail it writes

Revision ID: 0002
Revises: 0001

On every backend: `audit_event.integration_id` (an integration's own events
and its keys'), filled in for existing events, and the indexes the audit
screens page through.

On PostgreSQL only (SQLite's boundary is the file, see keydesk.store.path): the acting
account is the session's role (`session_user`), and the database itself
enforces who may do what, so the rules hold for anyone who bypasses keydesk
and types SQL:

* `keydesk_users` (granted by the DBA to each admin's login role) reads only
  the workspaces it is a member of; only owners and admins of a workspace
  insert keys, revoke them or change integrations; members and viewers read.
  No one but the owner and `keydesk_verifier` can read `secret_hash`.
* A revoked key cannot be un-revoked or re-dated, by anyone (a trigger).
* Admins cannot change or remove owners, only owners make owners, and the
  last owner of a workspace can neither leave nor be demoted (a trigger that
  locks the workspace, so two owners demoting each other cannot both win).
* The audit trail is append-only (no UPDATE or DELETE is granted), its
  actor must be `session_user` (the column's default) and its time is the
  server's.
* New workspaces are made only by `keydesk_create_workspace(name)`, which
  makes the caller (and no one else) the first owner in the same step.
* `keydesk_verifier` (for `keydesk serve` and the middleware) reads only
  what verification needs and updates only `last_used_at`.

The table owner (the role that runs migrations, see `keydesk postgres
setup`) and superusers bypass row-level security, as PostgreSQL does for
owners; they are the administrators of the store itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

USERS = "keydesk_users"
VERIFIER = "keydesk_verifier"
TABLES = ("workspace", "account", "membership", "integration", "api_key", "audit_event")

# Functions run with the privileges of the table owner (SECURITY DEFINER):
# what a policy may not do itself (look at memberships without recursing into
# their own policy) or what needs more than the caller may (create a
# workspace with its first owner). Their search_path is pinned below.
FUNCTIONS = {
    "keydesk_privileged()": """
        -- The table owner's members and superusers: the store's administrators.
        SELECT pg_has_role(session_user, c.relowner, 'MEMBER')
        FROM pg_class c WHERE c.oid = 'workspace'::regclass
    """,
    "keydesk_account_id()": """
        SELECT id FROM account WHERE name = session_user
    """,
    "keydesk_visible_workspaces()": """
        SELECT m.workspace_id FROM membership m JOIN account a ON a.id = m.account_id
        WHERE a.name = session_user
    """,
    "keydesk_managed_workspaces()": """
        SELECT m.workspace_id FROM membership m JOIN account a ON a.id = m.account_id
        WHERE a.name = session_user AND m.role IN ('owner', 'admin')
    """,
    "keydesk_owned_workspaces()": """
        SELECT m.workspace_id FROM membership m JOIN account a ON a.id = m.account_id
        WHERE a.name = session_user AND m.role = 'owner'
    """,
}
_RETURNS = {
    "keydesk_privileged()": "boolean",
    "keydesk_account_id()": "integer",
}

CREATE_WORKSPACE = """
CREATE FUNCTION keydesk_create_workspace(p_name text, p_owner text DEFAULT session_user)
RETURNS integer LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    new_workspace integer;
    owner_account integer;
BEGIN
    IF p_owner IS DISTINCT FROM session_user AND NOT keydesk_privileged() THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'you can create a workspace only with yourself (' || session_user
                || ') as its owner';
    END IF;
    INSERT INTO workspace (name, created_at) VALUES (p_name, now()) RETURNING id INTO new_workspace;
    SELECT id INTO owner_account FROM account WHERE name = p_owner;
    IF owner_account IS NULL THEN
        INSERT INTO account (name, created_at) VALUES (p_owner, now()) RETURNING id INTO owner_account;
    END IF;
    INSERT INTO membership (workspace_id, account_id, role, created_at)
        VALUES (new_workspace, owner_account, 'owner', now());
    RETURN new_workspace;
END
$fn$
"""

MEMBERSHIP_GUARD = """
CREATE FUNCTION keydesk_membership_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    workspace_name text;
    my_role text;
    leaving boolean;
BEGIN
    -- One change to a workspace's members at a time: two owners demoting
    -- each other must not both succeed and leave it with none.
    SELECT name INTO workspace_name FROM workspace WHERE id = OLD.workspace_id FOR UPDATE;
    IF NOT FOUND THEN  -- the workspace itself is being deleted
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.workspace_id <> OLD.workspace_id OR NEW.account_id <> OLD.account_id) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'a membership cannot be moved to another workspace or account';
    END IF;
    IF NOT keydesk_privileged() THEN
        SELECT m.role INTO my_role FROM membership m JOIN account a ON a.id = m.account_id
            WHERE m.workspace_id = OLD.workspace_id AND a.name = session_user;
        leaving := TG_OP = 'DELETE' AND OLD.account_id IS NOT DISTINCT FROM keydesk_account_id();
        IF NOT leaving AND coalesce(my_role, '') NOT IN ('owner', 'admin') THEN
            RAISE EXCEPTION USING ERRCODE = '42501',
                MESSAGE = session_user || ' is ' || coalesce('a ' || my_role, 'not a member')
                    || ' in ' || workspace_name || '; only owners and admins may change members';
        END IF;
        IF NOT leaving AND OLD.role = 'owner' AND my_role <> 'owner' THEN
            RAISE EXCEPTION USING ERRCODE = '42501',
                MESSAGE = 'only an owner can change or remove an owner of ' || workspace_name;
        END IF;
    END IF;
    IF OLD.role = 'owner' AND (TG_OP = 'DELETE' OR NEW.role <> 'owner') AND NOT EXISTS (
        SELECT 1 FROM membership
        WHERE workspace_id = OLD.workspace_id AND role = 'owner' AND id <> OLD.id
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'KD001',
            MESSAGE = 'the last owner of ' || workspace_name
                || ' cannot leave or be demoted; make another account an owner first';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$fn$
"""

REVOCATION_IS_FINAL = """
CREATE FUNCTION keydesk_revocation_is_final() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.revoked_by IS DISTINCT FROM OLD.revoked_by THEN
        RAISE EXCEPTION USING ERRCODE = 'KD002',
            MESSAGE = 'key ' || OLD.public_key || ' is revoked; a revocation is final and cannot be changed';
    END IF;
    RETURN NEW;
END
$fn$
"""

AUDIT_STAMP = """
CREATE FUNCTION keydesk_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    -- The server's clock, not the client's: an event cannot be back-dated.
    IF NOT keydesk_privileged() THEN
        NEW.at := statement_timestamp();
    END IF;
    RETURN NEW;
END
$fn$
"""

ALL_FUNCTIONS = (
    *FUNCTIONS,
    "keydesk_create_workspace(text, text)",
    "keydesk_membership_guard()",
    "keydesk_revocation_is_final()",
    "keydesk_audit_stamp()",
)

VISIBLE = "workspace_id IN (SELECT keydesk_visible_workspaces())"
MANAGED = "workspace_id IN (SELECT keydesk_managed_workspaces())"
OWNED = "workspace_id IN (SELECT keydesk_owned_workspaces())"
VISIBLE_INTEGRATION = "integration_id IN (SELECT id FROM integration)"
MANAGED_INTEGRATION = (
    "integration_id IN (SELECT id FROM integration"
    " WHERE workspace_id IN (SELECT keydesk_managed_workspaces()))"
)

# (table, policy, command, role, USING, WITH CHECK)
POLICIES = (
    ("workspace", "workspace_read", "SELECT", USERS, "id IN (SELECT keydesk_visible_workspaces())", None),
    ("workspace", "workspace_verify", "SELECT", VERIFIER, "true", None),
    # Account names are role names, which every role can read in pg_roles anyway.
    ("account", "account_read", "SELECT", USERS, "true", None),
    ("account", "account_add", "INSERT", USERS, None, "true"),
    ("membership", "membership_read", "SELECT", USERS, VISIBLE, None),
    ("membership", "membership_add", "INSERT", USERS, None,
     f"{MANAGED} AND (role <> 'owner' OR {OWNED})"),
    # UPDATE and DELETE see the workspace's rows (so a refusal is an error,
    # not a silent "0 rows"); keydesk_membership_guard decides.
    ("membership", "membership_change", "UPDATE", USERS, VISIBLE,
     f"{MANAGED} AND (role <> 'owner' OR {OWNED})"),
    ("membership", "membership_remove", "DELETE", USERS, VISIBLE, None),
    ("integration", "integration_read", "SELECT", USERS, VISIBLE, None),
    ("integration", "integration_add", "INSERT", USERS, None, MANAGED),
    ("integration", "integration_change", "UPDATE", USERS, VISIBLE, MANAGED),
    ("integration", "integration_verify", "SELECT", VERIFIER, "true", None),
    ("api_key", "api_key_read", "SELECT", USERS, VISIBLE_INTEGRATION, None),
    ("api_key", "api_key_issue", "INSERT", USERS, None,
     f"{MANAGED_INTEGRATION} AND created_by = keydesk_account_id()"
     " AND revoked_at IS NULL AND revoked_by IS NULL AND last_used_at IS NULL"),
    ("api_key", "api_key_revoke", "UPDATE", USERS, VISIBLE_INTEGRATION,
     f"{MANAGED_INTEGRATION} AND revoked_at IS NOT NULL AND revoked_by = keydesk_account_id()"),
    ("api_key", "api_key_verify", "SELECT", VERIFIER, "true", None),
    ("api_key", "api_key_used", "UPDATE", VERIFIER, "true", "true"),
    ("audit_event", "audit_read", "SELECT", USERS, VISIBLE, None),
    ("audit_event", "audit_append", "INSERT", USERS, None,
     f"actor = session_user AND {VISIBLE}"),
)  # fmt: skip

GRANTS = (
    f"GRANT SELECT ON alembic_version TO {USERS}, {VERIFIER}",
    f"GRANT SELECT ON workspace, account, membership, integration, audit_event TO {USERS}",
    # Every column but secret_hash.
    f"GRANT SELECT (id, integration_id, public_key, label, created_at, created_by, revoked_at,"
    f" revoked_by, expires_at, last_used_at) ON api_key TO {USERS}",
    f"GRANT INSERT ON account, membership, integration, api_key, audit_event TO {USERS}",
    f"GRANT UPDATE (role) ON membership TO {USERS}",
    f"GRANT DELETE ON membership TO {USERS}",
    f"GRANT UPDATE (name, provider, client_id, redirect_uri, scopes, status, updated_at)"
    f" ON integration TO {USERS}",
    f"GRANT UPDATE (revoked_at, revoked_by) ON api_key TO {USERS}",
    f"GRANT USAGE ON SEQUENCE account_id_seq, membership_id_seq, integration_id_seq,"
    f" api_key_id_seq, audit_event_id_seq TO {USERS}",
    # What verification reads, and the one column it writes.
    f"GRANT SELECT (id, name) ON workspace TO {VERIFIER}",
    f"GRANT SELECT (id, workspace_id, name, status) ON integration TO {VERIFIER}",
    f"GRANT SELECT (id, integration_id, public_key, label, secret_hash, revoked_at, expires_at,"
    f" last_used_at) ON api_key TO {VERIFIER}",
    f"GRANT UPDATE (last_used_at) ON api_key TO {VERIFIER}",
)


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integration_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_event_integration_id_integration"),
            "integration",
            ["integration_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_audit_event_workspace_at", ["workspace_id", "at"], unique=False)
        batch_op.create_index(
            "ix_audit_event_integration_at", ["integration_id", "at"], unique=False
        )
    # Events written before this revision: an integration's own events name
    # it, a key's events name its public key.
    op.execute(
        "UPDATE audit_event SET integration_id = (SELECT i.id FROM integration i"
        " WHERE i.workspace_id = audit_event.workspace_id AND i.name = audit_event.target)"
        " WHERE action LIKE 'integration.%'"
    )
    op.execute(
        "UPDATE audit_event SET integration_id = (SELECT k.integration_id FROM api_key k"
        " WHERE k.public_key = audit_event.target) WHERE action LIKE 'key.%'"
    )
    if op.get_context().dialect.name == "postgresql":
        _enforce_in_postgres()


def _enforce_in_postgres() -> None:
    for role in (USERS, VERIFIER):
        # Cluster-wide and shared by every keydesk database on the server:
        # made here only if `keydesk postgres setup` has not made them.
        op.execute(
            f"DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN"  # noqa: S608 (constant names)
            f" CREATE ROLE {role} NOLOGIN;"
            " END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $do$"
        )
    for signature, body in FUNCTIONS.items():
        returns = _RETURNS.get(signature, "SETOF integer")
        op.execute(
            f"CREATE FUNCTION {signature} RETURNS {returns}"
            f" LANGUAGE sql STABLE SECURITY DEFINER AS $fn${body}$fn$"
        )
    op.execute(CREATE_WORKSPACE)
    op.execute(MEMBERSHIP_GUARD)
    op.execute(REVOCATION_IS_FINAL)
    op.execute(AUDIT_STAMP)
    # A SECURITY DEFINER function must not find tables or functions in a
    # schema its caller controls (pg_temp is searched first unless named).
    signatures = ", ".join(f"'{signature}'" for signature in ALL_FUNCTIONS)
    op.execute(
        "DO $do$ DECLARE f text; BEGIN"
        f" FOREACH f IN ARRAY ARRAY[{signatures}] LOOP"
        " EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',"
        " f, current_schema()); END LOOP; END $do$"
    )
    for signature in ALL_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    # Policies call the helpers as the querying role.
    helpers = ", ".join((*FUNCTIONS, "keydesk_create_workspace(text, text)"))
    op.execute(f"GRANT EXECUTE ON FUNCTION {helpers} TO {USERS}")

    op.execute(
        "CREATE TRIGGER membership_guard BEFORE UPDATE OR DELETE ON membership"
        " FOR EACH ROW EXECUTE FUNCTION keydesk_membership_guard()"
    )
    op.execute(
        "CREATE TRIGGER api_key_revocation_is_final BEFORE UPDATE ON api_key FOR EACH ROW"
        " WHEN (OLD.revoked_at IS NOT NULL) EXECUTE FUNCTION keydesk_revocation_is_final()"
    )
    op.execute(
        "CREATE TRIGGER audit_event_stamp BEFORE INSERT ON audit_event"
        " FOR EACH ROW EXECUTE FUNCTION keydesk_audit_stamp()"
    )
    op.execute("ALTER TABLE audit_event ALTER COLUMN actor SET DEFAULT session_user")

    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
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
    if op.get_context().dialect.name == "postgresql":
        for table, name, *_ in POLICIES:
            op.execute(f"DROP POLICY {name} ON {table}")
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            op.execute(f"REVOKE ALL ON {table} FROM {USERS}, {VERIFIER}")
        op.execute(f"REVOKE ALL ON alembic_version FROM {USERS}, {VERIFIER}")
        op.execute(
            f"REVOKE ALL ON SEQUENCE account_id_seq, membership_id_seq, integration_id_seq,"
            f" api_key_id_seq, audit_event_id_seq FROM {USERS}"
        )
        op.execute("ALTER TABLE audit_event ALTER COLUMN actor DROP DEFAULT")
        op.execute("DROP TRIGGER audit_event_stamp ON audit_event")
        op.execute("DROP TRIGGER api_key_revocation_is_final ON api_key")
        op.execute("DROP TRIGGER membership_guard ON membership")
        for signature in reversed(ALL_FUNCTIONS):
            op.execute(f"DROP FUNCTION {signature}")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_integration_at")
        batch_op.drop_index("ix_audit_event_workspace_at")
        batch_op.drop_constraint(
            batch_op.f("fk_audit_event_integration_id_integration"), type_="foreignkey"
        )
        batch_op.drop_column("integration_id")
