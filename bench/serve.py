"""`keydesk serve` over HTTP against floors served the same way. Prints figures; not a test.

    python bench/serve.py                 # ~2 minutes
    python bench/serve.py --rounds 7 --seconds 4
    python bench/serve.py --smoke         # one short round: seconds (CI)
    python bench/serve.py --in-process    # the apps alone: no server, no socket

Needs `wrk`. A SQLite store of --keys keys, all real; wrk (-t1, 32
connections, keep-alive) cycles through them on GET /v1/verify. Each server
runs in its own process on a free loopback port, under the same uvicorn
settings as `keydesk serve` (uvloop and httptools when installed, no access
log, no server header). Rounds are interleaved (every server once a round),
and each ratio is the median of the rounds' ratios:

  * `keydesk serve` against a bare Starlette app answering 200 on the same
    path (the floor; issue #25's target: ≥ 0.8x requests/s, p99 ≤ 1.5x);
  * a Starlette app answering 200 behind `KeydeskAuth` against the same app
    without it (target ≥ 0.85x);
  * `keydesk serve --workers 2` against `--workers 1` (target ≥ 1.7x on a
    2-core machine, where wrk takes a share of the same cores).

The load average is printed with the figures: on a shared machine they move
with it. The CPU per request (the server's processes' user + system time over
the requests answered) moves far less: what a server costs, whoever else
shares the cores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Row, keydesk_command, median, print_table, seed
from verify_http import SMOKE_REQUESTS, free_port, lua_cycling, parse_wrk, wrk

CONNECTIONS = 32


def child_app(kind: str, url: str):
    """The floor's app (`bare`) or the same behind KeydeskAuth (`auth`)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def ok(_request):
        return Response(b'{"ok":true}', media_type="application/json")

    app = Starlette(routes=[Route("/v1/verify", ok)])
    if kind == "auth":
        from keydesk.http.middleware import KeydeskAuth

        app.add_middleware(KeydeskAuth, database_url=url)
    return app


def run_child(kind: str, port: int, url: str) -> None:
    import uvicorn

    from keydesk.http.server import log_config

    config = uvicorn.Config(
        child_app(kind, url), host="127.0.0.1", port=port, access_log=False,
        log_level="info", log_config=log_config(), server_header=False,
    )  # fmt: skip
    uvicorn.Server(config).run()


