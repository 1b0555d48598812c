"""A real OpenSSH server on 127.0.0.1 for end-to-end tests (a helper, not a test).

It logs in a throwaway *system user* made for the run, the way keydesk is
deployed (one service account, keys in ``~/.ssh/authorized_keys``), with
``StrictModes yes``: so a test also proves that the folder and file keydesk
writes have modes and owners sshd accepts.

Needs root (sshd's privilege separation, ``useradd``) and Debian's
``openssh-server``; `unavailable()` says why not when it cannot run.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"  # sshd refuses to run unless started by its absolute path
PRIVSEP_DIR = Path("/run/sshd")  # Debian's sshd needs it and only systemd makes it
USER_PREFIX = "keydesk-test-"


def unavailable() -> str | None:
    """Why a test sshd cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return "the SSH end-to-end tests run on Linux only"
    if not os.path.exists(SSHD):
        return f"OpenSSH server not installed ({SSHD}): apt-get install -y openssh-server"
    for tool in ("ssh", "ssh-keygen", "useradd", "usermod", "userdel"):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian: apt-get install -y openssh-client passwd)"
    if os.geteuid() != 0:
        return "needs root: sshd's privilege separation and a throwaway system user"
    return None


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new passphrase-less key pair at `path` (and `path`.pub)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        timeout=60,
    )
    return path


@dataclass
class SshServer:
    port: int
    user: str
    home: Path
    known_hosts: Path
    log: Path

    @property
    def authorized_keys(self) -> Path:
        return self.home / ".ssh" / "authorized_keys"

    def ssh_command(self, key: Path, *args: str, options: Sequence[str] = ()) -> list[str]:
        return [
            "ssh",
            "-F",
            "/dev/null",  # neither ~/.ssh/config nor /etc/ssh/ssh_config
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",  # pinned: it is our sshd on that port
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "UpdateHostKeys=no",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "-i",
            str(key),
            "-p",
            str(self.port),
            *options,
            f"{self.user}@127.0.0.1",
            *args,
        ]

    def ssh(
        self, key: Path, *args: str, options: Sequence[str] = (), timeout: float = 20
    ) -> subprocess.CompletedProcess[str]:
        """Run `ssh` to the server with `key`; stdin is empty."""
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}
        return subprocess.run(
            self.ssh_command(key, *args, options=options),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def system_user() -> Iterator[tuple[str, Path]]:
    """A throwaway system user with a home, /bin/sh and a login that is
    disabled for passwords but NOT locked ('*', not '!'): with `UsePAM no`,
    sshd refuses every method, keys included, to a locked account."""
    name = USER_PREFIX + secrets.token_hex(4)
    home = Path("/home") / name
    _run(
        "useradd", "--system", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", name
    )
    try:
        _run("usermod", "-p", "*", name)
        yield name, home
    finally:
        subprocess.run(
            ["userdel", "--force", "--remove", name], capture_output=True, timeout=60, check=False
        )
        shutil.rmtree(home, ignore_errors=True)


def _config(workdir: Path, port: int, user: str) -> Path:
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {workdir / 'host_ed25519'}",
                f"PidFile {workdir / 'sshd.pid'}",
                "AuthorizedKeysFile .ssh/authorized_keys",
                f"AllowUsers {user}",  # nobody else gets in, even on loopback
                "StrictModes yes",
                "UsePAM no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin no",
                "PermitUserEnvironment no",
                # Allowed here, so that it is `restrict` in the line that refuses them:
                "AllowTcpForwarding yes",
                "AllowAgentForwarding yes",
                "PermitTTY yes",
                "X11Forwarding no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    return config


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}:\n{log.read_text()}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on port {port} within 10 s:\n{log.read_text()}")


@contextlib.contextmanager
def running_sshd(workdir: Path) -> Iterator[SshServer]:
    """sshd on 127.0.0.1 (a free port) for a new system user, until the
    block ends. `workdir` holds its config, host key, pid file and log."""
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    host_key = keygen(workdir / "host_ed25519")
    with system_user() as (user, home):
        for _attempt in range(3):
            port = _free_port()
            config = _config(workdir, port, user)
            check = subprocess.run(
                [SSHD, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30
            )
            if check.returncode != 0:
                raise RuntimeError(f"sshd -t refused the config: {check.stderr.strip()}")
            log = workdir / f"sshd-{port}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=sink,
                )
            try:
                try:
                    _wait_listening(process, port, log)
                except RuntimeError:
                    if "Address already in use" in log.read_text():
                        continue  # someone took the port meanwhile: another one
                    raise
                known_hosts = workdir / "known_hosts"
                host = host_key.with_suffix(".pub").read_text().split()[:2]
                known_hosts.write_text(f"[127.0.0.1]:{port} {' '.join(host)}\n")
                yield SshServer(port, user, home, known_hosts, log)
                return
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        raise RuntimeError("no free port for sshd after 3 attempts")


def uid_of(user: str) -> int:
    return pwd.getpwnam(user).pw_uid
