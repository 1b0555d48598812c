"""keep a key whose rotation's replacement was revoked, as an admin, audited as key.keep

Revision ID: 0010
Revises: 0009

Nothing changes on SQLite (keydesk writes its `key.keep` event itself). On
PostgreSQL, revision 0003 let only the store's owner move a key's expiry
later, so an admin's `keydesk key keep` was refused. Now anyone who manages
the key's workspace may move it later in the one case keep allows, and
only that far (`keydesk_is_keep`):

* the key's newest replacement is revoked (a rotation whose replacement
  was found leaked, say, would otherwise leave the integration keyless);
* the new expiry is no later than the key's own end: its creation plus
  the lifetime it was issued with, within the workspace's key policy as it
  is now (no lifetime and no policy: no expiry), as service.keys computes it.

Anything else (a key never rotated, one whose replacement lives, a day past
its own end, no expiry where it had a lifetime) is refused as before, by
the same trigger, whoever types the SQL. A policy lets the row have no
expiry for that trigger to judge (0003's required one). The trail names
such a change `key.keep` (0006 named every expiry change `key.expire`),
whoever made it, the store's owner included.
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

USERS = "keydesk_users"

IS_KEEP = """
CREATE FUNCTION keydesk_is_keep(p_key bigint, p_old timestamptz, p_new timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $fn$
    -- As the caller (who sees the key, its replacements and its workspace);
    -- hours, not days: a day is 24 hours in service.keys, whatever TimeZone says.
    SELECT coalesce(p_old IS NOT NULL AND (p_new IS NULL OR p_new > p_old)
        AND (SELECT r.revoked_at IS NOT NULL FROM api_key r WHERE r.replaces_id = k.id
             ORDER BY r.id DESC LIMIT 1)
        AND CASE WHEN coalesce(k.lifetime_days, w.max_key_lifetime_days) IS NULL THEN true
            ELSE p_new <= k.created_at
                + make_interval(hours => 24 * least(k.lifetime_days, w.max_key_lifetime_days))
        END, false)
    FROM api_key k JOIN integration i ON i.id = k.integration_id
        JOIN workspace w ON w.id = i.workspace_id
    WHERE k.id = p_key AND k.revoked_at IS NULL
$fn$
"""

EXPIRY_ONLY_EARLIER = """
CREATE OR REPLACE FUNCTION keydesk_expiry_only_earlier() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT keydesk_privileged() AND (NEW.expires_at IS NULL
            OR (OLD.expires_at IS NOT NULL AND NEW.expires_at > OLD.expires_at))
            AND NOT coalesce(keydesk_is_keep(OLD.id, OLD.expires_at, NEW.expires_at), false) THEN
        RAISE EXCEPTION USING ERRCODE = 'KD003',
            MESSAGE = 'key ' || OLD.public_key || '''s expiry can only be brought forward'
                || ' (rotate the key to issue one that lives longer), or moved back to the end'
                || ' of its own lifetime once its replacement was revoked (keydesk key keep)';
    END IF;
    RETURN NEW;
END
$fn$
"""

# 0006's, its expiry branch naming a keep `key.keep`.
KEY_EXPIRE = """\
        PERFORM keydesk_record(ws, NEW.integration_id, 'key.expire', NEW.public_key,"""
KEY_EXPIRE_OR_KEEP = """\
        PERFORM keydesk_record(ws, NEW.integration_id,
            CASE WHEN keydesk_is_keep(NEW.id, OLD.expires_at, NEW.expires_at) THEN 'key.keep'
                ELSE 'key.expire' END, NEW.public_key,"""

# A row with no expiry passes a policy; the trigger decides whether it may.
KEEP_POLICY = (
    "CREATE POLICY api_key_keep ON api_key FOR UPDATE TO keydesk_users"
    " USING (integration_id IN (SELECT id FROM integration))"
    " WITH CHECK (integration_id IN (SELECT id FROM integration"
    " WHERE workspace_id IN (SELECT keydesk_managed_workspaces()))"
    " AND revoked_at IS NULL AND revoked_by IS NULL AND expires_at IS NULL)"
)


def _replacing(module: str, signature: str) -> str:
    """An earlier revision's function (its FUNCTIONS or TRAIL_FUNCTIONS), to replace it."""
    source = importlib.import_module(f"keydesk.store.migrations.versions.{module}")
    functions: dict[str, str] = getattr(source, "FUNCTIONS", None) or source.TRAIL_FUNCTIONS
    return functions[signature].replace("CREATE ", "CREATE OR REPLACE ", 1)


def _audit_api_key(keep: bool) -> str:
    text = _replacing("0006_complete_trail", "keydesk_audit_api_key()")
    assert KEY_EXPIRE in text, "0006's audit of a key's expiry, as this revision replaces it"
    return text.replace(KEY_EXPIRE, KEY_EXPIRE_OR_KEEP) if keep else text


def _pin(*signatures: str) -> None:
    """As 0006's: no function finds objects in a schema its caller controls
    (CREATE OR REPLACE drops the setting)."""
    for signature in signatures:
        op.execute(
            f"DO $do$ BEGIN EXECUTE format('ALTER FUNCTION {signature}"
            " SET search_path = pg_catalog, %I, pg_temp', current_schema()); END $do$"
        )


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(IS_KEEP)
    op.execute(
        "REVOKE ALL ON FUNCTION keydesk_is_keep(bigint, timestamptz, timestamptz) FROM PUBLIC"
    )
    op.execute(
        f"GRANT EXECUTE ON FUNCTION keydesk_is_keep(bigint, timestamptz, timestamptz) TO {USERS}"
    )
    op.execute(EXPIRY_ONLY_EARLIER)
    op.execute(_audit_api_key(keep=True))
    _pin(
        "keydesk_is_keep(bigint, timestamptz, timestamptz)",
        "keydesk_expiry_only_earlier()",
        "keydesk_audit_api_key()",
    )
    op.execute(KEEP_POLICY)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY api_key_keep ON api_key")
    op.execute(_replacing("0003_key_lifecycle", "keydesk_expiry_only_earlier()"))
    op.execute(_audit_api_key(keep=False))
    _pin("keydesk_expiry_only_earlier()", "keydesk_audit_api_key()")
    op.execute("DROP FUNCTION keydesk_is_keep(bigint, timestamptz, timestamptz)")
