"""Verification speed, against a floor measured in the same run. Prints figures; not a test.

    python bench/verify.py                      # SQLite, ~3 minutes
    python bench/verify.py --quick              # 20,000 keys, shorter rounds, ~1 minute
    python bench/verify.py --smoke              # 2,000 keys, one short round: seconds (CI)
    python bench/verify.py --db postgresql+psycopg://postgres@127.0.0.1:55433/postgres
    python bench/verify.py --compare-postgres postgresql+psycopg://postgres@127.0.0.1:55433/postgres
    python bench/verify.py --cycle 1000,12000,100000   # a cliff past the cache? (verify_cycle.py)
    python bench/verify.py --flood-only --flood wrong-secret   # only a flood (below)

The parts: verify_inprocess.py (in process), verify_floor.py (the floor),
verify_http.py (over HTTP), verify_cycle.py (--cycle); benchlib.py's helpers.

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
  * the same at 256 connections flooding wrong secrets for 1,000 public keys
    the store holds (each check reaches argon2). Targets from issue #25:
    p50 ≤ 20 ms, p99 ≤ 100 ms. `--flood forged|wrong-secret` runs one kind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

import sqlalchemy as sa
from benchlib import FreshPostgres, Row, print_table, seed
from verify_http import floods, over_http
from verify_inprocess import BIG, Settings, in_process, settings, usage_only

from keydesk.store.engine import open_store


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", metavar="URL", help="a store URL (default: a new SQLite file)")
    parser.add_argument(
        "--compare-postgres",
        metavar="URL",
        help="also run in process on this PostgreSQL server, with ratios",
    )
    parser.add_argument("--quick", action="store_true", help="20,000 keys, shorter rounds")
    parser.add_argument("--smoke", action="store_true", help="2,000 keys, one short round (CI)")
    parser.add_argument("--keys", type=int, help="rows in the store (default 100,000)")
    parser.add_argument("--verify-keys", type=int, help="distinct valid keys (default 2,000)")
    parser.add_argument("--seconds", type=float, help="per measure and side (default 3)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--probes", type=int, help="first-seen keys per flood level (default 60)")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument(
        "--usage-only", action="store_true", help="only what the usage counters cost (in process)"
    )
    parser.add_argument(
        "--cycle",
        metavar="N,N,…",
        help="only warm verify cycling N distinct keys each (see verify_cycle.py)",
    )
    parser.add_argument(
        "--flood", metavar="KIND,…", help="floods to run: forged, wrong-secret (default both)"
    )
    parser.add_argument("--flood-only", action="store_true", help="over HTTP, only the floods")
    return parser.parse_args()  # fmt: skip


def store_maker(folder: Path, default: str | None):
    """`fresh_store(name, template)`: a context giving a new, empty store URL
    of the run's kind (a throwaway PostgreSQL database, or a SQLite file)."""

    def fresh_store(name: str, template: str | None = default):
        if template and not template.startswith("sqlite"):
            return FreshPostgres(template)
        return nullcontext(f"sqlite:///{folder}/{name}.db")

    return fresh_store


def main() -> None:
    args = parse_args()
    s = settings(args)
    load = os.getloadavg()[0]
    try:
        run(args, s)
    finally:  # the figures swing with the machine's load: say what it was
        print(
            f"\nload average (1 min): {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        )


def run(args: argparse.Namespace, s: Settings) -> None:
    if args.cycle:
        cycle_only(args, s)
        return
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        fresh_store = store_maker(folder, args.db)
        print(
            f"keydesk bench/verify.py — Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
            f"{s.keys:,} keys in the store, {s.verify_keys:,} distinct valid keys, "
            f"{s.rounds} interleaved rounds"
        )
        if args.flood_only:
            http_part(args, s, folder, fresh_store, None, None)
            return
        url, seeded = run_in_process(args, s, stack, fresh_store)
        if not args.no_http and not args.usage_only:
            http_part(args, s, folder, fresh_store, url, seeded)


def run_in_process(args: argparse.Namespace, s: Settings, stack: ExitStack, fresh_store):
    """In process on the run's backend (and PostgreSQL with --compare-postgres):
    the first backend's store URL and its seeded keys."""
    backends = [
        ("sqlite" if not args.db or args.db.startswith("sqlite") else "postgresql", args.db)
    ]
    if args.compare_postgres:
        backends.append(("postgresql", args.compare_postgres))
    results: dict[str, list[Row]] = {}
    first = None
    for kind, template in backends:
        url = stack.enter_context(fresh_store("store", template))
        started = time.perf_counter()
        seeded = seed(url, {BIG: s.keys}, verified=s.verify_keys)
        print(f"  seeded {kind} store ({s.keys:,} rows) in {time.perf_counter() - started:.1f} s")
        rows = (usage_only if args.usage_only else in_process)(url, seeded, s)
        results[kind] = rows
        print_table(f"in process — {kind}", rows)
        first = first or (url, seeded)
    if len(results) == 2 and not args.usage_only:
        compare(results["sqlite"], results["postgresql"])
    return first


def http_part(
    args: argparse.Namespace, s: Settings, folder: Path, fresh_store, url, seeded
) -> None:
    backend = "sqlite" if not args.db or args.db.startswith("sqlite") else "postgresql"
    if shutil.which("wrk") is None:
        print("\nover HTTP: skipped (install wrk: apt-get install wrk)")
        return
    rows = (
        floods(s, folder, fresh_store)
        if url is None
        else over_http(url, seeded, s, folder, fresh_store)
    )
    print_table(f"over HTTP — {backend} (uvicorn, 1 worker; wrk -t1 on the same cores)", rows)


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
