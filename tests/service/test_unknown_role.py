"""A membership's role changed around keydesk, with SQL, to a value keydesk
does not know (#19 item 7c): one line naming the row, the other workspaces
still listed, never "internal error (ValueError)". The TUI's Members screen:
tests/tui/test_members_unknown_role.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from keydesk.cli import main


def _set_role(db: Path, workspace: str, account: str, role: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(
            "UPDATE membership SET role = ? WHERE workspace_id = (SELECT id FROM workspace"
            " WHERE name = ?) AND account_id = (SELECT id FROM account WHERE name = ?)",
            (role, workspace, account),
        )


@pytest.fixture
def two_workspaces(cli, tmp_path):
    assert cli("init", "--workspace", "acme")[0] == 0
    assert cli("init", "--workspace", "beta")[0] == 0
    assert (
        cli("member", "add", "--workspace", "acme", "--member", "dave", "--role", "member")[0] == 0
    )
    assert (
        cli("member", "add", "--workspace", "beta", "--member", "erin", "--role", "viewer")[0] == 0
    )
    return tmp_path / "cli.db"


def test_member_list_names_the_bad_row_and_lists_the_rest(cli, two_workspaces):
    _set_role(two_workspaces, "acme", "dave", "superboss")
    code, out, err = cli("member", "list")
    assert code == 1  # refused: the bad row is named, the rest listed
    assert err.strip().splitlines() == [
        "keydesk: in workspace 'acme', account 'dave' has the role 'superboss', which keydesk "
        "does not know (changed outside keydesk?); set one of owner, admin, member, viewer in "
        "the store"
    ]
    assert "beta" in out and "erin" in out and "acme" not in out
    code, out, err = cli("member", "list", "--workspace", "acme")
    assert code == 1 and "'superboss'" in err and "internal error" not in err


def test_an_unknown_role_of_ones_own_is_one_line_everywhere_and_grants_nothing(cli, two_workspaces):
    _set_role(two_workspaces, "acme", "alice", "\x1b[31mroot")
    for command in (
        ("member", "list"),
        ("workspace", "list"),
        ("member", "add", "--workspace", "acme", "--member", "mallory", "--role", "owner"),
    ):
        code, _out, err = cli(*command)
        assert code == 1, command
        assert err.count("\n") == 1 and "account 'alice' has the role '\\x1b[31mroot'" in err
        assert "\x1b" not in err and "internal error" not in err, command
    _set_role(two_workspaces, "acme", "alice", "owner")  # fixed in the store: all works again
    assert cli("member", "list")[0] == 0


@pytest.mark.postgres
def test_on_postgresql_too(team, capsys, monkeypatch):
    from tests.support.pg_team import acme_with_github

    monkeypatch.delenv("KEYDESK_DATABASE_URL", raising=False)
    alice = acme_with_github(team)
    alice.add_member("acme", team.role("carol"), "viewer")
    engine = sa.create_engine(team.url)  # the superuser: SQL written around keydesk
    with engine.begin() as connection:
        # Revision 0006's CHECK refuses the value; the store's owner can drop it.
        connection.execute(sa.text("ALTER TABLE membership DROP CONSTRAINT membership_role_known"))
        connection.execute(
            sa.text("UPDATE membership SET role = 'superboss' WHERE role = 'viewer'")
        )
    engine.dispose()
    code = main(["--db", team.url_as("alice"), "member", "list"])
    _out, err = capsys.readouterr()
    assert code == 1
    assert f"account '{team.role('carol')}' has the role 'superboss'" in err
    assert err.count("\n") == 1
