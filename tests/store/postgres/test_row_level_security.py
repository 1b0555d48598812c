"""On PostgreSQL the database itself enforces who may do what (revision
0002), for keydesk and for anyone who types SQL: each refusal here runs the
SQL as that role, through its own login, and asserts PostgreSQL's error.

The cast: alice owns acme, carol is an admin there and vic a viewer; bob
owns globex and is no member of acme; `verifier` is keydesk serve's role.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors

from keydesk.cli import main
from keydesk.errors import PermissionDenied, Unauthorized, UnauthorizedReason
from keydesk.identity import acting_account
from keydesk.keys import PrivateKey
from keydesk.service import KeyService
from keydesk.verify import Verifier
from tests.support.pg_team import Team

pytestmark = pytest.mark.postgres

RLS = "row-level security"


@dataclass
class Acme:
    team: Team
    github: int  # integration ids
    stripe: int
    active: str  # public keys in acme's github
    revoked: str
    private: PrivateKey  # the active key's
    acme: int  # workspace ids
    globex: int


@pytest.fixture
def acme(team) -> Acme:
    """Made through keydesk itself, each admin connected as their own role:
    the service's code path works under row-level security."""
    alice = team.service_as("alice")
    assert alice.actor == team.role("alice")  # the session's role, never a typed name
    alice.create_workspace("acme")
    alice.add_member("acme", team.role("carol"), "admin")
    alice.add_member("acme", team.role("vic"), "viewer")
    github = alice.add_integration(
        "acme", "github", "GitHub", client_id="Iv1.x",
        redirect_uri="https://acme.example/cb", configure=True,
    )  # fmt: skip
    carol = team.service_as("carol")
    active = carol.create_key("github", "prod")
    old = alice.create_key("github", "old")
    alice.revoke_key(old.key.public_key)
    bob = team.service_as("bob")
    bob.create_workspace("globex")
    stripe = bob.add_integration(
        "globex", "stripe", "Stripe", client_id="ca_1",
        redirect_uri="https://globex.example/cb", configure=True,
    )  # fmt: skip
    bob.create_key("stripe", "billing")
    (acme_id,) = team.sql("alice", "SELECT id FROM workspace WHERE name = 'acme'")[0]
    (globex_id,) = team.sql("bob", "SELECT id FROM workspace WHERE name = 'globex'")[0]
    return Acme(
        team, github.id, stripe.id, active.key.public_key, old.key.public_key,
        active.private_key, acme_id, globex_id,
    )  # fmt: skip


def refused(team: Team, who: str, statement: str, params: tuple = ()) -> psycopg.Error:
    """Run `statement` as `who` and return PostgreSQL's error (the test
    fails if there is none)."""
    with pytest.raises(psycopg.Error) as error:
        team.sql(who, statement, params)
    return error.value


# -- keydesk as each role -------------------------------------------------------


def test_keydesk_works_as_each_role_and_the_trail_names_the_roles(acme):
    team = acme.team
    vic = team.service_as("vic")
    assert [k.label for k in vic.keys("github")] == ["prod", "old"]
    with pytest.raises(PermissionDenied, match="viewer"):
        vic.create_key("github", "mine")
    actors = {e.action: e.actor for e in team.service_as("alice").audit("acme")}
    assert actors["workspace.create"] == team.role("alice")
    assert actors["key.create"] in (team.role("alice"), team.role("carol"))
    assert actors["key.revoke"] == team.role("alice")
    assert team.service_as("bob").workspaces()[0].name == "globex"  # acme is not his


def test_a_service_told_a_false_name_is_stopped_by_the_database(acme):
    """Even a caller that builds the service with another name (a bug, or
    someone's own script) acts only as its session's role."""
    team = acme.team
    impostor = KeyService(team.store_as("vic"), team.role("alice"))
    with pytest.raises(PermissionDenied, match=f"the database refused this: .*{RLS}"):
        impostor.create_key("github", "forged")
    with pytest.raises(PermissionDenied, match="the database refused this"):
        impostor.revoke_key(acme.active)
    assert team.service_as("alice").key(acme.active).is_active


