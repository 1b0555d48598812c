"""End to end against a real OpenSSH server (tests/support/sshd.py), deployed as the
README says: a service account owns the store and runs keydesk; an owner
lets an admin's key in with `keydesk ssh authorize`; the admin then works
with nothing but `ssh`, and the audit trail names them.

The forced command is the real `keydesk ssh-session`, from a virtual
environment the service account can run (tests/support/sshd.py install_keydesk:
this checkout, linked, under a Python that account may execute), reached
through a path with a space in it so the line's quoting is exercised too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time

import pytest

from keydesk.ssh.authorized_keys import read_grants
from keydesk.ssh.public_keys import parse_public_key
from tests.support.sshd import (
    SshServer,
    client_environment,
    keygen,
    uid_of,
    unavailable,
)
from tests.support.tmux import Tmux

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")


def succeeded(result: subprocess.CompletedProcess[str], server: SshServer) -> str:
    assert result.returncode == 0, f"{result.stderr}\n--- sshd log ---\n{server.log_text()}"
    return result.stdout


def test_an_authorized_key_creates_an_api_key_as_its_account(deployment, tmp_path):
    server = deployment.server
    key = keygen(tmp_path / "id_ed25519")
    said = deployment.authorize("alice", key)

    public = parse_public_key(key.with_suffix(".pub").read_text())
    quoted = shlex.quote(deployment.keydesk)
    assert (
        f'command="{quoted} ssh-session alice {public.fingerprint}",restrict,pty'
        f" {public.openssh()} keydesk:alice\n" in (server.authorized_keys.read_text())
    )
    assert said["fingerprint"] == public.fingerprint and said["keydesk"] == deployment.keydesk
    for path in (server.authorized_keys.parent, server.authorized_keys):  # StrictModes took them
        assert path.stat().st_uid == uid_of(server.user)

    created = json.loads(
        succeeded(
            server.ssh(key, "key", "create", "--integration", "github", "--label", "e2e", "--json"),
            server,
        )
    )
    assert created["created_by"] == "alice" and created["api_key"].startswith("kdsk_")
    assert public.fingerprint in server.log_text()  # sshd logs the key it accepted

    events = deployment.audit()
    [made] = [e for e in events if e["action"] == "key.create" and e["label"] == "e2e"]
    assert made["actor"] == "alice" and made["target"] == created["public_key"]
    [let_in] = [
        e for e in events if e["action"] == "ssh.authorize" and e["target"] == public.fingerprint
    ]
    assert let_in["actor"] == server.user and let_in["label"] == "alice"

    # Scripts work over SSH, stdin included; so does reading the trail.
    verified = server.ssh(key, "verify", "--json", input=created["api_key"] + "\n")
    assert json.loads(succeeded(verified, server))["valid"] is True
    trail = succeeded(server.ssh(key, "audit", "--workspace", "acme", "--json"), server)
    assert created["public_key"] in trail


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("sh -c id", "'sh' is not a keydesk command that runs over SSH"),
        ("key list --integration github; rm -rf {canary}", "';' is shell syntax"),
        ("key list --integration github --db /tmp/x.db", "--db cannot be given over SSH"),
        ("integration list --account root", "--account cannot be given over SSH"),
        ("ssh authorize --account alice --key -", "`keydesk ssh` cannot be run over SSH"),
        ("scp -t .", "'scp' is not a keydesk command"),
        pytest.param(
            "key list --integration " + "a" * 9000, "at most 8192 are allowed", id="very-long"
        ),
        pytest.param(
            os.fsdecode(b"key list --integration caf\xe9"), "not UTF-8 text", id="latin-1"
        ),
    ],
)
def test_anything_but_a_keydesk_command_is_refused(deployment, alice, command, message):
    server = deployment.server
    canary = server.home / "canary"
    canary.mkdir(exist_ok=True)
    result = server.ssh(alice, command.format(canary=canary))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("keydesk: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert canary.is_dir()  # nothing after the `;` ran


def test_the_literal_rm_rf_is_refused_before_anything_runs(deployment, alice):
    result = deployment.server.ssh(alice, "key list; rm -rf /")
    assert result.returncode == 1 and "';' is shell syntax" in result.stderr


def test_without_a_terminal_or_a_command_it_says_how_to_connect(deployment, alice):
    result = deployment.server.ssh(alice, options=["-T"])
    assert result.returncode == 2
    assert "no terminal for the TUI: connect with ssh -t" in result.stderr


def test_quoting_survives_the_trip(deployment, alice):
    server = deployment.server
    created = server.ssh(
        alice, "key", "create", "--integration", "github", "--label", "'CI runner'", "--json"
    )
    assert json.loads(succeeded(created, server))["label"] == "CI runner"


def test_an_account_with_shell_characters_reaches_keydesk_intact(deployment, tmp_path):
    name = "bob$HOME;x"
    deployment.ok("member", "add", "--workspace", "acme", "--member", name, "--role", "admin")
    key = keygen(tmp_path / "bob")
    deployment.authorize(name, key)
    made = succeeded(
        deployment.server.ssh(key, "init", "--workspace", "bobs", "--json"), deployment.server
    )
    assert json.loads(made)["owner"] == name


def test_file_transfer_is_refused(deployment, alice, tmp_path):
    """sftp (a subsystem, which scp uses too) and legacy scp get the forced
    command as well, which refuses them: the key runs keydesk and nothing
    else, not even to copy a file in."""
    server = deployment.server
    payload = tmp_path / "payload"
    payload.write_text("not for the service account\n")
    target = f"{server.user}@127.0.0.1"
    options = [*server.client_options(alice), "-P", str(server.port)]
    env = client_environment()

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, input=f"put {payload}\n", capture_output=True, text=True, timeout=30, env=env
        )

    legacy = run("scp", "-O", *options, str(payload), f"{target}:payload")
    assert legacy.returncode != 0
    assert "keydesk: 'scp' is not a keydesk command that runs over SSH" in legacy.stderr
    # The sftp clients show no remote stderr; that they fail is what counts.
    assert run("scp", *options, str(payload), f"{target}:payload").returncode != 0
    assert run("sftp", "-b", "-", *options, target).returncode != 0
    assert not (server.home / "payload").exists()


class _Greeter:
    """A TCP server on loopback that says hello to whoever connects."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.served = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                self.served += 1
                connection.sendall(b"hello\n")

    def close(self) -> None:
        self.socket.close()


