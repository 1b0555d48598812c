"""End to end against a real OpenSSH server (tests/sshd.py): the lines
keydesk.ssh_access writes are the ones sshd obeys.

`keydesk ssh-session` does not exist yet, so the forced command runs a
stand-in that reports what it was given: its argv, SSH_ORIGINAL_COMMAND,
whether stdin is a terminal, and who it runs as.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keydesk.ssh_access import (
    REMOTE_COMMANDS,
    add_grant,
    parse_public_key,
    parse_session_command,
    read_grants,
    remove_grant,
)
from tests.sshd import SshServer, keygen, running_sshd, uid_of, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")

STAND_IN = """\
#!{python}
import json, os, pwd, sys
print(json.dumps({{
    "argv": sys.argv,
    "original": os.environ.get("SSH_ORIGINAL_COMMAND"),
    "tty": os.isatty(0),
    "user": pwd.getpwuid(os.getuid()).pw_name,
}}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[SshServer]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as running:
        yield running


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    """The forced command's program, where the test user can run it: in a
    folder with a space in its name (the line must quote it for sh), under a
    system Python (a venv's may sit in root's home, closed to other users)."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "/usr/bin/env python3"
    folder = Path(tempfile.mkdtemp(prefix="keydesk-e2e-"))
    try:
        os.chmod(folder, 0o755)
        bin_dir = folder / "key desk"
        bin_dir.mkdir(mode=0o755)
        program = bin_dir / "keydesk"
        program.write_text(STAND_IN.format(python=python))
        os.chmod(program, 0o755)
        yield str(program)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def key(tmp_path) -> Path:
    return keygen(tmp_path / "id_ed25519")


def grant(server: SshServer, account: str, key: Path, stand_in: str) -> str:
    public = parse_public_key(key.with_suffix(".pub").read_text())
    add_grant(server.authorized_keys, account, public, stand_in)
    return public.fingerprint


def report(result: subprocess.CompletedProcess[str], server: SshServer) -> dict[str, object]:
    assert result.returncode == 0, f"{result.stderr}\n--- sshd log ---\n{server.log_text()}"
    return json.loads(result.stdout.strip())


def test_the_line_keydesk_writes_lets_the_key_in_as_its_account(server, key, stand_in):
    fingerprint = grant(server, "alice", key, stand_in)

    seen = report(server.ssh(key, options=["-T"]), server)

    assert seen == {
        "argv": [stand_in, "ssh-session", "alice"],
        "original": None,  # no command: the TUI, once ssh-session exists
        "tty": False,
        "user": server.user,
    }
    # sshd's StrictModes took the folder and file keydesk made, as the user's.
    for path in (server.authorized_keys.parent, server.authorized_keys):
        assert path.stat().st_uid == uid_of(server.user)
    assert fingerprint in server.log_text()  # sshd logs the key it accepted


def test_a_remote_command_arrives_whole_in_ssh_original_command(server, key, stand_in):
    grant(server, "alice", key, stand_in)

    seen = report(server.ssh(key, "key", "list", "--json"), server)
    assert seen["argv"] == [stand_in, "ssh-session", "alice"]
    assert seen["original"] == "key list --json"
    assert seen["tty"] is False
    assert parse_session_command(seen["original"], REMOTE_COMMANDS) == ["key", "list", "--json"]

    # Quoting survives the trip (the local shell takes one level, ssh joins
    # the words with spaces), and no shell runs what arrives.
    seen = report(server.ssh(key, "key create --label 'CI runner'; id"), server)
    assert seen["original"] == "key create --label 'CI runner'; id"
    seen = report(server.ssh(key, "key", "create", "--label", "'CI runner'"), server)
    assert parse_session_command(seen["original"], REMOTE_COMMANDS)[-1] == "CI runner"


def test_an_account_with_shell_characters_reaches_the_command_intact(server, key, stand_in):
    grant(server, "bob$HOME;x", key, stand_in)
    seen = report(server.ssh(key, "-T"), server)
    assert seen["argv"] == [stand_in, "ssh-session", "bob$HOME;x"]


def test_t_gets_a_terminal(server, key, stand_in):
    grant(server, "alice", key, stand_in)
    # -tt: force one even though the test's own stdin is no terminal.
    result = server.ssh(key, options=["-tt"])
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.replace("\r\n", "\n").strip())
    assert seen["tty"] is True and seen["original"] is None


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


def test_port_forwarding_is_refused(server, key, stand_in, tmp_path):
    greeter = _Greeter()
    try:
        assert _read_from(("127.0.0.1", greeter.port)) == b"hello\n"  # the control
        grant(server, "alice", key, stand_in)

        # -L, listening on a Unix socket here (no port to race for); sshd is
        # asked to connect to the greeter and must refuse.
        local = tmp_path / "forward.sock"
        forward = subprocess.Popen(
            server.ssh_command(
                key,
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
        )
        try:
            deadline = time.monotonic() + 15
            while not local.exists():  # ssh listens once logged in
                assert forward.poll() is None, forward.communicate()[1]
                assert time.monotonic() < deadline, "ssh -L did not listen within 15 s"
                time.sleep(0.05)
            assert _read_from(str(local)) == b""  # closed: sshd refused the channel
        finally:
            _stop(forward)

        # -W (stdio forwarding) asks the same of sshd, and fails outright.
        stdio = server.ssh(key, options=["-W", f"127.0.0.1:{greeter.port}"])
        assert stdio.returncode == 255 and stdio.stdout == ""

        # -R: sshd refuses to listen for us.
        remote = server.ssh(
            key,
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


def test_a_removed_line_no_longer_lets_the_key_in(server, key, stand_in, tmp_path):
    other = keygen(tmp_path / "other")
    grant(server, "carol", other, stand_in)
    fingerprint = grant(server, "dave", key, stand_in)
    assert report(server.ssh(key, "-T"), server)["argv"][-1] == "dave"

    [removed] = remove_grant(server.authorized_keys, fingerprint)
    assert removed.account == "dave"

    refused = server.ssh(key, "-T")
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr
    # Everyone else still gets in.
    assert report(server.ssh(other, "-T"), server)["argv"][-1] == "carol"


def test_foreign_lines_keep_working_beside_keydesks(server, key, stand_in, tmp_path):
    # A line the service account's admin wrote by hand, with no forced command.
    mine = keygen(tmp_path / "admin")
    ak = server.authorized_keys
    existing = ak.read_bytes() if ak.exists() else b""
    by_hand = b"# the admin's own key\n" + mine.with_suffix(".pub").read_bytes()
    ak.parent.mkdir(mode=0o700, exist_ok=True)
    ak.write_bytes(existing + by_hand)
    os.chown(ak, uid_of(server.user), -1)
    os.chmod(ak, 0o600)

    fingerprint = grant(server, "erin", key, stand_in)
    assert by_hand in ak.read_bytes()
    shell = server.ssh(mine, "echo", "plain shell")
    assert (shell.returncode, shell.stdout) == (0, "plain shell\n"), shell.stderr

    remove_grant(ak, fingerprint)
    assert by_hand in ak.read_bytes()
    assert [g.account for g in read_grants(ak)].count("erin") == 0
    assert server.ssh(mine, "true").returncode == 0
