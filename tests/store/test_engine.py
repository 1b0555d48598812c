"""What the store keeps at rest, how it is created, and how it migrates."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa

from keydesk.errors import StoreUnavailable
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.store.urls import shown_url
from tests.conftest import build_world
from tests.support.store_child import open_and_close


def _secret_parts(created) -> list[bytes]:
    text = created.private_key.reveal()
    return [text.encode(), text[22:65].encode()]  # whole key, and the secret alone


def test_sqlite_file_and_wal_hold_no_private_key(tmp_path):
    path = tmp_path / "keydesk.db"
    store = open_store(f"sqlite:///{path}", create=True)
    world = build_world(store)
    created = [world.owner.create_key("github", f"key {n}") for n in range(5)]
    world.owner.revoke_key(created[0].key.public_key)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("keydesk.db")]
    assert any(p.name.endswith("-wal") for p in files)  # checked while the WAL is live
    raw = b"".join(p.read_bytes() for p in files)
    store.dispose()
    raw += path.read_bytes()  # and after the checkpoint
    assert created[0].key.public_key.encode() in raw  # the search itself works
    for key in created:
        for part in _secret_parts(key):
            assert part not in raw


def test_postgres_tables_hold_no_private_key(store, store_url):
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (the SQLite file's raw bytes are checked above)")
    world = build_world(store)
    created = [world.owner.create_key("github", f"key {n}") for n in range(3)]
    with store.engine.connect() as connection:
        dump = ""
        for table in ("api_key", "audit_event", "integration", "account", "workspace"):
            rows = connection.execute(sa.text(f"SELECT * FROM {table}")).all()
            dump += repr(rows)
    assert created[0].key.public_key in dump
    for key in created:
        for part in _secret_parts(key):
            assert part.decode() not in dump


def test_sqlite_store_is_owner_only(tmp_path):
    path = tmp_path / "data" / "keydesk.db"
    old = os.umask(0)
    try:
        store = open_store(f"sqlite:///{path}", create=True)
        build_world(store).owner.create_key("github", "prod")
        for file in path.parent.iterdir():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        store.dispose()
    finally:
        os.umask(old)


def test_schema_is_versioned_and_reopening_keeps_data(store_url):
    store = open_store(store_url, create=True)
    build_world(store).owner.create_key("github", "prod")
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    store.dispose()
    again = open_store(store_url)
    assert [k.label for k in KeyService(again, "alice").keys("github")] == ["prod"]
    again.dispose()


def test_revoke_in_another_process_is_refused_on_the_next_verify(store_url, migrated):
    from keydesk.verify import Verifier

    store = open_store(store_url, create=True)
    world = build_world(store)
    world.admit_keydesk_commands()
    created = world.owner.create_key("github", "prod")
    verifier = Verifier(store.engine)
    assert verifier.verify(created.private_key).label == "prod"
    subprocess.run(
        [sys.executable, "-m", "keydesk", "--db", store_url,
         "key", "revoke", created.key.public_key, "--yes"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    import pytest

    from keydesk.errors import Unauthorized, UnauthorizedReason

    with pytest.raises(Unauthorized) as error:
        verifier.verify(created.private_key)
    assert error.value.reason is UnauthorizedReason.REVOKED
    verifier.close()
    store.dispose()


def test_models_and_migrations_agree(store):
    """A model change without an Alembic revision would fail here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_head_constant_matches_the_migration_scripts():
    from alembic.script import ScriptDirectory

    from keydesk.store.migrations import HEAD, _config

    assert ScriptDirectory.from_config(_config()).get_current_head() == HEAD


def test_processes_opening_a_new_store_at_once_all_succeed(store_url):
    import concurrent.futures
    import multiprocessing

    # Forked from a forkserver that imported the store once (a process
    # with no threads: not this one), where spawn made each child import
    # it anew (~0.8 s of CPU a child, 8 in all); each is still a process of
    # its own opening the store at once.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.support.store_child"])
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=context) as pool:
        assert list(pool.map(open_and_close, [store_url] * 4)) == ["ok"] * 4
    store = open_store(store_url)
    assert KeyService(store, "alice").integrations() == []
    store.dispose()


def test_opening_a_store_another_process_migrates_waits_past_the_lock_timeout(store_url):
    """The store's lock timeout is for a lock left held (a session idle in a
    transaction); another keydesk's migration is work under way, however
    long it takes: on a loaded machine it took over 5 s, and the processes
    opening the store beside it were refused as "busy". Here the migration
    is held and the opener's lock timeout is 0.2 s."""
    import concurrent.futures

    import psycopg

    from keydesk.store.migrations import _MIGRATION_LOCK
    from tests.support.waiting import eventually

    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite's migration takes its write lock)")
    plain = store_url.replace("postgresql+psycopg://", "postgresql://")
    short = sa.make_url(store_url).update_query_dict({"options": "-c lock_timeout=200"})
    with psycopg.connect(plain) as migrating, psycopg.connect(plain, autocommit=True) as watch:
        migrating.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            opened = pool.submit(open_and_close, short.render_as_string(hide_password=False))

            def waited_a_second() -> bool:  # five times its lock timeout, as the server saw
                row = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event = 'advisory' AND now() - query_start > interval '1 s'"
                ).fetchone()
                return opened.done() or (row is not None and row[0] == 1)

            eventually(waited_a_second, within=60)
            assert not opened.done(), opened.result()
            migrating.rollback()  # the migration ends: the opener finds nothing to do
            assert opened.result(timeout=60) == "ok"


