"""Verification throughput and latency, in one run on one store. Prints figures; not a test.

    python bench/verify.py [--seconds 5]

In process: warm verifies/s, cold verify latency, malformed-key rejections/s,
and a naive baseline (ORM lookup + argon2 every time). Over HTTP on loopback,
with wrk (Debian package `wrk`) as the load generator: /v1/verify against the
same server's unauthenticated /healthz, then the same while a second client
floods forged keys (valid checksums, unknown ids), with the server's peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import Session, select

from keydesk.errors import Unauthorized
from keydesk.keys import checksum, generate_key_pair, secret_matches
from keydesk.models import ApiKey
from keydesk.service import KeyService
from keydesk.store import open_store
from keydesk.verify import Verifier


def per_second(action, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            action()
        count += 200
    return count / (time.perf_counter() - start)


def refused(verifier: Verifier, presented: str) -> None:
    with contextlib.suppress(Unauthorized):
        verifier.verify(presented)


def forged_key() -> str:
    body = generate_key_pair().private_key.reveal()[:-6]
    return body + checksum(body)  # well-formed, unknown id


def in_process(url: str, service: KeyService, seconds: float) -> None:
    store = service.store
    key = service.create_key("github", "bench-warm").private_key.reveal()
    verifier = Verifier(store.engine)
    verifier.verify(key)
    warm = per_second(lambda: verifier.verify(key), seconds)

    cold_keys = [
        service.create_key("github", f"bench-cold-{n}").private_key.reveal() for n in range(40)
    ]
    cold = []
    for text in cold_keys:
        start = time.perf_counter()
        verifier.verify(text)
        cold.append((time.perf_counter() - start) * 1000)

    garbage = ["not-a-key", key[:-1] + ("A" if key[-1] != "A" else "B"), "kdsk_" + "x" * 200]
    index = iter(range(10**12))
    malformed = per_second(lambda: refused(verifier, garbage[next(index) % 3]), seconds)

    public = "kdpk_" + key[5:21]

    def naive() -> None:
        with Session(store.engine) as session:
            row = session.exec(select(ApiKey).where(ApiKey.public_key == public)).one()
            assert secret_matches(row.secret_hash, key)

    naive_rate = per_second(naive, seconds)

    # What a first implementation would write: argon2-cffi's default
    # (password-grade) parameters, ORM lookup and argon2 on every request.
    from argon2 import PasswordHasher

    default_hasher = PasswordHasher()
    default_hash = default_hasher.hash(key)

    def naive_defaults() -> None:
        with Session(store.engine) as session:
            session.exec(select(ApiKey).where(ApiKey.public_key == public)).one()
            default_hasher.verify(default_hash, key)

    start, rounds = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        naive_defaults()
        rounds += 1
    naive_default_rate = rounds / (time.perf_counter() - start)
    print("in process (one thread)")
    print(f"  warm verify            {warm:>10,.0f} /s")
    print(f"  cold verify            {statistics.median(cold):>10.2f} ms median (argon2 + read), p90 "
          f"{sorted(cold)[int(len(cold) * 0.9)]:.2f} ms")  # fmt: skip
    print(f"  malformed rejections   {malformed:>10,.0f} /s")
    print(f"  naive: ORM + argon2 (argon2-cffi defaults) every time {naive_default_rate:>8,.1f} /s"
          f"  → warm is {warm / naive_default_rate:,.0f}×")  # fmt: skip
    print(f"  naive: ORM + argon2 (keydesk's parameters) every time {naive_rate:>8,.0f} /s"
          f"  → warm is {warm / naive_rate:,.0f}×")  # fmt: skip
    verifier.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(
    url: str, seconds: float, connections: int, header: str | None = None, script: str | None = None
):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    if header:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def parse_wrk(output: str) -> dict[str, float]:
    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for pct in ("50", "99"):
        result[f"p{pct}"] = ms(re.search(rf"\s{pct}(?:\.000)?%\s+(\S+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def over_http(url: str, service: KeyService, seconds: float, folder: Path) -> None:
    if shutil.which("wrk") is None:
        print("over HTTP: skipped (install wrk: apt-get install wrk)")
        return
    key = service.create_key("github", "bench-http").private_key.reveal()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "keydesk", "serve", "--db", url, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = f"Authorization: Bearer {key}"
        assert (
            httpx.get(f"{base}/v1/verify", headers={"Authorization": f"Bearer {key}"}).status_code
            == 200
        )

        baseline = parse_wrk(wrk(f"{base}/healthz", seconds, 16).communicate()[0])
        verify = parse_wrk(wrk(f"{base}/v1/verify", seconds, 16, header=auth).communicate()[0])
        print("over HTTP (uvicorn, 1 worker; wrk -t1 -c16 on the same 2 cores)")
        print(
            f"  /healthz (no auth)     {baseline['rps']:>10,.0f} req/s  p50 {baseline['p50']:.2f} ms  p99 {baseline['p99']:.2f} ms"
        )
        print(f"  /v1/verify (valid key) {verify['rps']:>10,.0f} req/s  p50 {verify['p50']:.2f} ms  p99 {verify['p99']:.2f} ms"
              f"  → {verify['rps'] / baseline['rps']:.0%} of /healthz")  # fmt: skip

        forged = folder / "forged.txt"
        forged.write_text("\n".join(forged_key() for _ in range(20000)))
        script = folder / "forged.lua"
        script.write_text(
            f'local keys = {{}}\nfor line in io.lines("{forged}") do keys[#keys + 1] = line end\n'
            "local i = 0\nrequest = function()\n  i = i % #keys + 1\n"
            '  return wrk.format("GET", "/v1/verify", {["Authorization"] = "Bearer " .. keys[i]})\nend\n'
        )
        flood = wrk(f"{base}/v1/verify", seconds, 16, script=str(script))
        time.sleep(0.5)
        valid = parse_wrk(wrk(f"{base}/v1/verify", seconds - 1, 8, header=auth).communicate()[0])
        flooded = parse_wrk(flood.communicate()[0])
        print("  under a forged-key flood (16 connections of well-formed, unknown keys)")
        print(f"    valid key            {valid['rps']:>10,.0f} req/s  p50 {valid['p50']:.2f} ms  p99 {valid['p99']:.2f} ms"
              f"  errors {valid['non2xx']}")  # fmt: skip
        print(
            f"    forged keys          {flooded['rps']:>10,.0f} req/s refused (401)  p99 {flooded['p99']:.2f} ms"
        )
        print(f"    server peak RSS      {peak_rss_mb(server.pid):>10.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=10)


class _Scoped:
    """The service, with "github" meaning this run's integration (a shared
    store may hold others by that name)."""

    def __init__(self, service: KeyService, integration_id: int) -> None:
        self.store = service.store
        self._service = service
        self._id = integration_id

    def create_key(self, _integration: str, label: str):
        return self._service.create_key(self._id, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--db", metavar="URL", help="a store to use (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as folder:
        url = args.db or f"sqlite:///{folder}/bench.db"
        store = open_store(url, create=True)
        workspace = f"bench-{os.getpid()}-{int(time.time())}"
        service = KeyService(store, "bench")
        service.create_workspace(workspace)
        integration = service.add_integration(
            workspace, "github", "GitHub", client_id="c",
            redirect_uri="https://bench.example/cb", configure=True,
        )  # fmt: skip
        scoped = _Scoped(service, integration.id)
        print(
            f"keydesk bench/verify.py — {store.engine.dialect.name} store, "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} cores"
        )
        in_process(url, scoped, args.seconds)
        over_http(url, scoped, args.seconds, Path(folder))
        store.dispose()


if __name__ == "__main__":
    main()
