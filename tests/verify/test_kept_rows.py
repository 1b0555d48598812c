"""A SQLite verifier keeps the rows it read and reads a key's row again only
once the store has changed (store_reads.py): told by the WAL-index header
(wal_header.py), or by `PRAGMA data_version` where that header is not to be
had. Every promise of a per-request read still holds with the rows kept: a
key revoked by another process, an expiry passed, a policy changed, a store
replaced, each refused on the very next request."""

from __future__ import annotations

import mmap
import os
import shutil
import sqlite3
import struct
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
from tests.support.waiting import eventually

# Another process writes the store as any program could: sqlite3, one commit.
_WRITE_ELSEWHERE = (
    "import sqlite3, sys\n"
    "connection = sqlite3.connect(sys.argv[1])\n"
    "with connection:\n"
    "    connection.execute(sys.argv[2], sys.argv[3:])\n"
    "connection.close()\n"
)


@pytest.fixture(params=["wal header", "data_version"])
def warm(request, sqlite_url, migrated, monkeypatch):
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

    def refused() -> bool:  # once the store's watching thread has seen it (README)
        try:
            verifier.verify(key)
        except StoreUnavailable as error:
            return "deleted or replaced" in error.message
        return False

    eventually(refused)
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
        batch = header.own_batch()
        own.execute("INSERT INTO t VALUES (1)")
        own.execute("COMMIT")
        header.own_commit(batch)

    start = header.now()
    own_commit()
    own_commit()
    assert header.own_changes(start, header.now()) == frozenset()
    other.execute("INSERT INTO t VALUES (2)")
    assert header.own_changes(start, header.now()) is None
    after_other = header.now()
    own_commit()
    assert header.own_changes(after_other, header.now()) == frozenset()
    header.close()
    own.close()
    other.close()


def test_own_commits_are_forgotten_with_the_last_header_that_maps_the_file(tmp_path):
    # A -shm deleted with its store's last connection may come back at the
    # same inode, counting from 0 again: counts kept from the old file would
    # pass the new file's revoke for an own commit (a CI run served a revoked
    # key 200 times so). Once nothing maps the file, its counts are gone.
    own, other, header, own_commit = _own_and_other(tmp_path / "plain.db")
    start = header.now()
    own_commit()
    own_commit()
    later = WalHeader.open(str(tmp_path / "plain.db"))
    assert later is not None and later.file == header.file
    assert later.own_changes(start, later.now()) == frozenset()  # shared while mapped
    header.close()
    later.close()
    again = WalHeader.open(str(tmp_path / "plain.db"))
    assert again is not None and again.file == header.file
    assert again.own_changes(start, again.now()) is None
    again.close()
    own.close()
    other.close()


def _own_and_other(path: Path):
    own, other = (sqlite3.connect(path, isolation_level=None) for _ in range(2))
    own.execute("PRAGMA journal_mode=WAL")
    own.execute("CREATE TABLE t (a)")
    header = WalHeader.open(str(path))
    assert header is not None

    def own_commit(changed: frozenset[str] = frozenset()) -> None:
        own.execute("BEGIN IMMEDIATE")
        batch = header.own_batch()
        own.execute("INSERT INTO t VALUES (1)")
        own.execute("COMMIT")
        header.own_commit(batch, changed)

    return own, other, header, own_commit


def _count(header: WalHeader) -> int:
    """The header's commit count (iChange, at offset 8)."""
    return struct.unpack_from("=I", header.now(), 8)[0]


def _restart_next_write(connection: sqlite3.Connection) -> None:
    """Every frame into the database: the next write starts the log over."""
    assert connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0


def test_an_own_commit_that_restarts_the_log_keeps_the_rows(tmp_path):
    own, other, header, own_commit = _own_and_other(tmp_path / "plain.db")
    own_commit()
    _restart_next_write(own)
    start = header.now()
    own_commit()
    assert header.now()[32:40] != start[32:40]  # new salts: the log started over
    assert header.own_changes(start, header.now()) == frozenset()
    for _ in range(3):  # restarts and own commits in a row
        _restart_next_write(own)
        own_commit()
    assert header.own_changes(start, header.now()) == frozenset()
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # started over between commits
    assert header.own_changes(start, header.now()) == frozenset()
    own_commit()
    assert header.own_changes(start, header.now()) == frozenset()
    header.close()
    own.close()
    other.close()


