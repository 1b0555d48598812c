"""bench/verify.py in process: keydesk's `Verifier` against the floor
(verify_floor.py), in interleaved rounds: first sight, warm, forged keys,
malformed keys, 32 concurrent requesters, and what the usage counters cost."""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from dataclasses import dataclass

from benchlib import Row, cycling, make_key, median, percentile, rate
from verify_floor import Floor

from keydesk.store.engine import open_store
from keydesk.verify import Verifier

CONCURRENCY = 32
BIG = "keys-big"


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
    # Forged keys at each flood level, wrong secrets at the highest (--flood).
    floods: tuple[str, ...] = ("forged", "wrong-secret")


def settings(args: argparse.Namespace) -> Settings:
    if args.smoke:
        base = Settings(2_000, 40, 0.05, 1, 20, 1.0, 5, (16,), smoke=True, floods=("wrong-secret",))
    elif args.quick:
        base = Settings(20_000, 500, 1.0, 2, 300, 2.0, 20, (64, 256))
    else:
        base = Settings(100_000, 2_000, 3.0, 3, 1_000, 5.0, 60, (64, 256))
    for name in ("keys", "verify_keys", "seconds", "rounds", "probes"):
        if getattr(args, name) is not None:
            setattr(base, name, getattr(args, name))
    if args.flood:
        base.floods = tuple(kind for kind in args.flood.split(",") if kind)
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


# -- timing --------------------------------------------------------------------


def timed_pass(action, keys: list[str]) -> list[float]:
    """Milliseconds for each of `keys`, once each."""
    samples = []
    for key in keys:
        start = time.perf_counter()
        action(key)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


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

    short = 0.02 if s.smoke else 1.0  # --smoke: a fiftieth of the time, 2 rounds each
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


def first_seen(verifier: Verifier, floor: Floor, keys: list[str], s: Settings) -> list[Row]:
    """First sight of a key by a running verifier: argon2 + the read. Each side gets its own keys
    (neither finds rows the other just read in a cache), alternating key by
    key; then every key is primed for both."""
    k_cold, f_cold, k_cpu, f_cpu = [], [], 0.0, 0.0
    # Each side's first key opens it (a first-seen key, not a verifier's start-up): untimed.
    verifier.verify(keys[0])
    floor.verify(keys[s.cold_keys])
    mine, its = keys[1 : s.cold_keys], keys[s.cold_keys + 1 : 2 * s.cold_keys]
    for k_key, f_key in zip(mine, its, strict=True):
        cpu = time.process_time()
        k_cold += timed_pass(verifier.verify, [k_key])
        k_cpu, cpu = k_cpu + time.process_time() - cpu, time.process_time()
        f_cold += timed_pass(floor.verify, [f_key])
        f_cpu += time.process_time() - cpu
    for key in keys:
        verifier.verify(key)
        assert floor.verify(key), "the floor refused a valid key"
    count = max(1, len(k_cold))
    return [
        Row(f"first-seen valid key, median ({len(k_cold):,} keys each)",
            median(k_cold), median(f_cold), "ms", higher_is_better=False),
        Row("first-seen valid key, p99", percentile(k_cold, 99),
            percentile(f_cold, 99), "ms", higher_is_better=False),
        Row("first-seen valid key, CPU per key (all threads)", k_cpu * 1000 / count,
            f_cpu * 1000 / count, "ms", higher_is_better=False, note="target ≤ 0.1 ms"),
    ]  # fmt: skip


def warm(verifier: Verifier, floor: Floor, keys: list[str], s: Settings) -> list[Row]:
    """Warm, one thread, interleaved rounds."""
    share = s.seconds / s.rounds
    k_warm, f_warm = [], []
    for _ in range(s.rounds):
        k_warm.append(rate(cycling(verifier.verify, keys), share))
        f_warm.append(rate(cycling(floor.verify, keys), share))
    return [
        Row(f"warm verify, 1 thread ({len(keys):,} distinct keys)",
            median(k_warm), median(f_warm), "/s",
            paired=median([k / f for k, f in zip(k_warm, f_warm, strict=True)]),
            note=f"keydesk's rounds {min(k_warm):,.0f}–{max(k_warm):,.0f}")
    ]  # fmt: skip


