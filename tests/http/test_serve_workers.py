"""`keydesk serve --workers N`: N processes on one port sharing the store.
A key revoked meanwhile is refused by every worker on its next request,
though each had verified it (and remembered its secret as checked); systemd
hears READY=1 once all listen, SIGTERM stops them all and exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import copy_store_file
from tests.support.servers import START_TIMEOUT, free_port

# New connections per round: SO_REUSEPORT hashes each to a worker, so all 16
# land on one of two workers with probability 2**-15.
CONNECTIONS = 16


def _serve(store_url: str, port: int, *extra: str, env: dict[str, str] | None = None):
    command = [sys.executable, "-m", "keydesk", "serve", "--db", store_url, "--port", str(port), *extra]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _statuses(base: str, key: str) -> set[int]:
    bearer = {"Authorization": f"Bearer {key}"}
    return {httpx.get(f"{base}/v1/verify", headers=bearer).status_code for _ in range(CONNECTIONS)}


def test_every_worker_refuses_a_key_revoked_since(world, store_url, tmp_path):
    key = world.owner.create_key("github", "svc")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # as systemd listens, Type=notify
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(START_TIMEOUT)
    port = free_port()
    server = _serve(store_url, port, "--workers", "2", env={**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")})  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert systemd.recv(100) == b"READY=1"
        workers = _children(server.pid)
        assert len(workers) == 2
        assert _statuses(base, key.private_key.reveal()) == {200}  # each a new connection
        world.owner.revoke_key(key.key.public_key)
        assert _statuses(base, key.private_key.reveal()) == {401}
        server.send_signal(signal.SIGTERM)
        assert systemd.recv(100) == b"STOPPING=1"
        output = server.communicate(timeout=START_TIMEOUT)[0].decode(errors="replace")
        assert server.returncode == 0, output
    finally:
        systemd.close()
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert "2 workers answering on" in output
    assert "Traceback" not in output
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()  # stopped, and reaped by the parent


def test_a_port_in_use_is_refused_before_any_worker_starts(sqlite_template, tmp_path):
    copy_store_file(sqlite_template, tmp_path / "keydesk.db")
    store_url = f"sqlite:///{tmp_path / 'keydesk.db'}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = _serve(store_url, taken.getsockname()[1], "--workers", "2")
        output = server.communicate(timeout=START_TIMEOUT)[0].decode(errors="replace")
    assert server.returncode == 3, output
    assert "cannot listen on 127.0.0.1 port" in output
    assert "Started server process" not in output


def test_a_worker_that_dies_stops_the_others(sqlite_template, tmp_path):
    copy_store_file(sqlite_template, tmp_path / "keydesk.db")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(START_TIMEOUT)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    server = _serve(f"sqlite:///{tmp_path / 'keydesk.db'}", free_port(), "--workers", "2", env=env)
    try:
        assert systemd.recv(100) == b"READY=1"
        first, second = _children(server.pid)
        os.kill(first, signal.SIGKILL)
        output = server.communicate(timeout=START_TIMEOUT)[0].decode(errors="replace")
    finally:
        systemd.close()
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 1, output
    assert f"worker {first} exited (status -9): stopping the others" in output
    assert not Path(f"/proc/{second}").exists()


def test_metrics_with_several_workers_is_refused_in_one_line(sqlite_template, tmp_path):
    copy_store_file(sqlite_template, tmp_path / "keydesk.db")
    url = f"sqlite:///{tmp_path / 'keydesk.db'}"
    server = _serve(url, free_port(), "--workers", "2", "--metrics")
    output = server.communicate(timeout=START_TIMEOUT)[0].decode(errors="replace")
    assert server.returncode != 0
    assert (
        output.strip()
        .splitlines()[-1]
        .endswith("--metrics needs a single worker: each worker counts only its own requests")
    )