def test_a_header_read_inside_an_own_commit_that_restarts_the_log_keeps_the_rows(tmp_path):
    own, other, header, own_commit = _own_and_other(tmp_path / "plain.db")
    own_commit()
    _restart_next_write(own)
    own.execute("PRAGMA cache_size=1")  # a big write spills frames before its commit
    own.execute("BEGIN IMMEDIATE")
    batch = header.own_batch()
    own.executemany("INSERT INTO t VALUES (?)", ((bytes(4000),) for _ in range(50)))
    inside = header.now()  # a reader looks: the log started over, nothing committed yet
    assert inside[32:40] != batch.header[32:40] and _count(header) == batch.count
    own.execute("COMMIT")
    header.own_commit(batch)
    assert header.own_changes(inside, header.now()) == frozenset()
    header.close()
    own.close()
    other.close()


def test_another_commit_around_an_own_restart_drops_the_rows(tmp_path):
    own, other, header, own_commit = _own_and_other(tmp_path / "plain.db")
    own_commit()
    for elsewhere_first in (True, False):
        start = header.now()
        if elsewhere_first:
            other.execute("INSERT INTO t VALUES (2)")
        _restart_next_write(own)
        own_commit()
        if not elsewhere_first:
            _restart_next_write(own)
            other.execute("INSERT INTO t VALUES (2)")
        assert header.now()[32:40] != start[32:40]
        assert header.own_changes(start, header.now()) is None
    start = header.now()
    _restart_next_write(own)
    other.execute("INSERT INTO t VALUES (3)")  # another's restart and commit alone
    assert header.own_changes(start, header.now()) is None
    header.close()
    own.close()
    other.close()


def test_a_header_rebuilt_by_recovery_never_passes_for_own_commits(tmp_path):
    # A writer killed while writing the header leaves it to be rebuilt, and
    # the rebuilt one counts from 0 again: another's commits then reach
    # counts this process had committed from, and must not pass for its own.
    path = tmp_path / "plain.db"
    own, other, header, own_commit = _own_and_other(path)
    own_commit()
    sampled = header.now()  # a reader's last look
    for _ in range(9):
        own_commit()
    fd = os.open(f"{path}-shm", os.O_RDWR)
    index = mmap.mmap(fd, 96)
    index[:] = bytes(96)  # both copies gone: the next reader rebuilds them
    index.close()
    os.close(fd)
    other.execute("SELECT count(*) FROM t").fetchall()
    assert _count(header) == 0
    while _count(header) < 5:
        other.execute("INSERT INTO t VALUES (2)")  # a revoke, say
    assert header.own_changes(sampled, header.now()) is None
    header.close()
    own.close()
    other.close()


def test_an_own_rehash_names_only_its_keys(tmp_path):
    own, other, header, own_commit = _own_and_other(tmp_path / "plain.db")
    start = header.now()
    own_commit(frozenset({"kdpk_a"}))
    own_commit()
    own_commit(frozenset({"kdpk_b"}))
    assert header.own_changes(start, header.now()) == {"kdpk_a", "kdpk_b"}
    header.close()
    own.close()
    other.close()


@pytest.fixture
def many_rows(sqlite_url, migrated):
    """Reads on a store of 12 keys, their public keys, and a connection that
    commits as the verifier's bookkeeping does (`own`)."""
    store = open_store(sqlite_url, create=True)
    world = build_world(store)
    publics = [world.owner.create_key("github", f"k{n}").key.public_key for n in range(12)]
    reads = store_reads.SqliteReads(store.engine.url.database, 5.0)
    reads.fetch(publics[:1])
    writer = sqlite3.connect(store.engine.url.database, isolation_level=None)
    yield reads, publics, writer
    writer.close()
    reads.close()
    store.dispose()


def _read_keys(reads: store_reads.SqliteReads, publics: list[str]) -> list[str]:
    """Which of `publics` `fetch` reads from the store (not kept)."""
    statements: list[str] = []
    assert reads._connection is not None
    reads._connection.set_trace_callback(statements.append)
    assert set(reads.fetch(publics)) == set(publics)
    reads._connection.set_trace_callback(None)
    return [key for key in publics if any(key in sql for sql in statements)]


