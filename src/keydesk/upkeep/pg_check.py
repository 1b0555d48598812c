"""`keydesk store check` on PostgreSQL: the roles, grants, row-level
security, policies and triggers compared with what `keydesk postgres setup`
makes, a DBA's stray GRANT or a dropped policy reported.

What setup makes is not restated here (a copied list would drift from the
migrations): inside one transaction that is always rolled back, the same
migrations `setup` runs are run again as the store's owner in a scratch
schema, and the catalogue of that schema is compared with the store's.
Nothing of it is ever committed. Run as a superuser, as `setup` is."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from keydesk.errors import PermissionDenied, StoreNotFound, StoreUnavailable
from keydesk.store.dbapi import first_line, without
from keydesk.store.postgres_roles import USERS_ROLE, VERIFIER_ROLE
from keydesk.upkeep.findings import Finding, hash_findings, schema_findings

GRANTED = "granted"
# (kind, object, definition): an object missing, unexpected or defined otherwise.
Item = tuple[str, str, str]

CATALOGUE = {
    "row-level security": (
        "SELECT 'table ' || c.relname, CASE WHEN c.relrowsecurity THEN 'on' ELSE 'off' END"
        " || CASE WHEN c.relforcerowsecurity THEN ', forced' ELSE '' END"
        " FROM pg_class c WHERE c.relnamespace = :schema AND c.relkind = 'r'"
    ),
    "owner": (
        "SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' ELSE 'table ' END || c.relname,"
        " pg_get_userbyid(c.relowner)"
        " FROM pg_class c WHERE c.relnamespace = :schema AND c.relkind IN ('r', 'S')"
    ),
    "grant": (
        "SELECT a.privilege_type || ' on ' || CASE c.relkind WHEN 'S' THEN 'sequence '"
        " ELSE 'table ' END || c.relname || ' to ' || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, 'granted'"
        " FROM pg_class c, aclexplode(c.relacl) a"
        " WHERE c.relnamespace = :schema AND a.grantee <> c.relowner"
        " UNION ALL SELECT a.privilege_type || ' (' || att.attname || ') on table ' || c.relname"
        " || ' to ' || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, 'granted'"
        " FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a"
        " WHERE c.relnamespace = :schema AND NOT att.attisdropped AND a.grantee <> c.relowner"
        " UNION ALL SELECT a.privilege_type || ' on function ' || p.proname || '('"
        " || pg_get_function_identity_arguments(p.oid) || ') to ' || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, 'granted'"
        " FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
        " WHERE p.pronamespace = :schema AND a.grantee <> p.proowner"
    ),
    "policy": (
        "SELECT p.polname || ' on ' || c.relname, 'for ' || CASE p.polcmd WHEN 'r' THEN 'SELECT'"
        " WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END"
        " || CASE WHEN p.polpermissive THEN '' ELSE ' (restrictive)' END || ' to '"
        " || (SELECT string_agg(CASE r WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END, ', '"
        " ORDER BY 1) FROM unnest(p.polroles) r)"
        " || coalesce(' using ' || pg_get_expr(p.polqual, p.polrelid), '')"
        " || coalesce(' check ' || pg_get_expr(p.polwithcheck, p.polrelid), '')"
        " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = :schema"
    ),
    "trigger": (
        "SELECT t.tgname || ' on ' || c.relname, CASE t.tgenabled WHEN 'D' THEN 'disabled'"
        " ELSE 'enabled' END || ', calls ' || f.proname"
        " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc f ON f.oid = t.tgfoid"
        " WHERE c.relnamespace = :schema AND NOT t.tgisinternal"
    ),
}


def check_postgres(url: str) -> list[Finding]:
    from keydesk.store.engine import create_engine

    engine = create_engine(sa.make_url(url))
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                return _findings(connection)
            finally:
                transaction.rollback()  # the scratch schema, and anything else, undone
    except DBAPIError as exc:
        reason = without(first_line(exc.orig), engine.url.password)
        raise StoreUnavailable(f"cannot check the store: {reason}") from None
    finally:
        engine.dispose()


def _findings(connection: sa.Connection) -> list[Finding]:
    one = connection.execute
    schema = str(one(sa.text("SELECT current_schema()")).scalar_one())
    owner = one(
        sa.text("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = :t"),
        {"s": schema, "t": "alembic_version"},
    ).scalar()
    if owner is None:
        raise StoreNotFound("no keydesk store in this database (keydesk postgres setup makes one)")
    if not one(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
        raise PermissionDenied(
            "store check on PostgreSQL compares the catalogue with what setup makes: run it as a "
            "superuser, as keydesk postgres setup is run"
        )
    found = list(schema_findings(one(sa.text("SELECT version_num FROM alembic_version")).scalar()))
    found += hash_findings(one(sa.text("SELECT public_key, secret_hash FROM api_key")))
    found += role_findings(connection, str(owner))
    actual = catalogue(connection, schema)
    expected = reference(connection, str(owner))
    found += compare(expected, actual)
    return found


def catalogue(connection: sa.Connection, schema: str) -> set[Item]:
    """The schema's grants, policies, … as (kind, object, definition),
    expressions shown as seen from that schema (so two schemas compare)."""
    connection.execute(sa.text(f'SET LOCAL search_path = "{schema}", pg_catalog'))
    oid = connection.execute(
        sa.text("SELECT CAST(CAST(:s AS regnamespace) AS oid)"), {"s": schema}
    ).scalar_one()
    return {
        (kind, str(name), str(definition))
        for kind, sql in CATALOGUE.items()
        for name, definition in connection.execute(sa.text(sql), {"schema": oid})
    }


def reference(connection: sa.Connection, owner: str) -> set[Item]:
    """What setup's migrations make, made as `owner` in a scratch schema of
    this transaction (rolled back by the caller)."""
    from keydesk.store.migrations import upgrade_within

    scratch = f"keydesk_check_{secrets.token_hex(6)}"
    connection.execute(sa.text(f'CREATE SCHEMA "{scratch}" AUTHORIZATION "{owner}"'))
    connection.execute(sa.text(f'SET LOCAL ROLE "{owner}"'))
    connection.execute(sa.text(f'SET LOCAL search_path = "{scratch}"'))
    upgrade_within(connection)
    connection.execute(sa.text("RESET ROLE"))
    return catalogue(connection, scratch)


def compare(expected: set[Item], actual: set[Item]) -> Iterable[Finding]:
    want = {(kind, name): definition for kind, name, definition in expected}
    have = {(kind, name): definition for kind, name, definition in actual}
    for kind, name in sorted(want.keys() | have.keys()):
        wanted, had = want.get((kind, name)), have.get((kind, name))
        if wanted == had:
            continue
        if had is None:
            yield Finding(kind, f"missing: {name}{_shown(wanted)}")
        elif wanted is None:
            yield Finding(kind, f"unexpected: {name}{_shown(had)}")
        elif len(had) + len(wanted) > _SHORT:  # a policy's expressions: too long for one line
            yield Finding(kind, f"{name} differs from what setup makes")
        else:
            yield Finding(kind, f"{name} is {had}; setup makes it {wanted}")


_SHORT = 80


def _shown(definition: str | None) -> str:
    """A definition worth its place on the finding's one line."""
    if definition is None or definition == GRANTED or len(definition) > _SHORT:
        return ""
    return f" ({definition})"


