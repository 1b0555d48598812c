"""Shared fixtures: a fresh store per test, on SQLite and (when
KEYDESK_TEST_POSTGRES_URL names a server) on PostgreSQL.

A test that opens a store (`store`, `world`, ...) gets a copy of one migrated
once per worker: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on
PostgreSQL. Migrating costs ~0.1 s on SQLite and ~0.8 s of CPU on PostgreSQL
(client and server), copying ~5 ms and ~0.1 s; the schema is the same, and
tests/store/test_migrations.py still migrates from nothing."""

from __future__ import annotations

import compileall
import contextlib
import io
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keydesk.service import IntegrationView, KeyService
from keydesk.store.engine import Store, open_store
from tests.support.pg_reuse import ReusedCopies
from tests.support.pg_team import ReusedTeams, SetUpTemplate, Team, set_up_template

POSTGRES_ENV = "KEYDESK_TEST_POSTGRES_URL"


def pytest_configure(config: pytest.Config) -> None:
    """With PYTHONDONTWRITEBYTECODE=1 (set on this machine, likely on CI's)
    each xdist worker rewrote every test module's asserts anew (collection:
    10.8 s CPU a worker, 4.6 s cached) and each of the suite's hundreds of
    `keydesk` subprocesses compiled src/keydesk again (~0.1 s). So pytest may
    cache its rewrites, and the controller compiles src/keydesk before the
    workers start (compileall writes whatever the variable says; a no-op
    when up to date)."""
    sys.dont_write_bytecode = False
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        compileall.compile_dir(Path(__file__).parents[1] / "src" / "keydesk", quiet=1)
        _make_postgres_roles()


# The templates the controller made, by fixture name: each worker copies
# these instead of making its own (see pytest_configure_node).
_SHARED_TEMPLATES: dict[str, str] = {}
_SHARED_CLEANUP = contextlib.ExitStack()


def _make_postgres_roles() -> None:
    """A store's first migration on a server creates keydesk's roles, which
    are cluster-wide: on a fresh server the workers' templates and the bench
    smokes, migrating at once, waited on each other's role locks past the
    store's lock timeout and failed as 'busy' (a fresh CI run). So one
    migration runs here first; later ones find the roles made. The migrated
    database is kept: it is every process's `postgres_template`."""
    if os.environ.get(POSTGRES_ENV):
        databases = _postgres_database()
        url = next(databases)
        _SHARED_CLEANUP.callback(databases.close)  # drops it
        open_store(url, create=True).dispose()
        _SHARED_TEMPLATES["postgres_template"] = str(sa.make_url(url).database)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, as it starts each worker: the migrated SQLite store and the
    set-up PostgreSQL team database are made once, here, and copied by every
    worker (each made its own: ~1.5 s of CPU, ~10 s at the run's start when
    both workers also collect)."""
    if "sqlite_template" not in _SHARED_TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="keydesk-templates-"))
        _SHARED_CLEANUP.callback(shutil.rmtree, folder, ignore_errors=True)
        _SHARED_TEMPLATES["sqlite_template"] = str(_migrated_sqlite(folder / "keydesk.db"))
        server = os.environ.get(POSTGRES_ENV)
        if server:
            made = _SHARED_CLEANUP.enter_context(set_up_template(server))
            _SHARED_TEMPLATES["team_template"] = f"{made.database} {made.owner}"
    node.workerinput["keydesk_templates"] = dict(_SHARED_TEMPLATES)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        _SHARED_CLEANUP.close()


def _shared_template(request: pytest.FixtureRequest) -> str | None:
    """The template the controller made for this fixture, if it made one."""
    given = getattr(request.config, "workerinput", {}).get("keydesk_templates", _SHARED_TEMPLATES)
    return given.get(request.fixturename)


def _postgres_database(template: str | None = None, *, create: bool = True) -> Iterator[str]:
    """A new database (a copy of `template`, or empty); dropped afterwards.
    With `create` False, only its name: the caller makes it (a copy of its own)."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL: set {POSTGRES_ENV} to a server URL to run these (.ci/run does)")
    name = f"keydesk_test_{uuid.uuid4().hex[:12]}"
    copied = f' TEMPLATE "{template}"' if template else ""
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    if create:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{copied}'))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrated_sqlite(path: Path) -> Path:
    open_store(f"sqlite:///{path}", create=True).dispose()
    return path