class Server:
    def __init__(self, name: str, command: list[str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        with log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=sink)
        deadline = time.monotonic() + 60
        while not _answers(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(port: int) -> bool:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def servers(url: str, folder: Path) -> dict[str, Server]:
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    made: dict[str, Server] = {}
    for name, command in {
        "bare": [*me, "bare"],
        "auth": [*me, "auth"],
        "serve": [*keydesk_command(), "serve", "--db", url],
        "serve2": [*keydesk_command(), "serve", "--db", url, "--workers", "2"],
    }.items():
        port = free_port()
        argv = [*command, "--port", str(port)]
        if name in ("bare", "auth"):
            argv += ["--db", url]
        made[name] = Server(name, argv, port, folder / f"{name}.log")
    return made


def load(server: Server, seconds: float, script: Path, requests: int = 0) -> dict:
    before, client = cpu_seconds(server.process.pid), _children_cpu()
    output = wrk(
        f"http://127.0.0.1:{server.port}/v1/verify", seconds, CONNECTIONS, script, requests=requests
    )
    text = output.communicate()[0]
    used = cpu_seconds(server.process.pid) - before
    client = _children_cpu() - client  # wrk's, reaped by communicate()
    result = parse_wrk(text)
    if set(result["reasons"]) - {"200"} or result["socket_errors"]:
        raise SystemExit(f"{server.name}: not every answer was 200: {result}")
    answered = int(re.search(r"(\d+) requests in", text).group(1))
    result["cpu_us"] = used / max(1, answered) * 1e6
    result["wrk_us"] = client / max(1, answered) * 1e6
    return result


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and its descendants (the workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid → (parent, CPU seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or gone meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree: set[int] = set()
    grown = {pid}
    while grown:
        tree |= grown
        grown = {child for child, (parent, _) in stats.items() if parent in grown} - tree
    return sum(stats[member][1] for member in tree if member in stats)


def measure(
    running: dict[str, Server],
    rounds: int,
    seconds: float,
    script: Path,
    *,
    warm: bool = True,
    requests: int = 0,
) -> list[Row]:
    for server in running.values() if warm else ():  # every key seen once by every worker
        load(server, max(1.0, seconds / 2), script)
    got: dict[str, list[dict]] = {name: [] for name in running}
    for _ in range(rounds):
        for name, server in running.items():
            got[name].append(load(server, seconds, script, requests))

    def rps(name: str) -> float:
        return median([r["rps"] for r in got[name]])

    def paired(name: str, floor: str, field: str = "rps") -> float:
        return median([a[field] / b[field] for a, b in zip(got[name], got[floor], strict=True)])

    def ms(name: str, field: str) -> float:
        return median([r[field] for r in got[name]])

    return [
        Row("keydesk serve /v1/verify vs bare Starlette 200", rps("serve"), rps("bare"), "req/s",
            paired=paired("serve", "bare"), note="target ≥ 0.8×"),
        Row("  p50 latency", ms("serve", "p50"), ms("bare", "p50"), "ms", False,
            paired=paired("serve", "bare", "p50")),
        Row("  p99 latency", ms("serve", "p99"), ms("bare", "p99"), "ms", False,
            paired=paired("serve", "bare", "p99"), note="target ≤ 1.5×"),
        Row("  CPU per request", ms("serve", "cpu_us"), ms("bare", "cpu_us"), "µs", False,
            paired=paired("serve", "bare", "cpu_us"), note="1/ratio: the rate it allows"),
        Row("Starlette app + KeydeskAuth vs without", rps("auth"), rps("bare"), "req/s",
            paired=paired("auth", "bare"), note="target ≥ 0.85×"),
        Row("  CPU per request", ms("auth", "cpu_us"), ms("bare", "cpu_us"), "µs", False,
            paired=paired("auth", "bare", "cpu_us")),
        Row("keydesk serve --workers 2 vs --workers 1", rps("serve2"), rps("serve"), "req/s",
            paired=paired("serve2", "serve"), note="target ≥ 1.7×"),
        Row("  CPU per request", ms("serve2", "cpu_us"), ms("serve", "cpu_us"), "µs", False,
            paired=paired("serve2", "serve", "cpu_us")),
        # On 2 cores, wrk's share of them caps what a second worker can add.
        Row("  wrk's own CPU per request (1 worker)", ms("serve", "wrk_us"), None, "µs", False,
            note=f"2-core ceiling ≈ {ceiling(got):.2f}×"),
    ]  # fmt: skip


def ceiling(got: dict[str, list[dict]]) -> float:
    """What `--workers 2` can reach against one worker on 2 cores: one worker
    has a core (wrk runs on the other), two share both with wrk, so
    2 / (server + wrk CPU a request) against 1 / server."""
    server = median([r["cpu_us"] for r in got["serve"]])
    client = median([r["wrk_us"] for r in got["serve"]])
    return 2 * server / (server + client)


def in_process(url: str, keys: list[str], rounds: int, calls: int = 20_000) -> list[Row]:
    """Each app called as uvicorn calls it, with a send that keeps nothing:
    the main thread's CPU per request, without the server and the kernel."""
    import asyncio

    from keydesk.http.server import create_app
    from keydesk.store.engine import open_store

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message.get("status", 200) != 200:
            raise SystemExit(f"refused: {message}")

    def scope(key: str) -> dict:
        return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 40000),
                "scheme": "http", "method": "GET", "root_path": "", "path": "/v1/verify",
                "raw_path": b"/v1/verify", "query_string": b"", "state": {},
                "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {key}".encode())]}  # fmt: skip

    async def cost(app, count: int) -> float:
        started = time.thread_time()
        for n in range(count):
            await app(scope(keys[n % len(keys)]), receive, send)
        return (time.thread_time() - started) / count * 1e6

    async def run() -> dict[str, list[float]]:
        apps = {"bare": child_app("bare", url), "auth": child_app("auth", url),
                "serve": create_app(open_store(url))}  # fmt: skip
        for app in apps.values():
            await cost(app, len(keys))  # every key verified once
        got: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                got[name].append(await cost(app, calls))
        return got

    got = asyncio.run(run())
    return [
        Row(f"in process: {name} app, CPU per request", median(got[name]), median(got["bare"]),
            "µs", False, paired=median([a / b for a, b in zip(got[name], got["bare"], strict=True)]))
        for name in ("serve", "auth")
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per server and round")
    parser.add_argument("--smoke", action="store_true", help="tiny and short (CI)")
    parser.add_argument("--in-process", action="store_true", help="the apps alone (no wrk)")
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child[0], args.port, args.db)
        return
    if args.smoke:
        args.keys, args.rounds, args.seconds = 50, 1, 1.0
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        url = f"sqlite:///{here / 'keydesk.db'}"
        seeded = seed(url, {"bench": args.keys}, verified=args.keys)
        keys_file = here / "keys.txt"
        keys_file.write_text("\n".join(seeded.keys) + "\n")
        script = here / "cycle.lua"
        script.write_text(lua_cycling(keys_file))
        if args.in_process:
            print_table(
                f"in process — {args.keys:,} keys cycled, {args.rounds} interleaved rounds; "
                f"load average {os.getloadavg()[0]:.1f}",
                in_process(url, seeded.keys, args.rounds),
            )
            return
        running = servers(url, here)
        try:
            before = os.getloadavg()[0]
            # --smoke checks the lines print, not the figures: no warm-up round
            rows = measure(running, args.rounds, args.seconds, script, warm=not args.smoke,
                           requests=SMOKE_REQUESTS if args.smoke else 0)  # fmt: skip
            after = os.getloadavg()[0]
        finally:
            for server in running.values():
                server.stop()
    print_table(
        f"over HTTP — wrk -c{CONNECTIONS}, {args.keys:,} keys cycled, {args.rounds} interleaved "
        f"rounds of {args.seconds:g} s; load average {before:.1f} → {after:.1f}",
        rows,
    )


if __name__ == "__main__":
    main()