def test_a_migration_held_past_the_wait_is_named_in_one_line(store_url, monkeypatch):
    """A migrating process stopped or hung does not leave its peers waiting
    in silence: past the wait, one line says what holds the store."""
    import psycopg

    from keydesk.errors import StoreUnavailable
    from keydesk.store import migrations

    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite's migration takes its write lock)")
    monkeypatch.setattr(migrations, "MIGRATION_WAIT_SECONDS", 1)
    plain = store_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as migrating:
        migrating.execute("SELECT pg_advisory_xact_lock(%s)", (migrations._MIGRATION_LOCK,))
        with pytest.raises(StoreUnavailable, match="another keydesk process has been migrating"):
            open_and_close(store_url)


def test_the_active_label_index_is_partial_on_every_backend(store):
    """models.py declares only SQLite's predicate (a `postgresql_where` would
    load the PostgreSQL dialect for SQLite stores); the migration makes the
    index partial everywhere. Autogenerate does not compare predicates, so
    this compares the real index with the model's ACTIVE_KEY."""
    from keydesk.store.models import ACTIVE_KEY

    with store.engine.connect() as connection:
        (index,) = [
            i
            for i in sa.inspect(connection).get_indexes("api_key")
            if i["name"] == "uq_api_key_active_label"
        ]
        dialect = connection.dialect.name
    assert index["unique"] and index["column_names"] == ["integration_id", "label"]
    predicate = index.get("dialect_options", {}).get(f"{dialect}_where")
    assert predicate is not None and str(predicate).strip("() ") == ACTIVE_KEY


def _wait_briefly(engine: sa.Engine) -> None:
    """The engine's connections wait 0.2 s for a lock, not the store's 5 s
    (SQLite's busy timeout, PostgreSQL's lock_timeout): the refusal is the
    same, sooner. Set after the store's own settings, on new connections."""
    sqlite = engine.dialect.name == "sqlite"

    def shorten(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 200" if sqlite else "SET lock_timeout = 200")
        cursor.close()
        if not sqlite:
            dbapi_connection.commit()  # (the pool's rollback would undo the SET)

    sa.event.listen(engine, "connect", shorten)
    engine.dispose()
    with engine.connect() as connection:
        shown = "PRAGMA busy_timeout" if sqlite else "SHOW lock_timeout"
        assert str(connection.exec_driver_sql(shown).scalar()) in ("200", "200ms")


def test_a_lock_held_elsewhere_makes_a_busy_store_not_a_wait_for_ever(world, store_url):
    """Another process in the middle of a write (SQLite) or holding a lock
    (PostgreSQL: a DBA's `LOCK TABLE`, a session left in a transaction):
    writing gives up after the busy timeout with one line, as on both
    backends alike (PostgreSQL used to wait for ever)."""
    import sqlite3

    from keydesk.errors import StoreUnavailable

    _wait_briefly(world.store.engine)
    if store_url.startswith("sqlite"):
        holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    else:
        import psycopg

        holder = psycopg.connect(store_url.replace("postgresql+psycopg://", "postgresql://"))
        # Were keydesk to wait for the lock, it would get it after 20 s and the test fail.
        holder.execute("SET idle_in_transaction_session_timeout = '20s'")
        holder.execute("LOCK TABLE api_key IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(StoreUnavailable) as refused:
            world.owner.create_key("github", "while-locked")
        assert refused.value.message == (
            "the store is busy (another process holds a lock on it); try again"
        )
    finally:
        with contextlib.suppress(Exception):  # (a session the server ended)
            holder.rollback() if not store_url.startswith("sqlite") else holder.execute("ROLLBACK")
        holder.close()
    assert world.owner.create_key("github", "after-the-lock").key.label == "after-the-lock"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///demo.db", "demo.db"),
        ("sqlite:////tmp/a%20b.db?timeout=3", "/tmp/a b.db"),
        ("sqlite://", "sqlite://"),
        (
            "postgresql+psycopg://alice:se cr:et@db:5432/keydesk",
            "postgresql+psycopg://alice:***@db:5432/keydesk",
        ),
        ("postgresql://alice@db/keydesk", "postgresql://alice@db/keydesk"),
        (
            "postgresql://alice@db/k?sslmode=require&PASSWORD=s3&password=s4",
            "postgresql://alice@db/k?sslmode=require&PASSWORD=***&password=***",
        ),
        (
            "postgresql+psycopg://u:secret@127.0.0.1:notaport/db",
            "postgresql+psycopg://u:***@127.0.0.1:notaport/db",
        ),
    ],
)
def test_a_store_url_is_shown_without_its_password(url, shown):
    # One rule for the CLI's messages and the TUI's loading line.
    assert shown_url(url) == shown


def test_an_open_error_names_the_store_without_its_password():
    with pytest.raises(StoreUnavailable) as refused:
        open_store("postgresql+psycopg://alice:hunter2@127.0.0.1:notaport/db")
    assert "hunter2" not in refused.value.message and "alice:***@" in refused.value.message


@pytest.mark.parametrize(
    ("query", "connect_timeout", "lock_timeout"),
    [("", "10", "5s"), ("?connect_timeout=3&options=-c%20lock_timeout%3D1234", "3", "1234ms")],
)
def test_postgres_waits_are_bounded_and_the_urls_own_win(
    store_url, migrated, query, connect_timeout, lock_timeout
):
    """README: a new connection is given 10 seconds and a lock 5 (as SQLite's
    busy timeout); a URL's own `connect_timeout` or `options=-c lock_timeout=…`
    wins. Read from the connection the store opens, not from the clock."""
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    from keydesk.store.engine import open_store

    store = open_store(store_url + query)
    try:
        with store.engine.connect() as connection:
            used = connection.connection.dbapi_connection.info.get_parameters()
            locks = connection.exec_driver_sql("SHOW lock_timeout").scalar()
    finally:
        store.dispose()
    assert (used["connect_timeout"], locks) == (connect_timeout, lock_timeout)
