"""A full disk is said as such: every write and the emergency revoke said
"the store is unavailable: disk I/O error" (SQLite's word for a -wal that
cannot grow). keydesk.store.dbapi asks the store's file system (os.statvfs) when
SQLite reports an I/O error or a full database (issue #19)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keydesk.cli import main
from keydesk.store import dbapi
from tests.support.tmpfs import tmpfs


@pytest.fixture
def tiny(tmp_path) -> Iterator[Path]:
    """A 2 MiB tmpfs (root only), unmounted after: room for a store and its -wal."""
    with tmpfs(tmp_path / "tiny", "2m") as mount:
        yield mount


def run(db: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = main(["--db", str(db), *argv], actor="alice")
    finally:
        sys.stdin, sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 1024):
            pass
    except OSError:
        pass  # no space left
    finally:
        os.close(fd)
    return filler


def test_writes_on_a_full_disk_say_so_and_change_nothing(tiny, monkeypatch):
    db = tiny / "keydesk.db"
    assert run(db, "init", "--workspace", "acme")[0] == 0
    assert run(db, "integration", "add", "--workspace", "acme", "--name", "gh",
               "--provider", "GitHub", "--configure", "--client-id", "x",
               "--redirect-uri", "https://a.example/cb")[0] == 0  # fmt: skip
    code, out, err = run(db, "key", "create", "--integration", "gh", "--label", "first", "--json")
    assert code == 0, err
    public = json.loads(out)["public_key"]
    filler = fill(tiny)
    full = f"keydesk: the disk holding the store ({tiny}) is full: free some space and try again; nothing was changed\n"
    for argv in (
        ("key", "create", "--integration", "gh", "--label", "second"),
        ("key", "revoke", public, "--yes"),
    ):
        code, out, err = run(db, *argv)
        assert (code, out, err) == (3, "", full), argv
    # With room said to be left, the error is not blamed on the disk.
    monkeypatch.setattr(dbapi, "disk_is_full", lambda folder: False)
    code, _, err = run(db, "key", "revoke", public, "--yes")
    assert code == 3 and "the store is unavailable:" in err and "the disk holding" not in err
    monkeypatch.undo()
    filler.unlink()
    code, out, err = run(db, "key", "list", "--integration", "gh", "--json")
    assert [k["label"] for k in json.loads(out)] == ["first"]  # nothing was made
    code, _, err = run(db, "key", "revoke", public, "--yes")
    assert code == 0, err


def test_a_full_disk_is_read_from_the_file_system(tmp_path, monkeypatch):
    """Bytes or files (inodes) left, for this user; root may use the reserve."""

    class Disk:
        f_frsize, f_files = 4096, 1000

        def __init__(self, bavail: int, bfree: int, favail: int = 10) -> None:
            self.f_bavail, self.f_bfree = bavail, bfree
            self.f_favail = self.f_ffree = favail

    def disk(**values: int) -> bool:
        monkeypatch.setattr(dbapi.os, "statvfs", lambda folder: Disk(**values))
        return dbapi.disk_is_full(str(tmp_path))

    assert disk(bavail=10, bfree=10)
    assert not disk(bavail=1000, bfree=1000)
    assert disk(bavail=1000, bfree=1000, favail=0)
    monkeypatch.setattr(dbapi.os, "geteuid", lambda: 1000)
    assert disk(bavail=0, bfree=5000)  # the reserve is root's alone
