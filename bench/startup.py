"""Start-up time of each entry point, against bare Python in the same run.
Prints figures; not a test.

    python bench/startup.py            # 3 rounds x 6 runs per command, 1-3 minutes
    python bench/startup.py --quick    # 2 rounds x 5 runs
    python bench/startup.py --smoke    # 1 round x 1 run, importtime once: seconds (CI)

Timed with hyperfine when installed (apt-get install hyperfine; it corrects
for the shell's own start-up), else with a loop of subprocess runs. Rounds
interleave the commands; the figure is the median of every run.

Floors: `python -c pass` (the interpreter alone) and `python -c 'import
sqlalchemy'` (the least any command that opens the store must load), each
ratio against both. Then `python -X importtime` of `keydesk --help` (and of
the TUI's import): the ten modules with the largest cumulative import time,
medians of 5 runs.

The store commands run on a 3-key SQLite store made through the service,
acting as the OS user; `benchlib.account_args` is the one place that says how
the CLI is told the account (`--account NAME` today).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchlib import account_args, keydesk_command, seed

PY = shlex.quote(sys.executable)


def commands(folder: Path, key_file: Path) -> list[tuple[str, str]]:
    """(name, shell command); the first two are the floors."""
    keydesk = " ".join(shlex.quote(part) for part in keydesk_command())
    db = shlex.quote(str(folder / "three.db"))
    account = " ".join(shlex.quote(a) for a in account_args())
    return [
        ("python -c pass", f"{PY} -c pass"),
        ("python -c 'import sqlalchemy'", f"{PY} -c 'import sqlalchemy'"),
        ("keydesk --help", f"{keydesk} --help"),
        ("keydesk --version", f"{keydesk} --version"),
        ("echo KEY | keydesk verify (3-key store)", f"{keydesk} verify --db {db} < {key_file}"),
        ("keydesk key list --json (3-key store)",
         f"{keydesk} key list --json --integration github --db {db} {account}"),
        ("python -c 'import keydesk.tui.app'", f"{PY} -c 'import keydesk.tui.app'"),
    ]  # fmt: skip


def with_hyperfine(cmds: list[tuple[str, str]], runs: int, folder: Path) -> dict[str, list[float]]:
    out = folder / "hyperfine.json"
    done = subprocess.run(
        ["hyperfine", "--style", "none", "--warmup", "1", "--runs", str(runs),
         "--export-json", str(out), *(c for _, c in cmds)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:  # (its outlier warnings on success are noise here)
        raise SystemExit(f"hyperfine failed:\n{done.stderr}")
    results = json.loads(out.read_text())["results"]
    return {
        name: [t * 1000 for t in r["times"]] for (name, _), r in zip(cmds, results, strict=True)
    }


def run_checked(command: str) -> None:
    """Run `command`; its failure ends the bench with its stderr."""
    done = subprocess.run(command, shell=True, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {command}\n{done.stderr.decode(errors='replace')}")


def with_loop(cmds: list[tuple[str, str]], runs: int, warmup: bool) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for name, command in cmds:
        if warmup:
            run_checked(command)
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            run_checked(command)
            samples.append((time.perf_counter() - start) * 1000)
        times[name] = samples
    return times


def importtime(argv: list[str], repeat: int = 5, top: int = 10) -> list[tuple[str, float, float]]:
    """(module, self ms, cumulative ms) of the `top` largest cumulative
    imports, medians over `repeat` runs of `python -X importtime argv`."""
    self_us: dict[str, list[int]] = defaultdict(list)
    cumulative_us: dict[str, list[int]] = defaultdict(list)
    for _ in range(repeat):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False
        ).stderr
        for line in err.splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if found:
                name = found.group(4)
                self_us[name].append(int(found.group(1)))
                cumulative_us[name].append(int(found.group(2)))
    ranked = sorted(cumulative_us, key=lambda m: statistics.median(cumulative_us[m]), reverse=True)
    return [
        (m, statistics.median(self_us[m]) / 1000, statistics.median(cumulative_us[m]) / 1000)
        for m in ranked[:top]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="runs per command per round (default 6)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 runs")
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 run (for CI)")
    args = parser.parse_args()
    runs = args.runs or (1 if args.smoke else 5 if args.quick else 6)
    rounds = args.rounds or (1 if args.smoke else 2 if args.quick else 3)
    repeat = 1 if args.smoke else 5
    hyperfine = shutil.which("hyperfine")

    with tempfile.TemporaryDirectory(prefix="keydesk-bench-startup-") as tmp:
        folder = Path(tmp)
        seeded = seed(f"sqlite:///{folder / 'three.db'}", {"github": 3}, verified=1)
        key_file = folder / "key.txt"
        key_file.write_text(seeded.keys[0] + "\n")
        cmds = commands(folder, key_file)
        # Each must succeed before it is timed. --smoke without hyperfine: its
        # one timed run, checked the same way, is that check (no warm-up).
        if hyperfine or not args.smoke:
            for _, command in cmds:
                run_checked(command)
        times: dict[str, list[float]] = defaultdict(list)
        for _ in range(rounds):
            got = (
                with_hyperfine(cmds, runs, folder)
                if hyperfine
                else with_loop(cmds, runs, warmup=not args.smoke)
            )
            for name, samples in got.items():
                times[name].extend(samples)
        script = keydesk_command()  # a Python script, or [python, -m, keydesk]
        argv = [*(script[1:] if script[0] == sys.executable else script), "--help"]
        top_help = importtime(argv, repeat)
        top_tui = importtime(["-c", "import keydesk.tui.app"], repeat)

    medians = {name: statistics.median(samples) for name, samples in times.items()}
    floor_pass, floor_sa = medians[cmds[0][0]], medians[cmds[1][0]]
    print(
        f"keydesk bench/startup.py — Python {sys.version.split()[0]}, "
        f"{'hyperfine' if hyperfine else 'subprocess loop'}, {rounds} rounds x {runs} runs"
    )
    width = max(len(name) for name, _ in cmds)
    head = f"  {'command':<{width}}  {'median':>9}  {'p90':>9}  {'÷ pass':>7}  {'÷ import sqlalchemy':>19}"
    print("\n" + head + "\n  " + "-" * (len(head) - 2))
    for name, _ in cmds:
        samples = sorted(times[name])
        p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
        print(
            f"  {name:<{width}}  {medians[name]:>6.0f} ms  {p90:>6.0f} ms  "
            f"{medians[name] / floor_pass:>6.2f}×  {medians[name] / floor_sa:>18.2f}×"
        )
    print("  ratios: this command's median over the floor's (python -c pass; import sqlalchemy)")
    for title, top in (("keydesk --help", top_help), ("import keydesk.tui.app", top_tui)):
        print(f"\n  python -X importtime {title}: top 10 by cumulative time (median of {repeat})")
        for module, self_ms, cumulative_ms in top:
            print(f"    {cumulative_ms:>7.1f} ms cumulative  {self_ms:>6.1f} ms self  {module}")


if __name__ == "__main__":
    main()