def _read_from(address: str | tuple[str, int]) -> bytes:
    """What a new connection to `address` reads before it is closed."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as connection:
        connection.settimeout(10)
        connection.connect(address)
        try:
            return connection.recv(100)
        except ConnectionResetError:
            return b""


def _stop(process: subprocess.Popen[str]) -> None:
    # Not SIGTERM: OpenSSH 9.2's client, idle in -N, now and then misses it
    # (its handler sets a flag that its poll loop may not look at again).
    process.kill()
    process.wait(timeout=10)


def _refused_forwards(server: SshServer, port: int) -> int:
    return sum(
        1
        for line in server.log_text().splitlines()
        if "refused local port forward" in line and line.endswith(f"target 127.0.0.1 port {port}")
    )


def test_port_forwarding_is_refused(deployment, alice, tmp_path):
    server = deployment.server
    greeter = _Greeter()
    try:
        assert _read_from(("127.0.0.1", greeter.port)) == b"hello\n"  # the control

        # -L, listening on a Unix socket here (no port to race for); sshd is
        # asked to connect to the greeter and must refuse.
        local = tmp_path / "forward.sock"
        forward = subprocess.Popen(
            server.ssh_command(
                alice,
                options=[
                    "-N",
                    "-o",
                    "ExitOnForwardFailure=yes",
                    "-L",
                    f"{local}:127.0.0.1:{greeter.port}",
                ],
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=client_environment(),
        )
        try:
            deadline = time.monotonic() + 15
            while True:  # ssh listens once logged in; its socket file comes just before
                assert forward.poll() is None, forward.communicate()[1]
                assert time.monotonic() < deadline, "ssh -L did not listen within 15 s"
                if local.exists():
                    try:
                        read = _read_from(str(local))
                        break
                    except ConnectionRefusedError:  # bound, not yet listening (seen in CI)
                        pass
                time.sleep(0.05)
            assert read == b""  # closed: sshd refused the channel
        finally:
            _stop(forward)

        # -W (stdio forwarding) asks the same of sshd, and fails outright.
        stdio = server.ssh(alice, options=["-W", f"127.0.0.1:{greeter.port}"])
        assert stdio.returncode == 255 and stdio.stdout == ""

        # -R: sshd refuses to listen for us.
        remote = server.ssh(
            alice,
            options=["-N", "-o", "ExitOnForwardFailure=yes", "-R", f"0:127.0.0.1:{greeter.port}"],
        )
        assert remote.returncode == 255
        assert "remote port forwarding failed" in remote.stderr

        assert greeter.served == 1  # the control alone
        deadline = time.monotonic() + 5  # each session's sshd writes the log itself
        while _refused_forwards(server, greeter.port) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _refused_forwards(server, greeter.port) == 2
    finally:
        greeter.close()


def test_ssh_t_opens_the_tui_as_the_account(deployment, alice):
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed (Debian: apt-get install -y tmux)")
    terminal = Tmux(shlex.join(deployment.server.ssh_command(alice, options=["-t"])))
    try:
        screen = terminal.wait_for(
            lambda text: "github" in text and re.search(r"alice . admin . acme", text) is not None,
            "TUI with alice's workspace and its integration",
        )
        assert "GitHub" in screen
        terminal.keys("C-q")
        terminal.wait_for(lambda text: "EXIT=" in text, "end of the session", timeout=30)
        assert "EXIT=0" in terminal.screen()
    finally:
        terminal.close()


def test_a_key_made_in_the_tui_over_ssh_reaches_the_admins_clipboard(deployment, alice):
    """Done means: with one `ssh -t`, alice makes a key in the TUI, copies it
    (OSC 52, through sshd and tmux to her side), and the trail names her."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed (Debian: apt-get install -y tmux)")
    terminal = Tmux(shlex.join(deployment.server.ssh_command(alice, options=["-t"])))
    try:
        terminal.wait_for(lambda text: "github" in text and "alice" in text, "integration list")
        terminal.keys("g")
        terminal.wait_for(lambda text: "Create API key" in text, "the create screen")
        terminal.keys("-l", "from the TUI")
        terminal.keys("C-s")
        screen = terminal.wait_for(lambda text: "API key created" in text, "the new key")
        [shown] = re.findall(r"kdsk_[A-Za-z0-9_]{66}", screen)
        terminal.keys("c")
        terminal.wait_for(lambda _: terminal.clipboard() == shown, "the key in tmux's buffer")
    finally:
        terminal.close()
    [made] = [e for e in deployment.audit() if e["label"] == "from the TUI"]
    assert (made["action"], made["actor"]) == ("key.create", "alice")
    verified = deployment.server.ssh(alice, "verify", "--json", input=shown + "\n")
    assert json.loads(succeeded(verified, deployment.server))["valid"] is True


