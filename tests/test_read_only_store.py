"""A store on a read-only file system said only "the store is unavailable:
unable to open database file", for reads too (third attack pass of #19).
keydesk.store.dbapi now says the store's folder is read-only when this process may
not write it (os.access), as it says a full disk."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_full_disk import run


@pytest.fixture
def read_only(tmp_path) -> Iterator[Path]:
    """A small tmpfs holding a store, remounted read-only (root only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: mounts a tmpfs")
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        # In another process: this one's engine would keep the mount busy.
        made = [sys.executable, "-m", "keydesk", "--db", str(mount / "k.db"), "init"]
        subprocess.run([*made, "--workspace", "acme"], capture_output=True, check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


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
