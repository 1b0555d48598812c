"""An SSH key acts in a workspace only where an owner of that workspace
approved it for its account (keydesk.ssh.gate, keydesk.service.ssh_approvals), at
every step of a session; and a session scans only what the admin sends.

The attack these stop (issue #19, item 1): mallory, who may run keydesk as
the service account, makes workspace mteam, adds dave, and lets her own key
in as dave (she owns every workspace dave is in). Later alice, owner of
acme, adds dave to acme. Before, mallory's key then acted in acme as dave,
and acme's trail held no trace of the key. tests/e2e/test_ssh.py runs the
same through a real sshd.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from keydesk.cli import main
from keydesk.errors import NotFound, PermissionDenied
from keydesk.service import KeyService
from keydesk.ssh.authorized_keys import add_grant, read_grants, remove_grant
from keydesk.ssh.gate import SshKeyNotApproved
from keydesk.ssh.grant_line import authorized_keys_line
from keydesk.ssh.public_keys import parse_public_key
from keydesk.store.engine import Store, open_store
from keydesk.store.queries import bare_sqlite_reads
from keydesk.views import utcnow
from tests.cli import test_ssh as test_ssh_cli
from tests.cli.test_contract import assert_one_clean_line
from tests.cli.test_ssh import Host, fingerprint_of, ssh_key

# The service account's world of tests/cli/test_ssh.py: its fixtures, reused.
template_store = test_ssh_cli.template_store
host = test_ssh_cli.host


def fingerprint(seed: str) -> str:
    digest = base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()
    return "SHA256:" + digest.rstrip("=")


MALLORY_KEY = fingerprint("mallory's laptop")
DAVE_KEY = fingerprint("dave's laptop")
APPROVE_IN_ACME = f"keydesk ssh authorize --account dave --key {MALLORY_KEY} --workspace acme"


def written() -> str:
    return "line written"  # what `write` (the authorized_keys edit) returned


class World:
    """mteam (owner mallory, dave an admin), acme (owner alice, integration
    github, one key); mallory's key let in as dave."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.mallory = KeyService(store, "mallory")
        self.alice = KeyService(store, "alice")
        self.mallory.create_workspace("mteam")
        self.mallory.add_member("mteam", "dave", "admin")
        self.mallory.add_integration(
            "mteam", "ci", "GitHub", client_id="Iv1.m",
            redirect_uri="https://m.example.com/cb", configure=True,
        )  # fmt: skip
        self.alice.create_workspace("acme")
        self.alice.add_integration(
            "acme", "github", "GitHub", client_id="Iv1.a",
            redirect_uri="https://a.example.com/cb", configure=True,
        )  # fmt: skip
        self.acme_key = self.alice.create_key("github", "prod").key.public_key
        done = self.mallory.authorize_ssh_key("dave", MALLORY_KEY, written)
        assert (done.approved, done.awaiting, done.written) == (("mteam",), (), "line written")

    def session(self, key: str = MALLORY_KEY) -> KeyService:
        """keydesk as sshd runs it for `key`'s line: as dave, through that key."""
        return KeyService(self.store, "dave", ssh_key=key)

    def acme_events(self) -> list[tuple[str, str, str, str | None]]:
        return [
            (e.actor, e.action, e.target, e.label)
            for e in self.alice.audit("acme", oldest_first=True)
            if e.action.startswith("ssh.")
        ]


@pytest.fixture
def world(sqlite_url, migrated) -> Iterator[World]:
    store = open_store(sqlite_url, create=True)
    try:
        yield World(store)
    finally:
        store.dispose()


def refusals(session: KeyService, acme_key: str) -> dict[str, Callable[[], object]]:
    """Everything a session could do in acme, each as one call."""
    return {
        "create a key": lambda: session.create_key("github", "stolen"),
        "list keys": lambda: session.keys(workspace="acme"),
        "list an integration's keys": lambda: session.keys("github"),
        "read the trail": lambda: session.audit("acme"),
        "list members": lambda: session.members("acme"),
        "add a member": lambda: session.add_member("acme", "eve", "admin"),
        "leave": lambda: session.remove_member("acme", "dave"),
        "edit an integration": lambda: session.update_integration("github", scopes="repo"),
        "disable an integration": lambda: session.disable_integration("github"),
        "add an integration": lambda: session.add_integration("acme", "x", "X"),
        "approve keys": lambda: session.approve_ssh_keys("acme", "dave", [MALLORY_KEY]),
    }