def test_an_own_rehash_drops_only_that_keys_row(many_rows):
    reads, publics, writer = many_rows
    reads.fetch(publics)
    header = reads.wal()
    assert header is not None
    writer.execute("BEGIN IMMEDIATE")
    batch = header.own_batch()
    writer.execute("UPDATE api_key SET label = 'rehashed' WHERE public_key = ?", (publics[3],))
    writer.execute("COMMIT")
    header.own_commit(batch, frozenset({publics[3]}))
    assert _read_keys(reads, publics) == [publics[3]]
    assert reads.fetch([publics[3]])[publics[3]].label == "rehashed"
    writer.execute("UPDATE api_key SET label = 'elsewhere' WHERE public_key = ?", (publics[5],))
    assert _read_keys(reads, publics) == publics  # not counted as own: all read again
    assert reads.fetch([publics[5]])[publics[5]].label == "elsewhere"


def test_a_full_cache_forgets_its_oldest_rows_not_all(many_rows, monkeypatch):
    reads, publics, _writer = many_rows
    monkeypatch.setattr(store_reads, "KEPT_ROWS", 10)
    for key in publics[:10]:
        reads.fetch([key])
    assert list(reads._kept) == publics[:10]
    reads.fetch([publics[10]])  # one over: room for it, and the oldest tenth goes
    assert list(reads._kept) == publics[2:11]
    assert _read_keys(reads, publics[5:]) == [publics[11]]


@pytest.mark.parametrize("other_commit", ["after", "before settling"])
def test_only_a_batch_that_committed_a_change_counts_its_commit_as_own(many_rows, other_commit):
    """A batch that matched no row wrote no frame, and one rolled back wrote
    none that counts: their count stays for the next commit, another's,
    which then drops the rows, even when it comes before the batch settles."""
    from keydesk.verify.store_writes import WriteConnections

    reads, publics, writer = many_rows
    reads.fetch(publics)
    connections = WriteConnections(reads)

    def other() -> None:
        writer.execute("UPDATE api_key SET label = 'elsewhere' WHERE public_key = ?", (publics[1],))

    for label, public in (("own", publics[0]), ("gone", "kdpk_nosuchkey"), ("failed", publics[2])):
        connection = connections.connect()
        batch = connections.begin(connection)
        assert batch is not None
        connection.execute("UPDATE api_key SET label = ? WHERE public_key = ?", (label, public))
        if label == "failed":
            connection.rollback()
            if other_commit == "before settling":
                other()
        else:
            connection.commit()
        connections.settled(connection, batch, written=label != "failed")
        connection.close()
    if other_commit == "after":
        other()
    assert _read_keys(reads, publics) == publics
    assert reads.fetch([publics[1]])[publics[1]].label == "elsewhere"


def test_a_commit_not_yet_settled_is_read_afresh_then_kept_or_dropped(tmp_path):
    """An own batch is marked while it holds the write lock: a reader that
    sees the count move before the batch has said whether the commit was
    its own reads afresh (UNSETTLED); then keeps, or drops if it was not."""
    from keydesk.verify.wal_header import UNSETTLED

    own, other, header, _own_commit = _own_and_other(tmp_path / "plain.db")
    start = header.now()
    own.execute("BEGIN IMMEDIATE")
    batch = header.own_batch()
    own.execute("INSERT INTO t VALUES (1)")
    own.execute("COMMIT")
    assert header.own_changes(start, header.now()) is UNSETTLED
    header.own_commit(batch)
    assert header.own_changes(start, header.now()) == frozenset()
    start = header.now()
    own.execute("BEGIN IMMEDIATE")
    batch = header.own_batch()
    own.execute("ROLLBACK")  # nothing written: the count goes to the next commit
    other.execute("INSERT INTO t VALUES (2)")
    assert header.own_changes(start, header.now()) is UNSETTLED
    header.not_own(batch)
    assert header.own_changes(start, header.now()) is None
    header.close()
    own.close()
    other.close()
