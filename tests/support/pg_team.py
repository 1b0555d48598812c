"""A PostgreSQL store set up for a team, with real login roles (a helper,
not a test).

`keydesk postgres setup` runs on a fresh database as the server's superuser;
then login roles are made for `alice`, `bob`, `carol`, `vic` (members of
keydesk_users) and `verifier` (keydesk_verifier). Roles are cluster-wide
and `pytest -n 2` runs tests at once on one server, so every role name
carries a tag unique to the team: `alice_3f9a1c2e`.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa

from keydesk.identity import acting_account
from keydesk.service import KeyService
from keydesk.store.engine import Store, open_store
from keydesk.store.postgres_roles import USERS_ROLE, VERIFIER_ROLE, roles_sql, setup
from tests.support.pg_reuse import digest, emptied

ADMINS = ("alice", "bob", "carol", "vic")


@dataclass
class Team:
    url: str  # the database, as the superuser
    tag: str
    owner: str
    password: str
    stores: list[Store] = field(default_factory=list)

    def role(self, who: str) -> str:
        return f"{who}_{self.tag}"

    def url_as(self, who: str) -> str:
        url = sa.make_url(self.url).set(username=self.role(who), password=self.password)
        return url.render_as_string(hide_password=False)

    def store_as(self, who: str) -> Store:
        store = open_store(self.url_as(who))
        self.stores.append(store)
        return store

    def service_as(self, who: str) -> KeyService:
        """The service as keydesk runs it: the account is the session's role."""
        store = self.store_as(who)
        return KeyService(store, acting_account(store))

    def connect(self, who: str) -> psycopg.Connection[Any]:
        """A plain driver connection as `who`, for SQL typed by hand."""
        url = sa.make_url(self.url_as(who))
        return psycopg.connect(
            host=url.host,
            port=url.port,
            dbname=url.database,
            user=url.username,
            password=url.password,
            autocommit=True,
        )

    def sql(self, who: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement as `who`; its rows (or [] when it returns none)."""
        with self.connect(who) as connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def rowcount(self, who: str, statement: str, params: tuple[Any, ...] = ()) -> int:
        with self.connect(who) as connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.rowcount


def acme_with_github(team: Team) -> KeyService:
    """alice's service, having made workspace acme with a configured
    integration github (made through keydesk, as alice's own role)."""
    alice = team.service_as("alice")
    alice.create_workspace("acme")
    alice.add_integration(
        "acme", "github", "GitHub", client_id="Iv1.x",
        redirect_uri="https://acme.example/cb", configure=True,
    )  # fmt: skip
    return alice


@dataclass(frozen=True)
class SetUpTemplate:
    """A database `keydesk postgres setup` made, with nothing in it, to copy."""

    database: str
    owner: str


@contextlib.contextmanager
def set_up_template(server_url: str) -> Iterator[SetUpTemplate]:
    """A database set up by `keydesk postgres setup` (its owner role made by
    it), for team_database to copy: the set-up takes ~1 s of the server's
    time and ~0.5 s of ours, a copy ~0.1 s. Nothing stays connected to it
    (CREATE DATABASE copies only a template no session uses). Dropped
    afterwards, and its owner role with it."""
    tag = secrets.token_hex(4)
    template = SetUpTemplate(f"keydesk_team_template_{tag}", f"kd_owner_{tag}")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    url = sa.make_url(server_url).set(database=template.database)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{template.database}"'))
        setup(url.render_as_string(hide_password=False), template.owner)
        yield template
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'DROP DATABASE IF EXISTS "{template.database}" WITH (FORCE)')
            )
            connection.execute(sa.text(f"DROP ROLE IF EXISTS {template.owner}"))
        admin.dispose()


@contextlib.contextmanager
def team_database(server_url: str, template: SetUpTemplate | None = None) -> Iterator[Team]:
    """A new database on the server at `server_url` (a superuser's URL),
    set up and peopled; dropped afterwards, and its roles with it. With a
    `template` (set_up_template), a copy of it, owned by its owner role."""
    made: list[str] = []
    teams: list[Team] = []
    try:
        teams.append(_new_team(server_url, template, made))
        yield teams[0]
    finally:
        for team in teams:
            _dispose(team)
        _drop_team(server_url, made)