def lookups(session: KeyService, acme_key: str) -> dict[str, Callable[[], object]]:
    """Everything a session could ask of one of acme's keys by its public key:
    each answers as for a key that does not exist (see tests/service/test_key_lookups.py)."""
    return {
        "read a key": lambda: session.key(acme_key),
        "read its usage": lambda: session.key_usage(acme_key, utcnow()),
        "revoke a key": lambda: session.revoke_key(acme_key),
        "rotate a key": lambda: session.rotate_key(acme_key, timedelta(0)),
        "read a key's trail": lambda: session.audit(key=acme_key),
    }


# -- the line names its key -------------------------------------------------------------

KEYDESK = "/opt/keydesk/bin/keydesk"


def test_a_line_names_its_key_and_an_older_line_is_read_as_unpinned(tmp_path):
    ak = tmp_path / ".ssh" / "authorized_keys"
    alice, bob = parse_public_key(ssh_key("alice")), parse_public_key(ssh_key("bob"))
    add_grant(ak, "alice", alice, KEYDESK)
    [grant] = read_grants(ak)
    assert grant.pinned and f"ssh-session alice {alice.fingerprint}" in ak.read_text()
    older = f'command="{KEYDESK} ssh-session bob",restrict,pty {bob.openssh()} keydesk:bob'
    ak.write_text(f"# mine\n{older}\n" + ak.read_text())
    assert [(g.account, g.pinned) for g in read_grants(ak)] == [("bob", False), ("alice", True)]
    # A line naming another key's fingerprint is not keydesk's: a session would lie.
    forged = f'command="{KEYDESK} ssh-session bob {alice.fingerprint}",restrict {bob.openssh()}'
    ak.write_text(f"{forged} keydesk:bob\n")
    assert read_grants(ak) == []


def test_repin_rewrites_an_older_line_in_place_and_keeps_the_rest(tmp_path):
    ak = tmp_path / ".ssh" / "authorized_keys"
    bob = parse_public_key(ssh_key("bob"))
    older = f'command="{KEYDESK} ssh-session bob",restrict,pty {bob.openssh()} keydesk:bob\n'
    ak.parent.mkdir()
    ak.write_text(f"# first\n{older}# last, no newline")
    [removed] = remove_grant(ak, bob.fingerprint, repin=KEYDESK)
    assert not removed.pinned
    line = authorized_keys_line("bob", bob, KEYDESK)
    assert ak.read_text() == f"# first\n{line}\n# last, no newline"
    [grant] = read_grants(ak)
    assert (grant.account, grant.pinned, grant.line_number) == ("bob", True, 2)


# -- the attack ------------------------------------------------------------------------


def test_a_key_let_in_for_dave_cannot_act_in_a_workspace_dave_joins_later(world):
    world.alice.add_member("acme", "dave", "admin")
    assert world.alice.ssh_keys_awaiting("acme", "dave") == (MALLORY_KEY,)
    session = world.session()
    for what, attempt in refusals(session, world.acme_key).items():
        with pytest.raises(SshKeyNotApproved) as refused:
            attempt()
        message = refused.value.message
        assert APPROVE_IN_ACME in message, what
        assert "\n" not in message and "acme" in message, what
    for what, attempt in lookups(session, world.acme_key).items():
        with pytest.raises(NotFound) as unknown:
            attempt()
        assert unknown.value.message == f"no key {world.acme_key}", what
    # What the session lists holds nothing of acme.
    assert [ws.name for ws in session.workspaces()] == ["mteam"]
    assert [i.workspace for i in session.integrations()] == ["mteam"]
    assert {key.integration for key in session.keys(workspace="mteam")} <= {"ci"}
    assert {e.workspace for e in session.audit()} == {"mteam"}
    # Nothing was made or changed in acme by the key.
    assert [k.label for k in world.alice.keys("github")] == ["prod"]
    assert [m.account for m in world.alice.members("acme").members] == ["alice", "dave"]


def test_the_session_still_acts_where_its_key_is_approved(world):
    session = world.session()
    created = session.create_key("ci", "deploy")
    assert created.key.created_by == "dave"
    [event] = [e for e in world.mallory.audit("mteam") if e.action == "key.create"]
    assert event.actor == "dave"


