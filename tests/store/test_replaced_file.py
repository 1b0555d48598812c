"""A SQLite store deleted or replaced under a running keydesk takes no more
writes: a key created into the unlinked file would be shown once and lost."""

from __future__ import annotations

import os

import pytest

from keydesk.errors import StoreUnavailable
from keydesk.service import KeyService
from keydesk.store.engine import open_store


def _store_with_integration(path):
    url = f"sqlite:///{path}"
    store = open_store(url, create=True)
    service = KeyService(store, "alice")
    service.create_workspace("acme")
    service.add_integration(
        "acme", "gh", "GitHub", client_id="c", redirect_uri="https://x.example/cb", configure=True
    )
    return store, service


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_no_key_is_created_into_a_store_no_longer_at_its_path(tmp_path, how):
    path = tmp_path / "k.db"
    store, service = _store_with_integration(path)
    for name in ("k.db", "k.db-wal", "k.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    if how == "replaced":
        other, _ = _store_with_integration(tmp_path / "other.db")
        other.dispose()
        os.replace(tmp_path / "other.db", path)
    with pytest.raises(StoreUnavailable, match="deleted or replaced under this process"):
        service.create_key("gh", "prod")
    store.dispose()


@pytest.mark.parametrize("side", ["k.db-wal", "k.db-shm", "both"])
@pytest.mark.parametrize("then", ["deleted", "recreated by another process"])
def test_no_write_goes_to_a_wal_or_shm_no_longer_at_its_path(tmp_path, side, then):
    """Deleting the -wal or -shm under a running keydesk split the store: the
    TUI said "Revoked" while every other process still saw the key active,
    and a later checkpoint damaged the file (found by a walk-through)."""
    path = tmp_path / "k.db"
    store, service = _store_with_integration(path)
    created = service.create_key("gh", "prod")  # a connection of ours holds -wal and -shm
    for name in ("k.db-wal", "k.db-shm") if side == "both" else (side,):
        (tmp_path / name).unlink()
    if then == "recreated by another process":
        try:
            other = open_store(f"sqlite:///{path}")
            KeyService(other, "alice").keys("gh")
            other.dispose()
        except StoreUnavailable:
            pass  # a -shm whose -wal is gone: others cannot even read the store
    with pytest.raises(StoreUnavailable, match="deleted or replaced under this process"):
        service.revoke_key(created.key.public_key)
    store.dispose()
    reopened = open_store(f"sqlite:///{path}")
    assert KeyService(reopened, "alice").keys("gh")[0].status.value == "active"
    reopened.dispose()


def test_a_store_whose_files_stay_takes_writes_after_every_other_connection_closed(tmp_path):
    """SQLite removes the -wal when the last connection closes: a process that
    closed its own and opens again is not told its store was replaced."""
    path = tmp_path / "k.db"
    store, service = _store_with_integration(path)
    service.create_key("gh", "one")
    store.engine.dispose()  # ours closed: the -wal goes, and comes back on the next open
    other = open_store(f"sqlite:///{path}")
    KeyService(other, "alice").create_key("gh", "two")
    other.dispose()
    assert service.create_key("gh", "three").key.label == "three"
    store.dispose()


def test_a_connection_closed_after_its_engine_was_disposed_leaves_no_stale_note(tmp_path):
    """dispose() leaves a checked-out connection to close later without a
    close event: what it had noted of the -wal and -shm goes with the dispose."""
    import gc

    path = tmp_path / "k.db"
    store, service = _store_with_integration(path)
    connection = store.engine.connect()
    connection.exec_driver_sql("SELECT 1")
    store.dispose()
    connection.close()
    del connection
    gc.collect()  # the last of our connections: SQLite removes the -wal and -shm
    assert service.create_key("gh", "after").key.label == "after"
    store.dispose()
