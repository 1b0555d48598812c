"""A store on a read-only file system said only "the store is unavailable:
unable to open database file", for reads too (third attack pass of #19).
keydesk.store.dbapi now says the store's folder is read-only when this process may
not write it (os.access), as it says a full disk."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from keydesk.service import KeyService
from keydesk.store.engine import open_store
from tests.conftest import copy_store_file
from tests.store.test_full_disk import run
from tests.support.tmpfs import tmpfs


@pytest.fixture
def read_only(tmp_path, sqlite_template) -> Iterator[Path]:
    """A small tmpfs holding a store, remounted read-only (root only). The
    store is made beside it and copied in: an engine of this process on the
    mount would keep it busy (a `keydesk init` child cost ~1 s of CPU)."""
    made = tmp_path / "made"
    made.mkdir(mode=0o700)
    copy_store_file(sqlite_template, made / "k.db")
    store = open_store(f"sqlite:///{made / 'k.db'}")
    KeyService(store, "alice").create_workspace("acme")
    store.dispose()  # its last connection gone, SQLite folds the -wal into the file
    with tmpfs(tmp_path / "ro", "2m") as mount:
        for file in made.iterdir():
            shutil.copy2(file, mount / file.name)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount


@pytest.mark.parametrize(
    "argv", [("integration", "list"), ("workspace", "set-policy", "--max-key-lifetime", "9d")]
)
def test_a_read_only_folder_is_said(read_only, argv):
    code, out, err = run(read_only / "k.db", *argv)
    assert (code, out) == (3, "")
    assert err == (
        f"keydesk: the folder holding the store ({read_only}) is read-only (file system or "
        "mode): SQLite writes beside the store (its -wal and -shm) even to read it; make it "
        "writable\n"
    )
