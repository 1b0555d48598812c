"""Verification speed, against a floor measured in the same run. Prints figures; not a test.

    python bench/verify.py                      # SQLite, ~3 minutes
    python bench/verify.py --quick              # 20,000 keys, shorter rounds, ~1 minute
    python bench/verify.py --smoke              # 2,000 keys, one short round: seconds (CI)
    python bench/verify.py --db postgresql+psycopg://postgres@127.0.0.1:55433/postgres
    python bench/verify.py --compare-postgres postgresql+psycopg://postgres@127.0.0.1:55433/postgres
    python bench/verify.py --cycle 1000,12000,100000   # a cliff past the cache? (verify_cycle.py)

The store holds --keys rows (default 100,000); --verify-keys of them (default
2,000) are real keys, each with its own argon2 hash, and every figure cycles
through all of them. With a PostgreSQL URL a throwaway database is created on
that server (and dropped); if that is not allowed, the given one is used.

In process, keydesk's `Verifier` against the floor, in interleaved rounds:
  * first-seen (cold): floor = one indexed read + argon2 verify (same parameters).
  * warm: floor = one indexed read by public key (the key row joined to its
    integration and workspace, as a verifier must read) + HMAC-SHA256 of the
    presented key + a dict lookup (digest → key id), with the plain driver
    (sqlite3, or psycopg with --db postgresql…).
  * forged (well-formed, unknown id): a fresh list of keys every round, so the
    verifier's failure cache never turns them into hits; floor = the read
    (a miss) + argon2 against a decoy hash, the classic equal-work refusal.
    keydesk refuses after a duration drawn from its recent real checks,
    computing nothing: its refusals/s is about time, and the CPU per refusal
    (every thread of the process) is what a flood costs it.
  * usage counters: warm verify (1 thread, and 32 threads) with the per-key
    usage counters on, against a second verifier with them off; the
    ratio is the median of interleaved rounds' ratios (budget: ≤ 5 % cost).
  * 32 concurrent requesters: 32 threads calling `verify`, and 32 asyncio
    tasks awaiting `verify_async`; floors: 32 threads with a connection each,
    and 32 tasks (PostgreSQL: a psycopg AsyncConnection each; SQLite has no
    async driver worth the name, so the read runs inline).
  * --compare-postgres URL runs all of that on SQLite and on PostgreSQL and
    prints PostgreSQL/SQLite ratios.

Over HTTP (`keydesk serve`, uvicorn, on a free loopback port; needs `wrk`):
  * /v1/verify cycling through the warm keys vs /healthz of the same server.
  * first-seen valid keys under a forged-key flood: a fresh store and server
    per level; wrk floods 64 / 256 connections, each request a new forged key
    (valid checksum, random id, made in Lua), while a Python client sends
    valid keys the server has never seen (each once) and, in between, a warm
    key. Floor: the same requests before the flood. Targets from issue #8:
    first-seen p50 ≤ 50 ms and p99 ≤ 200 ms at 256 connections. (Every
    `invalid` answer leaves the server 0.25 s after its request arrived, so
    wrk's forged requests/s is about 4 per connection by design.)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import http.client
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from benchlib import (
    FreshPostgres,
    Row,
    keydesk_command,
    make_key,
    median,
    peak_rss_mb,
    percentile,
    print_table,
    rate,
    seed,
)

from keydesk.store.engine import open_store
from keydesk.verify import Verifier

CONCURRENCY = 32
BIG = "keys-big"

# The floor's one read: the key row, its integration's status and names.
FLOOR_SQL = (
    "SELECT k.id, k.secret_hash, k.label, k.revoked_at, k.expires_at, "
    "i.id, i.name, i.status, w.id, w.name "
    "FROM api_key k JOIN integration i ON i.id = k.integration_id "
    "JOIN workspace w ON w.id = i.workspace_id WHERE k.public_key = {param}"
)


@dataclass
class Settings:
    keys: int
    verify_keys: int
    seconds: float  # per measure and side, split over the rounds
    rounds: int
    cold_keys: int
    http_seconds: float
    probes: int
    flood_levels: tuple[int, ...]
    smoke: bool = False  # the usage-counter rounds, fixed otherwise, cut short too


def settings(args: argparse.Namespace) -> Settings:
    if args.smoke:
        base = Settings(2_000, 40, 0.2, 1, 20, 1.0, 5, (16,), smoke=True)
    elif args.quick:
        base = Settings(20_000, 500, 1.0, 2, 300, 2.0, 20, (64, 256))
    else:
        base = Settings(100_000, 2_000, 3.0, 3, 1_000, 5.0, 60, (64, 256))
    for name in ("keys", "verify_keys", "seconds", "rounds", "probes"):
        if getattr(args, name) is not None:
            setattr(base, name, getattr(args, name))
    base.cold_keys = min(base.cold_keys, base.verify_keys // 2)
    return base


def refused_reason(action) -> str | None:
    """Run `action`; the refusal's reason (keydesk raises `Unauthorized`
    with `.reason`), or None if it was accepted."""
    try:
        action()
    except Exception as exc:
        if type(exc).__name__ != "Unauthorized":
            raise
        return str(getattr(exc, "reason", "refused"))
    return None


# -- the floor -------------------------------------------------------------------


class Floor:
    """What a verifier cannot do with less: parse nothing, read one row by its
    indexed public key with the plain driver, HMAC the presented key and find
    the digest in a dict. First sight: the read plus argon2."""

    def __init__(self, url: str, hasher) -> None:
        parsed = sa.engine.make_url(url)
        self.backend = parsed.get_backend_name()
        if self.backend == "sqlite":
            self.sql = FLOOR_SQL.format(param="?")
            self._connect = lambda: sqlite3.connect(parsed.database, check_same_thread=False)
        else:
            import psycopg

            self.sql = FLOOR_SQL.format(param="%s")
            self.conninfo = parsed.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            self._connect = lambda: psycopg.connect(self.conninfo, autocommit=True)
        self.hasher = hasher
        self.digest_key = secrets.token_bytes(32)
        self.known: dict[bytes, int] = {}
        self.decoy = hasher.hash(secrets.token_hex(16))
        self.main = self._connect()
        self.open: list = []

    @staticmethod
    def usable(row) -> bool:
        """Not revoked, not expired, integration configured."""
        expires = row[4]
        if isinstance(expires, str):  # sqlite3 hands back the stored text
            expires = datetime.fromisoformat(expires).replace(tzinfo=UTC)
        return (
            row[3] is None
            and row[7] == "configured"
            and (expires is None or expires > datetime.now(UTC))
        )

    def verify(self, presented: str, connection=None) -> bool:
        digest = hmac.digest(self.digest_key, presented.encode(), hashlib.sha256)
        row = (connection or self.main).execute(self.sql, ("kdpk_" + presented[5:21],)).fetchone()
        if row is None:
            return False
        if self.known.get(digest) != row[0]:
            try:
                self.hasher.verify(row[1], presented)
            except Exception:
                return False
            self.known[digest] = row[0]
        return self.usable(row)

    def refuse_forged(self, presented: str) -> bool:
        """A well-formed unknown key: the read (a miss) and a decoy argon2."""
        hmac.digest(self.digest_key, presented.encode(), hashlib.sha256)
        row = self.main.execute(self.sql, ("kdpk_" + presented[5:21],)).fetchone()
        try:
            self.hasher.verify(row[1] if row else self.decoy, presented)
        except Exception:
            return False
        return row is not None

    def for_thread(self, _index: int):
        """A verify bound to a connection of its own (closed by `close_open`)."""
        connection = self._connect()
        self.open.append(connection)
        return lambda key: self.verify(key, connection)

    def close_open(self) -> None:
        while self.open:
            self.open.pop().close()

    async def for_task(self, _index: int):
        """An async verify for one task: PostgreSQL, its own AsyncConnection;
        SQLite, the read inline on the shared connection."""
        if self.backend == "sqlite":

            async def inline(key: str) -> bool:
                return self.verify(key)

            return inline, None
        import psycopg

        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)

        async def verify(presented: str) -> bool:
            digest = hmac.digest(self.digest_key, presented.encode(), hashlib.sha256)
            cursor = await connection.execute(self.sql, ("kdpk_" + presented[5:21],))
            row = await cursor.fetchone()
            return row is not None and self.known.get(digest) == row[0] and self.usable(row)

        return verify, connection.close

    def close(self) -> None:
        self.close_open()
        self.main.close()


# -- in process ------------------------------------------------------------------


def timed_pass(action, keys: list[str]) -> list[float]:
    """Milliseconds for each of `keys`, once each."""
    samples = []
    for key in keys:
        start = time.perf_counter()
        action(key)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def cycling(action, keys: list[str]):
    position = 0

    def step() -> None:
        nonlocal position
        action(keys[position])
        position = (position + 1) % len(keys)

    return step


def forged_rate(action, seconds: float) -> tuple[float, float]:
    """(refusals per second, CPU ms per refusal: every thread of this
    process) over a list made for this round only. keydesk refuses an unknown
    id after a real check's time without computing anything, so its rate is
    about time, and its CPU figure is what a flood costs the server."""
    fresh = [make_key() for _ in range(max(200, int(seconds * 2000)))]
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    for key in fresh:
        action(key)
        count += 1
        if count % 20 == 0 and time.perf_counter() - start >= seconds:
            break
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return count / elapsed, cpu * 1000 / count


def threaded(make_action, keys: list[str], seconds: float, threads: int = CONCURRENCY):
    """(calls/s, p50 ms, p99 ms): `threads` threads, each calling
    `make_action(index)` once, then its action on its share of `keys`."""
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def work(index: int) -> None:
        action = make_action(index)
        mine = keys[index::threads] or keys
        samples = latencies[index]
        barrier.wait()
        position = 0
        clock = time.perf_counter
        while not stop.is_set():
            start = clock()
            action(mine[position])
            samples.append(clock() - start)
            position = (position + 1) % len(mine)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    flat = [s * 1000 for samples in latencies for s in samples]
    return len(flat) / elapsed, median(flat), percentile(flat, 99)


def tasks(make_call, keys: list[str], seconds: float, count: int = CONCURRENCY):
    """(calls/s, p50 ms, p99 ms): `count` asyncio tasks on one loop, each
    awaiting `make_call(index)` → (async action, async close or None) first."""

    async def run():
        made = [await make_call(n) for n in range(count)]
        latencies: list[float] = []
        start = time.perf_counter()
        deadline = start + seconds

        async def work(index: int) -> None:
            call = made[index][0]
            mine = keys[index::count] or keys
            position = 0
            clock = time.perf_counter
            while clock() < deadline:
                began = clock()
                await call(mine[position])
                latencies.append(clock() - began)
                position = (position + 1) % len(mine)

        await asyncio.gather(*(work(n) for n in range(count)))
        elapsed = time.perf_counter() - start
        for _, close in made:
            if close is not None:
                await close()
        return latencies, elapsed

    latencies, elapsed = asyncio.run(run())
    flat = [s * 1000 for s in latencies]
    return len(flat) / elapsed, median(flat), percentile(flat, 99)


def usage_cost(store, verifier: Verifier, keys: list[str], s: Settings) -> list[Row]:
    """Warm verify with the per-key usage counters (the default) against a
    second verifier with them off (`count_usage=False`), both primed, in many
    short interleaved rounds whose order alternates; each ratio is the median
    of the rounds' ratios (on a shared machine a single pair swings ±10 %).
    CPU time per verify on one thread is steadier than wall time, and the
    counting itself (what the request path adds: a dict update under a lock)
    is timed alone against a warm verify. Issue #12's budget: ≤ 5 %."""
    from keydesk.verify.usage import UsageCounter  # the request path's counter, timed alone

    uncounted = Verifier(store.engine, count_usage=False)
    for key in keys:
        uncounted.verify(key)

    def cpu_rate(v: Verifier, seconds: float) -> float:
        step, count = cycling(v.verify, keys), 0
        wall, cpu = time.perf_counter() + seconds, time.process_time()
        while time.perf_counter() < wall:
            for _ in range(100):
                step()
            count += 100
        return count / (time.process_time() - cpu)

    short = 0.1 if s.smoke else 1.0  # --smoke: a tenth of the time, 2 rounds each
    rows = []
    for what, unit, rounds, measure in (
        ("1 thread, wall", "/s", 12, lambda v: rate(cycling(v.verify, keys), 0.25 * short)),
        ("1 thread, CPU", "/CPU s", 12, lambda v: cpu_rate(v, 0.25 * short)),
        (f"{CONCURRENCY} threads, wall", "/s", 8,
         lambda v: threaded(lambda _i: v.verify, keys, 0.5 * short)[0]),
    ):  # fmt: skip
        on, off = [], []
        for round_ in range(2 if s.smoke else rounds):
            first, second = (verifier, uncounted) if round_ % 2 == 0 else (uncounted, verifier)
            results = {id(first): measure(first), id(second): measure(second)}
            on.append(results[id(verifier)])
            off.append(results[id(uncounted)])
        ratio = median([a / b for a, b in zip(on, off, strict=True)])
        rows.append(
            Row(f"warm verify, {what}: usage counters on (floor: off)", median(on), median(off),
                unit, paired=ratio, note=f"counting costs {(1 - ratio) * 100:+.1f} % (budget 5 %)")
        )  # fmt: skip
    uncounted.close()

    counter, calls = UsageCounter(), 2_000 if s.smoke else 200_000
    started = time.perf_counter()
    for n in range(calls):
        counter.add(n % len(keys), "accepted")
    add_us = (time.perf_counter() - started) / calls * 1e6
    verify_us = 1e6 / median([rate(cycling(verifier.verify, keys), 0.25 * short) for _ in range(4)])
    rows.append(
        Row("the count itself, per verify (floor: a warm verify)", add_us, verify_us, "µs",
            False, note=f"{add_us / verify_us * 100:.1f} % of a warm verify")
    )  # fmt: skip
    return rows


