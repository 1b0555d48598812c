"""Leak-scan throughput on one core, against `grep -r kdsk_` on the same tree
as the floor. Prints figures; not a test.

    python bench/scan.py                 # a ~500 MB tree in a temp dir
    python bench/scan.py --size-mb 50    # quicker
    python bench/scan.py --smoke         # a 3 MB tree, one run: seconds (CI)
    python bench/scan.py --profile       # and where the scanner's time goes

The tree is log- and config-like text: many small files, some large logs,
real keys planted at random places (some across 1 MiB chunk boundaries),
plus look-alikes that must not count (redacted `kdsk_7Qm2…` mentions and
keys with a broken checksum). Every tool reads from the page cache: the tree
is read once before anything is timed.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from keydesk.keys import BASE62, generate_key_pair
from keydesk.scan import CHUNK_SIZE, Finding, scan_paths

MB = 1_000_000
LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
PATHS = ("/v1/verify", "/v1/keys", "/healthz", "/oauth/callback", "/api/orders/12345")


def log_line(rng: random.Random, mention_rate: float) -> str:
    kind = rng.random()
    stamp = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
    if kind < 0.6:
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        return (
            f"{stamp} {rng.choice(LEVELS)} request_id={rng.getrandbits(64):016x} "
            f"remote_addr={ip} method=GET path={rng.choice(PATHS)} status={rng.choice((200, 200, 401, 404, 500))} "
            f'duration_ms={rng.random() * 90:.2f} user_agent="curl/8.{rng.randint(0, 9)}.0"\n'
        )
    if kind < 0.6 + mention_rate:
        key_id = "".join(rng.choices(BASE62, k=4))
        return f"{stamp} INFO keydesk.verify key=kdsk_{key_id}… public_key=kdpk_{''.join(rng.choices(BASE62, k=16))} outcome=ok\n"
    if kind < 0.95:
        name = rng.choice(("database_url", "cache_ttl", "feature_flag", "max_conns"))
        return f'{name}_{rng.randint(0, 99)} = "{rng.getrandbits(128):032x}"\n'
    return f"    at com.example.service.Handler.handle(Handler.java:{rng.randint(1, 999)})\n"


def text_pool(rng: random.Random, size: int, mention_rate: float) -> bytes:
    lines, total = [], 0
    while total < size:
        line = log_line(rng, mention_rate)
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


def broken(key: str) -> str:
    at = 30
    other = BASE62[(BASE62.index(key[at]) + 1) % len(BASE62)]
    return key[:at] + other + key[at + 1 :]


def file_sizes(rng: random.Random, total: int) -> list[int]:
    sizes, left = [], total
    while left > 0:
        pick = rng.random()
        if pick < 0.70:
            size = rng.randint(1_000, 64_000)
        elif pick < 0.97:
            size = rng.randint(64_000, 1_000_000)
        else:
            size = rng.randint(1_000_000, 16_000_000)
        sizes.append(min(size, left))
        left -= size
    return sizes


def build_tree(
    root: Path, size_mb: int, n_keys: int, seed: int, mention_rate: float
) -> tuple[int, int, int]:
    """Write the tree; return (bytes, files, keys planted)."""
    rng = random.Random(seed)
    pool_size = min(2 * CHUNK_SIZE, size_mb * MB // 4)  # smaller only for a tiny tree
    pools = [text_pool(rng, pool_size, mention_rate) for _ in range(4)]
    sizes = file_sizes(rng, size_mb * MB)
    plants: dict[int, list[str]] = {}
    for _ in range(n_keys):
        plants.setdefault(rng.randrange(len(sizes)), []).append(
            generate_key_pair().private_key.reveal()
        )
    total = 0
    for index, size in enumerate(sizes):
        folder = root / f"svc{index % 17:02d}" / f"part{index % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        text = random_text(rng, pools, size)
        lookalikes = [  # must not be found
            broken(generate_key_pair().private_key.reveal()) for _ in range(rng.randint(0, 2))
        ]
        data = plant(rng, text, plants.get(index, []) + lookalikes)
        (folder / f"app-{index:05d}.log").write_bytes(data)
        total += len(data)
    return total, len(sizes), n_keys


def random_text(rng: random.Random, pools: list[bytes], size: int) -> bytes:
    pieces, left = [], size
    while left > 0:
        pool = rng.choice(pools)
        start = rng.randrange(len(pool) - min(left, len(pool) - 1))
        piece = pool[start : start + left]
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def plant(rng: random.Random, text: bytes, keys: list[str]) -> bytes:
    """`text` with each key on its own line at a random place, some across a
    chunk boundary. Places are chosen in the original text and spliced in
    once, so no insert can land inside another key."""
    boundaries = range(CHUNK_SIZE, len(text), CHUNK_SIZE)
    places = []
    for key in keys:
        if boundaries and rng.random() < 0.3:
            at = rng.choice(boundaries) - rng.randint(1, len(key) - 1)
        else:
            at = rng.randrange(max(1, len(text)))
        places.append((at, f"\nAPI_KEY={key}\n".encode()))
    pieces, last = [], 0
    for at, insert in sorted(places):
        pieces += [text[last:at], insert]
        last = at
    pieces.append(text[last:])
    return b"".join(pieces)


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def run_scanner(root: Path) -> tuple[int, int]:
    findings = skipped = 0
    for event in scan_paths([root]):
        if isinstance(event, Finding):
            findings += 1
        else:
            skipped += 1
    return findings, skipped


def run_grep(*args: str) -> None:
    env = {**os.environ, "LC_ALL": "C"}  # byte matching: grep's fastest, fairest floor
    # Output into a pipe we read: GNU grep writing to /dev/null stops at the
    # first match, which would time nothing.
    subprocess.run(["grep", *args], capture_output=True, env=env, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--keys", type=int, default=200, help="real keys to plant")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--mention-rate",
        type=float,
        default=0.01,
        help="share of log lines that mention a redacted kdsk_ key (0.2 is a stress test)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--profile", action="store_true", help="also profile one scanner run")
    parser.add_argument("--smoke", action="store_true", help="3 MB, 20 keys, 1 run (for CI)")
    args = parser.parse_args()
    if args.smoke:
        args.size_mb, args.keys, args.repeat = 3, 20, 1

    workdir = Path(tempfile.mkdtemp(prefix="keydesk-bench-scan-"))
    try:
        start = time.perf_counter()
        size, files, planted = build_tree(
            workdir, args.size_mb, args.keys, args.seed, args.mention_rate
        )
        print(
            f"tree: {size / MB:.0f} MB in {files} files, {planted} keys planted, "
            f"kdsk_ mentions on {args.mention_rate:.0%} of log lines "
            f"(built in {time.perf_counter() - start:.1f} s, {workdir})"
        )
        run_grep("-rc", "kdsk_", str(workdir))  # warm the page cache

        def best(action) -> tuple[float, object]:
            return min((timed(action) for _ in range(args.repeat)), key=lambda r: r[0])

        scan_s, (found, skipped) = best(lambda: run_scanner(workdir))
        grep_s, _ = best(lambda: run_grep("-r", "kdsk_", str(workdir)))
        grepc_s, _ = best(lambda: run_grep("-rc", "kdsk_", str(workdir)))
        status = "ok" if found == planted and not skipped else "MISMATCH"
        print(
            f"keydesk scan : {size / MB / scan_s:7.0f} MB/s  {scan_s:6.2f} s  "
            f"found {found}/{planted} ({status}), {skipped} skipped"
        )
        print(f"grep -r      : {size / MB / grep_s:7.0f} MB/s  {grep_s:6.2f} s")
        print(f"grep -rc     : {size / MB / grepc_s:7.0f} MB/s  {grepc_s:6.2f} s")
        print(
            f"scan / grep -r speed: {grep_s / scan_s:.2f}   scan / grep -rc: {grepc_s / scan_s:.2f}"
        )
        print(f"best of {args.repeat}; one core (the scanner is single-threaded, grep too)")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(run_scanner, workdir)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