def test_typed_accounts_are_refused_on_postgres(acme, capsys):
    team = acme.team
    code = main(
        ["--db", team.url_as("vic"), "--account", team.role("alice"), "integration", "list"]
    )
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "session_user" in err
    with pytest.raises(PermissionDenied, match="act as your database role"):
        acting_account(team.store_as("vic"), proven=team.role("alice"))


# -- a viewer -------------------------------------------------------------------


def test_a_viewer_cannot_insert_revoke_or_unrevoke_a_key(acme):
    team = acme.team
    vic = team.role("vic")
    error = refused(
        team, "vic",
        "INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_at,"
        " created_by) VALUES (%s, 'kdpk_AAAAAAAAAAAAAAAA', 'mine', 'x', now(),"
        " (SELECT id FROM account WHERE name = %s))",
        (acme.github, vic),
    )  # fmt: skip
    assert isinstance(error, errors.InsufficientPrivilege) and RLS in str(error)
    error = refused(
        team, "vic",
        "UPDATE api_key SET revoked_at = now(), revoked_by = (SELECT id FROM account WHERE name = %s)"
        " WHERE public_key = %s", (vic, acme.active),
    )  # fmt: skip
    assert isinstance(error, errors.InsufficientPrivilege) and RLS in str(error)
    error = refused(
        team, "vic", "UPDATE api_key SET revoked_at = NULL WHERE public_key = %s", (acme.revoked,)
    )
    assert "revocation is final" in str(error) or RLS in str(error)
    assert team.service_as("alice").key(acme.active).is_active


def test_no_one_can_unrevoke_or_redate_a_revocation_not_even_its_owner(acme):
    team = acme.team
    for statement in (
        "UPDATE api_key SET revoked_at = NULL, revoked_by = NULL WHERE public_key = %s",
        "UPDATE api_key SET revoked_at = revoked_at - interval '1 day' WHERE public_key = %s",
    ):
        error = refused(team, "alice", statement, (acme.revoked,))
        assert error.sqlstate == "KD002" and "revocation is final" in str(error)
    # The table's owner bypasses row-level security, but not the trigger.
    superuser = psycopg.connect(team.url.replace("+psycopg", ""), autocommit=True)
    with superuser, pytest.raises(psycopg.Error, match="revocation is final"):
        superuser.execute(
            "UPDATE api_key SET revoked_at = NULL WHERE public_key = %s", (acme.revoked,)
        )
    assert not team.service_as("alice").key(acme.revoked).is_active


# -- another workspace's owner ------------------------------------------------------


def test_bob_cannot_see_another_workspaces_rows(acme):
    team = acme.team
    for table, column in (
        ("workspace", "name"),
        ("integration", "name"),
        ("api_key", "label"),
        ("membership", "role"),
        ("audit_event", "action"),
    ):
        rows = team.sql("bob", f"SELECT {column} FROM {table} WHERE id > 0 ORDER BY 1")
        seen = {row[0] for row in rows}
        assert not seen & {"acme", "github", "prod", "old", "admin", "viewer"}, table
    assert team.sql("bob", "SELECT name FROM workspace") == [("globex",)]


def test_bob_cannot_touch_another_workspaces_rows(acme):
    team = acme.team
    bob = team.role("bob")
    # Rows he cannot see are not there for him: nothing changes.
    assert team.rowcount("bob", "UPDATE integration SET status = 'disabled' WHERE id = %s",
                         (acme.github,)) == 0  # fmt: skip
    assert team.rowcount("bob", "DELETE FROM membership WHERE workspace_id = %s", (acme.acme,)) == 0
    # What he would add there is refused.
    for statement, params in (
        ("INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_at,"
         " created_by) VALUES (%s, 'kdpk_BBBBBBBBBBBBBBBB', 'x', 'x', now(),"
         " (SELECT id FROM account WHERE name = %s))", (acme.github, bob)),
        ("INSERT INTO membership (workspace_id, account_id, role, created_at)"
         " VALUES (%s, (SELECT id FROM account WHERE name = %s), 'owner', now())", (acme.acme, bob)),
        ("INSERT INTO integration (workspace_id, name, provider, scopes, status, created_at,"
         " updated_at) VALUES (%s, 'evil', 'x', '', 'configured', now(), now())", (acme.acme,)),
    ):  # fmt: skip
        error = refused(team, "bob", statement, params)
        assert isinstance(error, errors.InsufficientPrivilege) and RLS in str(error), statement
    error = refused(team, "bob", "INSERT INTO audit_event (workspace_id, action, target, at)"
                    " VALUES (%s, 'key.revoke', 'kdpk_x', now())", (acme.acme,))  # fmt: skip
    assert "permission denied for table audit_event" in str(error)  # only the database writes it
    assert team.service_as("alice").integration("github").status == "configured"