def usage_only(url: str, seeded, s: Settings) -> list[Row]:
    store = open_store(url)
    verifier = Verifier(store.engine)
    try:
        for key in seeded.keys:
            verifier.verify(key)
        return usage_cost(store, verifier, seeded.keys, s)
    finally:
        verifier.close()
        store.dispose()


def in_process(url: str, seeded, s: Settings) -> list[Row]:
    store = open_store(url)
    verifier = Verifier(store.engine)
    floor = Floor(url, seeded.hasher)
    keys = seeded.keys
    rows: list[Row] = []

    # First sight of a key: argon2 + the read. Each side gets its own keys
    # (neither finds rows the other just read in a cache), alternating key
    # by key; then every key is primed for both.
    k_cold, f_cold = [], []
    for k_key, f_key in zip(keys[: s.cold_keys], keys[s.cold_keys : 2 * s.cold_keys], strict=True):
        k_cold += timed_pass(verifier.verify, [k_key])
        f_cold += timed_pass(floor.verify, [f_key])
    for key in keys:
        verifier.verify(key)
        assert floor.verify(key), "the floor refused a valid key"
    rows.append(Row(f"first-seen valid key, median ({len(k_cold):,} keys each)",
                    median(k_cold), median(f_cold), "ms", higher_is_better=False))  # fmt: skip
    rows.append(Row("first-seen valid key, p99", percentile(k_cold, 99),
                    percentile(f_cold, 99), "ms", higher_is_better=False))  # fmt: skip

    # Warm, one thread, interleaved rounds.
    share = s.seconds / s.rounds
    k_warm, f_warm = [], []
    for _ in range(s.rounds):
        k_warm.append(rate(cycling(verifier.verify, keys), share))
        f_warm.append(rate(cycling(floor.verify, keys), share))
    rows.append(Row(f"warm verify, 1 thread ({len(keys):,} distinct keys)",
                    median(k_warm), median(f_warm), "/s",
                    note=f"keydesk's rounds {min(k_warm):,.0f}–{max(k_warm):,.0f}"))  # fmt: skip

    rows += usage_cost(store, verifier, keys, s)

    # Forged keys: a new list every round and side.
    reason = refused_reason(lambda: verifier.verify(make_key()))
    k_forged, f_forged = [], []
    for _ in range(s.rounds):
        k_forged.append(
            forged_rate(lambda key: refused_reason(lambda: verifier.verify(key)), share)
        )
        f_forged.append(forged_rate(floor.refuse_forged, share))
    rows.append(Row(f"forged keys refused, 1 thread (fresh list/round; refused as {reason})",
                    median([r[0] for r in k_forged]), median([r[0] for r in f_forged]), "/s"))  # fmt: skip
    rows.append(Row("forged keys: CPU per refusal (all threads)",
                    median([r[1] for r in k_forged]), median([r[1] for r in f_forged]), "ms",
                    False))  # fmt: skip

    # Malformed: no floor worth the name (a length check).
    garbage = [
        "not-a-key",
        keys[0][:-1] + ("A" if keys[0][-1] != "A" else "B"),
        "kdsk_" + "x" * 200,
    ]
    index = iter(range(10**12))
    malformed = rate(
        lambda: refused_reason(lambda: verifier.verify(garbage[next(index) % 3])), min(1.0, share)
    )
    rows.append(Row("malformed keys refused, 1 thread", malformed, None, "/s"))

    # 32 concurrent requesters.
    k_thr, f_thr, k_async, f_async = [], [], [], []

    async def keydesk_task(_index: int):
        return verifier.verify_async, None

    # Untimed: the verifier opens a connection per concurrent caller on
    # first need (the floor opens its own before the clock starts).
    threaded(lambda _index: verifier.verify, keys, 0.5)
    for _ in range(s.rounds):
        k_thr.append(threaded(lambda _index: verifier.verify, keys, share))
        f_thr.append(threaded(floor.for_thread, keys, share))
        floor.close_open()
        k_async.append(tasks(keydesk_task, keys, share))
        f_async.append(tasks(floor.for_task, keys, share))

    def pick(results, i):
        return median([r[i] for r in results])

    def spread(results, i, unit):
        """The rounds' range, keydesk's: concurrency figures swing run to run."""
        values = [r[i] for r in results]
        if len(values) < 2:
            return ""
        low, high = min(values), max(values)
        return (
            f"keydesk's rounds {low:,.0f}–{high:,.0f}"
            if unit == "/s"
            else f"keydesk's rounds {low:.2f}–{high:.2f}"
        )

    for what, k, f in (("threads, verify()", k_thr, f_thr), ("asyncio tasks, verify_async()", k_async, f_async)):  # fmt: skip
        rows.append(
            Row(
                f"{CONCURRENCY} {what}: throughput",
                pick(k, 0),
                pick(f, 0),
                "/s",
                note=spread(k, 0, "/s"),
            )
        )
        rows.append(
            Row(
                f"{CONCURRENCY} {what}: p50 latency",
                pick(k, 1),
                pick(f, 1),
                "ms",
                False,
                note=spread(k, 1, "ms"),
            )
        )
        rows.append(
            Row(
                f"{CONCURRENCY} {what}: p99 latency",
                pick(k, 2),
                pick(f, 2),
                "ms",
                False,
                note=spread(k, 2, "ms"),
            )
        )
    verifier.close()
    floor.close()
    store.dispose()
    return rows