class ReusedTeams:
    """One worker's pool of team databases copied from `template`: a test
    done with its team gives it back, emptied, when it left it as a fresh
    one (pg_reuse.emptied: the catalogue, and here the team's and the
    owner's roles and memberships, unchanged), else it is dropped as
    team_database drops it. A new team costs the server ~0.5 s."""

    def __init__(self, server: str, template: SetUpTemplate) -> None:
        self.server = server
        self.template = template
        self.free: list[tuple[Team, list[str], str]] = []

    @contextlib.contextmanager
    def team(self) -> Iterator[Team]:
        """A team, reused or new; given back afterwards."""
        if self.free:
            team, made, fresh = self.free.pop()
        else:
            made = []
            try:
                team = _new_team(self.server, self.template, made)
                fresh = digest(team.url, _roles_digest(team))
            except BaseException:
                _drop_team(self.server, made)
                raise
        try:
            yield team
        finally:
            _dispose(team)
            if emptied(team.url, fresh, _roles_digest(team)):
                self.free.append((team, made, fresh))
            else:
                _drop_team(self.server, made)

    def close(self) -> None:
        while self.free:
            _team, made, _fresh = self.free.pop()
            _drop_team(self.server, made)


def _new_team(server_url: str, template: SetUpTemplate | None, made: list[str]) -> Team:
    """A new database set up and peopled; `made` gets its name, then each
    role made for it (for _drop_team, even when this fails part way)."""
    tag = secrets.token_hex(4)
    name = f"keydesk_team_{tag}"
    database_url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    owner = template.owner if template else f"kd_owner_{tag}"
    team = Team(database_url, tag, owner, secrets.token_hex(16))
    made.append(name)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            copied = f' TEMPLATE "{template.database}"' if template else ""
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{copied}'))
        if template is None:
            made.append(team.owner)  # made by the set-up
            setup(database_url, team.owner)
        else:
            _grant_copy(database_url, team.owner)
        with admin.connect() as connection:
            for who, group in [*((a, USERS_ROLE) for a in ADMINS), ("verifier", VERIFIER_ROLE)]:
                role = team.role(who)
                made.append(role)
                connection.execute(
                    sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{team.password}' IN ROLE {group}")
                )
    finally:
        admin.dispose()
    return team


def _dispose(team: Team) -> None:
    for store in team.stores:
        store.dispose()
    team.stores.clear()


def _drop_team(server_url: str, made: list[str]) -> None:
    """Drop the database and roles _new_team made (`made`: its name, then the roles)."""
    if not made:
        return
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{made[0]}" WITH (FORCE)'))
            for role in made[1:]:
                connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
    finally:
        admin.dispose()


def _roles_digest(team: Team) -> str:
    """A query of one value: what the team's roles and its owner role are,
    and whose members (roles live outside the database, so pg_reuse's
    catalogue digest does not see them)."""
    names = ", ".join(f"'{role}'" for role in (*map(team.role, (*ADMINS, "verifier")), team.owner))
    return f"""SELECT md5(string_agg(format('%s %s %s %s %s %s %s %s %s %s %s [%s] [%s]',
  a.rolname, a.rolsuper, a.rolinherit, a.rolcreaterole, a.rolcreatedb, a.rolcanlogin,
  a.rolreplication, a.rolbypassrls, a.rolconnlimit, a.rolpassword, a.rolvaliduntil,
  (SELECT string_agg(format('%s>%s %s %s', m.roleid::regrole, m.member::regrole, m.grantor,
          m.admin_option), ',' ORDER BY m.roleid::regrole::text, m.member::regrole::text)
     FROM pg_auth_members m WHERE a.oid IN (m.roleid, m.member)),
  (SELECT string_agg(format('%s %s', s.setdatabase, s.setconfig), ',' ORDER BY s.setdatabase)
     FROM pg_db_role_setting s WHERE s.setrole = a.oid)), ',' ORDER BY a.rolname))
FROM pg_authid a WHERE a.rolname IN ({names})"""


def _grant_copy(database_url: str, owner: str) -> None:
    """The set-up's grants on a copy of its database: who may connect is the
    database's own (CREATE DATABASE does not copy it); the rest is as set up."""
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in roles_sql(owner):
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()
