"""`keydesk ssh authorize/list/revoke` and `keydesk ssh-session`, in process:
who may let a key in, what is audited, what a session runs and refuses, and
what it takes from its environment (nothing that picks the store or the
account). tests/e2e/test_ssh.py runs the same through a real sshd."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pty
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import keydesk.cli.ssh as ssh_cli
from keydesk.cli import main
from keydesk.service import KeyService
from keydesk.ssh.authorized_keys import default_authorized_keys_path, read_grants
from keydesk.ssh.grant_line import running_keydesk_path
from keydesk.ssh.public_keys import fingerprint
from keydesk.ssh.session_command import NEVER_REMOTE, REMOTE_COMMANDS
from keydesk.store.engine import open_store
from keydesk.store.queries import Reads
from tests.cli.test_contract import HOSTILE, REFUSED, assert_one_clean_line

FOREIGN = b"# the admin's own key, by hand\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci\n"
FOREIGN_FINGERPRINT = fingerprint(base64.b64decode(FOREIGN.split()[-2]))


def ssh_key(seed: str) -> str:
    """A valid ssh-ed25519 public key line, different for each seed."""
    point = hashlib.sha256(seed.encode()).digest()
    blob = b"".join(len(f).to_bytes(4, "big") + f for f in (b"ssh-ed25519", point))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {seed}@laptop\n"


def fingerprint_of(line: str) -> str:
    return fingerprint(base64.b64decode(line.split()[1]))


class Host:
    """The service account's world: its home (where the default store and
    ~/.ssh live), and keydesk run in process as a proven account."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
        self.home = home
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.authorized_keys = home / ".ssh" / "authorized_keys"
        self.store_path = home / STORE

    def run(self, *args: str, actor: str | None = "owner", stdin: str = "") -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args), actor=actor)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str, actor: str | None = "owner", stdin: str = "") -> str:
        code, out, err = self.run(*args, actor=actor, stdin=stdin)
        assert code == 0, err
        return out

    def authorize(self, account: str, key: str, actor: str = "owner") -> tuple[int, str, str]:
        return self.run(
            "ssh", "authorize", "--account", account, "--key", "-",
            "--authorized-keys", str(self.authorized_keys), "--json",
            actor=actor, stdin=key,
        )  # fmt: skip

    def revoke(self, fingerprint: str, actor: str = "owner") -> tuple[int, str, str]:
        return self.run(
            "ssh", "revoke", "--fingerprint", fingerprint,
            "--authorized-keys", str(self.authorized_keys), "--json", actor=actor,
        )  # fmt: skip

    def events(self, action_prefix: str = "ssh.", actor: str = "owner") -> list[dict[str, object]]:
        out = self.ok("audit", "--json", actor=actor)
        events = [json.loads(line) for line in out.splitlines()]
        return [e for e in events if str(e["action"]).startswith(action_prefix)]

    def session(
        self,
        account: str,
        command: str | None,
        stdin: str = "",
        *,
        key: str | None = None,
        **environ: str,
    ) -> tuple[int, str, str]:
        """`keydesk ssh-session ACCOUNT FINGERPRINT` as sshd runs it, with
        SSH_ORIGINAL_COMMAND; by default through the account's own key
        (`ssh_key(account)`), authorized by `owner` (so approved in acme)."""
        key = self.approved_key(account) if key is None else key
        self.monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
        if command is None:
            self.monkeypatch.delenv("SSH_ORIGINAL_COMMAND", raising=False)
        else:
            self.monkeypatch.setenv("SSH_ORIGINAL_COMMAND", command)
        for name, value in environ.items():
            self.monkeypatch.setenv(name, value)
        return self.run("ssh-session", account, key, actor=None, stdin=stdin)

    def approved_key(self, account: str) -> str:
        """The fingerprint of `account`'s own key, let in by `owner` if it is not yet."""
        fingerprint = fingerprint_of(ssh_key(account))
        if not self.authorized_keys.exists() or fingerprint not in {
            grant.fingerprint for grant in read_grants(self.authorized_keys)
        }:
            code, _, err = self.authorize(account, ssh_key(account))
            assert code == 0, err
        return fingerprint