def test_once_acmes_owner_approves_the_key_it_acts_there_and_the_trail_says_who(world):
    world.alice.add_member("acme", "dave", "admin")
    with pytest.raises(PermissionDenied, match="mallory is not a member of workspace"):
        world.mallory.approve_ssh_keys("acme", "dave", [MALLORY_KEY])  # not in acme
    world.alice.approve_ssh_keys("acme", "dave", [MALLORY_KEY])
    assert world.session().create_key("github", "approved").key.created_by == "dave"
    assert world.acme_events() == [("alice", "ssh.approve", MALLORY_KEY, "dave")]
    assert world.alice.ssh_keys_awaiting("acme", "dave") == ()


def test_only_an_owner_of_the_workspace_approves(world):
    world.alice.add_member("acme", "dave", "admin")
    world.alice.add_member("acme", "bob", "admin")
    with pytest.raises(PermissionDenied, match="only an owner of 'acme'"):
        KeyService(world.store, "bob").approve_ssh_keys("acme", "dave", [MALLORY_KEY])
    with pytest.raises(NotFound, match="awaits approval"):
        world.alice.approve_ssh_keys("acme", "dave", [DAVE_KEY])  # not a key of dave's
    assert world.acme_events() == []


def test_the_bare_reads_keep_the_same_rule(world, tmp_path):
    world.alice.add_member("acme", "dave", "admin")
    world.store.dispose()
    url = f"sqlite:///{tmp_path / 'keydesk.db'}"
    with bare_sqlite_reads(url, "dave", MALLORY_KEY) as reads:
        assert reads is not None
        assert [i.workspace for i in reads.integrations()] == ["mteam"]
        assert [ws.name for ws in reads.workspaces()] == ["mteam"]
        with pytest.raises(SshKeyNotApproved, match=re.escape(APPROVE_IN_ACME)):
            reads.integrations("acme")
        with pytest.raises(SshKeyNotApproved, match=re.escape(APPROVE_IN_ACME)):
            list(reads.keys("github"))
    with bare_sqlite_reads(url, "dave") as reads:  # dave himself, not through a key
        assert reads is not None
        assert [ws.name for ws in reads.workspaces()] == ["acme", "mteam"]


def test_a_key_approved_nowhere_ends_the_session_at_once(world):
    with bare_sqlite_reads(str(world.store.engine.url), "dave", DAVE_KEY) as reads:
        assert reads is not None
        with pytest.raises(SshKeyNotApproved, match="approved for dave in none of their"):
            reads.require_any_approval()


# -- approvals follow the account, the key and the workspace -------------------------


def test_leaving_a_workspace_takes_the_keys_approval_there_with_it(world):
    world.alice.add_member("acme", "dave", "admin")
    world.alice.approve_ssh_keys("acme", "dave", [MALLORY_KEY])
    world.alice.remove_member("acme", "dave")
    world.alice.add_member("acme", "dave", "viewer")
    assert world.alice.ssh_keys_awaiting("acme", "dave") == (MALLORY_KEY,)
    with pytest.raises(SshKeyNotApproved):
        world.session().keys(workspace="acme")


def test_a_workspace_made_in_a_session_lets_its_key_act_there(world):
    made = world.session().create_workspace("dave-lab")
    assert made.name == "dave-lab"
    assert world.session().members("dave-lab").members[0].account == "dave"
    [event] = [
        e for e in KeyService(world.store, "dave").audit("dave-lab") if e.action == "ssh.approve"
    ]
    assert (event.actor, event.target) == ("dave", MALLORY_KEY)


def test_revoking_a_key_drops_its_approvals_and_is_audited_wherever_it_acted(world):
    world.alice.add_member("acme", "dave", "admin")
    world.alice.approve_ssh_keys("acme", "dave", [MALLORY_KEY])
    with pytest.raises(PermissionDenied, match="acts as dave in 'mteam', which alice does not own"):
        world.alice.revoke_ssh_key("dave", MALLORY_KEY, written)
    world.mallory.add_member("mteam", "alice", "owner")
    assert world.alice.revoke_ssh_key("dave", MALLORY_KEY, written) == "line written"
    assert world.acme_events()[-1] == ("alice", "ssh.revoke", MALLORY_KEY, "dave")
    assert world.mallory.audit("mteam")[0].action == "ssh.revoke"  # newest first
    # Let in again later, it waits for every owner again.
    world.alice.authorize_ssh_key("dave", MALLORY_KEY, written, workspace="mteam")
    with pytest.raises(SshKeyNotApproved):
        world.session().keys(workspace="acme")


