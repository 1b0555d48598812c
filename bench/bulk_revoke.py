"""Revoking 10,000 keys at once (`keydesk key revoke --tag env=staging --yes`)
on SQLite, against raw sqlite3 doing the same reads and writes. Prints
figures; not a test.

    python bench/bulk_revoke.py              # 10,000 tagged keys of 12,000, 5 rounds
    python bench/bulk_revoke.py --keys 50000 # more
    python bench/bulk_revoke.py --smoke      # 200 keys, 1 round: seconds (CI)

Each round starts from copies of one seeded store (keys tagged env=staging,
and 20 % more tagged env=prod, which must stay active) and runs, each in a
fresh Python process, in an order that turns from round to round (the
rounds interleave, so a change in the machine's load hits every side):

* the command: `from keydesk.cli import main; main([key, revoke, --tag,
  env=staging, --yes, --db, …])`, timed in that process from before the
  import to its return (imports, opening the store, the match, the
  confirmation's sample, the revoke and its events: all of it but the
  interpreter's own start, which the floor pays too);
* its steps: the match (`keydesk.store.bulk_revoke.matching`: the count, the
  sample and the public keys) and the revoke (one transaction: the UPDATE,
  one event per key, the batch's), as the command runs them on SQLite;
* the floor: one sqlite3 connection doing the same the plainest way (one
  SELECT of the tagged active keys, one UPDATE … WHERE id IN (SELECT … FROM
  api_key_tag …), the events in one executemany), `import sqlite3` included.

Wall and CPU time both (on a loaded machine wall time is mostly waiting for a
core; the load average is printed), medians over the rounds; the ratio is
the median of each round's keydesk/floor. The whole fresh process (the
interpreter's start included) is the last row. The target (issue #24): the
whole command for 10,000 keys under 1 s of CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from benchlib import ACTOR, Row, account_args, keydesk_command, print_table, seed, sqlite_path

# Each child prints one JSON line last: {"name": [wall s, CPU s], …}.
COMMAND = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
from keydesk.cli import main
code = main({argv!r})
times = {{"command": [time.perf_counter() - wall, time.process_time() - cpu]}}
sys.stdout.flush()
print(json.dumps(times) if code == 0 else "exit " + str(code))
"""

STEPS = """
import json, time
from keydesk.store.bulk_revoke import bare_sqlite_writes, matching, revoke
from keydesk.views.revocations import KeySelection
from keydesk.views.tags import parse_tags

selection = KeySelection(parse_tags(["env=staging"]))
with bare_sqlite_writes({url!r}) as bare:
    wall, cpu = time.perf_counter(), time.process_time()
    keys = matching(bare.reads, selection)
    match = [time.perf_counter() - wall, time.process_time() - cpu]
    wall, cpu = time.perf_counter(), time.process_time()
    with bare.transaction():
        done = revoke(bare.reads, [key.public_key for key in keys], selection.note())
    times = {{"match": match, "revoke": [time.perf_counter() - wall, time.process_time() - cpu]}}
print(json.dumps(times) if len(done.revoked) == {keys} else "revoked " + str(len(done.revoked)))
"""

FLOOR = """
import json, time
wall, cpu = time.perf_counter(), time.process_time()
import sqlite3
from datetime import UTC, datetime
db = sqlite3.connect({path!r}, isolation_level=None)
(account,) = db.execute("SELECT id FROM account LIMIT 1").fetchone()
(workspace,) = db.execute("SELECT id FROM workspace LIMIT 1").fetchone()
start, cpu_start = time.perf_counter(), time.process_time()
keys = db.execute(
    "SELECT k.public_key, k.label, i.name, c.name FROM api_key k"
    " JOIN api_key_tag t ON t.api_key_id = k.id AND t.name = 'env' AND t.value = 'staging'"
    " JOIN integration i ON i.id = k.integration_id JOIN account c ON c.id = k.created_by"
    " WHERE k.revoked_at IS NULL ORDER BY k.created_at DESC"
).fetchall()
match = [time.perf_counter() - start, time.process_time() - cpu_start]
start, cpu_start = time.perf_counter(), time.process_time()
now = datetime.now(UTC).isoformat(sep=" ")
db.execute("BEGIN IMMEDIATE")
revoked = db.execute(
    "UPDATE api_key SET revoked_at = ?, revoked_by = ? WHERE revoked_at IS NULL AND id IN"
    " (SELECT api_key_id FROM api_key_tag WHERE name = 'env' AND value = 'staging')"
    " RETURNING public_key, label, integration_id", (now, account)
).fetchall()
db.executemany(
    "INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label, at)"
    " VALUES (?, ?, ?, 'key.revoke', ?, ?, ?)",
    [(workspace, integration, {actor!r}, public, label, now) for public, label, integration in revoked],
)
db.execute(
    "INSERT INTO audit_event (workspace_id, actor, action, target, label, at)"
    " VALUES (?, ?, 'key.revoke.batch', 'tag env=staging', ?, ?)",
    (workspace, {actor!r}, str(len(revoked)) + " keys revoked", now),
)
db.execute("COMMIT")
db.close()
times = {{"match": match, "revoke": [time.perf_counter() - start, time.process_time() - cpu_start],
          "command": [time.perf_counter() - wall, time.process_time() - cpu]}}
print(json.dumps(times) if len(keys) == len(revoked) == {keys} else "revoked " + str(len(revoked)))
"""


