"""Revision 0006 on a PostgreSQL store set up for a team, attacked through
each role's own login with SQL typed by hand (issue #19, items 4 and 5):
no role chooses an id, every change of a key, an integration, a membership
or a workspace's policy is in the trail whoever made it, times are the
server's, and names are checked.

The cast (tests/support/pg_team.py): alice owns acme, carol is an admin there and
vic a viewer; bob owns globex; `verifier` is keydesk serve's role.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest

from keydesk.errors import PermissionDenied
from keydesk.keys import generate_key_pair, hash_private_key
from keydesk.verify import Verifier
from keydesk.views import AuditView, utcnow
from tests.support.pg_team import Team, acme_with_github

pytestmark = pytest.mark.postgres

DENIED = "permission denied for table"


@dataclass
class Acme:
    team: Team
    acme: int  # workspace id
    github: int  # integration id
    key: str  # public key of an active key alice made through keydesk

    def trail(self, who: str = "alice", **filters: object) -> list[AuditView]:
        return self.team.service_as(who).audit("acme", limit=1000, **filters)  # type: ignore[arg-type]

    def account(self, who: str) -> int:
        sql = "SELECT id FROM account WHERE name = %s"
        return int(self.team.sql("alice", sql, (self.team.role(who),))[0][0])


@pytest.fixture
def acme(team) -> Acme:
    alice = acme_with_github(team)
    alice.add_member("acme", team.role("carol"), "admin")
    alice.add_member("acme", team.role("vic"), "viewer")
    key = alice.create_key("github", "prod").key.public_key
    team.service_as("bob").create_workspace("globex")
    ((acme_id, github),) = team.sql("alice", "SELECT workspace_id, id FROM integration")
    return Acme(team, acme_id, github, key)


def refused(team: Team, who: str, statement: str, params: tuple = ()) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as error:
        team.sql(who, statement, params)
    return error.value


# -- item 4: ids ---------------------------------------------------------------------


def test_no_keydesk_role_may_write_an_id_on_any_table(acme):
    rows = acme.team.sql(
        "alice",
        "SELECT r.rolname, c.relname,"
        " has_column_privilege(r.rolname, c.oid, 'id', 'INSERT'),"
        " has_column_privilege(r.rolname, c.oid, 'id', 'UPDATE')"
        " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid, pg_roles r"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
        " AND a.attname = 'id' AND r.rolname IN ('keydesk_users', 'keydesk_verifier')",
    )
    ((tables_with_id,),) = acme.team.sql(
        "alice",
        "SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
        " AND a.attname = 'id'",
    )
    assert tables_with_id >= 7  # the tables of 0001-0006 at least, and any added since
    assert len(rows) == 2 * tables_with_id  # every table with an id, for both keydesk roles
    assert [row for row in rows if row[2] or row[3]] == []


def test_a_viewer_cannot_squat_ids_and_other_workspaces_keep_working(acme):
    """The attack of #19.4: a viewer took the next 200 audit_event ids, and an
    admin of another workspace could no longer write."""
    team = acme.team
    squat = (
        "INSERT INTO audit_event (id, workspace_id, action, target, at)"
        " SELECT n, %s, 'note', 'squat', now() FROM generate_series("
        " (SELECT max(id) + 1 FROM audit_event), (SELECT max(id) + 200 FROM audit_event)) n"
    )
    for statement, params in (
        (squat, (acme.acme,)),
        ("INSERT INTO audit_event (workspace_id, action, target) VALUES (%s, 'note', 'x')",
         (acme.acme,)),
        ("INSERT INTO account (id, name, created_at) SELECT max(id) + n, 'squat' || n, now()"
         " FROM account, generate_series(1, 200) n GROUP BY n", ()),
        ("INSERT INTO account (id, name, created_at) OVERRIDING SYSTEM VALUE"
         " VALUES (100000, 'squat', now())", ()),
        ("INSERT INTO membership (id, workspace_id, account_id, role, created_at)"
         " VALUES (100000, %s, 1, 'viewer', now())", (acme.acme,)),
    ):  # fmt: skip
        for who in ("vic", "carol"):  # a viewer, and even an admin
            error = refused(team, who, statement, params)
            assert DENIED in str(error), (who, statement)
    error = refused(team, "vic", "SELECT nextval('audit_event_id_seq')")
    assert "permission denied for sequence" in str(error)
    error = refused(team, "vic", "SELECT setval('account_id_seq', 100000)")
    assert "permission denied for sequence" in str(error)
    # Another workspace's owner writes on: 20 edits, 20 new accounts.
    bob = team.service_as("bob")
    bob.add_integration("globex", "stripe", "Stripe")
    for n in range(20):
        bob.update_integration("stripe", scopes=f"scope{n}")
        bob.add_member("globex", f"new_{n}_{team.tag}", "viewer")
    edits = [e for e in bob.audit("globex", limit=1000) if e.action == "integration.update"]
    assert len(edits) == 20


# -- item 5: the trail is complete ---------------------------------------------------


def test_a_key_inserted_with_sql_is_in_the_trail_with_the_servers_time(acme):
    """#19.5: an admin inserted a key of their own, 300 days old, through psql;
    it verified and `keydesk audit --key` said nothing."""
    team = acme.team
    pair = generate_key_pair()
    team.sql(
        "carol",
        "INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_at,"
        " created_by, scopes) VALUES (%s, %s, 'typed', %s, now() - interval '300 days', %s, '')",
        (acme.github, pair.public_key, hash_private_key(pair.private_key), acme.account("carol")),
    )  # fmt: skip
    key = team.service_as("alice").key(pair.public_key)
    assert abs(key.created_at - utcnow()) < timedelta(minutes=5)  # the server's clock
    (event,) = acme.trail(key=pair.public_key)
    assert (event.action, event.actor, event.label) == ("key.create", team.role("carol"), "typed")
    assert event.integration == "github"


def test_a_revocation_with_sql_is_in_the_trail_at_the_servers_time(acme):
    team = acme.team
    team.sql(
        "alice",
        "UPDATE api_key SET revoked_at = '2020-01-01T00:00Z', revoked_by = %s"
        " WHERE public_key = %s",
        (acme.account("alice"), acme.key),
    )
    key = team.service_as("alice").key(acme.key)
    assert key.revoked_at is not None and key.revoked_at.year >= 2025
    assert [(e.action, e.actor) for e in acme.trail(key=acme.key)] == [
        ("key.revoke", team.role("alice")),
        ("key.create", team.role("alice")),
    ]


def test_every_change_typed_as_sql_writes_its_event(acme):
    team = acme.team
    carol = acme.account("carol")
    statements = (
        ("carol", "UPDATE api_key SET expires_at = now() + interval '1 day' WHERE public_key = %s",
         (acme.key,), "key.expire", acme.key),
        ("carol", "UPDATE integration SET scopes = 'repo', updated_at = '2001-01-01' WHERE id = %s",
         (acme.github,), "integration.update", "github"),
        ("carol", "UPDATE integration SET status = 'disabled' WHERE id = %s",
         (acme.github,), "integration.disable", "github"),
        ("carol", "INSERT INTO integration (workspace_id, name, provider, scopes, status,"
         " created_at, updated_at) VALUES (%s, 'typed', 'x', '', 'draft', now(), now())",
         (acme.acme,), "integration.add", "typed"),
        ("alice", "UPDATE membership SET role = 'member' WHERE account_id = %s", (carol,),
         "member.set", team.role("carol")),
        ("alice", "UPDATE workspace SET max_key_lifetime_days = 30 WHERE id = %s", (acme.acme,),
         "workspace.policy", "acme"),
        ("vic", "DELETE FROM membership WHERE account_id = "
         "(SELECT id FROM account WHERE name = session_user)", (), "member.remove",
         team.role("vic")),
    )  # fmt: skip
    for who, statement, params, action, target in statements:
        before = {e.id for e in acme.trail()}
        assert team.rowcount(who, statement, params) == 1, statement
        new = [e for e in acme.trail() if e.id not in before]
        assert [(e.action, e.target, e.actor) for e in new] == [(action, target, team.role(who))], (
            statement
        )
    typed = team.sql("alice", "SELECT created_at, updated_at FROM integration WHERE name = 'typed'")
    assert all(moment.year >= 2025 for moment in typed[0])  # the server's times


def test_keydesk_changes_have_one_event_each_as_before(acme):
    team = acme.team
    alice = team.service_as("alice")
    before = {e.id for e in acme.trail()}
    made = alice.create_key("github", "ci")
    alice.revoke_key(made.key.public_key)
    alice.rotate_key(acme.key, timedelta(hours=2))
    now_rotated = alice.create_key("github", "staging")
    rotated = alice.rotate_key(now_rotated.key.public_key, timedelta(0))
    alice.set_key_policy("acme", 90)
    alice.remove_member("acme", team.role("vic"))
    new = [(e.action, e.target, e.label) for e in acme.trail() if e.id not in before]
    stops = alice.key(acme.key).expires_at
    assert stops is not None
    assert new[::-1] == [
        ("key.create", made.key.public_key, "ci"),
        ("key.revoke", made.key.public_key, "ci"),
        ("key.rotate", acme.key, f"old key stops {stops:%Y-%m-%d %H:%M} UTC"),
        ("key.create", now_rotated.key.public_key, "staging"),
        ("key.rotate", now_rotated.key.public_key, "old key revoked at once"),
        ("workspace.policy", "acme", "max key lifetime 90d"),
        ("member.remove", team.role("vic"), "viewer"),
    ]
    assert rotated.created.key.replaces == now_rotated.key.public_key


def test_a_leaked_key_revoked_by_an_admin_says_where_once(acme):
    team = acme.team
    team.service_as("carol").revoke_key(acme.key, leaked_at="a CI log")
    events = [(e.action, e.label, e.actor) for e in acme.trail(key=acme.key)]
    assert events[0] == ("key.revoke.leaked", "found at a CI log", team.role("carol"))
    assert [e[0] for e in events] == ["key.revoke.leaked", "key.create"]


def test_nothing_a_client_sends_hides_or_rewrites_an_event(acme):
    team = acme.team
    alice = acme.account("alice")
    # The writers of the trail are the owner's alone.
    for call in (
        f"SELECT keydesk_record({acme.acme}, NULL, 'key.revoke', 'x')",
        f"SELECT keydesk_record_rotation({acme.acme}, {acme.github}, 1, 'x')",
    ):
        assert isinstance(refused(team, "alice", call), psycopg.errors.InsufficientPrivilege)
    with team.connect("alice") as connection:
        connection.autocommit = False
        # Settings a client may set decide nothing; marking needs this
        # transaction's own revocation; a replacement made before the
        # revocation does not absorb it.
        connection.execute("SET LOCAL keydesk.audited = 'on'")
        connection.execute("SELECT keydesk_mark_leaked(%s, 'nowhere')", (acme.key,))
        connection.execute(
            "INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_at,"
            " created_by, scopes, expires_at, replaces_id) SELECT %s, 'kdpk_RRRRRRRRRRRRRRRR',"
            " 'replacement', 'x', now(), %s, '', NULL, id FROM api_key WHERE public_key = %s",
            (acme.github, alice, acme.key),
        )  # fmt: skip
        connection.execute(
            "UPDATE api_key SET revoked_at = now(), revoked_by = %s WHERE public_key = %s",
            (alice, acme.key),
        )
        connection.commit()
    actions = [(e.action, e.label) for e in acme.trail(key=acme.key)]
    assert actions == [
        ("key.revoke", "prod"),
        ("key.rotate", "old key does not stop"),
        ("key.create", "prod"),
    ]


def test_a_verification_writes_no_event(acme):
    team = acme.team
    private = team.service_as("alice").create_key("github", "served").private_key
    before = len(acme.trail())
    verifier = Verifier(team.store_as("verifier").engine)
    try:
        verifier.verify(private)
        verifier.flush()
    finally:
        verifier.close()
    assert len(acme.trail()) == before


# -- item 5: names through the SQL functions and tables --------------------------------


def test_a_look_alike_workspace_name_is_refused_even_unseen(acme):
    """bob cannot see acme, yet cannot make it with a Cyrillic a (U+0430)."""
    team = acme.team
    for name in ("\u0430cme", "ACME", "\u0430\u0441m\u0435", "\uff41cme"):
        error = refused(team, "bob", "SELECT keydesk_create_workspace(%s)", (name,))
        assert error.sqlstate == "KD005" and "looks like that of another workspace" in str(error)
        assert "acme" not in str(error)  # a name bob cannot see is not told
    with pytest.raises(PermissionDenied, match="looks like that of another workspace"):
        team.service_as("bob").create_workspace("\u0430cme")


def test_workspace_names_made_through_the_function_obey_the_cli_rules(acme):
    team = acme.team
    for name, needle in (
        ("evil\u202eemanr", "control or invisible"),
        ("tab\there", "control or invisible"),
        ("   ", "required"),
        ("x" * 65, "longer than 64"),
        ("kdsk_" + "A" * 20, "looks like a private key"),
    ):
        error = refused(team, "bob", "SELECT keydesk_create_workspace(%s)", (name,))
        assert error.sqlstate == "KD005" and needle in str(error), name
    decomposed = unicodedata.normalize("NFD", "  café ")
    team.sql("bob", "SELECT keydesk_create_workspace(%s)", (decomposed,))
    names = {w.name for w in team.service_as("bob").workspaces()}
    assert names == {"globex", "café"}  # trimmed and NFC, as the CLI stores it


def test_integration_names_and_labels_typed_as_sql_are_checked(acme):
    team = acme.team
    insert = (
        "INSERT INTO integration (workspace_id, name, provider, scopes, status, created_at,"
        " updated_at) VALUES (%s, %s, 'x', '', 'draft', now(), now())"
    )
    for name, needle in (
        ("g\u0456thub", "looks like that of another integration in"),
        (unicodedata.normalize("NFD", "café"), "not in Unicode NFC"),
        ("bell\x07", "control or invisible"),
    ):
        error = refused(team, "carol", insert, (acme.acme, name))
        assert error.sqlstate == "KD005" and needle in str(error), name
    error = refused(
        team, "carol", "UPDATE integration SET name = %s WHERE id = %s",
        ("G\u0456THUB ", acme.github),
    )  # fmt: skip
    assert error.sqlstate == "KD005"
    error = refused(
        team, "carol",
        "INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_at,"
        " created_by, scopes) VALUES (%s, 'kdpk_LLLLLLLLLLLLLLLL', %s, 'x', now(), %s, '')",
        (acme.github, "prod\x1b[2J", acme.account("carol")),
    )  # fmt: skip
    assert error.sqlstate == "KD005" and "the label contains a control" in str(error)
    # A member added with SQL under a name reading like alice's account, or
    # like a role that has none yet (which would lock that role out later).
    add = "INSERT INTO account (name, created_at) VALUES (%s, now())"
    for spoof in (team.role("alice").replace("a", "\u0430", 1),
                  team.role("verifier").replace("e", "\u0435", 1)):  # fmt: skip
        error = refused(team, "carol", add, (spoof,))
        assert error.sqlstate == "KD005" and "looks like that of another account" in str(error)
    team.sql("carol", add, (team.role("verifier"),))  # a role's own name: the server proves it


def test_the_new_functions_are_owner_safe(acme):
    rows = acme.team.sql(
        "alice",
        "SELECT p.proname, array_to_string(p.proconfig, ','), pg_get_userbyid(p.proowner),"
        " has_function_privilege('public', p.oid, 'EXECUTE')"
        " FROM pg_proc p WHERE p.proname LIKE 'keydesk\\_%%'",
    )
    assert len(rows) >= 25
    for name, config, owner, public_may in rows:
        assert (config or "").startswith("search_path=pg_catalog, public, pg_temp"), name
        assert owner == acme.team.owner and not public_may, name
