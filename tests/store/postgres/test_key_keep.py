"""Revision 0010 on a PostgreSQL store set up for a team: an admin keeps a key
whose rotation's replacement was revoked (`keydesk key keep`), audited as
`key.keep`; typed by hand, no admin or viewer pushes any other expiry later.

The cast (tests/support/pg_team.py): alice owns acme (not the store), carol
is an admin there and vic a viewer; the store's owner is not used here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from keydesk.views import utcnow
from tests.support.pg_team import Team, acme_with_github

pytestmark = pytest.mark.postgres

LIFETIME = timedelta(days=60)


@pytest.fixture(scope="module")
def acme(team_pool) -> Iterator[Team]:
    """One team for the module: each test makes its own keys."""
    with team_pool.team() as team:
        alice = acme_with_github(team)
        alice.add_member("acme", team.role("carol"), "admin")
        alice.add_member("acme", team.role("vic"), "viewer")
        yield team


def _rotated(team: Team, label: str, lifetime: timedelta | None = LIFETIME) -> str:
    """alice's key, rotated by carol with a day's overlap; the replacement's public key."""
    expires = None if lifetime is None else utcnow() + lifetime
    old = team.service_as("alice").create_key("github", label, expires_at=expires).key
    return (
        team.service_as("carol")
        .rotate_key(old.public_key, timedelta(hours=24))
        .created.key.public_key
    )


def _orphaned(team: Team, label: str, lifetime: timedelta | None = LIFETIME) -> str:
    """A rotated key whose replacement carol then revoked: what keep is for."""
    carol = team.service_as("carol")
    new = _rotated(team, label, lifetime)
    (old,) = [k.public_key for k in carol.keys("github") if k.replaced_by == new]
    carol.revoke_key(new)
    return old


def _expiry(team: Team, public_key: str) -> tuple[datetime | None, datetime]:
    sql = "SELECT expires_at, created_at FROM api_key WHERE public_key = %s"
    ((expires, created),) = team.sql("alice", sql, (public_key,))
    return expires, created


def _push(team: Team, who: str, public_key: str, to: str) -> int:
    return team.rowcount(
        who, f"UPDATE api_key SET expires_at = {to} WHERE public_key = %s", (public_key,)
    )


def _refused(team: Team, who: str, public_key: str, to: str) -> None:
    before = _expiry(team, public_key)
    with pytest.raises(psycopg.Error) as error:
        _push(team, who, public_key, to)
    assert error.value.sqlstate in ("KD003", "42501"), error.value  # the trigger, or RLS
    assert _expiry(team, public_key) == before


def test_an_admin_keeps_a_key_to_its_own_lifetime_audited_as_key_keep(acme):
    carol = acme.service_as("carol")
    old = _orphaned(acme, "keep-me")
    kept = carol.keep_key(old)
    expires, created = _expiry(acme, old)
    assert expires == created + LIFETIME and kept.expires_at == expires
    (event,) = [e for e in carol.audit("acme", key=old) if e.action == "key.keep"]
    assert event.actor == acme.role("carol") and event.label and event.label.startswith("stops ")

    forever = _orphaned(acme, "no-expiry", lifetime=None)  # it never stopped before the rotation
    assert carol.keep_key(forever).expires_at is None
    labels = [e.label for e in carol.audit("acme", key=forever) if e.action == "key.keep"]
    assert labels == ["no expiry"]


def test_the_workspace_policy_bounds_a_keep(acme):
    alice = acme.service_as("alice")
    old = _orphaned(acme, "capped")
    alice.set_key_policy("acme", 30)
    try:
        _refused(acme, "carol", old, "created_at + interval '60 days'")
        assert _push(acme, "carol", old, "created_at + interval '30 days'") == 1
    finally:
        alice.set_key_policy("acme", None)


def test_no_admin_or_viewer_extends_any_other_expiry(acme):
    plain = acme.service_as("alice").create_key("github", "plain", expires_at=utcnow() + LIFETIME)
    _refused(acme, "carol", plain.key.public_key, "expires_at + interval '1 hour'")
    _refused(acme, "carol", plain.key.public_key, "NULL")
    live = _rotated(acme, "replacement-lives")
    (rotating,) = [
        k.public_key for k in acme.service_as("carol").keys("github") if k.replaced_by == live
    ]
    _refused(acme, "carol", rotating, "expires_at + interval '1 hour'")
    orphaned = _orphaned(acme, "orphaned")
    _refused(acme, "carol", orphaned, "created_at + interval '60 days 1 second'")  # past its end
    _refused(acme, "carol", orphaned, "NULL")  # it had a lifetime
    _refused(acme, "vic", orphaned, "created_at + interval '1 day'")  # a viewer changes nothing
    _refused(
        acme, "alice", orphaned, "created_at + interval '61 days'"
    )  # not even its workspace's owner


def _migrate(team: Team, target: str) -> None:
    """Down to `target` (or up to head) as the store's owner role, as `postgres setup` runs."""
    from alembic import command

    from keydesk.store.migrations import _config

    engine = sa.create_engine(team.url, connect_args={"options": f"-c role={team.owner}"})
    try:
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            (command.upgrade if target == "head" else command.downgrade)(config, target)
    finally:
        engine.dispose()


def test_a_downgrade_brings_back_0003s_rule_and_an_upgrade_the_keep(acme):
    old = _orphaned(acme, "downgraded")
    _migrate(acme, "0009")
    try:
        _refused(acme, "carol", old, "created_at + interval '60 days'")
    finally:
        _migrate(acme, "head")
    assert _push(acme, "carol", old, "created_at + interval '60 days'") == 1
    assert [e.action for e in acme.service_as("carol").audit("acme", key=old, limit=1)] == [
        "key.keep"
    ]