STORE = Path(".local") / "share" / "keydesk" / "keydesk.db"  # the default, under a home


@pytest.fixture(scope="module")
def template_store(tmp_path_factory) -> Path:
    """Workspace acme owned by `owner` (admins `alice` and `carol`, viewer
    `vic`) with a configured integration github; workspace beta owned by
    `bea`, with alice a viewer. Made once, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "keydesk.db"
    store = open_store(f"sqlite:///{path}", create=True)
    owner = KeyService(store, "owner")
    owner.create_workspace("acme")
    for member, role in (("alice", "admin"), ("vic", "viewer"), ("carol", "admin")):
        owner.add_member("acme", member, role)
    owner.add_integration(
        "acme", "github", "GitHub", client_id="Iv1.abc",
        redirect_uri="https://app.example.com/cb", configure=True,
    )  # fmt: skip
    bea = KeyService(store, "bea")
    bea.create_workspace("beta")
    bea.add_member("beta", "alice", "viewer")
    store.dispose()  # checkpoints the WAL into the file
    return path


@pytest.fixture
def host(tmp_path, monkeypatch, capsys, template_store) -> Host:
    """The service account's home, its default store a copy of the template."""
    home = tmp_path / "svc"
    store = home / STORE
    store.parent.mkdir(parents=True, mode=0o700)
    shutil.copyfile(template_store, store)
    store.chmod(0o600)
    monkeypatch.setattr(ssh_cli, "service_home", lambda: str(home))
    monkeypatch.setenv("HOME", str(home))
    for name in (*ssh_cli.SESSION_IGNORES, "SUDO_USER", "SUDO_UID", "SSH_ORIGINAL_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    return Host(home, monkeypatch, capsys)


ALICE = ssh_key("alice")
CAROL = ssh_key("carol")


# -- keydesk ssh authorize -----------------------------------------------------------


def test_authorize_writes_the_forced_command_line_and_audits_it(host):
    code, out, err = host.authorize("carol", CAROL)
    assert code == 0, err
    keydesk = running_keydesk_path()
    assert host.authorized_keys.read_text() == (
        f'command="{keydesk} ssh-session carol {fingerprint_of(CAROL)}",restrict,pty '
        f"{' '.join(CAROL.split()[:2])} keydesk:carol\n"
    )
    assert stat.S_IMODE(host.authorized_keys.stat().st_mode) == 0o600
    assert stat.S_IMODE(host.authorized_keys.parent.stat().st_mode) == 0o700
    said = json.loads(out)
    assert said == {
        "fingerprint": fingerprint_of(CAROL),
        "account": "carol",
        "key_type": "ssh-ed25519",
        "line": 1,
        "keydesk": keydesk,
        "authorized_keys": str(host.authorized_keys),
        "bits": 256,
        "approved": ["acme"],
        "already": [],
        "awaiting": [],
    }
    authorized, approved = host.events()
    for event, action in ((authorized, "ssh.authorize"), (approved, "ssh.approve")):
        assert (event["workspace"], event["actor"], event["action"]) == ("acme", "owner", action)
        assert (event["target"], event["label"]) == (fingerprint_of(CAROL), "carol")


def test_authorize_says_how_to_connect(host):
    code, out, _ = host.run(
        "ssh", "authorize", "--account", "carol", "--key", "-",
        "--authorized-keys", str(host.authorized_keys), stdin=CAROL,
    )  # fmt: skip
    assert code == 0
    assert out.startswith(f"{fingerprint_of(CAROL)} (ssh-ed25519) now opens keydesk as carol")
    assert "ssh -t " in out and out.count("\n") == 1


def test_the_key_may_come_from_a_file(host, tmp_path):
    pub = tmp_path / "carol.pub"
    pub.write_text(CAROL)
    code, _, err = host.run(
        "ssh", "authorize", "--account", "carol", "--key", str(pub),
        "--authorized-keys", str(host.authorized_keys),
    )  # fmt: skip
    assert code == 0, err
    assert [g.account for g in read_grants(host.authorized_keys)] == ["carol"]


def test_the_default_file_is_the_service_accounts(host, monkeypatch):
    target = host.home / ".ssh" / "authorized_keys"
    monkeypatch.setattr("keydesk.ssh.authorized_keys.default_authorized_keys_path", lambda: target)
    code, _, err = host.run("ssh", "authorize", "--account", "carol", "--key", "-", stdin=CAROL)
    assert code == 0, err
    assert [g.account for g in read_grants(target)] == ["carol"]


def test_the_default_file_comes_from_the_user_database_not_home(monkeypatch, tmp_path):
    import pwd

    monkeypatch.setenv("HOME", str(tmp_path))  # what sudo without -H may leave behind
    home = pwd.getpwuid(os.geteuid()).pw_dir
    assert default_authorized_keys_path() == Path(home) / ".ssh" / "authorized_keys"


def test_an_owner_may_authorize_their_own_key_whatever_their_other_roles(host):
    host.ok(
        "member", "add", "--workspace", "beta", "--member", "owner", "--role", "viewer", actor="bea"
    )
    code, _, err = host.authorize("owner", ALICE)
    assert code == 0, err
    assert {e["workspace"] for e in host.events()} == {"acme", "beta"}  # wherever the key acts


@pytest.mark.parametrize(
    ("account", "actor", "message"),
    [
        # bea is only in beta, which owner does not own: no owner of beta
        # has a say in this, so nothing would approve the key anywhere.
        ("bea", "owner", "bea is in no workspace owner owns (only 'beta')"),
        ("carol", "alice", "only owners may let SSH keys in or out; alice owns no workspace"),
        ("vic", "vic", "vic owns no workspace"),
        ("nobody", "owner", "nobody is not a member of any workspace; add them first"),
    ],
)
def test_who_may_not_authorize(host, account, actor, message):
    code, out, err = host.authorize(account, CAROL, actor=actor)
    assert code != 0 and out == ""
    assert_one_clean_line(code, out, err)
    assert message in err
    assert not host.authorized_keys.exists()  # nothing written
    assert host.events() == []  # nothing recorded


def test_a_refused_write_records_nothing(host):
    assert host.authorize("carol", CAROL)[0] == 0
    code, _, err = host.authorize("vic", CAROL)  # the same key for another account
    assert code != 0 and "opens keydesk as carol, not vic" in err
    assert len(host.events()) == 2  # carol's authorization and approval
    code, out, err = host.authorize("carol", CAROL)  # the same again: nothing new
    assert code == 0 and json.loads(out)["already"] == ["acme"], err
    assert len(host.events()) == 2
    host.authorized_keys.write_bytes(FOREIGN)
    foreign_key = b" ".join(FOREIGN.splitlines()[1].split()[:2]).decode()
    code, _, err = host.authorize("carol", foreign_key)
    assert code != 0 and "which keydesk did not write" in err
    assert host.authorized_keys.read_bytes() == FOREIGN
    assert len(host.events()) == 2


def test_a_private_key_given_by_mistake_is_refused_unseen(host, tmp_path):
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"
    path = tmp_path / "id_ed25519"
    path.write_text(secret)
    code, out, err = host.run("ssh", "authorize", "--account", "carol", "--key", str(path))
    assert code != 0 and "that is a private key: give its .pub file" in err
    assert "b3BlbnNzaC1" not in out + err
    assert_one_clean_line(code, out, err)


def test_an_unreadable_key_file_is_one_line(host, tmp_path):
    code, out, err = host.run(
        "ssh", "authorize", "--account", "carol", "--key", str(tmp_path / "missing.pub")
    )
    assert code != 0 and "cannot read" in err and "No such file" in err
    assert_one_clean_line(code, out, err)


def test_a_huge_key_file_is_refused(host):
    code, _, err = host.run(
        "ssh", "authorize", "--account", "carol", "--key", "-", stdin="ssh-ed25519 " + "A" * 20_000
    )
    assert code != 0 and "not one public key" in err


# -- the store SSH sessions open -------------------------------------------------------


def test_authorize_checks_the_store_sessions_open_not_another(host, tmp_path, monkeypatch):
    other = tmp_path / "other.db"
    open_store(f"sqlite:///{other}", create=True).dispose()
    monkeypatch.setenv("KEYDESK_DATABASE_URL", str(other))
    code, out, err = host.authorize("carol", CAROL)
    assert code != 0 and out == ""
    assert "KEYDESK_DATABASE_URL names another store than the one SSH sessions open" in err
    assert str(host.store_path) in err
    monkeypatch.setenv("KEYDESK_DATABASE_URL", f"sqlite:///{host.store_path}")  # the same one
    assert host.authorize("carol", CAROL)[0] == 0
    code, _, err = host.run("--db", str(other), "ssh", "revoke", "--fingerprint", "x" * 43)
    assert code != 0  # --db names another store too (or the fingerprint is refused first)


def test_on_postgresql_ssh_access_is_refused_with_the_reason(host, monkeypatch):
    monkeypatch.setenv("KEYDESK_DATABASE_URL", "postgresql+psycopg://keydesk@db.internal/keydesk")
    code, out, err = host.authorize("carol", CAROL)
    assert_one_clean_line(code, out, err)
    assert code != 0 and "on PostgreSQL each admin connects as their own role" in err


def test_the_service_refuses_ssh_access_on_postgresql(team):
    from keydesk.errors import PermissionDenied

    service = team.service_as("alice")
    written: list[str] = []
    with pytest.raises(PermissionDenied, match="on PostgreSQL"):
        service.authorize_ssh_key(service.actor, "SHA256:x", lambda: written.append("x"))
    assert written == []


def test_authorize_never_creates_a_store(tmp_path, monkeypatch, capsys):
    home = tmp_path / "empty"
    home.mkdir()
    monkeypatch.setattr(ssh_cli, "service_home", lambda: str(home))
    for name in ssh_cli.SESSION_IGNORES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(CAROL))
    code = main(
        ["ssh", "authorize", "--account", "carol", "--key", "-", "--authorized-keys",
         str(home / "ak")], actor="owner",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "no keydesk store at" in err and "keydesk init" in err
    assert not (home / ".local").exists() and not (home / "ak").exists()


# -- keydesk ssh list ------------------------------------------------------------------


def test_list_shows_keydesks_lines_only(host):
    host.authorized_keys.parent.mkdir(mode=0o700)
    host.authorized_keys.write_bytes(FOREIGN)
    host.authorized_keys.chmod(0o600)
    assert host.authorize("carol", CAROL)[0] == 0
    host.ok("member", "add", "--workspace", "acme", "--member", "owner2", "--role", "owner")
    assert host.authorize("owner", ALICE)[0] == 0
    listed = json.loads(
        host.ok("ssh", "list", "--json", "--authorized-keys", str(host.authorized_keys))
    )
    assert [(g["account"], g["fingerprint"], g["line"]) for g in listed] == [
        ("carol", fingerprint_of(CAROL), 3),
        ("owner", fingerprint_of(ALICE), 4),
    ]
    table = host.ok("ssh", "list", "--authorized-keys", str(host.authorized_keys))
    assert table.splitlines()[0].split() == ["FINGERPRINT", "ACCOUNT", "TYPE", "LINE"]
    assert FOREIGN_FINGERPRINT not in table and "deploy" not in table
    assert len(table.splitlines()) == 3


def test_list_of_a_missing_file_is_empty(host, tmp_path):
    assert (
        json.loads(host.ok("ssh", "list", "--json", "--authorized-keys", str(tmp_path / "no")))
        == []
    )


def test_list_takes_no_store_option(host):
    code, out, err = host.run("ssh", "list", "--db", "x")
    assert code != 0 and "unrecognized arguments: --db" in err
    assert_one_clean_line(code, out, err)


# -- keydesk ssh revoke ----------------------------------------------------------------


def test_revoke_removes_the_line_keeps_the_rest_and_audits_it(host):
    host.authorized_keys.parent.mkdir(mode=0o700)
    host.authorized_keys.write_bytes(FOREIGN)
    host.authorized_keys.chmod(0o600)
    assert host.authorize("carol", CAROL)[0] == 0
    code, out, err = host.revoke(fingerprint_of(CAROL).removeprefix("SHA256:"))
    assert code == 0, err
    said = json.loads(out)
    assert (said["account"], said["fingerprint"], said["removed"]) == (
        "carol", fingerprint_of(CAROL), True,
    )  # fmt: skip
    assert host.authorized_keys.read_bytes() == FOREIGN
    assert [(e["action"], e["label"]) for e in host.events()] == [
        ("ssh.authorize", "carol"), ("ssh.approve", "carol"), ("ssh.revoke", "carol"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fingerprint", "message"),
    [
        ("SHA256:" + "A" * 43, "no keydesk line in"),
        (FOREIGN_FINGERPRINT, "which keydesk did not write; keydesk leaves it alone"),
        ("MD5:12:34", "MD5 fingerprint"),
        ("nonsense", "is not a SHA256 fingerprint"),
    ],
)
def test_revoke_refusals_are_one_line_and_change_nothing(host, fingerprint, message):
    assert host.authorize("carol", CAROL)[0] == 0
    with host.authorized_keys.open("ab") as handle:
        handle.write(FOREIGN)
    before = host.authorized_keys.read_bytes()
    code, out, err = host.revoke(fingerprint)
    assert_one_clean_line(code, out, err)
    assert code != 0 and message in err
    assert host.authorized_keys.read_bytes() == before


def test_only_owners_of_the_accounts_workspaces_may_revoke(host):
    host.ok(
        "member", "add", "--workspace", "beta", "--member", "owner", "--role", "owner", actor="bea"
    )
    assert host.authorize("alice", ALICE)[0] == 0
    for actor, message in (
        ("carol", "carol owns no workspace"),
        ("bea", f"{fingerprint_of(ALICE)} acts as alice in 'acme', which bea does not own"),
    ):
        code, _, err = host.revoke(fingerprint_of(ALICE), actor=actor)
        assert code != 0 and message in err
    assert [g.account for g in read_grants(host.authorized_keys)] == ["alice"]
    assert host.revoke(fingerprint_of(ALICE), actor="owner")[0] == 0


def test_a_key_of_an_account_that_left_every_workspace_may_be_revoked_by_an_owner(host):
    assert host.authorize("carol", CAROL)[0] == 0
    host.ok("member", "remove", "--workspace", "acme", "--member", "carol")
    assert host.revoke(fingerprint_of(CAROL))[0] == 0
    assert read_grants(host.authorized_keys) == []
    assert [e["workspace"] for e in host.events() if e["action"] == "ssh.revoke"] == ["acme"]


# -- hostile values --------------------------------------------------------------------

SSH_COMMANDS = {
    "authorize --account": ["ssh", "authorize", "--account", "{}", "--key", "-"],
    "authorize --key": ["ssh", "authorize", "--account", "carol", "--key", "{}"],
    "revoke --fingerprint": ["ssh", "revoke", "--fingerprint", "{}"],
    "list --authorized-keys": ["ssh", "list", "--authorized-keys", "{}"],
    "ssh-session ACCOUNT": ["ssh-session", "{}"],
    "ssh-session FINGERPRINT": ["ssh-session", "alice", "{}"],
}


@pytest.mark.parametrize("value_name", HOSTILE)
@pytest.mark.parametrize("command", SSH_COMMANDS)
def test_every_ssh_command_with_every_hostile_value(host, command, value_name, monkeypatch):
    value = HOSTILE[value_name]
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "key list --integration github")
    argv = [value if arg == "{}" else arg for arg in SSH_COMMANDS[command]]
    argv += (
        ["--authorized-keys", str(host.authorized_keys)]
        if command != "list --authorized-keys" and not command.startswith("ssh-session")
        else []
    )
    code, out, err = host.run(*argv, stdin=CAROL)
    assert_one_clean_line(code, out, err, value, db_url=False)
    if value_name in REFUSED and command != "list --authorized-keys":
        assert code != 0, (out, err)
    assert not host.authorized_keys.exists() or read_grants(host.authorized_keys) == []


# -- keydesk ssh-session -----------------------------------------------------------------


def test_a_session_command_runs_as_the_forced_commands_account(host):
    code, out, err = host.session(
        "alice", "key create --integration github --label 'CI runner' --json"
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["created_by"] == "alice" and created["label"] == "CI runner"
    [event] = host.events("key.create")
    assert event["actor"] == "alice"


def test_a_session_ignores_what_the_client_could_set_in_its_environment(host, tmp_path):
    # A store of the client's choosing, where mallory is an owner.
    other = tmp_path / "elsewhere" / "keydesk" / "keydesk.db"
    store = open_store(f"sqlite:///{other}", create=True)
    KeyService(store, "alice").create_workspace("mallory-land")
    store.dispose()
    code, out, err = host.session(
        "alice", "integration list --json",
        KEYDESK_DATABASE_URL=f"sqlite:///{other}",
        XDG_DATA_HOME=str(tmp_path / "elsewhere"),
        KEYDESK_ACCOUNT="owner",
        KEYDESK_DEBUG="1",
    )  # fmt: skip
    assert code == 0, err
    assert [i["workspace"] for i in json.loads(out)] == ["acme"]  # the service account's store
    code, out, _ = host.session("alice", "init --workspace mine --json")
    assert json.loads(out)["owner"] == "alice"  # not KEYDESK_ACCOUNT's owner


def test_verify_over_ssh_says_only_valid_of_a_key_of_a_workspace_not_approved(host):
    """README: over SSH, `verify` of a key of a workspace the session's key may not act
    in says only `valid: kdpk_…` (--json: `valid` and `public_key`)."""
    store = open_store(f"sqlite:///{host.store_path}")
    try:
        bea = KeyService(store, "bea")  # alice is a viewer in beta, her key approved in acme only
        bea.add_integration(
            "beta", "gitlab", "GitLab", client_id="g", redirect_uri="https://b.example/cb",
            configure=True,
        )  # fmt: skip
        made = bea.create_key("gitlab", "beta deploy")
    finally:
        store.dispose()
    secret, public_key = made.private_key.reveal(), made.key.public_key
    code, out, err = host.session("alice", "verify", stdin=f"{secret}\n")
    assert (code, out) == (0, f"valid: {public_key}\n"), err
    code, out, err = host.session("alice", "verify --json", stdin=f"{secret}\n")
    assert code == 0, err
    assert json.loads(out) == {"valid": True, "public_key": public_key}
    # Locally, bea sees it all: the same key, so the session's answer is the narrowing.
    code, out, err = host.run("verify", actor="bea", stdin=f"{secret}\n")
    assert code == 0 and "'beta deploy' integration gitlab in beta" in out, err


def test_a_session_reads_the_audit_trail_and_members(host):
    code, out, err = host.session("alice", "audit --workspace acme --json")
    assert code == 0, err
    assert {json.loads(line)["action"] for line in out.splitlines()} >= {"member.add"}
    code, out, err = host.session("alice", "member list --workspace acme --json")
    assert code == 0 and "vic" in out


def test_over_ssh_member_add_takes_member_not_account(host):
    code, _, err = host.session("alice", "member add --workspace acme --account dave --role viewer")
    assert code != 0 and "--account cannot be given over SSH" in err
    code, out, err = host.session(
        "alice", "member add --workspace acme --member dave --role viewer --json"
    )
    assert code == 0, err
    assert json.loads(out)["account"] == "dave"
    [event] = [e for e in host.events("member.add") if e["target"] == "dave"]
    assert event["actor"] == "alice"


def test_member_add_still_takes_account_locally(host):
    host.ok("member", "add", "--workspace", "acme", "--account", "erin", "--role", "viewer")
    assert "erin" in host.ok("member", "list", "--workspace", "acme")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("sh -c id", "'sh' is not a keydesk command that runs over SSH"),
        ("key list; rm -rf /", "';' is shell syntax"),
        ("key list --integration github --db /tmp/x", "--db cannot be given over SSH"),
        ("audit --account owner", "--account cannot be given over SSH"),
        ("ssh authorize --account alice --key -", "`keydesk ssh` cannot be run over SSH"),
        ("ssh-session owner", "`keydesk ssh-session` cannot be run over SSH"),
        ("scan /", "in an SSH session keydesk scans only text you send"),
        ("demo", "`keydesk demo` cannot be run over SSH"),
        ("", "no command given"),
    ],
)
def test_a_session_refuses_what_is_not_a_keydesk_command(host, command, message):
    code, out, err = host.session("alice", command)
    assert_one_clean_line(code, out, err)
    assert code != 0 and out == "" and message in err