def test_an_authorization_is_an_event_in_every_workspace_of_the_account(world):
    world.alice.add_member("acme", "dave", "admin")
    done = world.mallory.authorize_ssh_key("dave", DAVE_KEY, written)
    assert (done.approved, done.awaiting) == (("mteam",), ("acme",))
    assert "an owner there approves it" in (done.awaiting_note() or "")
    # acme sees the key let in, approved nowhere there.
    assert world.acme_events() == [("mallory", "ssh.authorize", DAVE_KEY, "dave")]


def test_on_postgresql_nothing_waits_and_approving_is_refused(team):
    service = team.service_as("alice")
    workspace = service.create_workspace("ssh-approvals").name
    assert service.ssh_keys_awaiting(workspace, "alice") == ()
    with pytest.raises(PermissionDenied, match="on PostgreSQL"):
        service.approve_ssh_keys(workspace, "alice", [DAVE_KEY])


# -- scanning in a session -------------------------------------------------------------


def test_a_found_key_of_a_workspace_the_key_may_not_act_in_shows_nothing_of_it(world):
    private = world.alice.create_key("github", "leaked").private_key
    world.alice.add_member("acme", "dave", "admin")  # a member, but the key is not approved
    found = world.session().found_key(private)
    assert (found.key, found.elsewhere, found.status) == (None, True, "other-workspace")
    assert world.alice.found_key(private).key is not None  # outside a session: as before
    approved_here = world.session().found_key(world.mallory.create_key("ci", "x").private_key)
    assert approved_here.key is not None and approved_here.key.integration == "ci"


# -- through `keydesk ssh-session` and the CLI ---------------------------------------------


def test_each_owner_approves_the_key_in_their_own_workspace(host):
    code, out, err = host.authorize("alice", ssh_key("alice"), actor="owner")
    assert code == 0, err
    said = json.loads(out)
    assert (said["approved"], said["awaiting"]) == (["acme"], ["beta"])
    # Both workspaces see the key let in; only acme approved it.
    assert [e["action"] for e in host.events()] == ["ssh.authorize", "ssh.approve"]
    [event] = host.events(actor="bea")
    assert (event["workspace"], event["action"], event["actor"]) == (
        "beta", "ssh.authorize", "owner",
    )  # fmt: skip
    fingerprint = fingerprint_of(ssh_key("alice"))
    code, _, err = host.run(
        "ssh", "authorize", "--account", "alice", "--key", fingerprint, "--workspace", "beta",
        "--authorized-keys", str(host.authorized_keys), actor="owner",
    )  # fmt: skip
    assert code != 0 and "only an owner of 'beta' may approve an SSH key of alice there" in err
    code, out, err = host.run(
        "ssh", "authorize", "--account", "alice", "--key", fingerprint, "--workspace", "beta",
        "--authorized-keys", str(host.authorized_keys), actor="bea",
    )  # fmt: skip
    assert code == 0, err
    assert "approved in beta (already approved in acme)" in out
    event = host.events(actor="bea")[-1]
    assert event["action"] == "ssh.approve" and (
        event["actor"],
        event["target"],
        event["label"],
    ) == ("bea", fingerprint, "alice")
    assert len(read_grants(host.authorized_keys)) == 1  # the same line: nothing added


def _attack(host: Host) -> str:
    """The issue's steps on the service account's store: returns the key's fingerprint."""
    host.ok("init", "--workspace", "mteam", actor="mallory")
    host.ok("member", "add", "--workspace", "mteam", "--member", "dave", "--role", "admin",
            actor="mallory")  # fmt: skip
    code, _, err = host.authorize("dave", ssh_key("mallory"), actor="mallory")
    assert code == 0, err
    return fingerprint_of(ssh_key("mallory"))


