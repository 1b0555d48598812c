"""`keydesk store backup` and `restore` on SQLite: a consistent copy taken
while a server verifies and an admin creates keys, private on disk; a
restore never un-revokes, upgrades an older backup and refuses a newer one."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import sys
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from keydesk.errors import PermissionDenied
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.store.schema import HEAD
from keydesk.upkeep.backup import backup, read_header
from keydesk.upkeep.check import check_sqlite
from keydesk.upkeep.restore import restore
from tests.support.servers import keydesk_serve


@pytest.fixture
def acme(sqlite_url, sqlite_template):
    from tests.conftest import build_world, copy_store_file

    copy_store_file(sqlite_template, Path(sqlite_url.removeprefix("sqlite:///")))
    store = open_store(sqlite_url)
    yield build_world(store)
    store.dispose()


def _rows(path: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_a_backup_taken_while_serving_and_writing_restores_to_a_store_check_passes(
    acme, sqlite_url, tmp_path
):
    valid = acme.owner.create_key("github", "prod").private_key.reveal()
    stop = threading.Event()
    made: list[str] = []
    answers: list[int] = []

    def admin() -> None:
        owner = KeyService(open_store(sqlite_url), "alice")
        while not stop.is_set():
            made.append(owner.create_key("github", f"k{len(made)}").key.public_key)

    def client(base: str) -> None:
        with httpx.Client() as http:
            while not stop.is_set():
                answer = http.get(f"{base}/v1/verify", headers={"Authorization": f"Bearer {valid}"})
                answers.append(answer.status_code)

    with keydesk_serve(sqlite_url, log=tmp_path / "serve.log") as base:
        workers = [threading.Thread(target=admin), threading.Thread(target=client, args=(base,))]
        for worker in workers:
            worker.start()
        while len(made) < 5 or len(answers) < 5:
            stop.wait(0.01)
        taken = backup(sqlite_url, str(tmp_path / "private" / "one.db"))
        stop.set()
        for worker in workers:
            worker.join()
    assert set(answers) == {200}
    path = Path(taken.path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert not Path(f"{path}-wal").exists()  # one self-contained file
    assert read_header(path).schema == HEAD == taken.header.schema
    in_backup = {key for (key,) in _rows(path, "SELECT public_key FROM api_key")}
    assert 5 <= len(in_backup) - 1 <= len(made)  # prod and the keys made before it, whole

    target = f"sqlite:///{tmp_path / 'again' / 'keydesk.db'}"
    done = restore(target, taken.path, actor="alice", accept_lost_revocations=True)
    assert done.created and done.active_in_backup == len(in_backup)
    assert check_sqlite(target) == []


def test_a_restore_after_a_revoke_keeps_the_key_revoked(acme, sqlite_url, tmp_path):
    acme.owner.create_workspace("beta")
    for workspace in ("acme", "beta"):  # bob restores: an owner of each
        acme.owner.add_member(workspace, "bob", "owner")
    kept = acme.owner.create_key("github", "kept")
    lost = acme.owner.create_key("github", "lost")
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    acme.owner.revoke_key(lost.key.public_key)
    acme.owner.disable_integration("github")
    inode = os.stat(sqlite_url.removeprefix("sqlite:///")).st_ino
    done = restore(sqlite_url, taken.path, actor="bob", accept_lost_revocations=False)
    assert (
        os.stat(sqlite_url.removeprefix("sqlite:///")).st_ino == inode
    )  # in place: serve reads on
    assert (done.revocations, done.disabled, done.created) == (1, 1, False)
    assert done.lost.nothing  # the revocation and its event are applied again, not lost
    store = open_store(sqlite_url)
    try:
        owner = KeyService(store, "alice")
        statuses = {k.public_key: k.status for k in owner.keys("github")}
        assert statuses[lost.key.public_key] == "revoked"
        assert statuses[kept.key.public_key] == "active"
        assert owner.integration("github").status == "disabled"
        actions = [(e.action, e.actor) for e in owner.audit("acme")]
        assert ("store.restore", "bob") in actions
        (told,) = [e.label for e in owner.audit("acme") if e.action == "store.restore"]
        assert told == "applied again: 1 revocation, 1 disabled integration, 0 earlier expiries"
        assert ("key.revoke", "alice") in actions  # the revocation's own event, carried over
        for workspace in ("acme", "beta"):  # each workspace is told, once
            told = [e for e in owner.audit(workspace) if e.action == "store.restore"]
            assert len(told) == 1, workspace
    finally:
        store.dispose()


def test_a_restore_keeps_a_rotations_earlier_stop_with_its_event(acme, sqlite_url, tmp_path):
    """The old key of a rotation made since the backup still stops when the
    rotation said, and the trail still says who rotated it and when (on
    SQLite the stop's event is the key.rotate itself)."""
    acme.owner.add_member("acme", "bob", "owner")  # bob restores
    old = acme.owner.create_key("github", "prod")
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    rotated = acme.owner.rotate_key(old.key.public_key, timedelta(hours=1))
    # A key made since, rotated too: its rotation's event goes with it, counted lost.
    since = acme.owner.create_key("github", "since")
    acme.owner.rotate_key(since.key.public_key, timedelta(hours=1))
    done = restore(sqlite_url, taken.path, actor="bob", accept_lost_revocations=False)
    assert done.expiries == 1
    # Lost: the two replacements and `since`; since's create and rotate events.
    assert (len(done.lost.keys), done.lost.events) == (3, 2)
    restore(sqlite_url, taken.path, actor="bob", accept_lost_revocations=False)  # nothing twice
    store = open_store(sqlite_url)
    try:
        owner = KeyService(store, "alice")
        assert owner.key(old.key.public_key).expires_at == rotated.old_stops_at
        rotations = [(e.actor, e.target) for e in owner.audit("acme") if e.action == "key.rotate"]
        assert rotations == [("alice", old.key.public_key)]
    finally:
        store.dispose()


def test_only_an_owner_of_every_workspace_restores_and_is_refused_before_asking(
    acme, sqlite_url, tmp_path, cli
):
    """A restore replaces every workspace's keys: a viewer, an admin, an owner of
    one workspace but not the other, or an outsider is refused, in one line and
    before the question, and the store keeps its keys (found by an attack review)."""
    acme.owner.create_workspace("beta")
    acme.owner.add_member("acme", "vic", "viewer")
    acme.owner.add_member("acme", "ada", "admin")
    acme.owner.add_member("acme", "olga", "owner")  # acme's owner, not beta's
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    since = acme.owner.create_key("github", "since")
    for actor in ("vic", "ada", "olga", "mallory"):
        with pytest.raises(PermissionDenied, match="only an owner of each may restore"):
            restore(sqlite_url, taken.path, actor=actor, accept_lost_revocations=False)
        code, out, err = cli("--db", sqlite_url, "store", "restore", taken.path, actor=actor)
        assert (code, out) == (1, "") and err.count("\n") == 1 and "does not own" in err
    assert [k.label for k in acme.owner.keys("github")] == ["since"]  # nothing replaced
    restore(sqlite_url, taken.path, actor="alice", accept_lost_revocations=False)
    assert since.key.public_key not in {k.public_key for k in acme.owner.keys("github")}


def test_a_restore_with_no_store_is_refused_unless_revocations_may_be_lost(
    acme, sqlite_url, cli, tmp_path
):
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    where = tmp_path / "gone" / "keydesk.db"
    code, _out, err = cli("--db", str(where), "store", "restore", taken.path, "--yes")
    assert code == 1 and "--accept-lost-revocations" in err and not where.exists()
    code, out, err = cli(
        "--db", str(where), "store", "restore", taken.path, "--yes", "--accept-lost-revocations"
    )
    assert code == 0, err
    assert "may have been revoked since" in out and taken.header.taken_at.isoformat() in out


def test_a_backup_newer_than_keydesk_is_refused_and_an_older_one_upgraded(
    sqlite_url, tmp_path, cli
):
    from alembic import command

    from keydesk.store.migrations import _config

    old = tmp_path / "old.db"
    store = open_store(f"sqlite:///{old}", create=True, migrate=False)
    with store.engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    store.dispose()
    taken = backup(f"sqlite:///{old}", str(tmp_path / "b" / "old.db"))
    assert taken.header.schema == "0005"
    target = tmp_path / "new" / "k.db"
    code, _out, err = cli(
        "--db", str(target), "store", "restore", taken.path, "--yes", "--accept-lost-revocations"
    )
    assert code == 0, err
    assert _rows(target, "SELECT version_num FROM alembic_version") == [(HEAD,)]

    connection = sqlite3.connect(taken.path)
    connection.execute("UPDATE keydesk_backup SET schema = '9999'")
    connection.commit()
    connection.close()
    code, _out, err = cli("--db", str(target), "store", "restore", taken.path, "--yes")
    assert code == 1 and "newer than this keydesk's" in err


def test_a_backup_is_private_and_never_replaces_a_file(acme, sqlite_url, tmp_path, cli):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    code, _out, err = cli("--db", sqlite_url, "store", "backup", str(shared / "b.db"))
    assert code == 3 and "chmod 700" in err and not (shared / "b.db").exists()
    code, _out, err = cli("--db", sqlite_url, "store", "backup", str(tmp_path / "p" / "b.db"))
    assert code == 0, err
    code, _out, err = cli("--db", sqlite_url, "store", "backup", str(tmp_path / "p" / "b.db"))
    assert code == 1 and "never replaces" in err
    sticky = tmp_path / "tmp"  # as /tmp is
    sticky.mkdir()
    sticky.chmod(0o1777)
    code, _out, err = cli("--db", sqlite_url, "store", "backup", str(sticky / "b.db"))
    assert code == 3 and err == (
        f"keydesk: refusing to write a backup to {sticky / 'b.db'}: its folder {sticky} is "
        "writable by other users (mode 1777), who could replace the backup; name a file in a "
        "folder of your own (mkdir -m 700 …)\n"
    )


def test_store_check_on_a_backup_says_it_is_one_and_how_to_put_it_back(
    acme, sqlite_url, tmp_path, cli
):
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    code, out, err = cli("--db", taken.path, "store", "check")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "ok: no findings",
        f"{taken.path} is a backup taken {taken.header.taken_at.isoformat()} (schema "
        f"{taken.header.schema}), not a store; to put it back: keydesk store restore "
        f"{taken.path} --db STORE",
    ]
    found = json.loads(cli("--db", taken.path, "store", "check", "--json")[1])
    assert found["backup"] == {
        "taken_at": taken.header.taken_at.isoformat(),
        "schema": taken.header.schema,
    }
    assert "backup" not in json.loads(cli("--db", sqlite_url, "store", "check", "--json")[1])


