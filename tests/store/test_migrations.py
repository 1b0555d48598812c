"""Upgrading a store made by an older keydesk: every row survives, and the
new columns get what the old rows meant. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keydesk.keys import generate_key_pair, hash_private_key
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.store.migrations import HEAD, _config, current_revision
from keydesk.store.models import UTCDateTime
from keydesk.verify import Verifier
from keydesk.views import utcnow
from tests.conftest import POSTGRES_ENV, _postgres_database, copy_store_file

# The tables of revision 0002 and the columns they had, as it wrote them.
TABLES_0002 = {
    "workspace": ("id", "name", "created_at"),
    "account": ("id", "name", "created_at"),
    "membership": ("id", "workspace_id", "account_id", "role", "created_at"),
    "integration": (
        "id", "workspace_id", "name", "provider", "client_id", "redirect_uri", "scopes",
        "status", "created_at", "updated_at",
    ),
    "api_key": (
        "id", "integration_id", "public_key", "label", "secret_hash", "created_at",
        "created_by", "revoked_at", "revoked_by", "expires_at", "last_used_at",
    ),
    "audit_event": (
        "id", "workspace_id", "integration_id", "actor", "action", "target", "label", "at",
    ),
}  # fmt: skip
TIMES = {"created_at", "updated_at", "revoked_at", "expires_at", "last_used_at", "at"}


def _table(name: str, columns: tuple[str, ...] = ()) -> sa.TableClause:
    """A table as keydesk writes it (times through UTCDateTime, as the app does)."""
    columns = columns or TABLES_0002[name]
    return sa.table(name, *(sa.column(c, UTCDateTime() if c in TIMES else None) for c in columns))


def _make_store_at_0002(url: str) -> dict[str, Any]:
    """A store migrated to revision 0002 only (today's main before #12), with
    rows of every kind: keys active, expiring, expired, revoked; a draft
    integration; two members; audit events."""
    store = open_store(url, create=True, migrate=False)
    from alembic import command

    config = _config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    now = utcnow().replace(microsecond=0)
    made = now - timedelta(days=10)
    active, expiring, expired, revoked = (generate_key_pair() for _ in range(4))
    rows: dict[str, list[dict[str, Any]]] = {
        "workspace": [{"id": 1, "name": "acme", "created_at": made}],
        "account": [
            {"id": 1, "name": "alice", "created_at": made},
            {"id": 2, "name": "bob", "created_at": made},
        ],
        "membership": [
            {"id": 1, "workspace_id": 1, "account_id": 1, "role": "owner", "created_at": made},
            {"id": 2, "workspace_id": 1, "account_id": 2, "role": "admin", "created_at": made},
        ],
        "integration": [
            {
                "id": 1,
                "workspace_id": 1,
                "name": "github",
                "provider": "GitHub",
                "client_id": "Iv1.abc",
                "redirect_uri": "https://app.example.com/cb",
                "scopes": "repo read:org",
                "status": "configured",
                "created_at": made,
                "updated_at": made,
            },
            {
                "id": 2,
                "workspace_id": 1,
                "name": "gitlab",
                "provider": "GitLab",
                "client_id": None,
                "redirect_uri": None,
                "scopes": "",
                "status": "draft",
                "created_at": made,
                "updated_at": made,
            },
        ],
        "api_key": [
            _key(1, active, "prod", made, last_used_at=now - timedelta(hours=1)),
            _key(2, expiring, "ci", made, expires_at=made + timedelta(days=30, hours=1)),
            _key(3, expired, "old", made, expires_at=now - timedelta(days=1)),
            _key(4, revoked, "leaked", made, revoked_at=now, revoked_by=2, created_by=2),
        ],
        "audit_event": [
            {
                "id": n,
                "workspace_id": 1,
                "integration_id": 1,
                "actor": "alice",
                "action": action,
                "target": target,
                "label": label,
                "at": made,
            }
            for n, (action, target, label) in enumerate(
                [
                    ("integration.add", "github", None),
                    ("key.create", active.public_key, "prod"),
                    ("key.revoke", revoked.public_key, "leaked"),
                ],
                start=1,
            )
        ],
    }
    with store.engine.begin() as connection:
        for name, values in rows.items():
            connection.execute(sa.insert(_table(name)), values)
        if connection.dialect.name == "postgresql":  # explicit ids leave the sequences behind
            for name in rows:
                connection.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100)")
                )
    assert current_revision(store.engine) == "0002"
    store.dispose()
    return {"rows": rows, "active": active, "expiring": expiring}


def _key(id: int, pair, label: str, made, **values: Any) -> dict[str, Any]:
    return {
        "id": id, "integration_id": 1, "public_key": pair.public_key, "label": label,
        "secret_hash": hash_private_key(pair.private_key), "created_at": made,
        "created_by": 1, "revoked_at": None, "revoked_by": None, "expires_at": None,
        "last_used_at": None,
    } | values  # fmt: skip


def _read(connection: sa.Connection, name: str, columns: tuple[str, ...]) -> list[dict]:
    table = _table(name, columns)
    query = sa.select(*table.columns).order_by(*(table.c[c] for c in columns[:1]))
    return [dict(row._mapping) for row in connection.execute(query)]


def test_a_store_made_at_0002_upgrades_to_head_without_losing_a_row(unmade_store_url, old_stores):
    before = old_stores.copy_at("0002", unmade_store_url)

    store = open_store(unmade_store_url)  # what any command does: upgrade on open
    try:
        assert current_revision(store.engine) == HEAD
        with store.engine.connect() as connection:
            for name, columns in TABLES_0002.items():  # every row, every old value, unchanged
                assert _read(connection, name, columns) == before["rows"][name], name
            keys = _read(connection, "api_key", ("id", "scopes", "lifetime_days", "replaces_id"))
            assert connection.execute(sa.text("SELECT count(*) FROM key_usage")).scalar() == 0
            policy = _read(connection, "workspace", ("id", "max_key_lifetime_days"))
            related = _read(connection, "audit_event", ("id", "related"))
        # Old keys could do all their integration could; an expiry gives the
        # lifetime it was issued for, in whole days rounded up.
        assert keys == [
            {"id": 1, "scopes": "repo read:org", "lifetime_days": None, "replaces_id": None},
            {"id": 2, "scopes": "repo read:org", "lifetime_days": 31, "replaces_id": None},
            {"id": 3, "scopes": "repo read:org", "lifetime_days": 9, "replaces_id": None},
            {"id": 4, "scopes": "repo read:org", "lifetime_days": None, "replaces_id": None},
        ]
        assert policy == [{"id": 1, "max_key_lifetime_days": None}]
        assert {r["related"] for r in related} == {None}

        # The upgraded store works: lists, verification with scopes, rotation.
        alice = KeyService(store, "alice")
        listed = {k.label: k.status.value for k in alice.keys("github")}
        assert listed == {"prod": "active", "ci": "active", "old": "expired", "leaked": "revoked"}
        verifier = Verifier(store.engine)
        try:
            assert verifier.verify(before["active"].private_key).scopes == ("repo", "read:org")
        finally:
            verifier.close()
        rotated = alice.rotate_key(before["expiring"].public_key, timedelta(hours=1))
        assert rotated.created.key.lifetime_days == 31
        assert rotated.created.key.replaces == before["expiring"].public_key
    finally:
        store.dispose()


def _upgrade_to(store_url: str, revision: str) -> None:
    from alembic import command

    store = open_store(store_url, migrate=False)
    try:
        config = _config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        store.dispose()


# The revisions the tests below start from, oldest first.
OLD_REVISIONS = ("0002", "0003", "0005", "0006", "0007", "0008", "0009")


class OldStores:
    """Stores made once per module and backend at each old revision, rows
    and all, each from the one before it: a test copies the one it starts
    from (a file copy, or CREATE DATABASE ... TEMPLATE) instead of migrating
    a new store up to it. On PostgreSQL every test walked the migrations from
    nothing to its revision again (~3.5 s a test, most of it the server's DDL)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._made: dict[tuple[str, str], str] = {}  # (backend, revision): file or database
        self._rows: dict[str, dict[str, Any]] = {}  # backend: what _make_store_at_0002 made
        self._databases = contextlib.ExitStack()

    def copy_at(self, revision: str, store_url: str) -> dict[str, Any]:
        """Make the store at `store_url` (where there is none yet:
        `unmade_store_url`) a copy of the one at `revision`; returns the rows
        and keys made at 0002."""
        backend = sa.make_url(store_url).get_backend_name()
        template = self._at(backend, revision)
        if backend == "sqlite":
            copy_store_file(Path(template), Path(str(sa.make_url(store_url).database)))
        else:
            name = sa.make_url(store_url).database
            admin = sa.create_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            admin.dispose()
        return self._rows[backend]

    def _at(self, backend: str, revision: str) -> str:
        if (backend, revision) in self._made:
            return self._made[backend, revision]
        index = OLD_REVISIONS.index(revision)
        before = self._at(backend, OLD_REVISIONS[index - 1]) if index else None
        if backend == "sqlite":
            path = self._folder / f"at-{revision}.db"
            if before is not None:
                copy_store_file(Path(before), path)
            url, made = f"sqlite:///{path}", str(path)
        else:
            databases = _postgres_database(before)  # dropped when the module is done
            url = next(databases)
            self._databases.callback(databases.close)
            made = str(sa.make_url(url).database)
        if before is None:
            self._rows[backend] = _make_store_at_0002(url)
        else:
            _upgrade_to(url, revision)
        self._made[backend, revision] = made
        return made

    def close(self) -> None:
        self._databases.close()


@pytest.fixture(scope="module")
def old_stores(tmp_path_factory) -> Iterator[OldStores]:
    made = OldStores(tmp_path_factory.mktemp("old-stores"))
    yield made
    made.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmade_store_url(request, tmp_path) -> Iterator[str]:
    """A store's URL, on each backend, where no store is yet, for copy_at to
    make one (`store_url`'s empty database was made only to be dropped by it:
    ~0.4 s a PostgreSQL test under load). Dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keydesk.db'}"
    else:
        yield from _postgres_database(create=False)


def _every_row(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every keydesk table, as stored (the revision aside)."""
    metadata = sa.MetaData()
    with engine.connect() as connection:
        metadata.reflect(connection)
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
            if table.name != "alembic_version"
        }


def test_a_store_made_at_0003_upgrades_to_head_and_revokes_leaked_keys(
    unmade_store_url, old_stores
):
    """Revisions 0004 to 0006 add functions and triggers (PostgreSQL) and an
    empty table of SSH approvals: every row stays as it was, and a leaked key
    is revoked by whoever holds it."""
    made = old_stores.copy_at("0003", unmade_store_url)
    store = open_store(unmade_store_url, migrate=False)
    before = _every_row(store.engine)
    store.dispose()

    store = open_store(unmade_store_url)  # what any command does: upgrade on open
    try:
        assert current_revision(store.engine) == HEAD
        after = _every_row(store.engine)
        assert after.pop("ssh_approval") == after.pop("api_key_tag") == []
        assert all(after.pop(table) == [] for table in TABLES_0008)
        assert all(after.pop(table) == [] for table in TABLES_0009)
        assert after == before
        reporter = KeyService(store, "reporter")  # no account, no role: the key is the proof
        public_key = made["active"].public_key
        assert reporter.revoke_leaked_key(made["active"].private_key, "a log") == public_key
        assert KeyService(store, "alice").key(public_key).status.value == "revoked"
    finally:
        store.dispose()


def test_the_upgrade_tested_here_is_the_newest():
    """A new revision fails this until a store made at the one before it is
    upgraded above too."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(_config()).get_revision(HEAD).down_revision == "0009"


# Revision 0008's tables, new and empty in an upgraded store.
TABLES_0008 = ("key_policy", "workspace_policy", "key_window", "key_source")
# Revision 0009's.
TABLES_0009 = ("notify_channel", "notify_notice", "notify_delivery")


def test_a_store_made_at_0009_upgrades_to_head_keeping_every_row_and_keeps_keys(
    unmade_store_url, old_stores
):
    """Revision 0010 (PostgreSQL: an admin may keep a key whose replacement
    was revoked, audited as key.keep) keeps every row as it was; a keep on
    the upgraded store is audited as key.keep on both backends."""
    old_stores.copy_at("0009", unmade_store_url)
    store = open_store(unmade_store_url, migrate=False)
    before = _every_row(store.engine)
    store.dispose()

    store = open_store(unmade_store_url)
    try:
        assert current_revision(store.engine) == HEAD
        assert _every_row(store.engine) == before
        alice = KeyService(store, "alice")
        old = alice.create_key("github", "kept", expires_at=utcnow() + timedelta(days=30))
        new = alice.rotate_key(old.key.public_key, timedelta(hours=1)).created.key.public_key
        alice.revoke_key(new)
        alice.keep_key(old.key.public_key)
        events = alice.audit(key=old.key.public_key, limit=1)
        assert [e.action for e in events] == ["key.keep"]
    finally:
        store.dispose()


def test_a_store_made_at_0008_upgrades_to_head_keeping_every_row_and_notifies(
    unmade_store_url, old_stores
):
    """Revision 0009 adds notification channels, notices and deliveries
    (and, on PostgreSQL, their rules): every row stays as it was, and an
    owner adds a channel, audited once."""
    from keydesk.notify import Channels
    from keydesk.service.context import ServiceContext

    old_stores.copy_at("0008", unmade_store_url)
    store = open_store(unmade_store_url, migrate=False)
    before = _every_row(store.engine)
    store.dispose()

    store = open_store(unmade_store_url)
    try:
        assert current_revision(store.engine) == HEAD
        after = _every_row(store.engine)
        assert all(after.pop(table) == [] for table in TABLES_0009)
        assert after == before
        Channels(ServiceContext(store, "alice", None)).add_webhook(
            "acme", "https://h.example.com/k"
        )
        events = KeyService(store, "alice").audit("acme", limit=1)
        assert [(e.action, e.target, e.label) for e in events] == [
            ("notify.add", "https://h.example.com", "webhook")
        ]
    finally:
        store.dispose()


def test_a_store_made_at_0007_upgrades_to_head_keeping_every_row_and_limits_keys(
    unmade_store_url, old_stores
):
    """Revision 0008 adds key limits, windows and sources (and, on
    PostgreSQL, their rules): every row stays as it was, and an old key can
    be limited, audited once."""
    old_stores.copy_at("0007", unmade_store_url)
    store = open_store(unmade_store_url, migrate=False)
    before = _every_row(store.engine)
    store.dispose()

    store = open_store(unmade_store_url)
    try:
        assert current_revision(store.engine) == HEAD
        after = _every_row(store.engine)
        assert all(after.pop(table) == [] for table in TABLES_0008)
        assert all(after.pop(table) == [] for table in TABLES_0009)
        assert after == before
        alice = KeyService(store, "alice")
        public_key = alice.keys("github", include_revoked=False)[0].public_key
        alice.edit_key_limits(public_key, rate="600/min")
        events = alice.audit(key=public_key, limit=1)
        assert [(e.action, e.label) for e in events] == [
            ("key.limits", "rate 600/min, quota none, from anywhere")
        ]
    finally:
        store.dispose()


def test_a_store_made_at_0006_upgrades_to_head_keeping_every_row_and_tags_keys(
    unmade_store_url, old_stores
):
    """Revision 0007 adds key tags (and, on PostgreSQL, their rules): every
    row stays as it was, and an old key can be tagged, audited once."""
    old_stores.copy_at("0006", unmade_store_url)
    store = open_store(unmade_store_url, migrate=False)
    before = _every_row(store.engine)
    store.dispose()

    store = open_store(unmade_store_url)
    try:
        assert current_revision(store.engine) == HEAD
        after = _every_row(store.engine)
        assert after.pop("api_key_tag") == []
        assert all(after.pop(table) == [] for table in TABLES_0008)
        assert all(after.pop(table) == [] for table in TABLES_0009)
        assert after == before
        alice = KeyService(store, "alice")
        public_key = alice.keys("github", include_revoked=False)[0].public_key
        alice.edit_key_tags(public_key, add=["env=prod"])
        events = alice.audit(key=public_key, limit=1)
        assert [(e.action, e.label) for e in events] == [("key.tag", "env=prod")]
    finally:
        store.dispose()


def test_a_store_made_at_0005_upgrades_to_head_keeping_every_row(unmade_store_url, old_stores):
    """Revision 0006 changes grants, functions and triggers (PostgreSQL) and
    no row: every row stays as it was, and the upgraded store's next change
    writes exactly one event."""
    old_stores.copy_at("0005", unmade_store_url)
    store = open_store(unmade_store_url, migrate=False)
    before = _every_row(store.engine)
    store.dispose()

    store = open_store(unmade_store_url)  # what any command does: upgrade on open
    try:
        assert current_revision(store.engine) == HEAD
        after = _every_row(store.engine)
        assert after.pop("api_key_tag") == []  # revision 0007's, new and empty
        assert all(after.pop(table) == [] for table in TABLES_0008)
        assert all(after.pop(table) == [] for table in TABLES_0009)
        assert after == before
        alice = KeyService(store, "alice")
        created = alice.create_key("github", "after-upgrade")
        events = alice.audit(key=created.key.public_key)
        assert [(e.action, e.label) for e in events] == [("key.create", "after-upgrade")]
    finally:
        store.dispose()


def test_listing_an_old_sqlite_store_upgrades_it_first(tmp_path, capsys):
    """`key list` reads an up-to-date SQLite store bare (keydesk.store.queries); a
    store at an older revision goes the full way, which upgrades it."""
    from keydesk.cli import main

    path = tmp_path / "old.db"
    made = _make_store_at_0002(f"sqlite:///{path}")
    argv = ["key", "list", "--integration", "github", "--json", "--db", str(path)]
    assert main(argv, actor="alice") == 0
    listed = {key["public_key"] for key in json.loads(capsys.readouterr().out)}
    assert made["active"].public_key in listed
    store = open_store(f"sqlite:///{path}", migrate=False)
    try:
        assert current_revision(store.engine) == HEAD
    finally:
        store.dispose()