def test_the_attack_through_ssh_session(host):
    key = _attack(host)
    said = host.ok("member", "add", "--workspace", "acme", "--member", "dave", "--role", "admin")
    assert said.splitlines()[0] == "dave is now admin in acme"
    assert f"dave already has 1 SSH key ({key}) that cannot act in 'acme'" in said
    code, out, err = host.session(
        "dave", "key create --integration github --label stolen --json", key=key
    )
    assert_one_clean_line(code, out, err)
    assert code != 0 and f"keydesk ssh authorize --account dave --key {key} --workspace acme" in err
    code, out, err = host.session("dave", "member list --json", key=key)
    assert code == 0 and {m["workspace"] for m in json.loads(out)} == {"mteam"}, err
    code, _, err = host.session("dave", "audit --workspace acme", key=key)
    assert code != 0 and "not approved for dave in 'acme'" in err
    # acme's owner approves it with the command the refusal names; then it acts.
    approved = host.ok("ssh", "authorize", "--account", "dave", "--key", key, "--workspace",
                       "acme", "--authorized-keys", str(host.authorized_keys))  # fmt: skip
    assert "approved in acme (already approved in mteam)" in approved
    code, out, err = host.session(
        "dave", "key create --integration github --label ok --json", key=key
    )
    assert code == 0, err
    [event] = [e for e in host.events("ssh.approve") if e["workspace"] == "acme"]
    assert (event["actor"], event["target"], event["label"]) == ("owner", key, "dave")


def test_member_add_json_names_the_keys_that_wait(host):
    key = _attack(host)
    out = host.ok("member", "add", "--workspace", "acme", "--member", "dave", "--role", "viewer",
                  "--json")  # fmt: skip
    assert json.loads(out)["ssh_keys_awaiting_approval"] == [key]
    out = host.ok("member", "add", "--workspace", "acme", "--member", "erin", "--role", "viewer",
                  "--json")  # fmt: skip
    assert json.loads(out)["ssh_keys_awaiting_approval"] == []


def test_a_line_from_before_approvals_is_refused_until_an_owner_upgrades_it(host):
    key = host.approved_key("carol")
    text = host.authorized_keys.read_text()
    host.authorized_keys.write_text(text.replace(f' {key}"', '"'))  # as older keydesk wrote it
    host.monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
    host.monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "integration list")
    code, out, err = host.run("ssh-session", "carol", actor=None)
    assert_one_clean_line(code, out, err)
    assert code != 0 and "an owner upgrades it with: keydesk ssh authorize --account carol" in err
    listed = json.loads(host.ok("ssh", "list", "--json", "--authorized-keys",
                                str(host.authorized_keys)))  # fmt: skip
    assert [g["fingerprint"] for g in listed] == [key]
    said = host.ok("ssh", "authorize", "--account", "carol", "--key", key,
                   "--authorized-keys", str(host.authorized_keys))  # fmt: skip
    assert "already approved in acme" in said
    assert f'ssh-session carol {key}"' in host.authorized_keys.read_text()


@pytest.mark.parametrize(
    "command",
    [
        "scan /home",
        "scan",
        "scan - /etc",
        "scan --git -",
        "scan --staged -",
        "scan .",
    ],
)
def test_a_session_scans_no_file_of_the_server(host, command):
    code, out, err = host.session("alice", command)
    assert_one_clean_line(code, out, err)
    assert code == 3 and "scans only text you send, never files of this server" in err


def _scan_session(host: Host, command: str, sent: str) -> tuple[int, str, str]:
    """alice's session running `command` with `sent` on stdin as bytes, as sshd passes it."""
    key = host.approved_key("alice")
    host.monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
    host.monkeypatch.setenv("SSH_ORIGINAL_COMMAND", command)
    host.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(sent.encode())))
    code = main(["ssh-session", "alice", key])
    out, err = host.capsys.readouterr()
    return code, out, err


def test_a_session_scans_what_the_admin_sends_and_shows_nothing_of_other_workspaces(host):
    bea = KeyService(open_store(f"sqlite:///{host.store_path}"), "bea")
    try:
        bea.add_integration("beta", "secret-svc", "X", client_id="c",
                            redirect_uri="https://b.example.com/cb", configure=True)  # fmt: skip
        hidden = bea.create_key("secret-svc", "bea-private-label").private_key.reveal()
    finally:
        bea.store.dispose()
    owner = KeyService(open_store(f"sqlite:///{host.store_path}"), "owner")
    try:
        mine = owner.create_key("github", "acme-label").private_key.reveal()
    finally:
        owner.store.dispose()
    # alice is a viewer in beta, but her key is approved in acme only.
    code, out, err = _scan_session(host, "scan -", f"a={hidden}\nb={mine}\n")
    assert code == 2, err  # live keys
    assert "other-workspace" in out and "acme-label" in out
    assert "secret-svc" not in out + err and "bea-private-label" not in out + err
    code, out, err = _scan_session(host, "scan - --json", f"token={hidden}\n")
    [found] = json.loads(out)
    assert (found["label"], found["integration"], found["status"]) == (
        None,
        None,
        "other-workspace",
    )
