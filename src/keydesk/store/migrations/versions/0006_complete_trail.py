"""PostgreSQL: no chosen ids, a trail the database writes itself, server times, checked names

Revision ID: 0006
Revises: 0005

Nothing changes on SQLite (its boundary is the file). On PostgreSQL:

* Ids: INSERT is granted column by column, never on `id`: no role but the
  store's owner chooses an id by any route (`INSERT (id, …)`, `OVERRIDING
  SYSTEM VALUE`), as a viewer did to take the next `audit_event` or `account`
  ids and break every other workspace's writes with duplicate keys. Nor can
  anyone use ids up: every id a keydesk role draws (workspace, account,
  membership, integration, api_key, audit_event, ssh_approval) and every
  column naming one is bigint, and so are their sequences
  (pg_rules.retype_ids): keydesk_create_workspace draws a workspace id even
  when it refuses, and every audited write an audit_event id. A role that may insert needs USAGE
  on the sequence (DEFAULT nextval() runs with the inserting role's rights;
  an id drawn as the owner by a trigger would still be drawn by every
  attempt, refused ones included), so it may call nextval(): as int4 a
  viewer drew all 2^31 in ~35 minutes and every workspace's writes failed;
  2^63 at a million a second last 290,000 years. setval needs UPDATE,
  which no keydesk role has.
* The trail: no keydesk role may insert into `audit_event` (nor use its
  sequence). Every insert, update and delete of `api_key`, `integration`,
  `membership` and of a workspace (creation, key policy, name) writes its
  event from an AFTER trigger, as the table's owner, with `actor =
  session_user` and the server's time, whoever made the change and however.
  keydesk writes no event of its own on PostgreSQL: one event per change,
  with the actions, targets and labels keydesk wrote before (one
  `key.rotate` for a rotation, …). The database is the only writer (not a
  trigger standing aside when keydesk wrote a matching event) because what
  keydesk's client sends (an event, a `SET LOCAL`) a client typing SQL can
  send too: nothing a client sends may decide whether an event is written. A client adds one thing: `keydesk_mark_leaked`
  turns the `key.revoke` event of a revocation its own transaction just made
  into `key.revoke.leaked` with where the key was found; the revocation, its
  actor and time stay the database's. A verification's `last_used_at` is no
  event.
* Server times: `created_at` on insert, an integration's `updated_at`, and
  `revoked_at` when a key is revoked are `statement_timestamp()`, whatever
  the client sent (BEFORE triggers). The store's owner and superusers
  (`keydesk_privileged()`, its administrators) keep what they write, as
  with revision 0002's audit clock; their changes are in the trail too.
* Names (workspace, account, integration, key label): NFC, no surrounding
  space, within their length, no control, format, private-use or line
  separator character (Unicode 14's list, frozen here), not a private key;
  `keydesk_create_workspace` trims and NFC-normalizes first, as the CLI
  does. A workspace or account name, or an integration name in its
  workspace, reading like an existing one is refused, on creation and on
  rename: keydesk_skeletons is validation.skeletons, generated when this
  revision runs from the same confusable_homoglyphs data the CLI reads
  (every code point in it) and Python's case folding of every code point
  (pg_rules.skeleton_functions); a test compares both on every Latin,
  Greek and Cyrillic letter. Limit: NFKC is PostgreSQL's, whose Unicode
  version may differ from Python's for code points new in one of them.
* Values: an integration's status and a membership's role are ones keydesk
  knows, a key's lifetime and a workspace's key policy are 1 to 36500
  days, an integration's provider, client id, redirect URI and scopes are
  printable and its redirect URI one keydesk accepts, scopes are in
  keydesk's form (tokens, one space apart, no comma), a key's times are
  finite and in years 2000 to 9999, whoever writes them (CHECK constraints,
  pg_rules.CHECKS): SQL cannot set a value that would make keydesk's
  commands fail or restyle a terminal. A store already holding one is not
  upgraded (the error names the constraint); the store's owner can drop a
  constraint, and keydesk then reads such a row as one line naming it.
* `keydesk_mark_leaked` (every user may call it) keeps a note only under a
  label's rules (printable, NFC, 64 characters, not a private key);
  `keydesk_revoke_leaked` revokes whatever note it was sent, keeping a
  refused one as a neutral line.
"""

from __future__ import annotations

import importlib

from alembic import op