def role_findings(connection: sa.Connection, owner: str) -> Iterable[Finding]:
    """setup's three roles are there, none logs in, and no login role acts as the owner."""
    rows: dict[str, Any] = {
        row.rolname: row
        for row in connection.execute(
            sa.text(
                "SELECT rolname, rolcanlogin, rolbypassrls FROM pg_roles"
                " WHERE rolname = ANY(:names)"
            ),
            {"names": [owner, USERS_ROLE, VERIFIER_ROLE]},
        )
    }
    for role in (owner, USERS_ROLE, VERIFIER_ROLE):
        row = rows.get(role)
        if row is None:
            yield Finding("role", f"{role} is missing (keydesk postgres setup makes it)")
        elif row.rolcanlogin:
            yield Finding("role", f"{role} can log in; setup makes it NOLOGIN (grant it instead)")
        elif row.rolbypassrls and role != owner:
            yield Finding("role", f"{role} bypasses row-level security")
    for (member,) in connection.execute(
        sa.text(
            "SELECT m.rolname FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member"
            " JOIN pg_roles r ON r.oid = am.roleid WHERE r.rolname = :owner AND m.rolcanlogin"
        ),
        {"owner": owner},
    ):
        yield Finding(
            "role", f"{member} is a member of the owner role {owner}, above row-level security"
        )
