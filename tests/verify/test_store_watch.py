"""The verifier notices a SQLite store deleted or replaced under it by an
inotify watch read on a thread of its own (keydesk.store.file_watch), not a
stat() of its three files per request: the warm path stats nothing and makes
no system call for it, a chmod is a false alarm settled by stat(), and every
way of swapping the store is refused from the first request after the
watching thread has seen it (README: microseconds, 5 ms at most plus the
scheduler's delay)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from keydesk.errors import StoreUnavailable
from keydesk.store.engine import open_store
from keydesk.store.file_watch import FileWatch
from keydesk.verify import Verifier, store_reads
from tests.conftest import build_world
from tests.support.waiting import eventually


@pytest.fixture
def warm(sqlite_url, migrated, monkeypatch):
    """A verifier that has read its store three times (so it watches), and
    the stat() calls it makes from then on."""
    store = open_store(sqlite_url, create=True)
    world = build_world(store)
    key = world.owner.create_key("github", "prod").private_key.reveal()
    verifier = Verifier(store.engine)
    for _ in range(3):
        verifier.verify(key)
    stats: list[str] = []
    real = store_reads.file_id
    monkeypatch.setattr(store_reads, "file_id", lambda path: stats.append(path) or real(path))
    yield verifier, key, Path(store.engine.url.database), stats
    verifier.close()
    store.dispose()


def test_a_warm_read_stats_nothing_and_a_chmod_is_only_a_false_alarm(warm):
    verifier, key, path, stats = warm
    for _ in range(5):
        assert verifier.verify(key).label == "prod"
    assert stats == []
    path.chmod(0o600)  # an attribute changed: the watch stirs, stat() clears it
    eventually(lambda: verifier.verify(key).label == "prod" and len(stats) == 3)
    assert verifier.verify(key).label == "prod"
    assert len(stats) == 3


@pytest.mark.parametrize("how", ["deleted", "replaced by a copy", "wal and shm deleted"])
def test_a_store_swapped_under_a_watching_verifier_is_refused(warm, tmp_path, how):
    verifier, key, path, _stats = warm
    if how == "deleted":
        path.unlink()
    elif how == "replaced by a copy":
        shutil.copy2(path, tmp_path / "copy.db")
        os.replace(tmp_path / "copy.db", path)
    else:
        for name in (f"{path}-wal", f"{path}-shm"):
            os.unlink(name)

    def refused() -> bool:
        try:
            verifier.verify(key)
        except StoreUnavailable as error:
            assert "deleted or replaced" in error.message
            return True
        return False

    eventually(refused)
    with pytest.raises(StoreUnavailable, match="deleted or replaced"):
        verifier.verify(key)  # and every request after it


def test_a_watch_on_a_missing_file_always_says_maybe(tmp_path):
    watch = FileWatch([str(tmp_path / "none")])
    assert watch.stirred() and watch.stirred()
    watch.close()


def test_a_check_is_no_system_call_and_an_unlink_is_seen_by_the_thread(tmp_path):
    path = tmp_path / "store.db"
    path.write_bytes(b"")
    watch = FileWatch([str(path)])
    assert watch.stirred()  # the first look: whatever came before the watch
    assert not watch.stirred()
    assert any(t.name == "keydesk-watch" for t in threading.enumerate())
    path.unlink()
    eventually(watch.stirred)
    assert not watch.stirred()  # said once per event
    watch.close()
    assert watch.stirred()  # closed: "maybe", the caller stats
