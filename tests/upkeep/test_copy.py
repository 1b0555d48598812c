"""`keydesk store copy --to URL` on a real PostgreSQL: a SQLite store holding
every kind of row arrives whole (the trail with its actors and times), every
key verifies on both sides alike, missing roles are named at once, and a
copy killed half-way leaves the target empty, and one whose proof fails
(a key that would verify otherwise there) is rolled back."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from keydesk.errors import KeydeskError, Unauthorized
from keydesk.notify import Channels
from keydesk.service import KeyService
from keydesk.service.context import ServiceContext
from keydesk.store.engine import open_store
from keydesk.upkeep.copy import copy_store
from keydesk.verify import Verifier
from tests.support.pg_team import acme_with_github

pytestmark = pytest.mark.postgres


def _source(tmp_path: Path, team) -> tuple[str, dict[str, str]]:
    """A SQLite store with every kind of row; its private keys by label."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    store = open_store(url, create=True)
    alice, bob = (KeyService(store, team.role(who)) for who in ("alice", "bob"))
    alice.create_workspace("acme")
    for who, role in (("bob", "admin"), ("vic", "viewer")):
        alice.add_member("acme", team.role(who), role)
    alice.add_member("acme", "carol", "member")  # an OS user whose role has another name
    bob.create_workspace("beta")
    alice.add_integration(
        "acme", "github", "GitHub", client_id="Iv1.x", redirect_uri="https://a.example/cb",
        scopes="repo read:org", configure=True,
    )  # fmt: skip
    alice.add_integration("acme", "gitlab", "GitLab")
    alice.add_integration(
        "acme", "jira", "Jira", client_id="j", redirect_uri="https://a.example/j", configure=True
    )
    made = {
        "prod": alice.create_key(
            "github", "prod", scopes=["repo"], tags=["env=prod"], rate="600/min"
        ),
        "old": alice.create_key("github", "old"),
        "late": alice.create_key("github", "late"),
        "rot": alice.create_key("github", "rot"),
        "jira": alice.create_key("jira", "jira"),
    }
    secrets = {label: key.private_key.reveal() for label, key in made.items()}
    secrets["new"] = alice.rotate_key(
        made["rot"].key.public_key, timedelta(hours=1)
    ).created.private_key.reveal()
    alice.revoke_key(made["old"].key.public_key)
    alice.disable_integration("jira")
    alice.set_key_policy("acme", 365)
    alice.set_default_rate("acme", "60/min")
    Channels(ServiceContext(store, team.role("alice"), None)).add_webhook(
        "acme", "https://hooks.example.com/keydesk"
    )
    store.dispose()
    connection = sqlite3.connect(tmp_path / "source.db")
    connection.execute(
        "UPDATE api_key SET expires_at = '2001-01-01 00:00:00.000000' WHERE label = 'late'"
    )
    connection.execute(
        "INSERT INTO ssh_approval (workspace_id, account_id, fingerprint, approved_by, approved_at)"
        " VALUES (1, 1, 'SHA256:x', 'alice', '2026-01-01 00:00:00.000000')"
    )
    connection.execute(  # what one verifier process counted of prod's rate
        "INSERT INTO key_window (api_key_id, kind, starts, verifier, count)"
        " SELECT id, 'rate', 1767225600, 'v1', 7 FROM api_key WHERE label = 'prod'"
    )
    connection.commit()
    connection.close()
    return url, secrets


def _outcomes(store: str | sa.Engine, secrets: dict[str, str]) -> dict[str, str]:
    verifier = Verifier(store)
    try:
        outcomes = {}
        for label, secret in secrets.items():
            try:
                verifier.verify(secret)
                outcomes[label] = "accepted"
            except Unauthorized as refused:
                outcomes[label] = refused.reason.value
        verifier.flush()
        return outcomes
    finally:
        verifier.close()


def _rows(engine: sa.Engine, table: str, columns: str) -> set[tuple]:
    """Rows as plain values, times as SQLite keeps them (UTC text)."""

    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    with engine.connect() as connection:
        rows = connection.execute(sa.text(f"SELECT {columns} FROM {table}"))
        return {tuple(map(plain, row)) for row in rows}


def test_a_store_with_every_kind_of_row_is_copied_whole_and_verifies_alike(team, tmp_path, cli):
    url, secrets = _source(tmp_path, team)
    before = _outcomes(url, secrets)
    assert before == {
        "prod": "accepted", "old": "revoked", "late": "expired", "rot": "accepted",
        "jira": "integration_disabled", "new": "accepted",
    }  # fmt: skip
    source_file = tmp_path / "source.db"
    code, _out, err = cli("--db", url, "store", "copy", "--to", team.url)
    assert code == 1 and err.count("\n") == 1
    assert "missing roles: carol" in err and "nothing was copied" in err

    snapshot = source_file.read_bytes()
    code, out, err = cli(
        "--db", url, "store", "copy", "--to", team.url, "--map", f"carol={team.role('carol')}"
    )
    assert code == 0, err
    assert source_file.read_bytes() == snapshot  # the source untouched
    assert "proof: all 6 keys verify on the target as on the source" in out
    assert "1 expired" in out and "1 integration_disabled" in out and "3 accepted" in out
    assert "not copied: 1 ssh_approval" in out

    source, target = sa.create_engine(url), sa.create_engine(team.url)
    try:
        events = "id, workspace_id, integration_id, actor, action, target, label, related, at"
        copied = _rows(target, "audit_event", events)
        assert _rows(source, "audit_event", events) < copied  # the trail, actors and times
        added = copied - _rows(source, "audit_event", events)
        assert sorted((row[1], row[4]) for row in added) == [(1, "store.copy"), (2, "store.copy")]
        for table, columns in {
            "api_key": "id, public_key, secret_hash, scopes, expires_at, revoked_at, replaces_id",
            "key_usage": "api_key_id, hour, outcome, count",
            "api_key_tag": "*",
            "key_policy": "*",
            "workspace": "id, name, max_key_lifetime_days",
            "membership": "id, workspace_id, account_id, role, created_at",
            "integration": "*",
            "workspace_policy": "*",
            "key_window": "*",
            "notify_channel": "*",
        }.items():
            assert _rows(source, table, "count(*)") != {(0,)}, table  # something to compare
            assert _rows(source, table, columns) == _rows(target, table, columns), table
        assert {r[0] for r in _rows(target, "account", "name")} == {
            team.role(who) for who in ("alice", "bob", "carol", "vic")
        }
        assert _rows(target, "ssh_approval", "id") == set()
    finally:
        source.dispose()
        target.dispose()
    assert _outcomes(team.url_as("verifier"), secrets) == before
    # The trail's triggers are on again: a change made now is recorded.
    assert cli("--db", team.url, "store", "check")[:2] == (0, "ok: no findings\n")