def test_a_restore_never_gives_back_access_taken_since(acme, sqlite_url, tmp_path):
    # A member removed, a role lowered, an SSH key's approval withdrawn, a
    # notification channel removed after the backup: access taken away, like
    # a revocation, stays away.
    acme.owner.add_member("acme", "mallory", "admin")
    acme.owner.add_member("acme", "trent", "owner")
    acme.owner.add_member("acme", "carol", "member")
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    connection = sqlite3.connect(path)
    connection.execute(
        "INSERT INTO ssh_approval (workspace_id, account_id, fingerprint, approved_by, approved_at)"
        " SELECT w.id, a.id, 'SHA256:mallory', 'alice', '2026-01-01 00:00:00.000000'"
        " FROM workspace w, account a WHERE w.name = 'acme' AND a.name = 'carol'"
    )
    connection.commit()
    connection.close()
    from keydesk.notify import Channels
    from keydesk.service.context import ServiceContext

    gone = Channels(ServiceContext(acme.store, "alice", None))
    hook = gone.add_webhook("acme", "https://ex-contractor.example.com/hook")
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    acme.owner.remove_member("acme", "mallory")
    acme.owner.set_member_role("acme", "trent", "viewer")
    _execute(path, "DELETE FROM ssh_approval")  # as `keydesk ssh revoke` does
    gone.remove(str(hook.channel.id), "acme")  # notices no longer go there
    done = restore(sqlite_url, taken.path, actor="alice", accept_lost_revocations=False)
    assert (done.members_removed, done.roles_lowered, done.ssh_withdrawn) == (1, 1, 1)
    roles = dict(_rows(path, "SELECT a.name, m.role FROM membership m JOIN account a ON a.id = m.account_id"))  # fmt: skip
    assert "mallory" not in roles and roles["trent"] == "viewer" and roles["carol"] == "member"
    assert _rows(path, "SELECT count(*) FROM ssh_approval") == [(0,)]
    assert _rows(path, "SELECT count(*) FROM notify_channel") == [(0,)]