from keydesk.store.migrations.pg_rules import CHECKS, name_functions, retype_ids

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

USERS = "keydesk_users"

# Column by column, every column but `id` (the sequence gives it; the server
# overrides created_at, and policies keep revoked_* and last_used_at empty).
INSERTS = {
    "account": "name, created_at",
    "membership": "workspace_id, account_id, role, created_at",
    "integration": "workspace_id, name, provider, client_id, redirect_uri, scopes, status,"
    " created_at, updated_at",
    "api_key": "integration_id, public_key, label, secret_hash, created_at, created_by,"
    " revoked_at, revoked_by, expires_at, last_used_at, scopes, lifetime_days, replaces_id",
}

# After name_functions(), which is built when the revision runs on PostgreSQL,
# not when Alembic loads this file: it walks every code point (~0.4 s), which
# a SQLite store, where this revision does nothing, should not wait for.
TRAIL_FUNCTIONS = {
    "keydesk_stop_time(timestamp with time zone)": """
CREATE FUNCTION keydesk_stop_time(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $fn$
    -- views.stop_time: UTC to the minute
    SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24') || ':'
        || to_char(p_at AT TIME ZONE 'UTC', 'MI') || ' UTC'
$fn$
""",
    "keydesk_server_times()": """
CREATE FUNCTION keydesk_server_times() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    IF keydesk_privileged() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := statement_timestamp();
    END IF;
    IF TG_TABLE_NAME = 'integration' THEN
        NEW.updated_at := statement_timestamp();
    ELSIF TG_TABLE_NAME = 'api_key' AND TG_OP = 'UPDATE' THEN  -- being revoked (its WHEN)
        NEW.revoked_at := statement_timestamp();
    END IF;
    RETURN NEW;
END
$fn$
""",
    # The one writer of the trail. Not granted to anyone: only the triggers
    # and functions below, running as the owner, call it.
    "keydesk_record(bigint, bigint, text, text, text, text)": """
CREATE FUNCTION keydesk_record(p_workspace bigint, p_integration bigint, p_action text,
    p_target text, p_label text DEFAULT NULL, p_related text DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER AS $fn$
    -- No workspace (deleted, with its trail, by the store's owner): no event.
    INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label,
        related, at)
    SELECT w.id, (SELECT i.id FROM integration i WHERE i.id = p_integration), session_user,
        p_action, left(p_target, 128), left(p_label, 64), left(p_related, 128),
        statement_timestamp()
    FROM workspace w WHERE w.id = p_workspace
$fn$
""",
    "keydesk_audit_workspace()": """
CREATE FUNCTION keydesk_audit_workspace() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM keydesk_record(NEW.id, NULL, 'workspace.create', NEW.name);
    ELSIF TG_ARGV[0] = 'policy' THEN
        PERFORM keydesk_record(NEW.id, NULL, 'workspace.policy', NEW.name,
            'max key lifetime ' || coalesce(NEW.max_key_lifetime_days || 'd', 'none'));
    ELSE
        PERFORM keydesk_record(NEW.id, NULL, 'workspace.rename', NEW.name, 'was ' || OLD.name);
    END IF;
    RETURN NULL;
END
$fn$
""",
    "keydesk_audit_membership()": """
CREATE FUNCTION keydesk_audit_membership() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    who text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT name INTO who FROM account WHERE id = OLD.account_id;
        PERFORM keydesk_record(OLD.workspace_id, NULL, 'member.remove',
            coalesce(who, 'account #' || OLD.account_id), OLD.role);
        RETURN NULL;
    END IF;
    SELECT name INTO who FROM account WHERE id = NEW.account_id;
    IF TG_OP = 'UPDATE' THEN
        PERFORM keydesk_record(NEW.workspace_id, NULL, 'member.set', who, NEW.role);
    -- A workspace's first member is its creator, made with it (only
    -- keydesk_create_workspace can): its workspace.create says so. Anyone
    -- else adding a member is a member already, so this is never them.
    ELSIF EXISTS (SELECT 1 FROM membership WHERE workspace_id = NEW.workspace_id AND id <> NEW.id)
    THEN
        PERFORM keydesk_record(NEW.workspace_id, NULL, 'member.add', who, NEW.role);
    END IF;
    RETURN NULL;
END
$fn$
""",
    "keydesk_audit_integration()": """
CREATE FUNCTION keydesk_audit_integration() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    status_before text := 'draft';
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM keydesk_record(OLD.workspace_id, NULL, 'integration.delete', OLD.name);
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM keydesk_record(NEW.workspace_id, NEW.id, 'integration.add', NEW.name);
    ELSE
        status_before := OLD.status;
        -- An edit (keydesk writes one even when nothing but the time changed).
        IF NEW.status = OLD.status OR (NEW.workspace_id, NEW.name, NEW.provider, NEW.client_id,
                NEW.redirect_uri, NEW.scopes) IS DISTINCT FROM (OLD.workspace_id, OLD.name,
                OLD.provider, OLD.client_id, OLD.redirect_uri, OLD.scopes) THEN
            PERFORM keydesk_record(NEW.workspace_id, NEW.id, 'integration.update', NEW.name);
        END IF;
    END IF;
    IF NEW.status IS DISTINCT FROM status_before THEN
        PERFORM keydesk_record(NEW.workspace_id, NEW.id,
            CASE NEW.status WHEN 'configured' THEN 'integration.configure'
                WHEN 'disabled' THEN 'integration.disable' ELSE 'integration.status' END,
            NEW.name, CASE WHEN NEW.status NOT IN ('configured', 'disabled') THEN NEW.status END);
    END IF;
    RETURN NULL;
END
$fn$
""",
    "keydesk_audit_api_key()": """
CREATE FUNCTION keydesk_audit_api_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    ws bigint;
    changed text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT workspace_id INTO ws FROM integration WHERE id = OLD.integration_id;
        PERFORM keydesk_record(ws, OLD.integration_id, 'key.delete', OLD.public_key, OLD.label);
        RETURN NULL;
    END IF;
    SELECT workspace_id INTO ws FROM integration WHERE id = NEW.integration_id;
    IF TG_OP = 'INSERT' THEN
        IF NEW.replaces_id IS NULL THEN
            PERFORM keydesk_record(ws, NEW.integration_id, 'key.create', NEW.public_key, NEW.label);
        ELSE
            PERFORM keydesk_record_rotation(ws, NEW.integration_id, NEW.replaces_id, NEW.public_key);
        END IF;
        RETURN NULL;
    END IF;
    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM keydesk_record(ws, NEW.integration_id, 'key.revoke', NEW.public_key, NEW.label);
    ELSIF NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        PERFORM keydesk_record(ws, NEW.integration_id, 'key.expire', NEW.public_key,
            coalesce('stops ' || keydesk_stop_time(NEW.expires_at), 'no expiry'));
    END IF;
    -- Only the store's owner may change anything else (a hash, scopes, …): said too.
    SELECT string_agg(n.key, ', ' ORDER BY n.key) INTO changed FROM jsonb_each(to_jsonb(NEW)) n
        WHERE n.key NOT IN ('last_used_at', 'revoked_at', 'revoked_by', 'expires_at')
        AND n.value IS DISTINCT FROM to_jsonb(OLD) -> n.key;
    IF changed IS NOT NULL THEN
        PERFORM keydesk_record(ws, NEW.integration_id, 'key.change', NEW.public_key,
            'changed ' || changed);
    END IF;
    RETURN NULL;
END
$fn$
""",
    "keydesk_record_rotation(bigint, bigint, bigint, text)": """
CREATE FUNCTION keydesk_record_rotation(p_workspace bigint, p_integration bigint,
    p_old bigint, p_new text)
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    old_key record;
    what text;
BEGIN
    SELECT public_key, revoked_at, expires_at INTO old_key FROM api_key WHERE id = p_old;
    -- One event for a rotation, as keydesk has always shown it: the old
    -- key's revocation or new expiry, made earlier in this same transaction
    -- by this same role, is told by this event (from the key's state now,
    -- so it cannot say less than what happened).
    DELETE FROM audit_event WHERE xmin = pg_current_xact_id()::xid AND actor = session_user
        AND target = old_key.public_key AND action IN ('key.revoke', 'key.expire');
    what := CASE
        WHEN old_key.revoked_at >= transaction_timestamp() THEN 'old key revoked at once'
        WHEN old_key.revoked_at IS NOT NULL THEN
            'old key was revoked ' || keydesk_stop_time(old_key.revoked_at)
        WHEN old_key.expires_at IS NULL THEN 'old key does not stop'
        WHEN old_key.expires_at <= statement_timestamp() THEN
            'old key had stopped ' || keydesk_stop_time(old_key.expires_at)
        ELSE 'old key stops ' || keydesk_stop_time(old_key.expires_at)
    END;
    PERFORM keydesk_record(p_workspace, p_integration, 'key.rotate', old_key.public_key, what,
        p_new);
END
$fn$
""",
    # What only the client knows: a key it just revoked leaked, and where
    # (under the rules of a key's label: no control character, no private key).
    "keydesk_mark_leaked(text, text)": """
CREATE FUNCTION keydesk_mark_leaked(p_public_key text, p_label text)
RETURNS integer LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    refusal text := keydesk_name_refusal(p_label, 'the label', 64);
    marked integer;
BEGIN
    IF refusal IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'KD005', MESSAGE = refusal;
    END IF;
    UPDATE audit_event SET action = 'key.revoke.leaked', label = p_label
        WHERE xmin = pg_current_xact_id()::xid AND actor = session_user
            AND action = 'key.revoke' AND target = p_public_key;
    GET DIAGNOSTICS marked = ROW_COUNT;
    RETURN marked;
END
$fn$
""",
}

