"""The list reads on a bare sqlite3 connection (keydesk.store.queries) behave as
the service's: the same one-line errors, the same store for the same path."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from keydesk.cli import main
from keydesk.errors import StoreUnavailable
from keydesk.service import KeyService
from keydesk.store.dbapi import DbConnection
from keydesk.store.engine import open_store
from keydesk.store.queries import bare_sqlite_reads
from tests.conftest import build_world


def test_a_driver_error_is_one_line_on_either_path(tmp_path, capsys):
    """A store the queries cannot read (here a column gone) is
    StoreUnavailable with SQLite's reason, through the service and bare."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url, create=True)
    world = build_world(store)
    world.owner.create_key("github", "prod")
    with store.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE api_key RENAME COLUMN label TO label2"))
    with pytest.raises(StoreUnavailable, match="no such column"):
        KeyService(store, "alice").keys("github")
    store.dispose()
    with bare_sqlite_reads(url, "alice") as reads, pytest.raises(StoreUnavailable):
        assert reads is not None
        list(reads.keys("github"))
    argv = ["key", "list", "--integration", "github", "--db", str(tmp_path / "k.db")]
    assert main(argv, actor="alice") == 3  # the store is unavailable
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keydesk: the store is unavailable: no such")


def test_a_path_with_percent_escapes_is_one_store_for_every_command(tmp_path, capsys):
    """SQLAlchemy reads `%41` in a URL as "A"; the bare path reads it so too,
    so listing, verifying and writing all use the same file."""
    folder = tmp_path / "x%41y"
    folder.mkdir(mode=0o700)
    url = f"sqlite:///{folder / 'k%41.db'}"
    store = open_store(url, create=True)
    world = build_world(store)
    created = world.owner.create_key("github", "prod")
    store.dispose()
    assert (tmp_path / "xAy" / "kA.db").exists()  # where SQLAlchemy put it
    with bare_sqlite_reads(url, "alice") as reads:
        assert reads is not None  # found bare, not by falling back
        assert [k.public_key for k in reads.keys("github")] == [created.key.public_key]


def test_times_are_compared_as_stored(tmp_path):
    connection = DbConnection(object(), "sqlite")  # (time() reads no connection)
    with pytest.raises(ValueError, match="naive"):
        connection.time(datetime(2026, 1, 1))


def test_keys_read_together_share_their_repeated_values(tmp_path):
    """100,000 keys of one integration hold one copy of its name, of their
    creator's name and of each scope list (the TUI keeps them all), and a
    name that reads like a scope list stays a name."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url, create=True)
    world = build_world(store)
    for n in range(3):
        world.owner.create_key("github", f"k{n}")
    keys = KeyService(store, "alice").keys("github")
    store.dispose()
    assert len({id(k.integration) for k in keys}) == 1
    assert len({id(k.created_by) for k in keys}) == 1
    assert len({id(k.scopes) for k in keys}) == 1
    assert all(isinstance(k.integration, str) and isinstance(k.scopes, tuple) for k in keys)


def test_a_locked_store_goes_the_full_way_at_once_and_reads_wait_as_usual(
    tmp_path, capsys, monkeypatch
):
    """The bare way's first look gives up at once on a store another process
    has locked (the full way then waits the busy timeout and says "busy":
    waiting on both doubled it); once past that look, reads wait as usual."""
    import sqlite3

    from keydesk.store import engine, sqlite_file
    from keydesk.store.sqlite_file import SQLITE_BUSY_TIMEOUT_MS, open_for_reading

    url = f"sqlite:///{tmp_path / 'k.db'}"
    open_store(url, create=True).dispose()
    with open_for_reading(url) as connection:
        assert connection is not None
        (timeout,) = connection.execute("PRAGMA busy_timeout").fetchone()
        assert timeout == SQLITE_BUSY_TIMEOUT_MS
    # The full way below waits 0.2 s, not 5 s, for the same "busy" (the
    # engine's connect timeout, then its busy_timeout pragma, checked here).
    monkeypatch.setattr(sqlite_file, "SQLITE_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    store = open_store(url)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
    store.dispose()
    holder = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with open_for_reading(url) as connection:
            assert connection is None  # the full way decides, and reports
        assert main(["workspace", "list", "--db", str(tmp_path / "k.db")]) == 3  # busy: try again
        err = capsys.readouterr().err
        assert err == "keydesk: the store is busy (another process holds a lock on it); try again\n"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