def _execute(path: Path, sql: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute(sql)
        connection.commit()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE keydesk_backup SET taken_at = 'garbage'",
        "UPDATE alembic_version SET version_num = '9999'",  # the header still says HEAD
        "UPDATE alembic_version SET version_num = 'abc'",
        "DELETE FROM alembic_version",
    ],
)
def test_a_tampered_backup_is_refused_in_one_line_and_the_store_kept(
    acme, sqlite_url, tmp_path, cli, tamper
):
    kept = acme.owner.create_key("github", "kept").key.public_key
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    _execute(Path(taken.path), tamper)
    code, _out, err = cli("--db", sqlite_url, "store", "restore", taken.path, "--yes")
    assert code == 1 and "internal error" not in err and len(err.splitlines()) == 1, err
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    assert _rows(path, f"SELECT count(*) FROM api_key WHERE public_key = '{kept}'") == [(1,)]
    assert [p.name for p in path.parent.iterdir() if ".restore-" in p.name] == []


def test_a_backup_with_an_integration_renamed_keeps_it_disabled(acme, sqlite_url, tmp_path):
    # A crafted backup renames the integration disabled since: its keys
    # must stay refused all the same.
    key = acme.owner.create_key("github", "under-github").key.public_key
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    acme.owner.disable_integration("github")
    _execute(Path(taken.path), "UPDATE integration SET name = 'github2' WHERE name = 'github'")
    done = restore(sqlite_url, taken.path, actor="alice", accept_lost_revocations=False)
    assert done.disabled == 1
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    statuses = _rows(
        path,
        "SELECT i.status FROM api_key k JOIN integration i ON i.id = k.integration_id"
        f" WHERE k.public_key = '{key}'",
    )
    assert statuses == [("disabled",)]


