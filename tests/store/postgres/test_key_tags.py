"""Revision 0007 on a PostgreSQL store set up for a team, through each
role's own login with SQL typed by hand: who may tag a key, that every tag
change is in the trail, that a tag keeps keydesk's form, and that a
bulk revoke's batch event counts only what the transaction revoked.

The cast (tests/support/pg_team.py): alice owns acme, carol is an admin
there and vic a viewer; bob owns globex."""

from __future__ import annotations

import psycopg
import pytest

from keydesk.errors import PermissionDenied
from tests.support.pg_team import acme_with_github

pytestmark = pytest.mark.postgres

KEY_ID = "SELECT id FROM api_key WHERE public_key = %s"


def _peopled(team):
    alice = acme_with_github(team)
    alice.add_member("acme", team.role("carol"), "admin")
    alice.add_member("acme", team.role("vic"), "viewer")
    team.service_as("bob").create_workspace("globex")
    return team, alice.create_key("github", "prod", tags=["env=prod"]).key.public_key


@pytest.fixture
def acme(team):
    return _peopled(team)


@pytest.fixture(scope="module")
def refusing_acme(module_team):
    """`acme`, made once for the tests whose every write is refused."""
    return _peopled(module_team)


def _tag(team, who: str, key: str, name: str, value: str) -> None:
    team.sql(
        who,
        "INSERT INTO api_key_tag (api_key_id, name, value) SELECT id, %s, %s FROM api_key"
        " WHERE public_key = %s",
        (name, value, key),
    )


def test_admins_tag_keys_and_each_change_is_in_the_trail(acme):
    team, key = acme
    _tag(team, "carol", key, "team", "payments")
    team.sql("carol", "UPDATE api_key_tag SET value = 'staging' WHERE name = 'env'")
    team.sql("carol", "DELETE FROM api_key_tag WHERE name = 'team'")
    trail = team.service_as("alice").audit(key=key)
    assert [(e.action, e.label, e.actor) for e in trail[:3]] == [
        ("key.untag", "team=payments", team.role("carol")),
        ("key.tag", "env=staging", team.role("carol")),
        ("key.tag", "team=payments", team.role("carol")),
    ]
    assert team.service_as("vic").key(key).tags[0].value == "staging"  # a viewer reads them


def test_a_viewer_and_another_workspaces_owner_cannot_tag(acme):
    team, key = acme
    with pytest.raises(psycopg.Error, match="row-level security"):
        _tag(team, "vic", key, "team", "x")
    assert team.sql("vic", "DELETE FROM api_key_tag RETURNING name") == []  # sees, may not delete
    assert team.sql("bob", "SELECT name FROM api_key_tag") == []  # not even seen
    with pytest.raises(PermissionDenied, match="only owners and admins may tag keys"):
        team.service_as("vic").edit_key_tags(key, add=["team=x"])


@pytest.mark.parametrize(("name", "value"), [("Env", "x"), ("env two", "x"), ("x", "a b"),
                                             ("x", "\x1b[2J"), ("x", "y" * 41)])  # fmt: skip
def test_a_tag_out_of_keydesks_form_is_refused(refusing_acme, name, value):
    team, key = refusing_acme
    with pytest.raises(psycopg.Error, match=r"api_key_tag_(name|value)_form|value too long"):
        _tag(team, "alice", key, name, value)


def test_the_batch_event_counts_only_what_the_transaction_revoked(acme):
    team, key = acme
    with team.connect("carol") as connection:
        count = "SELECT keydesk_record_revocations(%s)"
        assert connection.execute(count, ("nothing revoked",)).fetchone() == (0,)
        with connection.transaction():  # one transaction, as KeyService.revoke_keys runs
            connection.execute(
                "UPDATE api_key SET revoked_at = now(), revoked_by = (SELECT id FROM account"
                " WHERE name = session_user) WHERE public_key = %s",
                (key,),
            )
            assert connection.execute(count, ("by hand",)).fetchone() == (1,)
        assert connection.execute(count, ("later",)).fetchone() == (0,)  # not this one's
        with pytest.raises(psycopg.Error, match=r"the note"):
            connection.execute(count, ("bad\x07note",))
    events = team.service_as("alice").audit("acme", limit=3)
    assert [(e.action, e.target, e.label) for e in events[:2]] == [
        ("key.revoke.batch", "by hand", "1 key revoked"),
        ("key.revoke", key, "prod"),
    ]
