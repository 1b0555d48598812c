"""Shared fixtures: a fresh store per test, on SQLite and (when
KEYDESK_TEST_POSTGRES_URL names a server) on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from keydesk.service import IntegrationView, KeyService
from keydesk.store import Store, open_store

POSTGRES_ENV = "KEYDESK_TEST_POSTGRES_URL"


def _postgres_database() -> Iterator[str]:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL: set {POSTGRES_ENV} to a server URL to run these (.ci/run does)")
    name = f"keydesk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> Iterator[str]:
    """A URL of an empty store: each test runs once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keydesk.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'keydesk.db'}"


@pytest.fixture
def store(store_url) -> Iterator[Store]:
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