def test_a_session_without_a_command_opens_the_tui_as_the_account(host, monkeypatch):
    import keydesk.tui.app

    opened: list[tuple[str, str | None, str | None]] = []
    monkeypatch.setattr(
        keydesk.tui.app,
        "run",
        lambda url, proven=None, ssh_key=None: opened.append((url, proven, ssh_key)) or 0,
    )
    code, _, err = host.session("alice", None)
    assert code != 0 and "no terminal for the TUI: connect with ssh -t" in err
    assert opened == []
    monkeypatch.setattr("keydesk.cli.interface.has_terminal", lambda: True)
    assert host.session("alice", None, KEYDESK_DATABASE_URL="sqlite:////tmp/x.db")[0] == 0
    assert opened == [(f"sqlite:///{host.store_path}", "alice", fingerprint_of(ssh_key("alice")))]


@pytest.mark.parametrize(
    ("prefix", "environ", "message"),
    [
        (("--db", "/tmp/x.db"), {}, "takes neither --db nor --account"),
        (("--account", "bob"), {}, "takes neither --db nor --account"),
        ((), {"SUDO_USER": "bob"}, "never through sudo"),
    ],
)
def test_a_session_runs_only_as_sshds_forced_command(host, monkeypatch, prefix, environ, message):
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "key list --integration github")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code, out, err = host.run(*prefix, "ssh-session", "alice", actor=None)
    assert_one_clean_line(code, out, err)
    assert code != 0 and message in err


