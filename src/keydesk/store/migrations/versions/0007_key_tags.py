"""key tags, and one audit event for a batch of revocations

Revision ID: 0007
Revises: 0006

On every backend: `api_key_tag`, a key's tags (`env=prod`), one value per
name and key, found by name and value (an index: `key list --tag`, `key
revoke --tag`). A key's tags go with it (ON DELETE CASCADE, and on SQLite a
trigger that does so whatever PRAGMA foreign_keys says, as 0005's do).

On PostgreSQL, the rules of 0002 and 0006 extended to tags:

* members read the tags of the keys they see; owners and admins add, change
  and remove them (row-level security on the key's workspace); the verifier
  reads none. The table has no id: nobody draws or chooses one.
* names and values are in keydesk's form (CHECK, views.tags' patterns);
* every insert, update and delete writes its event from a trigger, as the
  owner, with the actor `session_user`: `key.tag` (`env=prod`), `key.untag`
  (`env=prod`). A key deleted with its tags writes only its `key.delete`.
* `keydesk_record_revocations(note)`: a bulk revoke's one event per
  workspace, `key.revoke.batch`, counting the `key.revoke` events this
  transaction wrote as this role (so a client cannot claim a batch it did
  not make); `note`, what was asked (`tag env=staging`), under a name's
  rules. Granted to keydesk_users.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from keydesk.store.models import WIDE_ID
from keydesk.views.tags import NAME_PATTERN, TAG_NAME_MAX, TAG_VALUE_MAX, VALUE_PATTERN

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

USERS = "keydesk_users"

VISIBLE_KEY = "api_key_id IN (SELECT id FROM api_key)"  # api_key's own policy decides
MANAGED_KEY = (
    "api_key_id IN (SELECT k.id FROM api_key k JOIN integration i ON i.id = k.integration_id"
    " WHERE i.workspace_id IN (SELECT keydesk_managed_workspaces()))"
)
# (policy, command, USING, WITH CHECK)
POLICIES = (
    ("api_key_tag_read", "SELECT", VISIBLE_KEY, None),
    ("api_key_tag_add", "INSERT", None, MANAGED_KEY),
    ("api_key_tag_change", "UPDATE", VISIBLE_KEY, MANAGED_KEY),
    ("api_key_tag_remove", "DELETE", MANAGED_KEY, None),
)
GRANTS = (
    f"GRANT SELECT, DELETE ON api_key_tag TO {USERS}",
    f"GRANT INSERT (api_key_id, name, value) ON api_key_tag TO {USERS}",
    f"GRANT UPDATE (value) ON api_key_tag TO {USERS}",
)
CHECKS = (
    ("api_key_tag_name_form", f"name ~ '^{NAME_PATTERN}$'"),
    ("api_key_tag_value_form", f"value ~ '^{VALUE_PATTERN}$'"),
)

FUNCTIONS = {
    "keydesk_audit_api_key_tag()": """
CREATE FUNCTION keydesk_audit_api_key_tag() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    tagged record;
    tag record;
BEGIN
    IF TG_OP = 'DELETE' THEN tag := OLD; ELSE tag := NEW; END IF;
    SELECT k.public_key, k.integration_id, i.workspace_id INTO tagged
        FROM api_key k JOIN integration i ON i.id = k.integration_id WHERE k.id = tag.api_key_id;
    IF NOT FOUND THEN  -- the key itself is being deleted: its key.delete says so
        RETURN NULL;
    END IF;
    PERFORM keydesk_record(tagged.workspace_id, tagged.integration_id,
        CASE TG_OP WHEN 'DELETE' THEN 'key.untag' ELSE 'key.tag' END,
        tagged.public_key, tag.name || '=' || tag.value);
    RETURN NULL;
END
$fn$
""",
    "keydesk_record_revocations(text)": """
CREATE FUNCTION keydesk_record_revocations(p_note text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $fn$
DECLARE
    refusal text := keydesk_name_refusal(p_note, 'the note', 128);
    done record;
    total integer := 0;
BEGIN
    IF refusal IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'KD005', MESSAGE = refusal;
    END IF;
    FOR done IN SELECT workspace_id, count(*) AS n, min(integration_id) AS one,
            count(DISTINCT integration_id) AS integrations
        FROM audit_event WHERE xmin = pg_current_xact_id()::xid AND actor = session_user
            AND action = 'key.revoke'
        GROUP BY workspace_id LOOP
        PERFORM keydesk_record(done.workspace_id,
            CASE WHEN done.integrations = 1 THEN done.one END, 'key.revoke.batch', p_note,
            done.n || CASE WHEN done.n = 1 THEN ' key revoked' ELSE ' keys revoked' END);
        total := total + done.n;
    END LOOP;
    RETURN total;
END
$fn$
""",
}


def upgrade() -> None:
    op.create_table(
        "api_key_tag",
        sa.Column("api_key_id", WIDE_ID, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=TAG_NAME_MAX), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=TAG_VALUE_MAX), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "name"),
    )
    op.create_index("ix_api_key_tag_name_value", "api_key_tag", ["name", "value"])
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER api_key_tag_cascade AFTER DELETE ON api_key FOR EACH ROW"
            " BEGIN DELETE FROM api_key_tag WHERE api_key_id = OLD.id; END"
        )
    if dialect == "postgresql":
        _enforce_in_postgres()


def _enforce_in_postgres() -> None:
    for name, rule in CHECKS:
        op.execute(f"ALTER TABLE api_key_tag ADD CONSTRAINT {name} CHECK ({rule})")
    op.execute("ALTER TABLE api_key_tag ENABLE ROW LEVEL SECURITY")
    for name, command, using, check in POLICIES:
        sql = f"CREATE POLICY {name} ON api_key_tag FOR {command} TO {USERS}"
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
    op.execute(f"GRANT EXECUTE ON FUNCTION keydesk_record_revocations(text) TO {USERS}")
    op.execute(
        "CREATE TRIGGER api_key_tag_audit AFTER INSERT OR UPDATE OR DELETE ON api_key_tag"
        " FOR EACH ROW EXECUTE FUNCTION keydesk_audit_api_key_tag()"
    )


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS api_key_tag_cascade")
    op.drop_index("ix_api_key_tag_name_value", table_name="api_key_tag")
    op.drop_table("api_key_tag")  # its trigger and policies with it
    if dialect == "postgresql":
        for signature in FUNCTIONS:
            op.execute(f"DROP FUNCTION {signature}")
