"""`keydesk scan` as a user runs it (the command, start-up and the store
look-up included) against grep on the same bytes, in the same run, rounds
interleaved, medians. Prints figures; not a test.

    python bench/scan.py                 # 200 MB tree, 5,000-commit repository, 5 rounds
    python bench/scan.py --size-mb 50    # quicker
    python bench/scan.py --smoke         # 3 MB, 50 commits, 1 round: seconds (CI)
    python bench/scan.py --profile       # and where the in-process scanner's time goes

Files: `keydesk scan TREE` against `grep -rF kdsk_ TREE` (LC_ALL=C, output
read from a pipe). The tree is log- and config-like text: many small files,
some large logs, with kdsk_ mentions (redacted `kdsk_7Qm2…`) on 1 % of log
lines, look-alikes with a broken checksum, and `--keys` real keys (default
one) planted at random places, some across 1 MiB boundaries. The first is
a live key of a SQLite store made for the run, so the scan checks it (one
argon2) and prints it `active`. Every tool reads from the page cache.

Git: `keydesk scan --git REPO` against `git log -p --all | grep -aF kdsk_`,
on a repository of `--commits` commits (bench/scan_git.py) where one commit
added that key and a later one deleted it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchlib import Row, keydesk_command, print_table, seed
from scan_git import build_repo

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
    root: Path, size_mb: int, n_keys: int, seed: int, mention_rate: float, live: str
) -> tuple[int, int, int]:
    """Write the tree, `live` the first key planted; return (bytes, files, keys planted)."""
    rng = random.Random(seed)
    pool_size = min(2 * CHUNK_SIZE, size_mb * MB // 4)  # smaller only for a tiny tree
    pools = [text_pool(rng, pool_size, mention_rate) for _ in range(4)]
    sizes = file_sizes(rng, size_mb * MB)
    plants: dict[int, list[str]] = {}
    for n in range(n_keys):
        key = live if n == 0 else generate_key_pair().private_key.reveal()
        plants.setdefault(rng.randrange(len(sizes)), []).append(key)
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


def run_scanner(root: Path) -> tuple[int, int]:
    findings = skipped = 0
    for event in scan_paths([root]):
        if isinstance(event, Finding):
            findings += 1
        else:
            skipped += 1
    return findings, skipped


def timed_run(argv: list[str], out: Path, *, shell: bool = False) -> tuple[float, float, bytes]:
    """Wall seconds, CPU seconds (user + system, of the command and its
    children), and its output. Output goes to a file: GNU grep writing to
    /dev/null stops at the first match."""
    env = {**os.environ, "LC_ALL": "C"}  # byte matching: grep's fastest, fairest floor
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(argv if not shell else argv[0], stdout=sink, stderr=subprocess.STDOUT,
                       env=env, shell=shell, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.read_bytes()


def compare(
    name: str, keydesk: list[str], floor: list[str], rounds: int, folder: Path, expect: str
) -> list[Row]:
    """Interleaved rounds (the order alternates), medians; the ratio is the
    median of each round's keydesk / floor."""
    wall: dict[str, list[float]] = {"keydesk": [], "floor": []}
    cpu: dict[str, list[float]] = {"keydesk": [], "floor": []}
    ratios: list[float] = []
    for n in range(rounds):
        order = [("keydesk", keydesk), ("floor", floor)]
        figures = {}
        for who, argv in order if n % 2 == 0 else reversed(order):
            figures[who] = timed_run(argv, folder / f"{who}.out", shell=who == "floor")
            wall[who].append(figures[who][0])
            cpu[who].append(figures[who][1])
        if expect not in figures["keydesk"][2].decode("utf-8", "replace"):
            raise SystemExit(
                f"keydesk scan did not report {expect!r}:\n{figures['keydesk'][2][-2000:]!r}"
            )
        ratios.append(figures["keydesk"][0] / figures["floor"][0])
    med = statistics.median
    cpu_ratio = med(cpu["keydesk"]) / med(cpu["floor"]) if med(cpu["floor"]) else None
    return [
        Row(f"{name}: wall time", med(wall["keydesk"]), med(wall["floor"]), "s",
            higher_is_better=False, paired=med(ratios),
            note=f"rounds {', '.join(f'{r:.2f}×' for r in ratios)}"),
        Row(f"{name}: CPU time (user + system)", med(cpu["keydesk"]), med(cpu["floor"]), "s",
            higher_is_better=False, paired=cpu_ratio),
    ]  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--keys", type=int, default=1, help="real keys to plant (one is live)")
    parser.add_argument("--commits", type=int, default=5000, help="commits of the git part")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--mention-rate",
        type=float,
        default=0.01,
        help="share of log lines that mention a redacted kdsk_ key (0.2 is a stress test)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--profile", action="store_true", help="also profile one scanner run")
    parser.add_argument("--smoke", action="store_true", help="3 MB, 50 commits, 1 round (for CI)")
    args = parser.parse_args()
    if args.smoke:
        args.size_mb, args.commits, args.rounds = 3, 50, 1
    return args


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="keydesk-bench-scan-"))
    try:
        url = f"sqlite:///{workdir / 'keys.db'}"
        live = seed(url, {"github": 1}, verified=1).keys[0]
        public = "kdpk_" + live.split("_")[1]
        tree, repo = workdir / "tree", workdir / "repo"
        start = time.perf_counter()
        size, files, planted = build_tree(
            tree, args.size_mb, args.keys, args.seed, args.mention_rate, live
        )
        rng = random.Random(args.seed)
        pool = [log_line(rng, args.mention_rate) for _ in range(5000)]
        patches = build_repo(repo, args.commits, live, args.seed, pool)
        print(
            f"tree: {size / MB:.0f} MB in {files} files, {planted} key(s) planted, kdsk_ "
            f"mentions on {args.mention_rate:.0%} of log lines; repository: {args.commits:,} "
            f"commits ({patches / MB:.0f} MB fast-imported); built in "
            f"{time.perf_counter() - start:.1f} s in {workdir}"
        )
        os.environ["KEYDESK_DATABASE_URL"] = url
        keydesk = keydesk_command()  # caches keydesk's bytecode, as an install does
        timed_run(["grep", "-rcF", "kdsk_", str(tree)], workdir / "warm.out")  # page cache
        expect = f"{public} active"
        rows = compare(f"{args.size_mb} MB tree", [*keydesk, "scan", str(tree)],
                       [f"grep -rF kdsk_ {tree}"], args.rounds, workdir, expect)  # fmt: skip
        rows += compare(f"--git, {args.commits:,} commits", [*keydesk, "scan", "--git", str(repo)],
                        [f"git -C {repo} log -p --all | grep -aF kdsk_"], args.rounds,
                        workdir, expect)  # fmt: skip
        print_table(
            f"keydesk scan vs grep, {args.rounds} interleaved rounds, medians "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
            rows,
        )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(run_scanner, tree)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
