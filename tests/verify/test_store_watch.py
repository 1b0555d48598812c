"""The verifier notices a SQLite store deleted or replaced under it with one
inotify read per request (keydesk.store.file_watch), not a stat() of its
three files: the warm path stats nothing, a chmod is a false alarm settled
by stat(), and every way of swapping the store is still refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from keydesk.errors import StoreUnavailable
from keydesk.store.engine import open_store
from keydesk.store.file_watch import FileWatch
from keydesk.verify import Verifier, store_reads
from tests.conftest import build_world


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
    assert verifier.verify(key).label == "prod"
    assert len(stats) == 3
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
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="deleted or replaced"):
            verifier.verify(key)


def test_a_watch_on_a_missing_file_always_says_maybe(tmp_path):
    watch = FileWatch([str(tmp_path / "none")])
    assert watch.stirred() and watch.stirred()
    watch.close()
