"""The verifier's bookkeeping writer: batches gathered for a moment, and a
flush served whatever waits ahead of it."""

from __future__ import annotations

from pathlib import Path

from keydesk.verify.bookkeeping import BATCH_LIMIT, Bookkeeping
from keydesk.verify.store_reads import open_reads
from keydesk.verify.store_writes import Touch, WriteConnections
from keydesk.verify.stored_key import StoredKey
from tests.conftest import copy_store_file


def _row(key_id: int) -> StoredKey:
    return StoredKey(
        f"kdpk_{key_id:016d}", key_id, "", "", None, None, None, 1, "github", "configured",
        1, "acme", "", "", None, None, None,
    )  # fmt: skip


def test_a_flush_behind_many_batches_returns_with_every_write_made(sqlite_template, tmp_path):
    # The writer gathers for a moment before each batch; queued behind a
    # flush (or many batches long), it goes on without those pauses: twelve
    # batches of pauses would have outlasted the flush's 5 s.
    path = tmp_path / "store.db"
    copy_store_file(Path(sqlite_template), path)
    written: list[int] = []

    def record(_connection, _backend, writes, _counts=None):
        written.extend(w.key_id for w in writes if isinstance(w, Touch))

    reads = open_reads(f"sqlite:///{path}", 1.0)
    bookkeeping = Bookkeeping(WriteConnections(reads), count_usage=False, write=record)
    try:
        count = 12 * BATCH_LIMIT
        for key_id in range(count):
            bookkeeping.touch(_row(key_id))
        bookkeeping.flush()
        assert sorted(written) == list(range(count))
    finally:
        bookkeeping.close()
        reads.close()