# Revision 0002's, its name trimmed, put in NFC and checked first, as the CLI does.
CREATE_WORKSPACE = r"""
CREATE OR REPLACE FUNCTION keydesk_create_workspace(p_name text, p_owner text DEFAULT session_user)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    new_workspace bigint;
    owner_account bigint;
    refusal text;
BEGIN
    IF p_owner IS DISTINCT FROM session_user AND NOT keydesk_privileged() THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'you can create a workspace only with yourself (' || session_user
                || ') as its owner';
    END IF;
    p_name := normalize(regexp_replace(p_name, '^\s+|\s+$', '', 'g'), NFC);
    refusal := keydesk_name_refusal(p_name, 'the workspace name', 64);
    IF refusal IS NOT NULL THEN  -- here: a longer name would not reach the row's trigger
        RAISE EXCEPTION USING ERRCODE = 'KD005', MESSAGE = refusal;
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

# Revision 0004's, with the event now the trigger's, marked as a leak.
REVOKE_LEAKED = """
CREATE OR REPLACE FUNCTION keydesk_revoke_leaked(p_public_key text, p_label text)
RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    revoked_id bigint;
BEGIN
    UPDATE api_key SET revoked_at = statement_timestamp(),
        revoked_by = (SELECT a.id FROM account a WHERE a.name = session_user)
        WHERE public_key = p_public_key AND revoked_at IS NULL
        RETURNING id INTO revoked_id;
    IF revoked_id IS NULL THEN
        IF EXISTS (SELECT 1 FROM api_key WHERE public_key = p_public_key) THEN
            RETURN 'already_revoked';
        END IF;
        RETURN 'unknown';
    END IF;
    -- A leaked key is revoked whatever it was sent with; a refused note is not kept.
    PERFORM keydesk_mark_leaked(p_public_key, CASE WHEN keydesk_name_refusal(p_label, '', 64)
        IS NULL THEN p_label ELSE 'found at a place keydesk may not show' END);
    RETURN 'revoked';
