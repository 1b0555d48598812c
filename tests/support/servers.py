"""Real servers for the verifier's end-to-end tests (helpers, not tests):
an ASGI app under uvicorn in a thread, `keydesk serve` in a subprocess, and a
throwaway PostgreSQL cluster that a test may stop and start."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, process: subprocess.Popen[Any] | None = None) -> None:
    """Until /healthz answers. One client for every try: each new one
    (httpx.get) builds an SSL context, ~50 ms of CPU, and a start under
    load took 20-40 tries."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=1) as client:
        while True:
            try:
                client.get(f"{base}/healthz")
                return
            except httpx.TransportError:
                if process is not None and process.poll() is not None:
                    raise AssertionError(f"server exited with {process.returncode}") from None
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)


@contextmanager
def uvicorn_thread(app: Any, **options: Any) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port, in this process (its
    log records reach pytest's caplog); yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def keydesk_serve(store_url: str, *args: str, log: Path) -> Iterator[str]:
    """`keydesk serve` in a subprocess, its output (the access log goes to
    stdout, the rest to stderr) written to `log`."""
    port = free_port()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "keydesk", "serve", "--db", store_url, "--port", str(port), *args],
            stdout=output, stderr=output,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=15)


def log_says(log: Path, words: str, process: subprocess.Popen[bytes]) -> None:
    """Until `words` are in `log`, the output of `process`, still running."""
    deadline = time.monotonic() + START_TIMEOUT
    while words not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"never logged {words!r}: {log.read_text()}"
        time.sleep(0.02)


def revoke_half_sent(port: int, private_key: str) -> tuple[socket.socket, bytes]:
    """A request in flight: `POST /v1/revoke` of `private_key`, its headers
    in and the app reading its body (uvicorn answers `100 Continue` when it
    starts to), ten bytes of it sent. Returns the connection and the rest."""
    body = json.dumps({"api_key": private_key}).encode()
    client = socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)
    client.sendall(
        b"POST /v1/revoke HTTP/1.1\r\nHost: keydesk\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    assert client.recv(100).startswith(b"HTTP/1.1 100 Continue")
    client.sendall(body[:10])
    return client, body[10:]


POSTGRES_BIN = Path("/usr/lib/postgresql")


def postgres_unavailable() -> str | None:
    """Why a throwaway cluster cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (initdb runs as the postgres user)"
    if _postgres_bin() is None:
        return "PostgreSQL server binaries not installed (apt-get install postgresql)"
    return None


def _postgres_bin() -> Path | None:
    found = sorted(POSTGRES_BIN.glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class PostgresCluster:
    """A PostgreSQL server of its own (initdb in a temporary folder, a free
    port), which a test can stop and start again."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        assert bin_dir is not None
        self._bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="keydesk-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(f"{self._bin}/initdb -D {self.folder}/data -A trust -U postgres")

    def start(self) -> None:
        self._as_postgres(
            f"{self._bin}/pg_ctl -D {self.folder}/data -l {self.folder}/log -w start -o "
            f"'-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off'"
        )

    def stop(self) -> None:
        self._as_postgres(f"{self._bin}/pg_ctl -D {self.folder}/data -m fast -w stop")

    def remove(self) -> None:
        subprocess.run(
            ["su", "postgres", "-s", "/bin/sh", "-c",
             f"{self._bin}/pg_ctl -D {self.folder}/data -m immediate stop"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def _as_postgres(self, command: str) -> None:
        subprocess.run(
            ["su", "postgres", "-s", "/bin/sh", "-c", command],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