# -- over HTTP -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`keydesk serve` in a subprocess on a free loopback port."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        # Its log goes to a file: a pipe nobody reads would fill and stall
        # the server on its next log line.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [*keydesk_command(), "serve", "--db", url, "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                tail = self.log.read()[-2000:].decode(errors="replace")
                raise SystemExit(f"keydesk serve exited: {tail}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("keydesk serve did not answer /healthz within 30 s")

    def get(self, path: str, key: str | None = None, timeout: float = 30.0) -> tuple[int, float]:
        """(status, ms) of one request on a new connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        start = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, (time.perf_counter() - start) * 1000
        finally:
            connection.close()

    def peak_rss(self) -> float | None:
        return peak_rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def wrk(url: str, seconds: float, connections: int, script: Path, *args: str) -> subprocess.Popen:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "-s", str(script), url, "--", *args]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse_wrk(output: str) -> dict:
    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not found:
        raise SystemExit(f"wrk failed:\n{output}")
    result = {"rps": float(found.group(1)), "reasons": {}}
    for pct in ("50", "99"):
        result[f"p{pct}"] = ms(re.search(rf"\s{pct}(?:\.000)?%\s+(\S+)", output).group(1))
    for reason, count in re.findall(r"^reason (\S+) (\d+)$", output, re.M):
        result["reasons"][reason] = result["reasons"].get(reason, 0) + int(count)
    errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = errors.group(1) if errors else ""
    return result


LUA_COMMON = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
counts = {}
function response(status, headers, body)
  local reason = body:match('"reason": *"([%w_]+)"') or tostring(status)
  counts[reason] = (counts[reason] or 0) + 1
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do io.write(string.format("reason %s %d\n", k, v)) end
  end
end
"""

# Each request presents a new forged key: random id and secret, valid
# CRC32 checksum in base62, so it passes the cheap checks and reaches the
# store and argon2 (the reasons counted in `done` confirm "unknown").
LUA_FORGED = (
    LUA_COMMON
    + r"""
local bit = require("bit")
local B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) == 1 then c = bit.bxor(bit.rshift(c, 1), 0xEDB88320) else c = bit.rshift(c, 1) end
  end
  crc_table[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = bit.bxor(bit.rshift(c, 8), crc_table[bit.band(bit.bxor(c, s:byte(i)), 0xFF)])
  end
  c = bit.bxor(c, 0xFFFFFFFF)
  if c < 0 then c = c + 4294967296 end
  return c
end
local function b62(n, width)
  local out = {}
  for i = width, 1, -1 do
    local r = n % 62
    out[i] = B62:sub(r + 1, r + 1)
    n = (n - r) / 62
  end
  return table.concat(out)
end
local function rand62(len)
  local out = {}
  for i = 1, len do local r = math.random(1, 62); out[i] = B62:sub(r, r) end
  return table.concat(out)
end
function init(args)
  math.randomseed(tonumber(args[1]) or os.time())
end
function forged()
  local body = "kdsk_" .. rand62(16) .. "_" .. rand62(43)
  return body .. b62(crc32(body), 6)
end
function request()
  return wrk.format("GET", "/v1/verify", {["Authorization"] = "Bearer " .. forged()})
end
"""
)


def lua_cycling(keys_file: Path) -> str:
    return LUA_COMMON + (
        f'local keys = {{}}\nfor line in io.lines("{keys_file}") do keys[#keys + 1] = line end\n'
        "local i = 0\nfunction request()\n  i = i % #keys + 1\n"
        '  return wrk.format("GET", "/v1/verify", {["Authorization"] = "Bearer " .. keys[i]})\nend\n'
    )


def lua_plain() -> str:
    return LUA_COMMON


def over_http(url: str, seeded, s: Settings, folder: Path, fresh_store) -> list[Row]:
    rows: list[Row] = []
    server = Server(url)
    try:
        # Prime the server with every warm key, then wrk cycles through them.
        for key in seeded.keys:
            status, _ = server.get("/v1/verify", key)
            assert status == 200, f"/v1/verify refused a valid key ({status})"
        keys_file = folder / "warm-keys.txt"
        keys_file.write_text("\n".join(seeded.keys) + "\n")
        (folder / "cycle.lua").write_text(lua_cycling(keys_file))
        (folder / "plain.lua").write_text(lua_plain())
        base = f"http://127.0.0.1:{server.port}"
        health, verify = [], []
        for _ in range(s.rounds):
            share = s.http_seconds / s.rounds
            health.append(
                parse_wrk(wrk(f"{base}/healthz", share, 16, folder / "plain.lua").communicate()[0])
            )
            verify.append(parse_wrk(wrk(f"{base}/v1/verify", share, 16, folder / "cycle.lua").communicate()[0]))  # fmt: skip
        bad = sum(n for r in verify for reason, n in r["reasons"].items() if reason != "200")
        note = f"({bad} not 200)" if bad else ""
        rows.append(Row(f"HTTP /v1/verify, {len(seeded.keys):,} warm keys, wrk -c16 vs /healthz",
                        median([r["rps"] for r in verify]), median([r["rps"] for r in health]), "req/s", note=note))  # fmt: skip
        rows.append(Row("HTTP /v1/verify p50 vs /healthz p50", median([r["p50"] for r in verify]),
                        median([r["p50"] for r in health]), "ms", False))  # fmt: skip
        rows.append(Row("HTTP /v1/verify p99 vs /healthz p99", median([r["p99"] for r in verify]),
                        median([r["p99"] for r in health]), "ms", False))  # fmt: skip
        rows.append(
            Row(f"server peak RSS ({s.keys:,}-row store, warm keys)", server.peak_rss(), None, "MB")
        )
    finally:
        server.stop()

    (folder / "forged.lua").write_text(LUA_FORGED)
    for level in s.flood_levels:
        rows.extend(flood(level, s, folder, fresh_store))
    return rows


def flood(level: int, s: Settings, folder: Path, fresh_store) -> list[Row]:
    """A fresh store and server: first-seen and warm valid keys, before and
    during a flood of `level` connections of fresh forged keys."""
    with fresh_store(f"flood{level}") as url:
        seeded = seed(url, {BIG: s.keys}, verified=2 * s.probes + 1)
        warm, before_keys, during_keys = (
            seeded.keys[0], seeded.keys[1 : 1 + s.probes], seeded.keys[1 + s.probes :]
        )  # fmt: skip
        server = Server(url)
        try:
            assert server.get("/v1/verify", warm)[0] == 200

            def probe(first_seen: list[str], limit: float):
                """Alternate a never-seen key (each once) and the warm key,
                20 ms apart, until done or `limit` seconds pass."""
                cold_ms, warm_ms, failures = [], [], 0
                deadline = time.monotonic() + limit
                for key in first_seen:
                    if time.monotonic() > deadline:
                        break
                    for presented, samples in ((key, cold_ms), (warm, warm_ms)):
                        try:
                            status, ms = server.get("/v1/verify", presented)
                        except OSError:
                            status, ms = 0, float("nan")
                        if status == 200:
                            samples.append(ms)
                        else:
                            failures += 1
                        time.sleep(0.02)
                return cold_ms, warm_ms, failures

            cold0, warm0, _ = probe(before_keys, 60)
            rss0 = server.peak_rss()
            limit = 10 + s.probes * 0.5
            flooder = wrk(f"http://127.0.0.1:{server.port}/v1/verify", limit + 30, level,
                          folder / "forged.lua", str(secrets.randbits(31)))  # fmt: skip
            time.sleep(1.0)  # let every connection open and queue
            cold1, warm1, fail1 = probe(during_keys, limit)
            flooder.send_signal(signal.SIGINT)  # wrk prints its figures on SIGINT
            flooded = parse_wrk(flooder.communicate(timeout=60)[0])
            rss1 = server.peak_rss()
        finally:
            server.stop()
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(flooded["reasons"].items()))
    fails = f"; {fail1} probe(s) failed" if fail1 else ""
    tag = f"flood {level} conns"
    return [
        Row(f"{tag}: first-seen valid key p50 ({len(cold1)} keys) vs no flood",
            median(cold1), median(cold0), "ms", False, note="target ≤ 50 ms at 256" + fails),
        Row(f"{tag}: first-seen valid key p99 vs no flood",
            percentile(cold1, 99), percentile(cold0, 99), "ms", False, note="target ≤ 200 ms at 256"),
        Row(f"{tag}: warm valid key p50 vs no flood", median(warm1), median(warm0), "ms", False),
        Row(f"{tag}: warm valid key p99 vs no flood",
            percentile(warm1, 99), percentile(warm0, 99), "ms", False),
        Row(f"{tag}: forged keys refused", flooded["rps"], None, "req/s", note=f"({reasons})"),
        Row(f"{tag}: server peak RSS vs before the flood", rss1, rss0, "MB", False),
    ]  # fmt: skip