def test_the_clients_environment_picks_neither_store_nor_account(deployment, alice, tmp_path):
    other = tmp_path / "other.db"
    sent = f"KEYDESK_DATABASE_URL=sqlite:///{other} KEYDESK_ACCOUNT=root XDG_DATA_HOME={tmp_path}"
    server = deployment.server
    made = server.ssh(alice, "init", "--workspace", "env-test", "--json",
                      options=["-o", f"SetEnv={sent}"])  # fmt: skip
    assert json.loads(succeeded(made, server))["owner"] == "alice"
    # In the service account's store, where a session without them finds it.
    members = server.ssh(alice, "member", "list", "--workspace", "env-test", "--json")
    assert "alice" in succeeded(members, server)
    assert not other.exists() and not (tmp_path / "keydesk").exists()


def test_a_client_cannot_end_a_session_at_a_python_prompt(deployment, alice):
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed (Debian: apt-get install -y tmux)")
    command = deployment.server.ssh_command(alice, options=["-t", "-o", "SetEnv=PYTHONINSPECT=1"])
    terminal = Tmux(shlex.join(command))
    try:
        screen = terminal.wait_for(lambda text: "EXIT=" in text, "end of the session")
        assert "refuses to run with PYTHONINSPECT set" in screen
        assert "EXIT=1" in screen and ">>>" not in screen
    finally:
        terminal.close()


