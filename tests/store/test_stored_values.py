"""Values keydesk never writes, set with SQL around it (the second attack
pass of #19): an integration's status, a key's lifetime, a workspace's key
policy. Each made commands exit 70 ("internal error"); now each is one line
naming the row, exit 1. On SQLite the file's owner can write anything; on
PostgreSQL revision 0006's CHECKs refuse them (tests/store/postgres/test_rules.py)
unless the store's owner drops them, and the same lines follow."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa


def _sql(db: Path, statement: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(statement)


@pytest.fixture
def store(configured, tmp_path) -> Path:
    code, _out, err = configured("key", "create", "--integration", "github", "--label", "ci")
    assert code == 0, err
    return tmp_path / "cli.db"


def _public_key(cli) -> str:
    code, out, _err = cli("key", "list", "--integration", "github", "--json")
    assert code == 0
    return str(json.loads(out)[0]["public_key"])


def test_an_unknown_integration_status_is_one_line(configured, store):
    _sql(store, "UPDATE integration SET status = 'pwned'")
    for command in (("integration", "list"), ("key", "list", "--integration", "github")):
        code, _out, err = configured(*command)
        assert code == 1, command
        assert err.strip().splitlines() == [
            "keydesk: in workspace 'acme', integration 'github' has the status 'pwned', which "
            "keydesk does not know (changed outside keydesk?); set one of draft, configured, "
            "disabled in the store"
        ]


def test_a_key_lifetime_out_of_range_is_one_line_at_rotation(configured, store):
    public_key = _public_key(configured)
    _sql(store, "UPDATE api_key SET lifetime_days = 2000000000")
    code, _out, err = configured("key", "rotate", public_key, "--overlap", "0")
    assert code == 1
    assert err.strip().splitlines() == [
        f"keydesk: key {public_key} has lifetime_days 2000000000, which keydesk does not know "
        "(changed outside keydesk?); set a number of days from 1 to 36500, or NULL in the store"
    ]
    assert configured("key", "revoke", public_key, "--yes")[0] == 0  # revoking still works


@pytest.mark.parametrize("days", [2_000_000_000, -5, 0])
def test_a_key_policy_out_of_range_is_one_line(configured, store, days):
    _sql(store, f"UPDATE workspace SET max_key_lifetime_days = {days}")
    code, _out, err = configured(
        "key", "create", "--integration", "github", "--label", "x", "--expires-in", "1d"
    )
    assert code == 1
    assert err.strip().splitlines() == [
        f"keydesk: workspace 'acme' has max_key_lifetime_days {days}, which keydesk does not "
        "know (changed outside keydesk?); set a number of days from 1 to 36500, or NULL in "
        "the store"
    ]
    # Its owner sets it right with keydesk.
    assert configured("workspace", "set-policy", "--max-key-lifetime", "90d")[0] == 0
    assert configured("integration", "list")[0] == 0


@pytest.mark.postgres
def test_on_postgresql_when_the_owner_drops_the_checks(team, capsys, monkeypatch):
    from keydesk.cli import main
    from tests.support.pg_team import acme_with_github

    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    acme_with_github(team)
    engine = sa.create_engine(team.url)  # the superuser: SQL written around keydesk
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE integration DROP CONSTRAINT"
                                   " integration_status_known"))  # fmt: skip
        connection.execute(sa.text("UPDATE integration SET status = 'pwned'"))
    engine.dispose()
    code = main(["--db", team.url_as("alice"), "integration", "list"])
    _out, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1
    assert "integration 'github' has the status 'pwned'" in err