def _killed_copy(url: str, target: str) -> None:
    def die(done: int, total: int) -> None:
        os._exit(9)  # as a kill -9 would: no rollback sent, no clean-up

    copy_store(url, target, mapping={"carol": "postgres"}, copier="x", progress=die)


def test_a_copy_killed_half_way_leaves_the_target_as_it_was(team, tmp_path):
    url, _secrets = _source(tmp_path, team)
    child = multiprocessing.get_context("fork").Process(target=_killed_copy, args=(url, team.url))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    engine = sa.create_engine(team.url)
    try:
        with engine.connect() as connection:
            tables = [
                name
                for (name,) in connection.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
                if name != "alembic_version"
            ]
            for table in tables:  # waits for the killed session's locks, then reads
                assert not connection.execute(
                    sa.text(f"SELECT EXISTS (SELECT 1 FROM {table})")
                ).scalar(), table
            off = connection.execute(
                sa.text("SELECT count(*) FROM pg_trigger WHERE tgenabled = 'D'")
            ).scalar()
            assert off == 0
    finally:
        engine.dispose()
    with pytest.raises(KeydeskError, match="missing roles: carol"):
        copy_store(url, team.url, mapping={}, copier="x")
    with pytest.raises(KeydeskError, match="connect as a superuser"):  # an admin's own role
        copy_store(url, team.url_as("alice"), mapping={"carol": team.role("carol")}, copier="x")


def test_every_missing_role_is_named_in_one_message_before_anything_is_written(team, tmp_path):
    url, _secrets = _source(tmp_path, team)
    store = open_store(url)
    KeyService(store, team.role("alice")).add_member("acme", "dave", "viewer")
    store.dispose()
    with pytest.raises(KeydeskError) as refused:
        copy_store(url, team.url, mapping={}, copier="x")
    message = str(refused.value)
    assert "\n" not in message and "missing roles: carol, dave" in message
    assert "nothing was copied" in message
    engine = sa.create_engine(team.url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM workspace")).scalar() == 0
    finally:
        engine.dispose()


def test_a_target_that_already_holds_keydesk_data_is_refused_in_one_line(team, tmp_path, cli):
    """README: the copy goes into a database holding no keydesk data."""
    acme_with_github(team).create_key("github", "there")
    url = f"sqlite:///{tmp_path / 'source.db'}"
    store = open_store(url, create=True)
    KeyService(store, team.role("alice")).create_workspace("beta")
    store.dispose()
    before = _counts(team.url)
    assert before["workspace"] == before["api_key"] == 1
    code, out, err = cli("--db", url, "store", "copy", "--to", team.url)
    assert (code, out, err.count("\n")) == (1, "", 1)
    assert "the target already holds keydesk data (" in err
    assert "copy into a new database prepared with keydesk postgres setup" in err
    assert _counts(team.url) == before  # nothing written, not even a store.copy event


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("workspace", "api_key", "audit_event", "account")
            }
    finally:
        engine.dispose()


def test_a_key_that_would_verify_otherwise_on_the_target_rolls_the_copy_back(team, tmp_path):
    url, _secrets = _source(tmp_path, team)
    engine = sa.create_engine(team.url)
    try:
        with engine.begin() as connection:  # a stray trigger: prod arrives revoked
            connection.execute(
                sa.text(
                    "CREATE FUNCTION stray() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    " IF NEW.label = 'prod' THEN NEW.revoked_at := now(); END IF;"
                    " RETURN NEW; END $$"
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TRIGGER stray BEFORE INSERT ON api_key"
                    " FOR EACH ROW EXECUTE FUNCTION stray()"
                )
            )
        with contextlib.closing(sqlite3.connect(tmp_path / "source.db")) as reading:
            (prod,) = reading.execute(
                "SELECT public_key FROM api_key WHERE label = 'prod'"
            ).fetchone()
        with pytest.raises(KeydeskError) as refused:
            copy_store(url, team.url, mapping={"carol": team.role("carol")}, copier="x")
        message = str(refused.value)
        assert message.startswith("nothing was copied: 1 key would not verify on the target")
        assert prod in message
        with engine.connect() as connection:
            for table in ("workspace", "api_key", "audit_event", "notify_channel"):
                count = connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                assert count == 0, table
    finally:
        engine.dispose()
