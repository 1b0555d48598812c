"""Setting up a PostgreSQL store for a team (`keydesk postgres setup`).

Three group roles, cluster-wide:

* an owner role (default `keydesk`, NOLOGIN) that owns the schema and runs
  the migrations; as the tables' owner it is not bound by row-level
  security, so grant it to no one who administers keys day to day;
* `keydesk_users`, granted by the DBA to each admin's login role: what each
  may see and change is decided by row-level security and the membership
  table (migration 0002);
* `keydesk_verifier`, for `keydesk serve` and the middleware: reads only
  what verification needs, updates only `last_used_at` and adds to usage
  counts.

Everything here is idempotent: running it again changes nothing that is
already right. Its SQL can be printed for a DBA to read and run instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from keydesk.errors import InvalidInput, PermissionDenied, StoreUnavailable
from keydesk.store.dbapi import first_line

USERS_ROLE = "keydesk_users"
VERIFIER_ROLE = "keydesk_verifier"
DEFAULT_OWNER = "keydesk"
KEYDESK_TABLES = (
    "alembic_version",
    "workspace",
    "account",
    "membership",
    "integration",
    "api_key",
    "audit_event",
    "key_usage",
    "ssh_approval",
    "api_key_tag",
    "key_policy",
    "workspace_policy",
    "key_window",
    "key_source",
    "notify_channel",
    "notify_notice",
    "notify_delivery",
)
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class SetupResult:
    database: str
    owner: str
    created_roles: tuple[str, ...]
    revision_before: str | None
    revision_after: str | None


def owner_role(name: str) -> str:
    """A role name that needs no quoting (lower case letters, digits, _)."""
    if not _ROLE_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} cannot be the owner role: use lower-case letters, digits and _ "
            "(at most 63, not starting with a digit)"
        )
    if name in (USERS_ROLE, VERIFIER_ROLE):
        raise InvalidInput(f"the owner role must not be {name}, which keydesk grants to others")
    return name


def roles_sql(owner: str) -> list[str]:
    """What a DBA runs once in the store's database (idempotent): the roles,
    who may connect, and the owner role owning what keydesk made before."""
    owner = owner_role(owner)
    statements = [_create_role(role) for role in (owner, USERS_ROLE, VERIFIER_ROLE)]
    statements += [
        # Only the owner creates objects in the schema (PostgreSQL < 15 let everyone).
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}",
        f"GRANT USAGE ON SCHEMA public TO {USERS_ROLE}, {VERIFIER_ROLE}",
        "DO $do$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO "
        f"{USERS_ROLE}, {VERIFIER_ROLE}', current_database()); END $do$",
        # A store someone opened before this set-up: hand its tables (and
        # with them their sequences and indexes) and functions to the owner.
        "DO $do$ DECLARE t text; f regprocedure; BEGIN"  # noqa: S608 (checked names)
        f" FOREACH t IN ARRAY ARRAY[{', '.join(repr(t) for t in KEYDESK_TABLES)}] LOOP"
        "  IF to_regclass(t) IS NOT NULL THEN"
        f"   EXECUTE format('ALTER TABLE %I OWNER TO {owner}', t);"
        "  END IF;"
        " END LOOP;"
        " FOR f IN SELECT p.oid::regprocedure FROM pg_proc p"
        "  WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'keydesk\\_%' LOOP"
        f"  EXECUTE format('ALTER FUNCTION %s OWNER TO {owner}', f);"
        " END LOOP; END $do$",
    ]
    return statements


def _create_role(role: str) -> str:
    return (
        "DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "  # noqa: S608 (checked names)
        f"'{role}') THEN CREATE ROLE {role} NOLOGIN; END IF;"
        " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $do$"
    )


def setup_script(owner: str) -> str:
    """Everything `setup` applies, as one psql script for a new database."""
    from keydesk.store.migrations import offline_sql

    owner = owner_role(owner)
    return "\n".join(
        [
            "-- keydesk postgres setup: run as a superuser, in the keydesk database:",
            "--   keydesk postgres setup --print | psql -v ON_ERROR_STOP=1 -d keydesk",
            "-- The roles are idempotent; the schema below is for a new database (on one",
            "-- that has it, run `keydesk postgres setup`, which applies only what is missing).",
            "",
            *(f"{statement};" for statement in roles_sql(owner)),
            "",
            f"SET ROLE {owner};  -- the schema belongs to the owner role",
            offline_sql("postgresql").strip(),
            "RESET ROLE;",
            "",
        ]
    )


def setup(url: str, owner: str = DEFAULT_OWNER) -> SetupResult:
    """Create the roles (when missing and the caller may), then bring the
    schema up to date as the owner role. Idempotent."""
    from keydesk.store.migrations import current_revision, upgrade

    owner = owner_role(owner)
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise InvalidInput("keydesk postgres setup needs a postgresql+psycopg:// store URL")
    engine = sa.create_engine(parsed)
    try:
        with engine.begin() as connection:
            missing = [
                role
                for role in (owner, USERS_ROLE, VERIFIER_ROLE)
                if not connection.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
                ).first()
            ]
            _check_caller(connection, owner, missing)
            database = str(connection.execute(sa.text("SELECT current_database()")).scalar_one())
            for statement in roles_sql(owner):
                connection.execute(sa.text(statement))
        before = current_revision(engine)
    except OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the database: {first_line(exc.orig)}") from None
    except DBAPIError as exc:
        raise PermissionDenied(f"the set-up was refused: {first_line(exc.orig)}") from None
    finally:
        engine.dispose()
    # The migrations run as the owner role, so what they make is its own.
    as_owner = sa.create_engine(parsed, connect_args={"options": f"-c role={owner}"})
    try:
        upgrade(as_owner)
        after = current_revision(as_owner)
    except DBAPIError as exc:
        raise PermissionDenied(f"the migrations were refused: {first_line(exc.orig)}") from None
    finally:
        as_owner.dispose()
    return SetupResult(database, owner, tuple(missing), before, after)


def _check_caller(connection: sa.Connection, owner: str, missing: list[str]) -> None:
    superuser, create_role, owner_member = connection.execute(
        sa.text(
            "SELECT rolsuper, rolcreaterole,"
            " (SELECT pg_has_role(current_user, o.oid, 'MEMBER') FROM pg_roles o"
            "  WHERE o.rolname = :owner)"
            " FROM pg_roles WHERE rolname = current_user"
        ),
        {"owner": owner},
    ).one()
    if missing and not (superuser or create_role):
        raise PermissionDenied(
            f"you may not create the roles {', '.join(missing)}: run this as a superuser, or "
            "have one run: keydesk postgres setup --print | psql -d DATABASE"
        )
    if not (superuser or owner_member):
        raise PermissionDenied(
            f"you cannot act as the owner role {owner} to migrate the schema: run this as a "
            f"superuser, or as a member of {owner}"
        )
