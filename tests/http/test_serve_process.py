"""A real `keydesk serve --metrics` process: Prometheus scrapes it over
HTTP, and SIGTERM in the middle of a request takes no new connection, lets
that request finish, writes the usage counts still in memory, and exits 0
(README: Under systemd)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keydesk.views import utcnow
from tests.conftest import copy_store_file
from tests.support.servers import START_TIMEOUT, free_port, log_says, revoke_half_sent


@pytest.fixture
def store_url(tmp_path, sqlite_template) -> str:
    """SQLite only: the shutdown is the server's, whatever the store."""
    copy_store_file(sqlite_template, tmp_path / "keydesk.db")
    return f"sqlite:///{tmp_path / 'keydesk.db'}"


def test_scraped_then_stopped_by_sigterm_mid_request(world, store_url, tmp_path):
    world.admit_keydesk_commands()  # POST /v1/revoke acts as the account serve runs as
    used = world.owner.create_key("github", "used")
    leaked = world.owner.create_key("github", "leaked")
    port, log = free_port(), tmp_path / "serve.log"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # as systemd listens, Type=notify
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(START_TIMEOUT)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    command = [sys.executable, "-m", "keydesk", "serve", "--db", store_url, "--port", str(port), "--metrics"]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=output, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        assert systemd.recv(100) == b"READY=1"
        assert httpx.get(f"{base}/healthz").status_code == 200  # ready meant listening
        bearer = {"Authorization": f"Bearer {used.private_key.reveal()}"}
        for _ in range(3):
            got = httpx.get(f"{base}/v1/verify", headers=bearer)
            assert got.status_code == 200, got.text
        families = {
            f.name: f for f in text_string_to_metric_families(httpx.get(f"{base}/metrics").text)
        }
        (accepted,) = families["keydesk_requests"].samples
        assert accepted.labels == {"outcome": "accepted", "integration": "github"}
        assert accepted.value == 3.0

        client, rest = revoke_half_sent(port, leaked.private_key.reveal())  # in flight
        server.send_signal(signal.SIGTERM)
        assert systemd.recv(100) == b"STOPPING=1"
        log_says(log, "Waiting for connections to close", server)  # stopping, ours in flight
        # It no longer listens (uvicorn closed the socket before that line).
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)
        client.sendall(rest)
        answer = client.recv(4096)
        client.close()
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert server.wait(timeout=START_TIMEOUT) == 0
    finally:
        systemd.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    # The request it finished took effect; the counts it held (written every
    # 15 s otherwise) and the last-used time are in the store.
    keys = {k.public_key: k for k in world.owner.keys("github")}
    assert keys[leaked.key.public_key].status == "revoked"
    usage = world.owner.key_usage(used.key.public_key, utcnow() - timedelta(hours=2))
    assert usage.accepted == 3
    assert keys[used.key.public_key].last_used_at is not None
    assert "Traceback" not in log.read_text()
