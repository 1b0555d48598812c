"""A workspace or account deleted by hand in the sqlite3 shell (foreign keys
off there by default) takes its rows with it (triggers of revision 0005):
SQLite gives the next workspace the same id, which must inherit nothing of
the old one (an SSH key acting in it with no ssh.approve in its trail).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from keydesk.service import KeyService
from keydesk.ssh.gate import SshKeyNotApproved
from keydesk.store.engine import open_store
from tests.service.test_ssh_approvals import MALLORY_KEY, World


@pytest.fixture
def world(sqlite_url, migrated) -> Iterator[World]:
    store = open_store(sqlite_url, create=True)
    try:
        yield World(store)
    finally:
        store.dispose()


def by_hand(path: Path, sql: str) -> None:
    """As `sqlite3 keydesk.db` runs it: foreign keys off."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (0,)
        connection.execute(sql)
    finally:
        connection.close()


def counts(path: Path, workspace_id: int) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(
                f"SELECT count(*) FROM {table} WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()[0]
            for table in ("ssh_approval", "membership", "integration", "audit_event")
        }
    finally:
        connection.close()


def test_a_workspace_deleted_by_hand_leaves_nothing_to_the_next_one(world, tmp_path):
    db = tmp_path / "keydesk.db"
    world.alice.add_member("acme", "dave", "admin")
    world.alice.approve_ssh_keys("acme", "dave", [MALLORY_KEY])
    [acme] = [ws for ws in world.alice.workspaces() if ws.name == "acme"]
    world.store.dispose()
    by_hand(db, "DELETE FROM workspace WHERE name = 'acme'")
    assert counts(db, acme.id) == dict.fromkeys(counts(db, acme.id), 0)
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM api_key").fetchone() == (0,)
    carol = KeyService(world.store, "carol")
    newco = carol.create_workspace("newco")
    assert newco.id == acme.id  # SQLite reuses the id: nothing of acme may come with it
    assert [m.account for m in carol.members("newco").members] == ["carol"]
    assert carol.integrations("newco") == []
    with pytest.raises(Exception) as refused:
        world.session().keys(workspace="newco")
    assert "newco" in str(refused.value)
    assert [ws.name for ws in world.session().workspaces()] == ["mteam"]


def test_an_account_deleted_by_hand_leaves_nothing_to_the_next_one(world, tmp_path):
    db = tmp_path / "keydesk.db"
    world.alice.add_member("acme", "zed", "admin")
    world.alice.authorize_ssh_key("zed", MALLORY_KEY, lambda: "written")  # approved in acme
    world.store.dispose()
    by_hand(db, "DELETE FROM account WHERE name = 'zed'")
    # The next account made gets zed's id: not zed's membership and approval in acme.
    world.mallory.add_member("mteam", "erin", "viewer")
    with sqlite3.connect(db) as connection:
        ids = connection.execute("SELECT max(id), count(*) FROM account").fetchone()
        assert connection.execute("SELECT count(*) FROM ssh_approval WHERE account_id = ?",
                                  (ids[0],)).fetchone() == (0,)  # fmt: skip
    erin = KeyService(world.store, "erin", ssh_key=MALLORY_KEY)
    assert [ws.name for ws in KeyService(world.store, "erin").workspaces()] == ["mteam"]
    with pytest.raises(SshKeyNotApproved):
        erin.keys(workspace="mteam")
    with pytest.raises(Exception, match="acme"):
        erin.keys(workspace="acme")
