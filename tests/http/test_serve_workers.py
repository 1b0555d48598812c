"""`keydesk serve --workers N`: N processes on one port sharing the store.
A key revoked meanwhile is refused by every worker on its next request,
though each had verified it (and remembered its secret as checked); systemd
hears READY=1 once all listen; SIGTERM stops them all as one `serve` stops
(a request in flight answered, every worker's usage counts written) and
exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from keydesk.views import utcnow
from tests.conftest import copy_store_file
from tests.support.servers import START_TIMEOUT, free_port, log_says, revoke_half_sent

# New connections per round: SO_REUSEPORT hashes each to a worker, so all 16
# land on one of two workers with probability 2**-15.
CONNECTIONS = 16


def _serve(
    store_url: str, port: int, *extra: str, env: dict[str, str] | None = None, output: Any = None
):
    """The server, its output in `output` (a file), else in a pipe."""
    command = [sys.executable, "-m", "keydesk", "serve", "--db", store_url, "--port", str(port), *extra]  # fmt: skip
    stdout = output or subprocess.PIPE
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT, env=env)


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _statuses(base: str, key: str) -> set[int]:
    bearer = {"Authorization": f"Bearer {key}"}
    return {httpx.get(f"{base}/v1/verify", headers=bearer).status_code for _ in range(CONNECTIONS)}


def test_every_worker_refuses_a_key_revoked_since(world, store_url, tmp_path):
    """And SIGTERM stops each worker as one `serve` stops: the request in
    flight answered, the usage counts of every worker written, exit 0."""
    world.admit_keydesk_commands()  # POST /v1/revoke acts as the account serve runs as
    key = world.owner.create_key("github", "svc")
    leaked = world.owner.create_key("github", "leaked")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # as systemd listens, Type=notify
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(START_TIMEOUT)
    port, log = free_port(), tmp_path / "serve.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    with log.open("wb") as output:
        server = _serve(store_url, port, "--workers", "2", env=env, output=output)
    base = f"http://127.0.0.1:{port}"
    try:
        assert systemd.recv(100) == b"READY=1"
        workers = _children(server.pid)
        assert len(workers) == 2
        assert _statuses(base, key.private_key.reveal()) == {200}  # each a new connection
        world.owner.revoke_key(key.key.public_key)
        assert _statuses(base, key.private_key.reveal()) == {401}
        client, rest = revoke_half_sent(port, leaked.private_key.reveal())  # in flight
        server.send_signal(signal.SIGTERM)
        assert systemd.recv(100) == b"STOPPING=1"
        log_says(log, "Waiting for connections to close", server)  # its worker stopping
        client.sendall(rest)
        answer = client.recv(4096)
        client.close()
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert server.wait(timeout=START_TIMEOUT) == 0, log.read_text(errors="replace")
    finally:
        systemd.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    text = log.read_text(errors="replace")
    assert "2 workers answering on" in text
    assert "Traceback" not in text
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()  # stopped, and reaped by the parent
    # Counted by both workers (written every 15 s otherwise): in the store.
    usage = world.owner.key_usage(key.key.public_key, utcnow() - timedelta(hours=2))
    assert (usage.accepted, usage.refused) == (CONNECTIONS, {"revoked": CONNECTIONS})
    keys = {k.public_key: k for k in world.owner.keys("github")}
    assert keys[leaked.key.public_key].status == "revoked"


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