def test_a_session_outside_sshd_is_refused(host, monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    code, _, err = host.run("ssh-session", "alice", actor=None)
    assert code != 0 and "runs only as sshd's forced command (no SSH connection)" in err


def test_ssh_session_is_not_listed_in_help(host):
    out = host.ok("--help")
    assert "ssh-session" not in out and "ssh " in out


def test_the_remote_commands():
    assert {"init", "member", "integration", "key", "verify", "audit", "scan"} == REMOTE_COMMANDS
    assert {"ssh", "ssh-session", "demo", "serve"} <= NEVER_REMOTE
    assert "postgres" not in REMOTE_COMMANDS


def test_a_client_cannot_turn_on_tracebacks(host, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug, with kdsk_ details nobody should see")

    monkeypatch.setattr(Reads, "integrations", broken)
    code, out, err = host.session("alice", "integration list", KEYDESK_DEBUG="1")
    assert code == 70 and out == ""
    assert err == (
        "keydesk: internal error (RuntimeError); please report it (set KEYDESK_DEBUG=1 for details)\n"
    )


def test_the_cli_names_the_session_command_as_the_grant_line_does():
    from keydesk import cli
    from keydesk.ssh import grant_line

    assert ssh_cli.SESSION_COMMAND == grant_line.SESSION_COMMAND
    assert cli.DEBUG_ENV in ssh_cli.SESSION_IGNORES


def test_a_session_never_ends_at_a_python_prompt(tmp_path):
    """PYTHONINSPECT (which an sshd whose AcceptEnv is too broad takes from
    the client) opens a Python prompt when the program ends: a session ends
    first, in one line, whatever it was asked."""
    primary, secondary = pty.openpty()  # a terminal, where the prompt would read
    os.write(primary, b"\x04")  # and an end of input for it, should it appear
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "SSH_CONNECTION": "127.0.0.1 50000 127.0.0.1 22",
        "SSH_ORIGINAL_COMMAND": "key list --integration github",
        "PYTHONINSPECT": "1",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from keydesk.cli import main; sys.exit(main())",
             "ssh-session", "alice"],
            stdin=secondary, capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
    finally:
        os.close(secondary)
        os.close(primary)
    assert (done.returncode, done.stdout) == (1, "")  # refused
    assert done.stderr == (
        "keydesk: keydesk ssh-session refuses to run with PYTHONINSPECT set (it would end at a "
        "Python prompt); let sshd's AcceptEnv pass no PYTHON* variable\n"
    )
