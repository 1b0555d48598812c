"""The verifier under faults: a SQLite store deleted or replaced under a
running server, a PostgreSQL table locked past the timeout, PostgreSQL
stopped and started again. Never a 200 it could not check, never a 500 or a
traceback; requests that need no I/O are answered meanwhile."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from keydesk.errors import StoreUnavailable, Unauthorized
from keydesk.http.server import create_app
from keydesk.store.engine import Store, open_store
from keydesk.verify import Verifier
from keydesk.views import CreatedKey
from tests.conftest import World, _postgres_database, build_world
from tests.support.servers import (
    PostgresCluster,
    keydesk_serve,
    postgres_unavailable,
    uvicorn_thread,
)
from tests.support.waiting import eventually


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _sqlite_files(url: str) -> list[Path]:
    path = Path(sa.make_url(url).database)
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


# -- SQLite: the file under the server ---------------------------------------------------


@dataclass
class Accepted:
    """A SQLite store whose key `prod` a verifier has accepted once."""

    store: Store
    world: World
    created: CreatedKey
    verifier: Verifier

    @property
    def key(self) -> str:
        return self.created.private_key.reveal()

    def refuses_as_replaced(self) -> None:
        for _ in range(2):  # and it stays so: restart to read what is there now
            with pytest.raises(StoreUnavailable, match="deleted or replaced"):
                self.verifier.verify(self.key)


@pytest.fixture
def accepted(sqlite_url, migrated) -> Iterator[Accepted]:
    store = open_store(sqlite_url, create=True)
    world = build_world(store)
    created = world.owner.create_key("github", "prod")
    verifier = Verifier(store.engine)
    assert verifier.verify(created.private_key).label == "prod"
    yield Accepted(store, world, created, verifier)
    verifier.close()
    store.dispose()


def test_a_deleted_store_is_503_for_warm_and_cold_keys_and_nothing_is_created(
    sqlite_url, migrated, tmp_path
):
    store = open_store(sqlite_url, create=True)
    world = build_world(store)
    warm = world.owner.create_key("github", "warm").private_key.reveal()
    cold = world.owner.create_key("github", "cold").private_key.reveal()
    store.dispose()
    log = tmp_path / "serve.log"
    with keydesk_serve(sqlite_url, log=log) as base:
        assert httpx.get(f"{base}/v1/verify", headers=_auth(warm)).status_code == 200
        for file in _sqlite_files(sqlite_url):
            file.unlink(missing_ok=True)
        for key in (warm, cold, warm):
            response = httpx.get(f"{base}/v1/verify", headers=_auth(key))
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert not any(file.exists() for file in _sqlite_files(sqlite_url))
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("key store unavailable") == 1


def test_with_the_store_gone_a_remembered_refusal_says_nothing_of_which_ids_exist(accepted):
    """A wrong secret for a real id and a forged id, each refused once, are
    answered again from memory with no read: both still 401 once the store
    is gone (a read for one only would have made it 503, telling them apart)."""
    from tests.conftest import _with_checksum

    valid, other = accepted.key, accepted.world.owner.create_key("github", "other")
    other_text = other.private_key.reveal()
    keys = {
        "wrong_secret": _with_checksum(valid[:22] + other_text[22:-6]),
        "unknown": _with_checksum("kdsk_" + "Z" * 16 + other_text[21:-6]),
    }
    refused = {}
    for kind in ("wrong_secret", "unknown"):
        with pytest.raises(Unauthorized) as first:
            accepted.verifier.verify(keys[kind])
        refused[kind] = first.value.reason
    for file in _sqlite_files(accepted.store.engine.url.render_as_string()):
        file.unlink(missing_ok=True)

    def store_gone() -> bool:  # once the store's watching thread has seen it (README)
        try:
            accepted.verifier.verify(accepted.key)
        except StoreUnavailable:
            return True
        return False

    eventually(store_gone)  # anything else needs the store now
    for kind in ("wrong_secret", "unknown", "wrong_secret"):
        with pytest.raises(Unauthorized) as again:
            accepted.verifier.verify(keys[kind])
        assert again.value.reason is refused[kind], kind


def test_a_replaced_store_is_unavailable_never_read_from_the_old_file(
    accepted, sqlite_url, tmp_path
):
    # Another store, in which the key does not exist, moved into place.
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}", create=True)
    build_world(other)
    other.dispose()
    for file in _sqlite_files(sqlite_url)[1:]:
        file.unlink(missing_ok=True)
    os.replace(tmp_path / "other.db", _sqlite_files(sqlite_url)[0])
    accepted.refuses_as_replaced()


def test_wal_and_shm_deleted_then_a_revoke_is_not_missed(accepted, sqlite_url):
    accepted.world.admit_keydesk_commands()  # the OS user the revoking process runs as
    with accepted.store.engine.connect() as connection:  # everything in the main file, then
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    accepted.store.dispose()
    for file in _sqlite_files(sqlite_url)[1:]:
        file.unlink()
    # Another process (new -wal and -shm) revokes the key.
    subprocess.run(
        [sys.executable, "-m", "keydesk", "--db", sqlite_url,
         "key", "revoke", accepted.created.key.public_key, "--yes"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    accepted.refuses_as_replaced()


def test_the_verifier_never_creates_a_store(tmp_path):
    path = tmp_path / "typo.db"
    verifier = Verifier(f"sqlite:///{path}")
    with pytest.raises(Unauthorized):  # refused before any I/O
        verifier.verify("kdsk_" + "A" * 16 + "_" + "B" * 43 + "C" * 6)
    from keydesk.keys import generate_key_pair

    with pytest.raises(StoreUnavailable, match="no keydesk store at"):
        verifier.verify(generate_key_pair().private_key)
    verifier.close()
    assert not path.exists() and list(tmp_path.iterdir()) == []


# -- PostgreSQL: a lock held past the timeout ----------------------------------------------


@pytest.fixture
def postgres_url(postgres_template):
    """A copy of the worker's migrated PostgreSQL store (a migration of its
    own cost ~1 s of the server's and this process's time)."""
    yield from _postgres_database(postgres_template)


@pytest.mark.postgres
def test_a_locked_table_gives_503_while_requests_needing_no_io_are_answered(postgres_url):
    """Two servers on one store. One waits for the store as long as it
    takes: its read stays behind the lock until the test lets go, so the
    requests needing no I/O are seen answered meanwhile however slow the
    machine (with one 2 s bound for both, a loaded machine let the read time
    out first). The other waits 0.5 s: the lock held past that is a 503."""
    store = open_store(postgres_url, create=True)
    world = build_world(store)
    key = world.owner.create_key("github", "prod").private_key.reveal()
    patient = create_app(store, verifier=Verifier(store.engine, read_timeout=120.0))
    hasty = create_app(store, verifier=Verifier(store.engine, read_timeout=0.5))
    conninfo = sa.make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with (
        uvicorn_thread(patient) as base,
        uvicorn_thread(hasty) as hasty_base,
        psycopg.connect(conninfo) as locker,
    ):
        assert httpx.get(f"{base}/v1/verify", headers=_auth(key)).status_code == 200
        locker.execute("LOCK TABLE api_key IN ACCESS EXCLUSIVE MODE")  # held until rollback
        answers: dict[str, httpx.Response] = {}
        blocked = threading.Thread(
            target=lambda: answers.update(
                valid=httpx.get(f"{base}/v1/verify", headers=_auth(key), timeout=150)
            )
        )
        blocked.start()
        _wait_for_a_blocked_read(locker)
        # The read is stuck behind the lock; these need no I/O and do not wait.
        assert httpx.get(f"{base}/healthz").status_code == 200
        malformed = httpx.get(f"{base}/v1/verify", headers=_auth("hello"))
        wrong_sum = key[:-1] + ("A" if key[-1] != "A" else "B")
        bad_sum = httpx.get(f"{base}/v1/verify", headers=_auth(wrong_sum))
        assert malformed.json()["reason"] == "malformed"
        assert bad_sum.json()["reason"] == "bad_checksum"
        refused = httpx.get(f"{hasty_base}/v1/verify", headers=_auth(key), timeout=30)
        assert refused.status_code == 503  # within its bound, the lock still held
        assert refused.headers["retry-after"] == "1"
        assert blocked.is_alive() and "valid" not in answers
        locker.rollback()
        blocked.join(timeout=150)
        assert answers["valid"].status_code == 200  # the read that waited, once the lock went
    store.dispose()


def _wait_for_a_blocked_read(locker: psycopg.Connection) -> None:
    import time

    deadline = time.monotonic() + 30
    with psycopg.connect(locker.info.dsn, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'keydesk-verify' AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the verifier's read never waited for the lock")


# -- PostgreSQL: the server goes away and comes back ---------------------------------------


@pytest.fixture(scope="module")
def cluster_server() -> Iterator[PostgresCluster]:
    """One throwaway server for the module, with a migrated store to copy
    (initdb, a start and a migration from nothing cost ~2 s of CPU and
    several seconds of waiting: once, not per test)."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"throwaway PostgreSQL cluster: {reason}")
    made = PostgresCluster()
    made.start()
    try:
        _create_database(made, "keydesk_template")
        open_store(_in(made, "keydesk_template"), create=True).dispose()
        yield made
    finally:
        made.remove()


