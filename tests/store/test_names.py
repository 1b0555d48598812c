"""Store names that are no file's: each one line with the fix, never an
internal error, never a store made somewhere else (issue #19)."""

from __future__ import annotations

import pytest

from keydesk.cli import main
from keydesk.config import database_url
from keydesk.errors import StoreUnavailable
from keydesk.store.engine import open_store


def kd(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv), actor="alice")
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", [("integration", "list"), ("init", "--workspace", "acme")])
def test_a_nul_in_a_url_is_one_line(tmp_path, capsys, command):
    code, err = kd(capsys, "--db", f"sqlite:///{tmp_path}/k.db%00x", *command)
    assert code == 3 and err.count("\n") == 1
    assert "contains a NUL character" in err and "internal error" not in err
    assert list(tmp_path.iterdir()) == []


def test_file_colon_is_sqlites_uri_name_refused_as_in_a_url(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for named in (f"file:{tmp_path}/k.db", f"sqlite:///file:{tmp_path}/k.db"):
        with pytest.raises(StoreUnavailable, match="a SQLite URI file name is not accepted"):
            open_store(database_url(named), create=True)
    code, err = kd(capsys, "--db", f"file:{tmp_path}/k.db", "init", "--workspace", "acme")
    assert code == 3 and "a SQLite URI file name is not accepted" in err
    assert list(tmp_path.iterdir()) == []  # no folder named file: made here


def test_an_empty_file_is_said_as_such_left_as_it_is_and_init_makes_the_store_in_it(
    tmp_path, capsys
):
    empty = tmp_path / "zero.db"
    empty.touch(mode=0o600)
    for argv in (("integration", "list"), ("audit",)):
        code, err = kd(capsys, "--db", str(empty), *argv)
        assert code == 3 and err == (
            f"keydesk: {empty} is an empty file, not a keydesk store; make the store in it "
            f"with: keydesk --db {empty} init --workspace NAME (or name the store's own file)\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zero.db"]
    assert empty.stat().st_size == 0  # not opened: SQLite would have written a header
    assert kd(capsys, "--db", str(empty), "init", "--workspace", "acme")[0] == 0
    assert kd(capsys, "--db", str(empty), "integration", "list")[0] == 0


@pytest.mark.parametrize("scheme", ["FILE", "File", "fIle", "postgres", "x+y"])
def test_a_scheme_like_prefix_is_refused_not_made_a_folder(tmp_path, capsys, monkeypatch, scheme):
    """`--db FILE:/tmp/x.db` made ./FILE:/tmp/x.db under the current folder
    (SQLite reads only a lower-case file: as a URI)."""
    monkeypatch.chdir(tmp_path)
    code, err = kd(capsys, "--db", f"{scheme}:{tmp_path}/k.db", "init", "--workspace", "acme")
    assert code == 3 and err.count("\n") == 1, err
    assert "starts like a URL" in err
    assert list(tmp_path.iterdir()) == []
    # A file of that name is still reachable as ./NAME.
    code, err = kd(capsys, "--db", f"./{scheme}:k.db", "init", "--workspace", "acme")
    assert code == 0, err


@pytest.mark.parametrize("companion", ["", "-wal"])
def test_a_fifo_is_refused_in_one_line_not_waited_on(tmp_path, capsys, companion):
    """`--db FIFO` hung the command: opening a FIFO waits for a writer."""
    import gc
    import os

    named = tmp_path / "k.db"
    if companion:
        assert kd(capsys, "--db", str(named), "init", "--workspace", "acme")[0] == 0
        # init ran in this process: a connection it left for the garbage collector
        # would, when closed, unlink k.db-wal by name, the FIFO made below included.
        gc.collect()
    if os.path.lexists(f"{named}{companion}"):
        os.remove(f"{named}{companion}")
    os.mkfifo(f"{named}{companion}", 0o600)
    code, err = kd(capsys, "--db", str(named), "integration", "list")
    assert code == 3 and err.count("\n") == 1, err
    assert "is not a regular file" in err
