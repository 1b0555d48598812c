"""A store on a read-only file system said only "the store is unavailable:
unable to open database file", for reads too (third attack pass of #19).
keydesk.store.dbapi now says the store's folder is read-only when this process may
not write it (os.access), as it says a full disk."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.test_full_disk import run
from tests.support.tmpfs import tmpfs


@pytest.fixture
def read_only(tmp_path) -> Iterator[Path]:
    """A small tmpfs holding a store, remounted read-only (root only)."""
    with tmpfs(tmp_path / "ro", "2m") as mount:
        # In another process: this one's engine would keep the mount busy.
        made = [sys.executable, "-m", "keydesk", "--db", str(mount / "k.db"), "init"]
        subprocess.run([*made, "--workspace", "acme"], capture_output=True, check=True)
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