END
$fn$
"""

# (name, table, timing and events, WHEN or None, function call)
TRIGGERS = (
    *((f"{t}_names", t, f"BEFORE INSERT OR UPDATE OF {c}", None, "keydesk_check_names()")
      for t, c in (("workspace", "name"), ("account", "name"), ("integration", "name"),
                   ("api_key", "label"))),
    *((f"{t}_created_at", t, "BEFORE INSERT", None, "keydesk_server_times()")
      for t in ("workspace", "account", "membership", "integration", "api_key")),
    ("integration_updated_at", "integration", "BEFORE UPDATE", None, "keydesk_server_times()"),
    ("api_key_revoked_at", "api_key", "BEFORE UPDATE",
     "OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL", "keydesk_server_times()"),
    ("workspace_audit_create", "workspace", "AFTER INSERT", None, "keydesk_audit_workspace()"),
    ("workspace_audit_policy", "workspace", "AFTER UPDATE OF max_key_lifetime_days", None,
     "keydesk_audit_workspace('policy')"),
    ("workspace_audit_rename", "workspace", "AFTER UPDATE", "OLD.name IS DISTINCT FROM NEW.name",
     "keydesk_audit_workspace('rename')"),
    ("membership_audit", "membership", "AFTER INSERT OR UPDATE OR DELETE", None,
     "keydesk_audit_membership()"),
    ("integration_audit", "integration", "AFTER INSERT OR UPDATE OR DELETE", None,
     "keydesk_audit_integration()"),
    ("api_key_audit", "api_key", "AFTER INSERT OR DELETE", None, "keydesk_audit_api_key()"),
    # A verification's last_used_at is no event.
    ("api_key_audit_change", "api_key", "AFTER UPDATE",
     "(to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at')",
     "keydesk_audit_api_key()"),
)  # fmt: skip

# Revision 0002's, which this one drops: users no longer write events.
AUDIT_APPEND = (
    f"CREATE POLICY audit_append ON audit_event FOR INSERT TO {USERS}"
    " WITH CHECK (actor = session_user AND workspace_id IN (SELECT keydesk_visible_workspaces()))"
)


def functions() -> dict[str, str]:
    """Every function this revision makes, (signature, SQL) in the order made."""
    return {**name_functions(), **TRAIL_FUNCTIONS}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    made = functions()
    for statement in retype_ids("integer", "bigint"):
        op.execute(statement)
    for table, name, check in CHECKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")
    for table, columns in INSERTS.items():
        # Revoking the table's INSERT revokes its column grants with it.
        op.execute(f"REVOKE INSERT ON {table} FROM {USERS}")
        op.execute(f"GRANT INSERT ({columns}) ON {table} TO {USERS}")
    op.execute(f"REVOKE INSERT ON audit_event FROM {USERS}")
    op.execute(f"REVOKE USAGE ON SEQUENCE audit_event_id_seq FROM {USERS}")
    op.execute("DROP POLICY audit_append ON audit_event")
    for sql in made.values():
        op.execute(sql)
    _replace_create_workspace(CREATE_WORKSPACE)
    op.execute(REVOKE_LEAKED)
    _pin(
        *made,
        "keydesk_create_workspace(text, text)",
        "keydesk_revoke_leaked(text, text)",
        "keydesk_revocation_is_final()",  # 0003 replaced it and lost 0002's setting
    )
    for signature in made:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION keydesk_mark_leaked(text, text) TO {USERS}")
    for name, table, when, condition, call in TRIGGERS:
        guard = f" WHEN ({condition})" if condition else ""
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW{guard} EXECUTE FUNCTION {call}"
        )


def _replace_create_workspace(sql: str) -> None:
    """Its workspace id changes type, which CREATE OR REPLACE cannot do."""
    op.execute("DROP FUNCTION keydesk_create_workspace(text, text)")
    op.execute(sql)
    op.execute("REVOKE ALL ON FUNCTION keydesk_create_workspace(text, text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION keydesk_create_workspace(text, text) TO {USERS}")


def _pin(*signatures: str) -> None:
    """No function may find objects in a schema its caller controls (pg_temp is
    searched first unless named); CREATE OR REPLACE drops it: all pinned here."""
    for signature in signatures:
        op.execute(
            f"DO $do$ BEGIN EXECUTE format('ALTER FUNCTION {signature}"
            " SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $do$"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    made = functions()
    for name, table, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for earlier, sql in (("0002_proven_identity", "CREATE_WORKSPACE"),
                         ("0004_leaked_key_revocation", "REVOKE_LEAKED")):  # fmt: skip
        text = getattr(importlib.import_module(f"keydesk.store.migrations.versions.{earlier}"), sql)
        if sql == "CREATE_WORKSPACE":
            _replace_create_workspace(text)
        else:
            op.execute(text.replace("CREATE ", "CREATE OR REPLACE ", 1))
    _pin("keydesk_create_workspace(text, text)", "keydesk_revoke_leaked(text, text)")
    for signature in reversed(made):
        op.execute(f"DROP FUNCTION {signature}")
    op.execute(AUDIT_APPEND)
    op.execute(f"GRANT USAGE ON SEQUENCE audit_event_id_seq TO {USERS}")
    for table in (*INSERTS, "audit_event"):
        op.execute(f"REVOKE INSERT ON {table} FROM {USERS}")  # the column grants too
        op.execute(f"GRANT INSERT ON {table} TO {USERS}")
    for table, name, _ in CHECKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for statement in retype_ids("bigint", "integer"):
        op.execute(statement)