def test_a_restore_keeps_limits_and_scopes_narrowed_and_quota_used_since(
    acme, sqlite_url, tmp_path
):
    # After a leak an admin fences a key to one network and lowers its rate:
    # a restore must not open it again, nor hand back the quota used since.
    made = acme.owner.create_key("github", "fenced", rate="600/min", quota="1000/day")
    public_key = made.key.public_key
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    acme.owner.edit_key_limits(public_key, rate="1/min", allow_from=["10.1.2.0/24"])
    acme.owner.update_integration("github", scopes="repo")  # read:org taken from every key
    acme.owner.set_default_rate("acme", "5/min")
    _execute(
        path,
        "INSERT INTO key_window (api_key_id, kind, starts, verifier, count)"
        f" SELECT id, 'quota', 1, 'v1', 999 FROM api_key WHERE public_key = '{public_key}'",
    )
    policy = "SELECT p.rate_limit, p.quota, p.allow_from FROM key_policy p JOIN api_key k ON k.id = p.api_key_id"
    before = _rows(path, policy)
    restore(sqlite_url, taken.path, actor="alice", accept_lost_revocations=False)
    assert _rows(path, policy) == before
    assert _rows(path, "SELECT default_rate FROM workspace_policy") == [("5/min",)]
    assert _rows(path, "SELECT count FROM key_window WHERE kind = 'quota'") == [(999,)]
    assert _rows(path, "SELECT scopes FROM integration WHERE name = 'github'") == [("repo",)]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_restore_names_the_keys_made_since_the_backup_before_and_after(
    acme, sqlite_url, tmp_path, cli, monkeypatch
):
    acme.owner.create_key("github", "old")
    taken = backup(sqlite_url, str(tmp_path / "b" / "one.db"))
    fresh = acme.owner.create_key("github", "fresh").key.public_key
    acme.owner.add_integration("acme", "stripe", "Stripe")
    monkeypatch.setattr(sys, "stdin", _Terminal("no\n"))
    code, out, err = cli("--db", sqlite_url, "store", "restore", taken.path)
    assert code == 1 and out == ""
    assert "lost, made since the backup: 1 key, 1 integration" in err
    assert f"{fresh}  fresh  (github)" in err
    code, out, err = cli("--db", sqlite_url, "store", "restore", taken.path, "--yes")
    assert code == 0, err
    assert "lost, made since the backup: 1 key, 1 integration" in out
    assert f"{fresh}  fresh  (github)" in out
    assert "applied again: 0 revocations, 0 disabled integrations, 0 earlier expiries" in out
    labels = {
        label
        for (label,) in _rows(
            Path(sqlite_url.removeprefix("sqlite:///")), "SELECT label FROM api_key"
        )
    }
    assert labels == {"old"}
