"""How long a shell waits for keydesk's tab completion, against bare Python
in the same run. Prints figures; not a test.

    python bench/completion.py            # 5 rounds x 10 runs per request
    python bench/completion.py --quick    # 3 rounds x 5 runs
    python bench/completion.py --smoke    # 1 run, stores of 3 and 200 keys: seconds (CI)

Each request is what `keydesk completion bash`'s script runs on Tab: the
`keydesk` console script with argcomplete's protocol (_ARGCOMPLETE=1,
COMP_LINE, COMP_POINT), the answer read from fd 8. Store requests run on
SQLite stores of 3, 1,000 and 10,000 keys made through the service, acting
as the OS user. Floor: `python -c pass` (the interpreter alone). Rounds
interleave the requests; the figure is the median of every run. The budget
is 150 ms a request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchlib import Row, keydesk_command, print_table, seed

BUDGET_MS = 150


def ask(line: str, db: str | None) -> tuple[float, str]:
    """Seconds one completion request took, and its answer."""
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": "bash",
           "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line, "COMP_POINT": str(len(line))}  # fmt: skip
    env.pop("KEYDESK_DATABASE_URL", None)
    if db:
        env["KEYDESK_DATABASE_URL"] = db
    read, write = os.pipe()
    os.dup2(write, 8)  # as the shell script does: the answer comes on fd 8
    os.close(write)
    started = time.perf_counter()
    process = subprocess.Popen(
        keydesk_command(), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, pass_fds=(8,),
    )  # fmt: skip
    os.close(8)
    with os.fdopen(read) as answer:
        text = answer.read()
    process.wait()
    return time.perf_counter() - started, text


def floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="1 run, small stores (for CI)")
    options = parser.parse_args()
    rounds, runs = (1, 1) if options.smoke else (3, 5) if options.quick else (5, 10)
    sizes = (3, 200) if options.smoke else (3, 1_000, 10_000)
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o700)
        stores = {}
        for count in sizes:
            url = f"sqlite:///{folder}/k{count}.db"
            seed(url, {"github": count, "stripe": 3})
            stores[count] = url
        requests = [("keydesk <TAB> (commands, no store read)", "keydesk ", stores[3])]
        for count, url in stores.items():
            requests += [
                (f"--integration <TAB> ({count:,}-key store)", "keydesk key list --integration ",
                 url),
                (f"key revoke kdpk_<TAB> ({count:,}-key store)", "keydesk key revoke kdpk_", url),
            ]  # fmt: skip
        requests.append(("key revoke <TAB> (no store there)", "keydesk key revoke ",
                         f"{folder}/missing.db"))  # fmt: skip
        times: dict[str, list[float]] = defaultdict(list)
        floors: list[float] = []
        answers: dict[str, str] = {}
        for _ in range(rounds):
            for _ in range(runs):
                floors.append(floor())
                for name, line, db in requests:
                    took, answers[name] = ask(line, db)
                    times[name].append(took)
    base = statistics.median(floors)
    rows = [
        Row(name, statistics.median(times[name]) * 1000, base * 1000, "ms",
            higher_is_better=False, note=f"{len(answers[name].split())} offered")
        for name, _line, _db in requests
    ]  # fmt: skip
    print_table("keydesk completion: one Tab, median wall time", rows)
    worst = max(row.keydesk or 0 for row in rows)
    print(
        f"  slowest: {worst:.0f} ms (budget {BUDGET_MS} ms): {'ok' if worst < BUDGET_MS else 'OVER'}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
