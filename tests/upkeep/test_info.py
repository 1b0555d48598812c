"""`keydesk store info`: backend, where (never a password), schema, counts,
size; `store backup` and `restore` of PostgreSQL point at pg_dump."""

from __future__ import annotations

import json

import pytest

from keydesk.store.schema import HEAD
from tests.support.pg_team import acme_with_github


def test_info_on_sqlite_counts_every_table(configured, tmp_path):
    code, out, err = configured("store", "info", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert (info["backend"], info["where"], info["schema"]) == (
        "sqlite", str(tmp_path / "cli.db"), HEAD,
    )  # fmt: skip
    assert info["counts"]["workspace"] == 1 and info["counts"]["integration"] == 1
    assert info["size_bytes"] > 0 and "alembic_version" not in info["counts"]
    code, out, _err = configured("store", "info")
    assert code == 0 and "schema:  " + HEAD in out


@pytest.mark.postgres
def test_info_on_postgresql_never_shows_the_password(team, cli):
    acme_with_github(team)
    code, out, err = cli("--db", team.url_as("alice"), "store", "info", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert team.password not in out and ":***@" in info["where"]
    assert info["backend"] == "postgresql" and info["counts"]["integration"] == 1
    code, _out, err = cli("--db", team.url_as("alice"), "store", "backup", "/tmp/x.db")
    assert code == 1 and "pg_dump" in err


@pytest.mark.postgres
def test_restore_on_postgresql_says_to_use_pg_dump(team, configured, tmp_path):
    """README: `store backup` and `restore` are for SQLite, and on PostgreSQL say to use pg_dump."""
    acme_with_github(team)
    backup = str(tmp_path / "backup.db")
    assert configured("store", "backup", backup)[0] == 0  # a real backup, of the SQLite store
    code, out, err = configured("--db", team.url, "store", "restore", "--yes", backup)
    assert (code, out) == (1, "")
    assert err.startswith("keydesk: store backup and restore are for SQLite stores; ")
    assert "on PostgreSQL use pg_dump" in err and err.count("\n") == 1
    code, out, _err = configured("--db", team.url, "store", "info", "--json")
    assert code == 0 and json.loads(out)["counts"]["integration"] == 1  # the store untouched


def test_restore_to_postgresql_says_pg_dump_before_looking_for_the_backup(cli, tmp_path):
    """The rule comes first: a PostgreSQL URL and a missing backup file say pg_dump, not
    "no backup at" (no server is reached: the URL's backend decides)."""
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"
    for args in (["--yes", str(tmp_path / "missing.db")], [str(tmp_path / "missing.db")]):
        code, out, err = cli("--db", url, "store", "restore", *args)
        assert (code, out) == (1, "")
        assert "on PostgreSQL use pg_dump" in err and "no backup" not in err


@pytest.mark.postgres
def test_a_password_in_the_urls_query_is_never_shown(team, cli):
    # libpq takes ?password=… as well as user:password@: both are secrets.
    import sqlalchemy as sa

    acme_with_github(team)
    url = sa.make_url(team.url_as("alice"))
    in_query = url.set(password=None).update_query_dict({"password": team.password})
    text = in_query.render_as_string(hide_password=False)
    code, out, err = cli("--db", text, "store", "info", "--json")
    assert code == 0, err
    assert team.password not in out and "password=***" in json.loads(out)["where"]
    nowhere = in_query.set(database="postgres").render_as_string(hide_password=False)
    code, _out, err = cli("--db", nowhere, "store", "info")
    assert code != 0 and "no keydesk store" in err and team.password not in err
