"""A SQLite verifier keeps the rows it read and reads a key's row again only
once the store has changed (store_reads.py): told by the WAL-index header
(wal_header.py), or by `PRAGMA data_version` where that header is not to be
had. Every promise of a per-request read still holds with the rows kept: a
key revoked by another process, an expiry passed, a policy changed, a store
replaced, each refused on the very next request."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keydesk.errors import StoreUnavailable, Unauthorized, UnauthorizedReason
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.verify import Verifier, store_reads
from keydesk.verify.wal_header import WalHeader
from tests.conftest import build_world

# Another process writes the store as any program could: sqlite3, one commit.
_WRITE_ELSEWHERE = (
    "import sqlite3, sys\n"
    "connection = sqlite3.connect(sys.argv[1])\n"
    "with connection:\n"
    "    connection.execute(sys.argv[2], sys.argv[3:])\n"
    "connection.close()\n"
)


@pytest.fixture(params=["wal header", "data_version"])
def warm(request, sqlite_url, monkeypatch):
    """A verifier that has verified a key three times (its row kept), the
    statements its read connection runs from then on, and the store's path."""
    if request.param == "data_version":  # as for a store whose header is not to be had
        monkeypatch.setattr(WalHeader, "open", classmethod(lambda _cls, _path: None))
    store = open_store(sqlite_url, create=True)
    world = build_world(store)
    expires = datetime.now(UTC) + timedelta(hours=1)
    created = world.owner.create_key("github", "prod", expires_at=expires)
    key = created.private_key.reveal()
    verifier = Verifier(store.engine)
    for _ in range(3):
        verifier.verify(key)
    verifier.flush()  # its last-used write is in: the next read sees it once
    verifier.verify(key)
    reads = verifier._lookups._reads
    assert isinstance(reads, store_reads.SqliteReads)
    assert (reads._wal is None) == (request.param == "data_version")
    statements: list[str] = []
    assert reads._connection is not None
    reads._connection.set_trace_callback(statements.append)
    yield verifier, key, created.key.public_key, Path(store.engine.url.database), statements
    verifier.close()
    store.dispose()


def _elsewhere(path: Path, sql: str, *values: str) -> None:
    subprocess.run(
        [sys.executable, "-c", _WRITE_ELSEWHERE, str(path), sql, *values],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def _row_reads(statements: list[str]) -> int:
    return sum(statement.startswith("SELECT") for statement in statements)


def test_a_warm_key_reads_no_row_while_the_store_is_unchanged(warm):
    verifier, key, _public, _path, statements = warm
    for _ in range(5):
        assert verifier.verify(key).label == "prod"
    assert _row_reads(statements) == 0
    assert set(statements) <= {"PRAGMA data_version"}


def test_a_key_revoked_by_another_process_is_refused_on_the_next_request(warm):
    verifier, key, public, path, statements = warm
    assert verifier.verify(key).label == "prod"
    _elsewhere(
        path, "UPDATE api_key SET revoked_at = ? WHERE public_key = ?",
        "2026-01-01 00:00:00.000000", public,
    )  # fmt: skip
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(key)
    assert refused.value.reason is UnauthorizedReason.REVOKED
    assert _row_reads(statements) == 1


def test_a_revoke_through_another_connection_of_this_process_is_seen(warm, sqlite_url):
    verifier, key, public, _path, _statements = warm
    assert verifier.verify(key).label == "prod"
    store = open_store(sqlite_url)
    try:
        KeyService(store, "alice").revoke_key(public)
    finally:
        store.dispose()
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(key)
    assert refused.value.reason is UnauthorizedReason.REVOKED


def test_an_expiry_passing_with_the_row_kept_is_refused(warm, monkeypatch):
    verifier, key, _public, _path, statements = warm
    assert verifier.verify(key).label == "prod"
    later = datetime.now(UTC) + timedelta(hours=2)
    monkeypatch.setattr("keydesk.views.keys.utcnow", lambda: later)
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(key)
    assert refused.value.reason is UnauthorizedReason.EXPIRED
    assert _row_reads(statements) == 0  # the clock, not the store, expired it


def test_an_integration_disabled_elsewhere_is_refused(warm):
    verifier, key, _public, path, _statements = warm
    assert verifier.verify(key).label == "prod"
    _elsewhere(path, "UPDATE integration SET status = 'disabled' WHERE name = ?", "github")
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(key)
    assert refused.value.reason is UnauthorizedReason.INTEGRATION_DISABLED


def test_a_store_replaced_with_the_row_kept_is_refused(warm, tmp_path):
    verifier, key, _public, path, _statements = warm
    assert verifier.verify(key).label == "prod"
    shutil.copy2(path, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", path)
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="deleted or replaced"):
            verifier.verify(key)


def test_own_bookkeeping_keeps_the_rows_a_change_elsewhere_drops_them(warm, request):
    verifier, key, public, path, statements = warm
    by_header = "wal header" in request.node.name
    verifier.verify(key)
    verifier.flush()  # its usage counts are written: a commit of its own
    for _ in range(3):
        verifier.verify(key)
    # Told apart from others' by the header's commit count; data_version
    # cannot tell, and the row is read once again.
    assert _row_reads(statements) == (0 if by_header else 1)
    for first_elsewhere in (True, False):  # another's commit before or after its own
        if first_elsewhere:
            _elsewhere(path, "UPDATE api_key SET label = 'moved' WHERE public_key = ?", public)
        verifier.verify(key)
        verifier.flush()
        if not first_elsewhere:
            _elsewhere(path, "UPDATE api_key SET label = 'prod' WHERE public_key = ?", public)
        assert verifier.verify(key).label == ("moved" if first_elsewhere else "prod")
    _elsewhere(
        path, "UPDATE api_key SET revoked_at = ? WHERE public_key = ?",
        "2026-01-01 00:00:00.000000", public,
    )  # fmt: skip
    with pytest.raises(Unauthorized):
        verifier.verify(key)


def test_the_wal_header_changes_with_each_commit_of_another_connection(tmp_path):
    path = tmp_path / "plain.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (a)")
    header = WalHeader.open(str(path))
    assert header is not None
    seen = {header.now()}
    for value in range(3):
        writer.execute("INSERT INTO t VALUES (?)", (value,))
        assert header.now() not in seen
        seen.add(header.now())
    assert header.now() == header.now()  # and nothing else moves it
    header.close()
    writer.close()


def test_no_header_without_wal_mode(tmp_path):
    path = tmp_path / "journal.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (a)")
    connection.commit()
    assert WalHeader.open(str(path)) is None
    connection.close()


def test_only_commits_counted_as_own_keep_the_rows(tmp_path):
    path = tmp_path / "plain.db"
    own, other = (sqlite3.connect(path, isolation_level=None) for _ in range(2))
    own.execute("PRAGMA journal_mode=WAL")
    own.execute("CREATE TABLE t (a)")
    header = WalHeader.open(str(path))
    assert header is not None

    def own_commit() -> None:
        own.execute("BEGIN IMMEDIATE")
        before = header.change()
        own.execute("INSERT INTO t VALUES (1)")
        own.execute("COMMIT")
        header.own_commit(before)

    start = header.now()
    own_commit()
    own_commit()
    assert header.only_own_commits(start, header.now())
    other.execute("INSERT INTO t VALUES (2)")
    assert not header.only_own_commits(start, header.now())
    after_other = header.now()
    own_commit()
    assert header.only_own_commits(after_other, header.now())
    header.close()
    own.close()
    other.close()
