"""leaked keys on PostgreSQL: revoked by whoever holds them, found by admins

Revision ID: 0004
Revises: 0003

Nothing changes on SQLite. On PostgreSQL, two SECURITY DEFINER functions
(run as the table owner, `search_path` pinned, EXECUTE revoked from PUBLIC):

* `keydesk_revoke_leaked(public_key, label)`, granted to `keydesk_verifier`
  only: revokes one key that is not yet revoked and appends one
  `key.revoke.leaked` event (actor `session_user`, the label saying where it
  leaked and who reported it), in one statement each; idempotent (a second
  call changes nothing and answers `already_revoked`). PostgreSQL cannot run
  argon2, so the proof of possession is checked by the caller, which is why
  only the role that already reads every `secret_hash` may call it: keydesk
  calls it only after checking the presented private key against the hash
  (`KeyService.revoke_leaked_key`). It can revoke, and nothing else: no
  un-revoking, no reading, no creating.
* `keydesk_key_exists(public_key)`, granted to `keydesk_users`: whether the
  store holds a key with this public key, in any workspace, and nothing more
  about it. `keydesk scan`, run by an admin who cannot read hashes, matches
  found keys by public key among the workspaces it sees; with this it can
  tell a key that is unknown to the store (dead) from one in a workspace it
  is not a member of (which may still work), instead of calling both dead.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

USERS = "keydesk_users"
VERIFIER = "keydesk_verifier"

REVOKE_LEAKED = """
CREATE FUNCTION keydesk_revoke_leaked(p_public_key text, p_label text)
RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    revoked_id integer;
    revoked_integration integer;
BEGIN
    -- Conditional: of two reports at once, the second waits for the first's
    -- row lock, finds the key revoked, and changes nothing.
    UPDATE api_key SET revoked_at = statement_timestamp(),
        revoked_by = (SELECT a.id FROM account a WHERE a.name = session_user)
        WHERE public_key = p_public_key AND revoked_at IS NULL
        RETURNING id, integration_id INTO revoked_id, revoked_integration;
    IF revoked_id IS NULL THEN
        IF EXISTS (SELECT 1 FROM api_key WHERE public_key = p_public_key) THEN
            RETURN 'already_revoked';
        END IF;
        RETURN 'unknown';
    END IF;
    INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label, at)
        SELECT i.workspace_id, revoked_integration, session_user, 'key.revoke.leaked',
               p_public_key, left(p_label, 64), statement_timestamp()
        FROM integration i WHERE i.id = revoked_integration;
    RETURN 'revoked';
END
$fn$
"""

KEY_EXISTS = """
CREATE FUNCTION keydesk_key_exists(p_public_key text)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER AS $fn$
    SELECT EXISTS (SELECT 1 FROM api_key WHERE public_key = p_public_key)
$fn$
"""

FUNCTIONS = {
    "keydesk_revoke_leaked(text, text)": (REVOKE_LEAKED, VERIFIER),
    "keydesk_key_exists(text)": (KEY_EXISTS, USERS),
}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for signature, (sql, grantee) in FUNCTIONS.items():
        op.execute(sql)
        # A SECURITY DEFINER function must not find tables or functions in a
        # schema its caller controls (pg_temp is searched first unless named).
        op.execute(
            f"DO $do$ BEGIN EXECUTE format('ALTER FUNCTION {signature}"
            " SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $do$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {grantee}")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