def make_store(folder: Path, keys: int) -> str:
    """A store with `keys` keys tagged env=staging and a fifth as many env=prod."""
    url = f"sqlite:///{folder}/seed.db"
    others = max(1, keys // 5)
    seed(url, {"github": keys + others}, actor=ACTOR)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM api_key ORDER BY id"))]
        connection.execute(
            sa.text("INSERT INTO api_key_tag (api_key_id, name, value) VALUES (:id, 'env', :v)"),
            [{"id": n, "v": "staging" if i < keys else "prod"} for i, n in enumerate(ids)],
        )
    engine.dispose()
    return url


def child(code: str) -> tuple[dict[str, list[float]], float, float]:
    """Run `code` in a fresh Python: its own figures, and the whole
    process's wall and CPU seconds (the interpreter's start included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    last = done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()]
    if done.returncode != 0 or not last[0].startswith("{"):
        raise SystemExit(f"a round failed: {last[0]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(last[0]), wall, cpu


def still_active(path: str) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return int(
            db.execute("SELECT count(*) FROM api_key WHERE revoked_at IS NULL").fetchone()[0]
        )
    finally:
        db.close()


def one_round(folder: str, seeded: str, n: int, keys: int, figures: dict[str, list[float]]) -> None:
    paths = {side: f"{folder}/round{n}-{side}.db" for side in ("command", "steps", "floor")}
    for path in paths.values():
        shutil.copyfile(seeded, path)
        Path(path).chmod(0o600)
    argv = ["key", "revoke", "--tag", "env=staging", "--yes", "--db", paths["command"],
            *account_args()]  # fmt: skip
    codes = {
        "command": COMMAND.format(argv=argv),
        "steps": STEPS.format(url=f"sqlite:///{paths['steps']}", keys=keys),
        "floor": FLOOR.format(path=paths["floor"], actor=ACTOR, keys=keys),
    }
    sides = list(codes)
    for side in sides[n % 3 :] + sides[: n % 3]:  # each round starts with the next side
        own, wall, cpu = child(codes[side])
        for step, (step_wall, step_cpu) in own.items():
            prefix = "floor_" if side == "floor" else ""
            figures.setdefault(f"{prefix}{step}", []).append(step_wall)
            figures.setdefault(f"{prefix}{step}_cpu", []).append(step_cpu)
        if side != "steps":
            figures.setdefault(f"{prefix}command_process", []).append(wall)
            figures.setdefault(f"{prefix}command_process_cpu", []).append(cpu)
    for side in ("command", "floor"):  # the right keys, and only those, were revoked
        if still_active(paths[side]) != max(1, keys // 5):
            raise SystemExit(f"{side}: the wrong keys were revoked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="200 keys, 1 round (for CI)")
    args = parser.parse_args()
    if args.smoke:
        args.keys, args.rounds = 200, 1
    keydesk_command()  # caches keydesk's bytecode, as an installed package has it
    figures: dict[str, list[float]] = {}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as folder:
        seeded = sqlite_path(make_store(Path(folder), args.keys))
        for n in range(args.rounds):
            one_round(folder, seeded, n, args.keys, figures)
    load = (load + os.getloadavg()[0]) / 2
    print_table(
        f"revoke {args.keys:,} keys by tag on SQLite, {args.rounds} interleaved rounds, medians "
        f"(load average {load:.1f} on {os.cpu_count()} cores; target: the command < 1 s of CPU)",
        [_row(figures, *row) for row in ROWS],
    )


ROWS = [  # measure, figure (floor_FIGURE its floor), note
    ("keydesk key revoke --tag … --yes", "command", "in-process main(), imports included"),
    ("  its CPU time", "command_cpu", ""),
    ("the match (count + sample + keys)", "match", "keydesk.store.bulk_revoke.matching"),
    ("  its CPU time", "match_cpu", ""),
    ("revoke_keys (one transaction)", "revoke", "UPDATE + an event per key + the batch's"),
    ("  its CPU time", "revoke_cpu", ""),
    ("a fresh process, all in", "command_process", "interpreter start included"),
    ("  its CPU time", "command_process_cpu", ""),
]


def _row(figures: dict[str, list[float]], measure: str, name: str, note: str) -> Row:
    ours, floor = figures[name], figures[f"floor_{name}"]
    ratios = [a / b for a, b in zip(ours, floor, strict=True) if b > 0]
    return Row(
        measure, statistics.median(ours), statistics.median(floor), "s",
        higher_is_better=False, note=note,
        paired=statistics.median(ratios) if ratios else None,
    )  # fmt: skip


if __name__ == "__main__":
    main()
