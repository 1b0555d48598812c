"""Real reverse proxies in front of `keydesk serve`, each started from the
exact file in deploy/ (helpers, not tests): nginx includes deploy/nginx.conf
in a server block of a throwaway main config, Caddy and Traefik read
deploy/Caddyfile and deploy/traefik.yml as they are, their addresses coming
from the environment. And the upstream API they protect: an app that
answers with the headers and body it was sent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.installed import program
from tests.support.servers import START_TIMEOUT, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROXIES = ("nginx", "caddy", "traefik")


def require(proxy: str) -> None:
    """Skip the test where `proxy` is not installed; for nginx and Caddy,
    which .ci/run installs, fail instead in CI (tests/support/installed.py).
    Traefik is only ever skipped: Debian does not package it."""
    if proxy == "traefik":
        if shutil.which("traefik") is None:
            pytest.skip(
                "traefik is not packaged by Debian, so .ci/run cannot install it and CI"
                " skips it; put its binary on PATH to test deploy/traefik.yml"
            )
        return
    program(proxy, f"apt-get install {proxy}", path=f"{os.environ.get('PATH', '')}:/usr/sbin")


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """The protected API: answers with what reached it, as JSON."""
    import json

    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"],
        "path": scope["path"],
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "body": body.decode("latin-1"),
    }
    payload = json.dumps(seen).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"x-upstream", b"echo")]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


STUB_HEADERS = {  # what the stand-in keydesk sends with each refusal
    401: [(b"www-authenticate", b'Bearer realm="keydesk", error="invalid_token"')],
    403: [(b"www-authenticate", b'Bearer realm="keydesk", error="insufficient_scope", scope="a"')],
    429: [
        (b"retry-after", b"7"),
        (b"ratelimit-policy", b'"rate";q=6;w=60'),
        (b"ratelimit", b'"rate";r=0;t=7'),
    ],
    503: [(b"retry-after", b"7")],
}


async def stub_keydesk(scope: Any, receive: Any, send: Any) -> None:
    """A stand-in for keydesk that refuses with the status the client asks
    for in `X-Stub-Status`, and the headers keydesk sends with it: the
    real one cannot be made to answer 429 or 503 on cue."""
    if scope["type"] != "http":
        return
    asked = dict(scope["headers"]).get(b"x-stub-status", b"401")
    status = int(asked) if asked.isdigit() else 401
    headers = [(b"content-type", b"application/json"), *STUB_HEADERS.get(status, [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"error": "stub"}'})


@contextmanager
def proxy(name: str, folder: Path, keydesk: str, api: str) -> Iterator[str]:
    """`name` on a free loopback port in front of `keydesk` and `api`
    (host:port each); yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command, env = _COMMANDS[name](folder, port, keydesk, api)
    with (folder / "output.log").open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, env=env)
        try:
            _wait_for_port(port, process, folder / "output.log")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)


def _nginx(folder: Path, port: int, keydesk: str, api: str) -> tuple[list[str], dict[str, str]]:
    temp = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )  # fmt: skip
    user = "user root;" if os.geteuid() == 0 else ""  # workers would run as nobody
    main = folder / "nginx-main.conf"
    main.write_text(
        f"""{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ }}
http {{
    access_log off;
    {temp}
    upstream keydesk {{ server {keydesk}; }}
    upstream keydesk_api {{ server {api}; }}
    server {{
        listen 127.0.0.1:{port};
        include {DEPLOY / "nginx.conf"};
    }}
}}
"""
    )
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin") or "nginx"
    command = [nginx, "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(main), "-g", "daemon off;"]  # fmt: skip
    return command, dict(os.environ)


def _caddy(folder: Path, port: int, keydesk: str, api: str) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder),
        "KEYDESK_SITE": f"http://127.0.0.1:{port}",
        "KEYDESK_UPSTREAM": keydesk,
        "KEYDESK_API_UPSTREAM": api,
        "KEYDESK_CADDY_ADMIN": f"127.0.0.1:{free_port()}",
    }  # fmt: skip
    command = ["caddy", "run", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")]
    return command, env


def _traefik(folder: Path, port: int, keydesk: str, api: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "KEYDESK_UPSTREAM": keydesk, "KEYDESK_API_UPSTREAM": api}
    command = [
        "traefik",
        f"--entryPoints.web.address=127.0.0.1:{port}",
        f"--providers.file.filename={DEPLOY / 'traefik.yml'}",
        "--log.level=ERROR",
    ]
    return command, env


_COMMANDS = {"nginx": _nginx, "caddy": _caddy, "traefik": _traefik}


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(
                    f"proxy exited with {process.returncode}: {log.read_text()}"
                ) from None
            assert time.monotonic() < deadline, f"proxy did not start: {log.read_text()}"
            time.sleep(0.05)
