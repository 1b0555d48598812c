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
import importlib.metadata
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Mapping, Sequence
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
    for tool in ("ssh", "ssh-keygen", "useradd", "usermod", "userdel", "runuser"):
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
            *self.client_options(key),
            "-p",
            str(self.port),
            *options,
            f"{self.user}@127.0.0.1",
            *args,
        ]

    def client_options(self, key: Path) -> list[str]:
        """What ssh, scp and sftp all take to reach this server with `key`
        alone (the port they spell differently: -p, -P)."""
        return [
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
        ]

    def ssh(
        self,
        key: Path,
        *args: str,
        options: Sequence[str] = (),
        timeout: float = 20,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `ssh` to the server with `key`; stdin is `input`, else empty."""
        return subprocess.run(
            self.ssh_command(key, *args, options=options),
            stdin=subprocess.DEVNULL if input is None else None,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=client_environment(),
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def client_environment() -> dict[str, str]:
    """This process's environment without an SSH agent: only `-i` keys count."""
    return {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "SSH_AGENT_PID")}


def run_as(
    user: str,
    argv: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 60,
    environ: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`argv` as `user` (runuser sets HOME, USER, LOGNAME and SHELL), with a
    plain environment: nothing of this test process's (its store, its venv),
    only `environ` besides."""
    return subprocess.run(
        ["runuser", "-u", user, "--", *argv],
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}
        | dict(environ or {}),
        cwd="/",
    )


CONSOLE_SCRIPT = """\
#!{python}
import sys
from keydesk.cli import main
sys.exit(main())
"""


def install_keydesk(folder: Path, user: str) -> Path | str:
    """A virtual environment in `folder` whose ``bin/keydesk`` `user` can
    run, as an admin's install would be: a Python of this one's version
    that `user` may execute, this checkout's keydesk and its dependencies
    (this environment's copies) in its site-packages, and the console script
    pip writes. Nothing is downloaded: files are hard links (copies across file
    systems), so it takes a fraction of a second, and works where the
    checkout and its venv sit in a folder `user` cannot read (/root is 0700).
    Returns the script, or why there is none."""
    python = _python_for(user)
    if python is None:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return f"no Python {version} that {user} may run (tried {', '.join(_pythons())})"
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    venv = folder / "venv"
    subprocess.run(
        [python, "-m", "venv", "--without-pip", str(venv)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    for source, name in _runtime_entries():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        _link_tree(source, site / name)
    _link_tree(CHECKOUT_SRC / "keydesk", site / "keydesk")  # keydesk itself: the checkout
    script = venv / "bin" / "keydesk"
    script.write_text(CONSOLE_SCRIPT.format(python=venv / "bin" / "python"))
    script.chmod(0o755)
    probe = run_as(user, [str(script), "--version"])
    if probe.returncode != 0:
        return f"{user} cannot run keydesk from {script}: {probe.stderr.strip()[-300:]}"
    return script


CHECKOUT_SRC = Path(__file__).resolve().parents[2] / "src"


def _runtime_entries() -> list[tuple[Path, str]]:
    """The site-packages entries (path, name there) of what `pip install
    keydesk` brings: its dependencies without extras, recursively, from each
    one's RECORD. Not the whole test environment: its 17,700 files (mypy,
    Django, ...) took ~2 s to link and ~10 s to remove per deployment under
    load, and an import keydesk does not declare would have passed here."""
    from packaging.requirements import Requirement

    wanted, seen, entries = ["keydesk"], set(), {}
    while wanted:
        dist = importlib.metadata.distribution(wanted.pop())
        name = dist.metadata["Name"].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
        for file in dist.files or []:
            if name == "keydesk" or file.parts[0] == "..":
                continue  # keydesk comes from the checkout; `..`: a script in bin/
            # A package's folder whole (its compiled files too); a top-level
            # module's compiled file (__pycache__/x.pyc) alone.
            top = Path(*file.parts[:2]) if file.parts[0] == "__pycache__" else Path(file.parts[0])
            entries[str(top)] = Path(str(dist.locate_file(top)))
    return [(source, name) for name, source in sorted(entries.items())]


def _pythons() -> list[str]:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = [os.path.realpath(getattr(sys, "_base_executable", sys.executable))]
    found += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    return list(dict.fromkeys(path for path in found if os.path.exists(path)))


def _python_for(user: str) -> str | None:
    """The first Python of this version that `user` can execute (their
    extension modules are built for the version, not the patch release)."""
    wanted = f"{sys.version_info.major}.{sys.version_info.minor}"
    for python in _pythons():
        probe = run_as(user, [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        if probe.returncode == 0 and probe.stdout.strip() == wanted:
            return python
    return None


def _link_tree(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


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
                # Far more than Debian's `AcceptEnv LANG LC_*`: the tests show a
                # client's environment picks neither store nor account, and
                # opens no Python prompt.
                "AcceptEnv LANG LC_* KEYDESK_* XDG_* PYTHONINSPECT",
                # Allowed here, so that it is `restrict` in the line that refuses them:
                "AllowTcpForwarding yes",
                "AllowAgentForwarding yes",
                "PermitTTY yes",
                "Subsystem sftp internal-sftp",  # as Debian's config has one: refused too
                "X11Forwarding no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                # Not OpenSSH 9's default sntrup761x25519 (post-quantum): it cost
                # each client ~0.13 s of CPU (curve25519 alone: ~0.02 s), seconds
                # over tests/e2e's tens of connections. No test is about the
                # key exchange; a client still negotiates one with this sshd.
                "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
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