# -- main ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", metavar="URL", help="a store URL (default: a new SQLite file)")
    parser.add_argument("--compare-postgres", metavar="URL",
                        help="also run in process on this PostgreSQL server, with ratios")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="20,000 keys, shorter rounds")
    parser.add_argument("--smoke", action="store_true", help="2,000 keys, one short round (CI)")
    parser.add_argument("--keys", type=int, help="rows in the store (default 100,000)")
    parser.add_argument("--verify-keys", type=int, help="distinct valid keys (default 2,000)")
    parser.add_argument("--seconds", type=float, help="per measure and side (default 3)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--probes", type=int, help="first-seen keys per flood level (default 60)")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument("--usage-only", action="store_true",
                        help="only what the usage counters cost (in process)")  # fmt: skip
    parser.add_argument("--cycle", metavar="N,N,…",
                        help="only warm verify cycling N distinct keys each (see verify_cycle.py)")  # fmt: skip
    args = parser.parse_args()
    s = settings(args)
    if args.cycle:
        cycle_only(args, s)
        return

    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)

        def fresh_store(name: str, template: str | None = args.db):
            """A context giving a new, empty store URL of the run's kind."""
            if template and not template.startswith("sqlite"):
                return FreshPostgres(template)

            class Sqlite:
                def __enter__(self):
                    return f"sqlite:///{folder}/{name}.db"

                def __exit__(self, *_):
                    pass

            return Sqlite()

        backends = [
            ("sqlite" if not args.db or args.db.startswith("sqlite") else "postgresql", args.db)
        ]
        if args.compare_postgres:
            backends.append(("postgresql", args.compare_postgres))
        print(
            f"keydesk bench/verify.py — Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
            f"{s.keys:,} keys in the store, {s.verify_keys:,} distinct valid keys, "
            f"{s.rounds} interleaved rounds"
        )
        results: dict[str, list[Row]] = {}
        seeded_first = url_first = None
        for kind, template in backends:
            url = stack.enter_context(fresh_store("store", template))
            started = time.perf_counter()
            seeded = seed(url, {BIG: s.keys}, verified=s.verify_keys)
            print(
                f"  seeded {kind} store ({s.keys:,} rows) in {time.perf_counter() - started:.1f} s"
            )
            rows = (usage_only if args.usage_only else in_process)(url, seeded, s)
            results[kind] = rows
            print_table(f"in process — {kind}", rows)
            if seeded_first is None:
                seeded_first, url_first = seeded, url
        if len(results) == 2 and not args.usage_only:
            compare(results["sqlite"], results["postgresql"])
        if not args.no_http and not args.usage_only:
            import shutil

            if shutil.which("wrk") is None:
                print("\nover HTTP: skipped (install wrk: apt-get install wrk)")
            else:
                rows = over_http(url_first, seeded_first, s, folder, fresh_store)
                print_table(
                    f"over HTTP — {backends[0][0]} (uvicorn, 1 worker; wrk -t1 on the same cores)",
                    rows,
                )


