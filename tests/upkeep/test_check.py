"""`keydesk store check`: a sound store passes (exit 0); a corrupted file,
loose modes, a malformed hash, a dropped policy and a stray grant are each
a finding (exit 1, one line each, --json); so is a setup role changed by hand
(one that logs in, bypasses row-level security, is gone, or a login role in
the owner role)."""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from keydesk.store.schema import HEAD
from tests.conftest import copy_store_file
from tests.support.pg_team import acme_with_github


@pytest.fixture
def filled(configured, tmp_path) -> Path:
    code, _out, err = configured("key", "create", "--integration", "github", "--label", "a")
    assert code == 0, err
    return tmp_path / "cli.db"


def test_a_sound_store_passes(filled, configured):
    code, out, _err = configured("store", "check")
    assert (code, out) == (0, "ok: no findings\n")
    code, out, _err = configured("store", "check", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "findings": []}


def test_a_corrupted_file_is_found(filled, configured):
    connection = sqlite3.connect(filled)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the file itself
    (page,) = connection.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'api_key'"
    ).fetchone()
    (size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    with filled.open("r+b") as file:  # the keys' table: a page of junk
        file.seek((page - 1) * size)
        file.write(os.urandom(size))
    code, out, _err = configured("store", "check", "--json")
    assert code == 1
    findings = json.loads(out)["findings"]
    assert findings and {f["kind"] for f in findings} <= {"integrity", "file"}


def test_loose_modes_and_a_malformed_hash_are_found(filled, configured):
    connection = sqlite3.connect(filled)
    connection.execute("UPDATE api_key SET secret_hash = 'not-a-hash'")
    connection.commit()
    connection.close()
    filled.chmod(0o644)
    code, out, _err = configured("store", "check")
    assert code == 1
    assert out.splitlines() == [out.splitlines()[0]]  # the file is refused: nothing else read
    assert out.startswith("file: ") and "chmod 600" in out
    # As its advice says: every file it names (a -wal or -shm made while the
    # store was 0644 gets that mode too, whatever the umask, and is named).
    for path in out.split("chmod 600 ", 1)[1].split():
        pathlib.Path(path).chmod(0o600)
    code, out, _err = configured("store", "check")
    assert code == 1 and "hash: key kdpk_" in out and "not a well-formed argon2id hash" in out


def test_a_store_refused_for_its_mode_is_not_opened(cli, tmp_path, sqlite_template):
    # Opened read-only all the same (to look for a backup's header), a store
    # in WAL mode got a -wal and a -shm with its loose mode, that the next
    # check refused after the advice's chmod 600 of the store.
    store = tmp_path / "cli.db"
    copy_store_file(sqlite_template, store)
    store.chmod(0o644)
    code, out, _err = cli("store", "check")
    assert code == 1 and out.startswith("file: ") and "chmod 600" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.db"]


def test_a_schema_changed_behind_keydesks_back_is_found(filled, configured):
    # A trigger that brings every revoked key back, a dropped unique index
    # (two rows for one public key): the rows are intact, the store is not.
    connection = sqlite3.connect(filled)
    connection.execute(
        "CREATE TRIGGER api_key_unrevoke AFTER UPDATE OF revoked_at ON api_key"
        " BEGIN UPDATE api_key SET revoked_at = NULL WHERE id = NEW.id; END"
    )
    connection.execute("DROP INDEX ix_api_key_public_key")
    connection.execute("DROP TRIGGER api_key_cascade")
    connection.commit()
    connection.close()
    code, out, _err = configured("store", "check")
    assert code == 1
    assert sorted(out.splitlines()) == [
        "schema: missing: index ix_api_key_public_key on api_key",
        "schema: missing: trigger api_key_cascade on api_key",
        "schema: unexpected: trigger api_key_unrevoke on api_key",
    ]


def test_a_dangling_foreign_key_is_an_integrity_finding(filled, configured):
    """README: `store check` runs SQLite's foreign_key_check."""
    connection = sqlite3.connect(filled)  # foreign keys are not enforced on this connection
    connection.execute("UPDATE api_key SET revoked_by = 424242")
    connection.commit()
    (rowid,) = connection.execute("SELECT rowid FROM api_key").fetchone()
    connection.close()
    code, out, _err = configured("store", "check")
    assert (code, out) == (1, f"integrity: api_key row {rowid} refers to a missing account\n")


def test_an_older_schema_is_a_schema_finding(filled, configured):
    """README: `store check` reports the schema version; an older one is a finding."""
    connection = sqlite3.connect(filled)
    connection.execute("UPDATE alembic_version SET version_num = '0009'")
    connection.commit()
    connection.close()
    code, out, _err = configured("store", "check")
    assert code == 1
    assert out.splitlines() == [
        f"schema: the schema is 0009, older than this keydesk's {HEAD} "
        "(any other keydesk command upgrades it)"
    ]


def test_what_a_killed_restore_left_is_found(filled, configured):
    # A restore stages the backup beside the store; killed (kill -9), it
    # leaves that copy, every hash in it, for no one to notice.
    left = filled.with_name(f".{filled.name}.restore-0123abcd")
    left.write_bytes(b"")
    left.chmod(0o600)
    code, out, _err = configured("store", "check")
    assert code == 1
    assert out.splitlines() == [
        f"leftover: {left}, a killed restore's copy of a backup (every key's hash): remove it"
    ]


@pytest.mark.postgres
def test_a_dropped_policy_and_a_stray_grant_are_found(team, cli):
    acme_with_github(team).create_key("github", "prod")
    assert cli("--db", team.url, "store", "check") == (0, "ok: no findings\n", "")
    admin = sa.create_engine(team.url)
    with admin.begin() as connection:
        connection.execute(sa.text("GRANT SELECT ON api_key TO keydesk_users"))
        connection.execute(sa.text("GRANT SELECT (secret_hash) ON api_key TO PUBLIC"))
        connection.execute(sa.text("DROP POLICY api_key_expire ON api_key"))
        connection.execute(sa.text("ALTER TABLE audit_event DISABLE ROW LEVEL SECURITY"))
    admin.dispose()
    code, out, _err = cli("--db", team.url, "store", "check")
    assert code == 1
    assert sorted(out.splitlines()) == [
        "grant: unexpected: SELECT (secret_hash) on table api_key to PUBLIC",
        "grant: unexpected: SELECT on table api_key to keydesk_users",
        "policy: missing: api_key_expire on api_key",
        "row-level security: table audit_event is off; setup makes it on",
    ]
    code, out, _err = cli("--db", team.url_as("alice"), "store", "check")
    assert code == 1 and "run it as a superuser" in _err


def test_setups_roles_changed_by_hand_are_found(team):
    from keydesk.upkeep.pg_check import role_findings

    admin = sa.create_engine(team.url)
    try:
        with admin.connect() as connection, connection.begin() as changes:
            # Roles are the server's, shared with other tests: changed only
            # inside this transaction, which is rolled back.
            assert list(role_findings(connection, team.owner)) == []
            for sql in (
                f"ALTER ROLE {team.owner} LOGIN",
                "ALTER ROLE keydesk_users BYPASSRLS",
                "ALTER ROLE keydesk_verifier RENAME TO keydesk_verifier_gone",
                f"GRANT {team.owner} TO {team.role('alice')}",
            ):
                connection.execute(sa.text(sql))
            found = sorted(f.line() for f in role_findings(connection, team.owner))
            changes.rollback()
    finally:
        admin.dispose()
    assert found == sorted(
        [
            f"role: {team.owner} can log in; setup makes it NOLOGIN (grant it instead)",
            "role: keydesk_users bypasses row-level security",
            "role: keydesk_verifier is missing (keydesk postgres setup makes it)",
            f"role: {team.role('alice')} is a member of the owner role {team.owner}, above "
            "row-level security",
        ]
    )