def _create_database(server: PostgresCluster, name: str, template: str | None = None) -> None:
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    copied = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{copied}'))
    admin.dispose()


def _in(server: PostgresCluster, database: str) -> str:
    return sa.make_url(server.url).set(database=database).render_as_string(hide_password=False)


@dataclass
class StoppableStore:
    """A store of its own on the module's server, which a test stops and
    starts again (the whole server: every connection goes)."""

    server: PostgresCluster
    url: str
    running: bool = True

    def stop(self) -> None:
        self.server.stop()
        self.running = False

    def start(self) -> None:
        self.server.start()
        self.running = True


@pytest.fixture
def cluster(cluster_server) -> Iterator[StoppableStore]:
    name = f"keydesk_faults_{os.urandom(6).hex()}"
    _create_database(cluster_server, name, template="keydesk_template")
    made = StoppableStore(cluster_server, _in(cluster_server, name))
    yield made
    if not made.running:  # a test that failed while it was stopped
        made.start()


@pytest.mark.postgres
def test_postgres_down_is_503_with_one_log_line_and_service_resumes_by_itself(cluster, caplog):
    caplog.set_level(logging.INFO)
    store = open_store(cluster.url, create=True)
    world = build_world(store)
    warm = world.owner.create_key("github", "warm").private_key.reveal()
    cold = world.owner.create_key("github", "cold").private_key.reveal()
    store.dispose()
    verifier = Verifier(cluster.url)
    with uvicorn_thread(create_app(store, verifier=verifier)) as base:
        assert httpx.get(f"{base}/v1/verify", headers=_auth(warm)).status_code == 200
        cluster.stop()
        for key in (warm, cold, warm, cold, warm):
            response = httpx.get(f"{base}/v1/verify", headers=_auth(key), timeout=30)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
        cluster.start()
        for key in (warm, cold):  # the first request after the restart is served
            assert httpx.get(f"{base}/v1/verify", headers=_auth(key)).status_code == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "keydesk.verify"]
    assert sum("key store unavailable" in line for line in lines) == 1
    assert sum("key store available again" in line for line in lines) == 1
    assert not any(record.exc_info for record in caplog.records)
    assert not any(record.levelno >= logging.ERROR for record in caplog.records)
    assert all(len(line.splitlines()) == 1 for line in lines)


@pytest.mark.postgres
def test_postgres_down_in_process_raises_store_unavailable_then_recovers(cluster):
    store = open_store(cluster.url, create=True)
    key = build_world(store).owner.create_key("github", "prod").private_key
    store.dispose()
    verifier = Verifier(cluster.url)
    assert verifier.verify(key).label == "prod"
    cluster.stop()
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            verifier.verify(key)
    cluster.start()
    assert verifier.verify(key).label == "prod"
    verifier.close()


def test_a_copy_of_a_store_is_a_different_store(accepted, sqlite_url, tmp_path):
    """The check compares files, not names or contents: a store copied over
    itself (a restore from backup) is not the file the verifier opened."""
    accepted.world.owner.revoke_key(accepted.created.key.public_key)
    accepted.store.dispose()
    path = _sqlite_files(sqlite_url)[0]
    shutil.copy2(path, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", path)
    accepted.refuses_as_replaced()
