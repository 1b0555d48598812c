"""The README's way on from PostgreSQL: the roles with pg_dumpall, the
database with pg_dump; restored, the store checks clean (its grants,
policies and triggers as setup makes them)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from tests.support.pg_team import acme_with_github

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump"),
]


def test_a_pg_dump_restored_with_its_roles_checks_clean(team, cli, tmp_path):
    acme_with_github(team).create_key("github", "prod")
    url = sa.make_url(team.url)
    where = ["-h", url.host or "localhost", "-p", str(url.port or 5432), "-U", url.username or ""]
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    roles = subprocess.run(
        ["pg_dumpall", "--roles-only", *where], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"CREATE ROLE {team.owner};" in roles and "CREATE ROLE keydesk_users;" in roles
    dump = tmp_path / "keydesk.dump"
    subprocess.run(
        ["pg_dump", "-Fc", *where, "-f", str(dump), url.database or ""], env=env, check=True
    )
    copy = f"{url.database}_restored"
    admin = sa.create_engine(team.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{copy}"'))
    try:
        subprocess.run(["pg_restore", *where, "-d", copy, str(dump)], env=env, check=True)
        restored = url.set(database=copy).render_as_string(hide_password=False)
        assert cli("--db", restored, "store", "check") == (0, "ok: no findings\n", "")
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()
