"""`keydesk postgres setup`: idempotent, printable for a DBA, and it hands a
store made before it to the owner role."""

from __future__ import annotations

import glob
import json
import subprocess
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from keydesk.cli import main
from keydesk.errors import PermissionDenied, StoreUnavailable
from keydesk.identity import acting_account
from keydesk.service import KeyService
from keydesk.store import postgres_roles
from keydesk.store.engine import open_store
from keydesk.store.migrations import HEAD
from keydesk.upkeep import pg_check
from keydesk.upkeep.pg_check import Item
from tests.conftest import _postgres_database

pytestmark = pytest.mark.postgres
# What row-level security the migrations define is read from them, not
# restated: `store check`'s reference (pg_check) runs them again in a scratch
# schema of a transaction that is rolled back.
SECURITY = ("row-level security", "policy", "grant")


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database, as the superuser."""
    yield from _postgres_database()


def owners(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
                " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
            )
        ).all()
        functions = connection.execute(
            sa.text(
                "SELECT p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p"
                " WHERE p.proname LIKE 'keydesk%'"
            )
        ).all()
    engine.dispose()
    return dict(rows) | dict(functions)


def row_security(url: str) -> tuple[set[Item], set[Item]]:
    """(as the migrations define it, as the database has it): each table's
    row-level security and each policy, with its roles and expressions."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            owner = connection.execute(
                sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version'")
            ).scalar_one()
            actual = pg_check.catalogue(connection, "public")
            expected = pg_check.reference(connection, owner)
            transaction.rollback()
    finally:
        engine.dispose()
    return (
        {item for item in expected if item[0] in SECURITY},
        {item for item in actual if item[0] in SECURITY},
    )


def assert_row_security_as_migrated(url: str) -> None:
    """Every keydesk table has row-level security on (not forced: only its
    owner, a role nobody logs in as, passes by it), every table a keydesk
    role is granted has policies, and they are exactly the ones the
    migrations define, no more, no fewer."""
    expected, actual = row_security(url)
    assert actual == expected
    tables = {name.removeprefix("table ") for kind, name, _ in actual if kind == SECURITY[0]}
    assert {"api_key", "audit_event", "workspace"} <= tables  # the catalogue was read
    rls = {name.removeprefix("table "): on for kind, name, on in actual if kind == SECURITY[0]}
    assert {t: on for t, on in rls.items() if on != "on"} == {"alembic_version": "off"}
    guarded = {name.split(" on ")[1] for kind, name, _ in actual if kind == "policy"}
    granted = {
        name.split(" on table ")[1].split(" to ")[0]
        for kind, name, _ in actual
        if kind == "grant" and " on table " in name
    }
    assert granted - {"alembic_version"} <= guarded <= tables


def test_setup_is_idempotent(team, capsys):
    again = postgres_roles.setup(team.url, team.owner)
    assert again.created_roles == () and again.revision_before == again.revision_after == HEAD
    assert main(["postgres", "setup", "--db", team.url, "--owner", team.owner, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "database": sa.make_url(team.url).database, "owner": team.owner,
        "created_roles": [], "revision": HEAD,
    }  # fmt: skip
    assert set(owners(team.url).values()) == {team.owner}
    assert_row_security_as_migrated(team.url)


def test_a_store_made_before_setup_is_handed_to_the_owner_role(team, fresh_database):
    open_store(
        fresh_database, create=True
    ).dispose()  # made by the superuser, as a first try would be
    assert team.owner not in owners(fresh_database).values()
    postgres_roles.setup(fresh_database, team.owner)
    assert set(owners(fresh_database).values()) == {team.owner}
    # And the team can use it.
    url = sa.make_url(team.url_as("alice")).set(database=sa.make_url(fresh_database).database)
    store = open_store(url.render_as_string(hide_password=False))
    service = KeyService(store, acting_account(store))
    assert service.create_workspace("acme").role == "owner"
    store.dispose()


def test_the_printed_script_sets_up_a_new_database_with_psql(team, fresh_database):
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    if not psql:
        pytest.skip("psql not found (Debian: apt-get install -y postgresql-client)")
    script = postgres_roles.setup_script(team.owner)
    assert "SET ROLE " + team.owner in script and "CREATE POLICY api_key_revoke" in script
    url = sa.make_url(fresh_database)
    done = subprocess.run(
        [psql[-1], "-v", "ON_ERROR_STOP=1", "-q", "-h", str(url.host), "-p", str(url.port),
         "-U", str(url.username), "-d", str(url.database), "-f", "-"],
        input=script, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(owners(fresh_database).values()) == {team.owner}
    assert_row_security_as_migrated(fresh_database)
    assert postgres_roles.setup(fresh_database, team.owner).revision_before == HEAD


def test_print_needs_no_database(capsys):
    assert main(["postgres", "setup", "--print", "--db", "postgresql+psycopg://x@nowhere/db"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-- keydesk postgres setup") and "CREATE ROLE keydesk_users" in out
    assert "%%" not in out  # what psql reads, not a driver's escaping


@pytest.mark.parametrize("owner", ["Keydesk", "key-desk", "1st", "keydesk_users", "x" * 64])
def test_owner_names_that_need_quoting_are_refused(owner, capsys):
    assert main(["postgres", "setup", "--print", "--owner", owner]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "owner role" in err


def test_an_admin_cannot_set_up_or_migrate(team, fresh_database):
    alice = sa.make_url(team.url_as("alice")).set(database=sa.make_url(fresh_database).database)
    as_alice = alice.render_as_string(hide_password=False)
    with pytest.raises(PermissionDenied, match="may not create the roles"):
        postgres_roles.setup(as_alice, f"kd_other_{team.tag}")
    with pytest.raises(PermissionDenied, match="cannot act as the owner role"):
        postgres_roles.setup(as_alice, team.owner)
    with pytest.raises(StoreUnavailable, match="its owner does that: keydesk postgres setup"):
        open_store(as_alice, create=True)  # keydesk init


def test_a_role_outside_keydesk_users_is_told_what_to_ask_for(team):
    outsider = f"outsider_{team.tag}"
    admin = sa.create_engine(team.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE ROLE {outsider} LOGIN PASSWORD '{team.password}'"))
    try:
        url = sa.make_url(team.url).set(username=outsider, password=team.password)
        with pytest.raises(StoreUnavailable, match="GRANT keydesk_users TO"):
            open_store(url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP ROLE {outsider}"))
        admin.dispose()
