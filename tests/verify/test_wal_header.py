"""Kept rows across the WAL-index header's rarer moves (wal_header.py): a
header rebuilt by recovery, the log started over. Whatever the header went
through, a key revoked elsewhere is refused on the very next request."""

from __future__ import annotations

import mmap
import os
import sqlite3
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keydesk.errors import Unauthorized, UnauthorizedReason
from keydesk.store.engine import open_store
from keydesk.verify import Verifier, store_reads
from tests.conftest import build_world


@pytest.fixture
def kept(sqlite_url, migrated):
    """A verifier keeping a key's row, a connection of another program on
    the store, the verifier's header and the store's path."""
    store = open_store(sqlite_url, create=True)
    world = build_world(store)
    created = world.owner.create_key(
        "github", "prod", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    key = created.private_key.reveal()
    verifier = Verifier(store.engine, count_usage=False)
    for _ in range(3):
        verifier.verify(key)
    verifier.flush()  # its last-used write is in: the next read sees it once
    verifier.verify(key)
    reads = verifier._lookups._reads
    assert isinstance(reads, store_reads.SqliteReads) and reads.wal() is not None
    path = Path(store.engine.url.database)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE scratch (a)")  # commits that change no key
    verifier.verify(key)  # the row kept at the header now
    yield verifier, key, created.key.public_key, other, reads.wal(), path
    other.close()
    verifier.close()
    store.dispose()


def _count(header) -> int:
    return struct.unpack_from("=I", header.now(), 8)[0]


def _rebuild_header(path: Path, other: sqlite3.Connection) -> None:
    """Both header copies gone (a writer killed while writing them): the
    next reader rebuilds the header from the log, counting from 0 again."""
    fd = os.open(f"{path}-shm", os.O_RDWR)
    try:
        index = mmap.mmap(fd, 96)
        index[:] = bytes(96)
        index.close()
    finally:
        os.close(fd)
    other.execute("SELECT count(*) FROM scratch").fetchall()


def _own_commit(verifier: Verifier, other: sqlite3.Connection, public: str) -> None:
    """A batch of the verifier's bookkeeping (a usage count), as its writer makes one."""
    ((key_id,),) = other.execute("SELECT id FROM api_key WHERE public_key = ?", (public,))
    assert not verifier._bookkeeping._store([], {(key_id, 1, "accepted"): 1})  # not failed


@pytest.mark.parametrize("then", ["nothing", "an own commit"])
def test_a_revoke_before_a_header_rebuilt_then_a_log_started_over_is_refused(kept, then):
    # The rebuilt header's count climbs back to the one the verifier last
    # saw, and a checkpoint starts the log over there: the same count, an
    # empty log, salt-1 one on, as if only the log had started over since
    # (and an own commit from there, as if made on the header last seen).
    verifier, key, public, other, header, path = kept
    seen = _count(header)
    other.execute(
        "UPDATE api_key SET revoked_at = '2026-01-01 00:00:00.000000' WHERE public_key = ?",
        (public,),
    )
    _rebuild_header(path, other)
    assert _count(header) < seen
    while _count(header) < seen:
        other.execute("INSERT INTO scratch VALUES (1)")
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if then == "an own commit":
        _own_commit(verifier, other, public)
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(key)
    assert refused.value.reason is UnauthorizedReason.REVOKED


def test_a_store_opened_by_another_process_keeps_its_header_under_a_verifier(kept):
    # Closing any descriptor of a file drops every lock this process holds
    # on it (POSIX): closing the one the header was mapped from dropped
    # SQLite's lock on -shm that tells the next process it is not the first,
    # so that process truncated -shm and rebuilt the header under the
    # verifier (counting from 0; read while truncated: SIGBUS, the process gone).
    verifier, key, _public, other, header, path = kept
    other.close()
    seen = header.now()
    opened = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT 1 FROM scratch')"
    subprocess.run([sys.executable, "-c", opened, str(path)], check=True, timeout=60)
    assert header.now() == seen
    assert verifier.verify(key).label == "prod"