def test_an_owner_working_through_sudo_is_who_the_trail_names(deployment, tmp_path):
    """The README's set-up: the first owner runs keydesk as the service
    account with `sudo -u`, and the trail names them, not the account."""
    server = deployment.server
    said = deployment.ok("init", "--workspace", "ops", sudo_by="root")
    assert "you (root) are its owner" in said
    deployment.ok("member", "add", "--workspace", "ops", "--member", "frank", "--role", "admin",
                  sudo_by="root")  # fmt: skip
    key = keygen(tmp_path / "frank")
    authorized = deployment.ok(
        "ssh", "authorize", "--account", "frank", "--key", "-", "--json",
        input=key.with_suffix(".pub").read_text(), sudo_by="root",
    )  # fmt: skip
    fingerprint = json.loads(authorized)["fingerprint"]
    members = json.loads(succeeded(server.ssh(key, "member", "list", "--json"), server))
    assert {(m["account"], m["role"]) for m in members} == {("root", "owner"), ("frank", "admin")}
    trail = deployment.ok("audit", "--workspace", "ops", "--json", sudo_by="root")
    [event] = [json.loads(line) for line in trail.splitlines() if "ssh.authorize" in line]
    assert (event["actor"], event["target"], event["label"]) == ("root", fingerprint, "frank")


def test_a_revoked_key_no_longer_gets_in(deployment, alice, tmp_path):
    server = deployment.server
    deployment.ok("member", "add", "--workspace", "acme", "--member", "dave", "--role", "admin")
    key = keygen(tmp_path / "dave")
    fingerprint = deployment.authorize("dave", key)["fingerprint"]
    assert json.loads(succeeded(server.ssh(key, "member", "list", "--json"), server))

    revoked = json.loads(
        deployment.ok("ssh", "revoke", "--fingerprint", str(fingerprint), "--json")
    )
    assert revoked["account"] == "dave"
    assert "dave" not in [g.account for g in read_grants(server.authorized_keys)]

    refused = server.ssh(key, "member", "list")
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr
    # Everyone else still gets in (alice's line, written before dave's).
    assert succeeded(server.ssh(alice, "integration", "list", "--json"), server)
    [event] = [e for e in deployment.audit() if e["action"] == "ssh.revoke"]
    assert (event["actor"], event["target"], event["label"]) == (server.user, fingerprint, "dave")


def test_foreign_lines_keep_working_beside_keydesks(deployment, tmp_path):
    server = deployment.server
    # A line the service account's admin wrote by hand, with no forced command.
    mine = keygen(tmp_path / "admin")
    ak = server.authorized_keys
    ak.parent.mkdir(mode=0o700, exist_ok=True)
    existing = ak.read_bytes() if ak.exists() else b""
    by_hand = b"# the admin's own key\n" + mine.with_suffix(".pub").read_bytes()
    ak.write_bytes(existing + by_hand)
    os.chown(ak.parent, uid_of(server.user), -1)
    os.chown(ak, uid_of(server.user), -1)
    os.chmod(ak, 0o600)

    key = keygen(tmp_path / "alice")  # a second key of the deployment's admin
    fingerprint = deployment.authorize("alice", key)["fingerprint"]
    assert by_hand in ak.read_bytes()
    shell = server.ssh(mine, "echo", "plain shell")
    assert (shell.returncode, shell.stdout) == (0, "plain shell\n"), shell.stderr

    deployment.ok("ssh", "revoke", "--fingerprint", str(fingerprint))
    assert by_hand in ak.read_bytes()
    assert server.ssh(mine, "true").returncode == 0