def refusals(verifier: Verifier, floor: Floor, keys: list[str], s: Settings) -> list[Row]:
    """Forged keys (a new list every round and side), then malformed ones
    (no floor worth the name: a length check)."""
    share = s.seconds / s.rounds
    reason = refused_reason(lambda: verifier.verify(make_key()))
    k_forged, f_forged = [], []
    for _ in range(s.rounds):
        k_forged.append(
            forged_rate(lambda key: refused_reason(lambda: verifier.verify(key)), share)
        )
        f_forged.append(forged_rate(floor.refuse_forged, share))
    garbage = [
        "not-a-key",
        keys[0][:-1] + ("A" if keys[0][-1] != "A" else "B"),
        "kdsk_" + "x" * 200,
    ]
    index = iter(range(10**12))
    malformed = rate(
        lambda: refused_reason(lambda: verifier.verify(garbage[next(index) % 3])), min(1.0, share)
    )
    return [
        Row(f"forged keys refused, 1 thread (fresh list/round; refused as {reason})",
            median([r[0] for r in k_forged]), median([r[0] for r in f_forged]), "/s"),
        Row("forged keys: CPU per refusal (all threads)",
            median([r[1] for r in k_forged]), median([r[1] for r in f_forged]), "ms", False),
        Row("malformed keys refused, 1 thread", malformed, None, "/s"),
    ]  # fmt: skip


def _spread(results: list, i: int, unit: str) -> str:
    """The rounds' range, keydesk's: concurrency figures swing run to run."""
    values = [r[i] for r in results]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    if unit == "/s":
        return f"keydesk's rounds {low:,.0f}–{high:,.0f}"
    return f"keydesk's rounds {low:.2f}–{high:.2f}"


def concurrent(verifier: Verifier, floor: Floor, keys: list[str], s: Settings) -> list[Row]:
    """32 threads calling `verify`, and 32 asyncio tasks awaiting `verify_async`."""
    share = s.seconds / s.rounds
    k_thr, f_thr, k_async, f_async = [], [], [], []

    async def keydesk_task(_index: int):
        return verifier.verify_async, None

    # Untimed: the verifier opens a connection per concurrent caller on
    # first need (the floor opens its own before the clock starts).
    threaded(lambda _index: verifier.verify, keys, 0.05 if s.smoke else 0.5)
    for _ in range(s.rounds):
        k_thr.append(threaded(lambda _index: verifier.verify, keys, share))
        f_thr.append(threaded(floor.for_thread, keys, share))
        floor.close_open()
        k_async.append(tasks(keydesk_task, keys, share))
        f_async.append(tasks(floor.for_task, keys, share))
    rows = []
    for what, k, f in (("threads, verify()", k_thr, f_thr), ("asyncio tasks, verify_async()", k_async, f_async)):  # fmt: skip
        for i, (figure, unit) in enumerate((("throughput", "/s"), ("p50 latency", "ms"), ("p99 latency", "ms"))):  # fmt: skip
            rows.append(
                Row(f"{CONCURRENCY} {what}: {figure}", median([r[i] for r in k]),
                    median([r[i] for r in f]), unit, unit == "/s", note=_spread(k, i, unit))
            )  # fmt: skip
    return rows


def in_process(url: str, seeded, s: Settings) -> list[Row]:
    store = open_store(url)
    verifier = Verifier(store.engine)
    floor = Floor(url, seeded.hasher)
    keys = seeded.keys
    try:
        rows = first_seen(verifier, floor, keys, s)
        rows += warm(verifier, floor, keys, s)
        rows += usage_cost(store, verifier, keys, s)
        rows += refusals(verifier, floor, keys, s)
        rows += concurrent(verifier, floor, keys, s)
    finally:
        verifier.close()
        floor.close()
        store.dispose()
    return rows