# -- roles that cannot be broken -------------------------------------------------


def test_roles_cannot_be_broken_with_sql(acme):
    team = acme.team

    def account(who: str) -> str:
        return f"(SELECT id FROM account WHERE name = '{team.role(who)}')"

    set_role = "UPDATE membership SET role = %s WHERE workspace_id = %s AND account_id = "
    error = refused(team, "carol", set_role + account("alice"), ("viewer", acme.acme))
    assert error.sqlstate == "42501" and "only an owner can change or remove an owner" in str(error)
    error = refused(team, "carol", set_role + account("carol"), ("owner", acme.acme))
    assert RLS in str(error)  # an admin cannot make an owner, not even of herself
    error = refused(team, "vic", set_role + account("vic"), ("admin", acme.acme))
    assert "only owners and admins may change members" in str(error)
    error = refused(team, "carol", "DELETE FROM membership WHERE account_id = " + account("alice"))
    assert "only an owner can change or remove an owner" in str(error)
    error = refused(team, "alice", set_role + account("alice"), ("admin", acme.acme))
    assert error.sqlstate == "KD001" and "last owner" in str(error)
    error = refused(team, "alice", "DELETE FROM membership WHERE account_id = " + account("alice"))
    assert error.sqlstate == "KD001"
    error = refused(
        team, "carol",
        "UPDATE membership SET workspace_id = %s WHERE account_id = " + account("carol"),
        (acme.globex,),
    )  # fmt: skip
    assert isinstance(error, errors.InsufficientPrivilege)  # only the role column may change
    # What is allowed stays allowed: an admin changes a viewer, a viewer leaves.
    assert team.rowcount("carol", set_role + account("vic"), ("member", acme.acme)) == 1
    assert team.rowcount("vic", "DELETE FROM membership WHERE account_id = " + account("vic")) == 1
    roles = {m.account: m.role for m in team.service_as("alice").members("acme").members}
    assert roles == {team.role("alice"): "owner", team.role("carol"): "admin"}


def test_account_names_cannot_be_changed_or_removed(acme):
    team = acme.team
    error = refused(team, "vic", "UPDATE account SET name = %s WHERE name = %s",
                    (team.role("vic") + "x", team.role("alice")))  # fmt: skip
    assert isinstance(error, errors.InsufficientPrivilege)
    error = refused(team, "alice", "DELETE FROM account WHERE name = %s", (team.role("vic"),))
    assert isinstance(error, errors.InsufficientPrivilege)


def test_two_owners_stepping_down_at_once_cannot_both_succeed(acme):
    team = acme.team
    team.service_as("alice").set_member_role("acme", team.role("carol"), "owner")

    def demote(who: str) -> str:
        return (
            "UPDATE membership SET role = 'admin' WHERE account_id ="
            f" (SELECT id FROM account WHERE name = '{team.role(who)}')"
        )

    # Each steps down at the same moment, seeing the other still an owner.
    first = team.connect("alice")
    first.autocommit = False
    first.execute(demote("alice"))  # holds the workspace until it commits
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            team.sql("carol", demote("carol"))
            outcome.append(None)
        except psycopg.Error as error:
            outcome.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive()  # waiting for the first change, not deciding without it
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert isinstance(outcome[0], psycopg.Error) and outcome[0].sqlstate == "KD001"
    owners = [m for m in team.service_as("alice").members("acme").members if m.role == "owner"]
    assert [m.account for m in owners] == [team.role("carol")]


