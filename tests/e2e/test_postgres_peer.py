"""Peer authentication end to end: the deployment the README describes.

A PostgreSQL cluster of its own whose pg_hba.conf says `local all all peer`,
real OS users made with useradd, and keydesk run as each of them over the
Unix socket with no password: PostgreSQL proves the OS login, keydesk acts
as that role, and no one can connect or act as someone else.

Needs root (useradd, runuser, a cluster run as `postgres`) and Debian's
PostgreSQL; skips with the reason where it cannot run.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from keydesk.store.postgres_roles import USERS_ROLE, setup
from tests.support.os_users import python_for
from tests.support.sshd import system_user

pytestmark = pytest.mark.postgres


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root: OS users (useradd) and a cluster run as postgres"
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "PostgreSQL server binaries not found (Debian: apt-get install -y postgresql)"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres OS user (Debian's postgresql package makes it)"
    return None


@dataclass
class Cluster:
    socket_dir: Path
    port: int

    def url(self, role: str | None = None) -> str:
        user = f"{role}@" if role else ""
        return f"postgresql+psycopg://{user}/keydesk?host={self.socket_dir}&port={self.port}"

    @property
    def superuser_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/keydesk"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", "sh", "-c", command],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@contextlib.contextmanager
def peer_cluster() -> Iterator[Cluster]:
    bin_dir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
    root = Path(tempfile.mkdtemp(prefix="keydesk-peer-"))
    root.chmod(0o755)  # the socket lives here: every OS user must reach it
    shutil.chown(root, "postgres")
    data = root / "data"
    port = _free_port()
    try:
        # --no-sync: a throwaway cluster need not wait for its files to reach the disk.
        _as_postgres(f"{bin_dir}/initdb --no-sync -D {data} -A peer -U postgres >/dev/null")
        # The socket: peer for everyone (the deployment). Loopback TCP: trust
        # for the superuser only, so the test can set up and clean up.
        (data / "pg_hba.conf").write_text(
            "local all all peer\nhost all postgres 127.0.0.1/32 trust\n"
        )
        _as_postgres(
            f"{bin_dir}/pg_ctl -D {data} -l {root}/log -w start -o "
            f"'-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off'"
        )
        cluster = Cluster(root, port)
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.execute(sa.text("CREATE DATABASE keydesk"))
        admin.dispose()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            _as_postgres(f"{bin_dir}/pg_ctl -D {data} -m immediate -w stop")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Admin:
    name: str
    python: tuple[list[str], dict[str, str]]

    def keydesk(
        self, cluster: Cluster, *args: str, db: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv, extra = self.python
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **extra}
        return subprocess.run(
            ["runuser", "-u", self.name, "--", "env", *(f"{k}={v}" for k, v in env.items()),
             *argv, "-m", "keydesk", "--db", db or cluster.url(), *args],
            capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )  # fmt: skip


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[Cluster, Admin, Admin]]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    with peer_cluster() as cluster, system_user() as (alice, _), system_user() as (bob, _):
        python = python_for(alice)
        if isinstance(python, str):
            pytest.skip(python)
        setup(cluster.superuser_url)  # the DBA's step, default owner role `keydesk`
        engine = sa.create_engine(cluster.superuser_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in (alice, bob):  # the README's step for each admin
                connection.execute(sa.text(f'CREATE ROLE "{name}" LOGIN IN ROLE {USERS_ROLE}'))
        engine.dispose()
        yield cluster, Admin(alice, python), Admin(bob, python)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def test_each_os_login_acts_as_itself_with_no_password(deployment):
    cluster, alice, bob = deployment
    made = alice.keydesk(cluster, "init", "--workspace", "peer", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["owner"] == alice.name
    added = alice.keydesk(
        cluster, "member", "add", "--workspace", "peer", "--account", bob.name, "--role", "viewer"
    )
    assert added.returncode == 0, added.stderr
    listed = bob.keydesk(cluster, "member", "list", "--json")
    assert {(m["account"], m["role"]) for m in json.loads(listed.stdout)} == {
        (alice.name, "owner"), (bob.name, "viewer"),
    }  # fmt: skip
    refusal = one_line(bob.keydesk(cluster, "integration", "add", "--workspace", "peer",
                                   "--name", "gh", "--provider", "GitHub"))  # fmt: skip
    assert "viewer" in refusal
    trail = alice.keydesk(cluster, "audit", "--json").stdout.splitlines()
    assert {json.loads(line)["actor"] for line in trail} == {alice.name}


def test_no_one_connects_or_acts_as_someone_else(deployment):
    cluster, alice, bob = deployment
    refusal = one_line(bob.keydesk(cluster, "audit", db=cluster.url(alice.name)))
    assert "Peer authentication failed" in refusal
    refusal = one_line(bob.keydesk(cluster, "--account", alice.name, "audit"))
    assert "cannot choose who acts on PostgreSQL" in refusal
    sql = bob.keydesk(cluster, "audit", "--workspace", "nope")
    assert "no workspace named" in one_line(sql)