@pytest.fixture(scope="session")
def sqlite_template(request, tmp_path_factory) -> Path:
    """A migrated SQLite store with nothing in it: the controller's, else
    made once per worker."""
    shared = _shared_template(request)
    if shared is not None:
        return Path(shared)
    return _migrated_sqlite(tmp_path_factory.mktemp("template") / "keydesk.db")


@pytest.fixture(scope="session")
def postgres_template(request) -> Iterator[str]:
    """The name of a migrated PostgreSQL database with nothing in it: the
    controller's, else made once per worker. Nothing stays connected to it:
    CREATE DATABASE copies only a template no session is using (several at
    once may copy it)."""
    shared = _shared_template(request)
    if shared is not None:
        yield shared
        return
    databases = _postgres_database()
    url = next(databases)
    open_store(url, create=True).dispose()
    try:
        yield str(sa.make_url(url).database)
    finally:
        databases.close()  # drops it


@pytest.fixture(scope="session")
def postgres_copies(postgres_template) -> Iterator[ReusedCopies]:
    """Copies of postgres_template for `store_url` and `module_store_url`,
    each emptied and reused after a test that left it as fresh (a new copy
    costs the server ~0.4 s; tests/support/pg_reuse.py says when one is
    dropped instead)."""
    copies = ReusedCopies(os.environ[POSTGRES_ENV], postgres_template)
    yield copies
    copies.close()


def copy_store_file(template: Path, path: Path) -> None:
    """A SQLite store at `path`, a copy of `template` with its private mode
    (as open_store made it)."""
    shutil.copyfile(template, path)
    path.chmod(template.stat().st_mode & 0o777)


