"""A key's timestamps or scopes set with SQL around keydesk to values it never
writes (the third attack pass of #19): `key list` said "internal error"
(exit 70) and `key revoke` failed on the row. Now a read names the row in one
line, and revoking, the emergency path, still works without reading it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest


def _sql(db: Path, statement: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(statement)


@pytest.fixture
def store(configured, tmp_path) -> Path:
    code, _out, err = configured("key", "create", "--integration", "github", "--label", "ci")
    assert code == 0, err
    return tmp_path / "cli.db"


@pytest.mark.parametrize(
    "assignment",
    [
        "created_at = 'garbage'",
        "expires_at = '99999-01-01 00:00:00'",
        "scopes = x'00ff'",
    ],
)
def test_a_bad_key_column_is_one_line_and_revoke_still_works(configured, store, assignment):
    code, out, _err = configured("key", "list", "--integration", "github", "--json")
    public_key = str(json.loads(out)[0]["public_key"])
    _sql(store, f"UPDATE api_key SET {assignment}")
    code, _out, err = configured("key", "list", "--integration", "github")
    assert code == 1, err
    [line] = err.strip().splitlines()
    assert line.startswith(f"keydesk: key {public_key} has ")
    assert "which keydesk does not know" in line
    code, _out, err = configured("key", "revoke", public_key, "--yes")
    assert code == 0, err
    code, _out, err = configured("key", "revoke", public_key, "--yes")
    assert code == 1 and "already revoked" in err


def test_verify_with_a_bad_expiry_is_never_valid(configured, store):
    code, out, err = configured(
        "key", "create", "--integration", "github", "--label", "v", "--json"
    )
    assert code == 0, err
    secret = json.loads(out)["api_key"]
    _sql(store, "UPDATE api_key SET expires_at = '99999-01-01 00:00:00' WHERE label = 'v'")
    code, out, err = configured("verify", stdin=secret + "\n")
    assert code != 0 and "valid" not in out.split(), (code, out, err)
    assert "internal error" not in err