def cycle_only(args: argparse.Namespace, s: Settings) -> None:
    from verify_cycle import cycle

    sizes = [int(n.replace("_", "")) for n in args.cycle.split(",")]
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as tmp, ExitStack() as stack:
        url = (
            stack.enter_context(FreshPostgres(args.db))
            if args.db and not args.db.startswith("sqlite")
            else f"sqlite:///{tmp}/cycle.db"
        )
        started = time.perf_counter()
        seeded = seed(url, {BIG: max(sizes)}, verified=max(sizes))
        print(
            f"keydesk bench/verify.py --cycle — Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cores; seeded {max(sizes):,} real keys in "
            f"{time.perf_counter() - started:.1f} s"
        )
        store = open_store(url)
        try:
            rows = cycle(store.engine, seeded.keys, sizes, s.seconds, s.rounds)
        finally:
            store.dispose()
        print_table(f"in process, 1 thread — {sa.engine.make_url(url).get_backend_name()}", rows)


def compare(sqlite_rows: list[Row], pg_rows: list[Row]) -> None:
    print("\nPostgreSQL / SQLite (same measures, same run)")
    head = ("measure", "keydesk pg/sqlite", "floor pg/sqlite")
    width = max(len(r.measure) for r in sqlite_rows)
    print(f"  {head[0]:<{width}}  {head[1]:>17}  {head[2]:>15}")
    for lite, pg in zip(sqlite_rows, pg_rows, strict=True):

        def ratio(a, b):
            return f"{a / b:.2f}×" if a and b else "—"

        print(
            f"  {lite.measure:<{width}}  {ratio(pg.keydesk, lite.keydesk):>17}  {ratio(pg.floor, lite.floor):>15}"
        )


if __name__ == "__main__":
    main()