@pytest.fixture
def migrated() -> None:
    """Asked for beside `store_url` (by a test or a fixture, as `store`
    does): the store there is already migrated, a copy of the worker's
    template, for tests about what is done with a store, not its making."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> Iterator[str]:
    """A URL of a store: each test runs once per backend. Empty, unless the
    test also asks for `migrated` (`store` and the fixtures built on it do)."""
    migrated = "migrated" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "keydesk.db"
        if migrated:
            copy_store_file(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    elif migrated:
        with request.getfixturevalue("postgres_copies").copy() as url:
            yield url
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(request, tmp_path) -> str:
    """A SQLite store's URL: empty, or a copy of the worker's migrated
    template when the test (or a fixture) also asks for `migrated`."""
    path = tmp_path / "keydesk.db"
    if "migrated" in request.fixturenames:
        copy_store_file(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(store_url, migrated) -> Iterator[Store]:
    store = open_store(store_url, create=True)
    yield store
    store.dispose()


@dataclass
class World:
    """A workspace `acme` owned by alice, with a configured integration
    `github` and a draft one `gitlab`."""

    store: Store
    owner: KeyService
    github: IntegrationView
    gitlab: IntegrationView

    def as_account(self, name: str, role: str | None = None) -> KeyService:
        if role is not None:
            self.owner.add_member("acme", name, role)
        return KeyService(self.store, name)

    def admit_keydesk_commands(self, role: str = "admin") -> str:
        """Make the account a `keydesk` process run by this test acts as (the
        OS user on SQLite, the connection's role on PostgreSQL) a member of
        acme; returns its name."""
        from keydesk.identity import acting_account

        name = acting_account(self.store)
        self.owner.add_member("acme", name, role)
        return name


def build_world(store: Store) -> World:
    owner = KeyService(store, "alice")
    owner.create_workspace("acme")
    github = owner.add_integration(
        "acme",
        "github",
        "GitHub",
        client_id="Iv1.abc123",
        redirect_uri="https://app.example.com/oauth/callback",
        scopes="repo read:org",
        configure=True,
    )
    gitlab = owner.add_integration("acme", "gitlab", "GitLab")
    return World(store, owner, github, gitlab)


@pytest.fixture
def world(store) -> World:
    return build_world(store)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_store_url(request, tmp_path_factory) -> Iterator[str]:
    """A migrated store's URL, once per module and backend: for tests that
    only read it or are refused (a store per test costs ~0.3 s on
    PostgreSQL, mostly the copy)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-store") / "keydesk.db"
        copy_store_file(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        with request.getfixturevalue("postgres_copies").copy() as url:
            yield url


@pytest.fixture(scope="module")
def module_world(module_store_url) -> Iterator[World]:
    """`world` on module_store_url."""
    store = open_store(module_store_url, create=True)
    yield build_world(store)
    store.dispose()


@pytest.fixture(scope="module")
def served_once(module_world, module_keys):
    """`keydesk serve`'s app (a TestClient) and module_keys' valid key,
    shared by a module's tests that send requests whose answers change
    nothing another of them reads (refusals, a valid key's verify)."""
    from starlette.testclient import TestClient

    from keydesk.http.server import create_app

    with TestClient(create_app(module_world.store)) as client:
        yield client, module_keys["valid"]


def _with_checksum(body: str) -> str:
    from keydesk.keys import checksum

    return body + checksum(body)


@pytest.fixture
def keys(world) -> dict[str, str]:
    return presented_keys(world)


@pytest.fixture(scope="module")
def module_keys(module_world) -> dict[str, str]:
    return presented_keys(module_world)


def presented_keys(world: World) -> dict[str, str]:
    """Presented keys of every kind, against `world`'s github integration."""
    valid = world.owner.create_key("github", "prod").private_key.reveal()
    other = world.owner.create_key("github", "other").private_key.reveal()
    revoked = world.owner.create_key("github", "old")
    world.owner.revoke_key(revoked.key.public_key)
    return {
        "valid": valid,
        "malformed": "hello",
        "bad_checksum": valid[:-1] + ("A" if valid[-1] != "A" else "B"),
        "unknown": _with_checksum("kdsk_" + "Z" * 16 + other[21:-6]),
        "wrong_secret": _with_checksum(valid[:22] + other[22:-6]),
        "revoked": revoked.private_key.reveal(),
    }


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run `keydesk ARGS...` in-process on a SQLite store of its own
    (tmp_path/cli.db), as `actor`: an account a trusted caller has proven,
    the way `keydesk ssh-session` passes it (None: as keydesk derives it,
    the OS user). Returns (exit code, stdout, stderr)."""
    from keydesk.cli import main

    monkeypatch.setenv("KEYDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("KEYDESK_ACCOUNT", raising=False)
    monkeypatch.delenv("KEYDESK_API_KEY", raising=False)

    def run(
        *args: str, stdin: str | None = None, actor: str | None = "alice"
    ) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args), actor=actor)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def configured(cli, tmp_path, sqlite_template):
    """`cli`, with a workspace acme owned by alice and a configured integration
    github. `init` runs on a copy of the migrated template (migrating anew
    cost each of ~150 tests ~0.1 s of CPU; `cli` alone still starts empty)."""
    copy_store_file(sqlite_template, tmp_path / "cli.db")
    add_workspace(cli, "acme", "github", "GitHub")
    return cli


def add_workspace(cli, workspace: str, integration: str, provider: str) -> None:
    """Through `cli`: `workspace`, owned by its caller, with a configured
    integration `integration`."""
    assert cli("init", "--workspace", workspace)[0] == 0
    code, _out, err = cli(
        "integration", "add", "--workspace", workspace, "--name", integration,
        "--provider", provider, "--client-id", "Iv1.abc",
        "--redirect-uri", "https://app.example.com/cb", "--configure",
    )  # fmt: skip
    assert code == 0, err


@pytest.fixture(scope="session")
def team_template(request) -> Iterator[SetUpTemplate]:
    """A database `keydesk postgres setup` made: the controller's, else once
    per worker; each `team` is a copy of it (tests/store/postgres/test_setup.py
    still sets up databases from nothing)."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL: set {POSTGRES_ENV} to a server URL to run these (.ci/run does)")
    shared = _shared_template(request)
    if shared is not None:
        database, owner = shared.split()
        yield SetUpTemplate(database, owner)
        return
    with set_up_template(server) as made:
        yield made


@pytest.fixture(scope="session")
def team_pool(team_template) -> Iterator[ReusedTeams]:
    """Copies of team_template for `team` and `module_team`, each emptied
    and reused after a test that left it as fresh (tests/support/pg_team.py
    says when one is dropped instead)."""
    teams = ReusedTeams(os.environ[POSTGRES_ENV], team_template)
    yield teams
    teams.close()


@pytest.fixture
def team(team_pool) -> Iterator[Team]:
    """A PostgreSQL store set up for a team, with login roles (tests/support/pg_team.py)."""
    with team_pool.team() as made:
        yield made


@pytest.fixture(scope="module")
def module_team(team_pool) -> Iterator[Team]:
    """`team`, once per module: for tests whose every write is refused."""
    with team_pool.team() as made:
        yield made