def test_workspaces_are_made_only_with_yourself_as_owner(acme):
    team = acme.team
    error = refused(team, "vic", "INSERT INTO workspace (name, created_at) VALUES ('x', now())")
    assert isinstance(error, errors.InsufficientPrivilege)
    error = refused(team, "vic", "SELECT keydesk_create_workspace('vics', %s)", (team.role("bob"),))
    assert "only with yourself" in str(error)
    team.sql("vic", "SELECT keydesk_create_workspace('vics')")
    assert [(w.name, w.role) for w in team.service_as("vic").workspaces()] == [
        ("acme", "viewer"),
        ("vics", "owner"),
    ]
    error = refused(team, "verifier", "SELECT keydesk_create_workspace('v')")
    assert isinstance(error, errors.InsufficientPrivilege)


# -- the audit trail -------------------------------------------------------------


def test_the_audit_trail_cannot_be_forged_or_changed(acme):
    team = acme.team
    # Only the database writes events (revision 0006), as the session's role.
    for who in ("alice", "vic"):
        error = refused(
            team, who,
            "INSERT INTO audit_event (workspace_id, action, target, at)"
            " VALUES (%s, 'note', 'forged', '2020-01-01T00:00Z')", (acme.acme,),
        )  # fmt: skip
        assert isinstance(error, errors.InsufficientPrivilege), who
        assert "permission denied for table audit_event" in str(error)
    for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
        error = refused(team, "alice", statement)
        assert isinstance(error, errors.InsufficientPrivilege), statement
        assert "permission denied for table audit_event" in str(error)


# -- secrets and the verifier -------------------------------------------------------


def test_only_the_verifier_reads_secret_hashes(acme):
    team = acme.team
    for who in ("alice", "carol", "vic"):
        error = refused(team, who, "SELECT secret_hash FROM api_key")
        assert "permission denied for table api_key" in str(error), who
    hashes = team.sql("verifier", "SELECT secret_hash FROM api_key WHERE public_key = %s",
                      (acme.active,))  # fmt: skip
    assert hashes[0][0].startswith("$argon2id$")


def test_the_verifier_reads_what_verification_needs_and_writes_only_last_used(acme):
    team = acme.team
    verifier_role = team.role("verifier")
    for statement, params in (
        ("SELECT role FROM membership", ()),
        ("SELECT name FROM account", ()),
        ("SELECT actor FROM audit_event", ()),
        ("SELECT created_by FROM api_key", ()),
        ("INSERT INTO api_key (integration_id, public_key, label, secret_hash, created_at,"
         " created_by) VALUES (%s, 'kdpk_CCCCCCCCCCCCCCCC', 'v', 'x', now(), 1)", (acme.github,)),
        ("UPDATE api_key SET revoked_at = now() WHERE public_key = %s", (acme.active,)),
        ("UPDATE api_key SET secret_hash = 'x' WHERE public_key = %s", (acme.active,)),
        ("UPDATE integration SET status = 'configured'", ()),
    ):  # fmt: skip
        error = refused(team, "verifier", statement, params)
        assert isinstance(error, errors.InsufficientPrivilege), statement
    # keydesk serve, connected as the verifier role, works.
    verifier = Verifier(team.store_as("verifier").engine)
    try:
        assert verifier.verify(acme.private).public_key == acme.active
        verifier.flush()
        team.service_as("alice").revoke_key(acme.active)
        with pytest.raises(Unauthorized) as refusal:
            verifier.verify(acme.private)
        assert refusal.value.reason is UnauthorizedReason.REVOKED
    finally:
        verifier.close()
    assert team.service_as("alice").key(acme.active).last_used_at is not None
    assert verifier_role not in {e.actor for e in team.service_as("alice").audit("acme")}


def test_the_verifier_adds_usage_counts_that_only_grow(acme):
    from datetime import timedelta

    from keydesk.views import utcnow

    team = acme.team
    verifier = Verifier(team.store_as("verifier").engine)
    try:
        for _ in range(2):
            verifier.verify(acme.private)
        verifier.flush()
    finally:
        verifier.close()
    usage = team.service_as("alice").key_usage(acme.active, utcnow() - timedelta(hours=1))
    assert usage.accepted == 2  # written by keydesk serve's role, read by an admin
    error = refused(team, "verifier", "UPDATE key_usage SET count = 0")
    assert "usage counts only grow" in str(error)
    error = refused(team, "alice", "UPDATE key_usage SET count = count + 100")
    assert isinstance(error, errors.InsufficientPrivilege)  # admins cannot inflate them
