"""Revoking 10,000 keys at once (`keydesk key revoke --tag env=staging --yes`)
on SQLite, against raw sqlite3 doing the same writes. Prints figures; not a test.

    python bench/bulk_revoke.py              # 10,000 tagged keys of 12,000, 3 rounds
    python bench/bulk_revoke.py --keys 50000 # more
    python bench/bulk_revoke.py --smoke      # 200 keys, 1 round: seconds (CI)

Each round starts from a copy of one seeded store (keys tagged env=staging,
and 20 % more tagged env=prod, which must stay active) and measures:

* the service: `matching_keys` (the confirmation's count and sample) and
  `revoke_keys` (one transaction: the UPDATEs, one event per key, the
  batch's event), in this process, store already open;
* the floor: one sqlite3 connection doing the same writes the plainest way
  (one UPDATE … WHERE id IN (SELECT … FROM api_key_tag …) and the events
  in one executemany), on its own copy;
* the whole command, `keydesk key revoke --tag env=staging --yes`, as a
  fresh process (imports and opening the store included).

The target (issue #24) is the service's revoke of 10,000 keys under 1 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from benchlib import ACTOR, Row, account_args, keydesk_command, print_table, seed, sqlite_path

FLOOR_UPDATE = """UPDATE api_key SET revoked_at = ?, revoked_by = ?
WHERE revoked_at IS NULL AND id IN (SELECT api_key_id FROM api_key_tag
  WHERE name = 'env' AND value = 'staging') RETURNING public_key, label, integration_id"""
FLOOR_EVENT = """INSERT INTO audit_event (workspace_id, integration_id, actor, action, target,
  label, at) VALUES (?, ?, ?, 'key.revoke', ?, ?, ?)"""


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


def service_round(url: str, keys: int) -> tuple[float, float, float]:
    """Seconds to match, seconds to revoke and the revoke's CPU seconds (on a
    loaded machine wall time is mostly waiting for a core), store open."""
    from keydesk.service import KeyService
    from keydesk.store.engine import open_store
    from keydesk.views.revocations import KeySelection
    from keydesk.views.tags import parse_tags

    store = open_store(url)
    try:
        service = KeyService(store, ACTOR)
        service.integrations()  # warm: the first query pays for the connection
        start = time.perf_counter()
        matched = service.matching_keys(KeySelection(parse_tags(["env=staging"])))
        matched_at, cpu = time.perf_counter(), time.process_time()
        done = service.revoke_keys([k.public_key for k in matched], note="tag env=staging")
        revoked_at, cpu = time.perf_counter(), time.process_time() - cpu
        if len(done.revoked) != keys:
            raise SystemExit(f"revoked {len(done.revoked)} keys, expected {keys}")
        still = sum(1 for k in service.keys("github", include_revoked=False))
        if still != max(1, keys // 5):
            raise SystemExit(f"{still} keys left active: the wrong keys were revoked")
    finally:
        store.dispose()
    return matched_at - start, revoked_at - matched_at, cpu


def floor_round(path: str, keys: int) -> tuple[float, float]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        (account,) = db.execute("SELECT id FROM account LIMIT 1").fetchone()
        (workspace,) = db.execute("SELECT id FROM workspace LIMIT 1").fetchone()
        start, cpu = time.perf_counter(), time.process_time()
        now = datetime.now(UTC).isoformat(sep=" ")
        db.execute("BEGIN")
        revoked = db.execute(FLOOR_UPDATE, (now, account)).fetchall()
        db.executemany(
            FLOOR_EVENT,
            [(workspace, integration, ACTOR, public, label, now)
             for public, label, integration in revoked],
        )  # fmt: skip
        db.execute("COMMIT")
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        db.close()
    if len(revoked) != keys:
        raise SystemExit(f"the floor revoked {len(revoked)} keys, expected {keys}")
    return elapsed, cpu


def command_round(path: str) -> tuple[float, float]:
    """Wall and CPU seconds of the command (CPU: on a loaded machine the
    wall time is mostly waiting for a core)."""
    argv = [*keydesk_command(), "key", "revoke", "--tag", "env=staging", "--yes",
            "--db", path, *account_args()]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="200 keys, 1 round (for CI)")
    args = parser.parse_args()
    if args.smoke:
        args.keys, args.rounds = 200, 1
    figures: dict[str, list[float]] = {
        "match": [], "revoke": [], "revoke_cpu": [], "floor": [], "floor_cpu": [],
        "command": [], "command_cpu": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as folder:
        seeded = sqlite_path(make_store(Path(folder), args.keys))
        for n in range(args.rounds):
            copies = [f"{folder}/round{n}-{what}.db" for what in ("service", "floor", "cli")]
            for copy in copies:
                shutil.copyfile(seeded, copy)
                Path(copy).chmod(0o600)
            match, revoke, revoke_cpu = service_round(f"sqlite:///{copies[0]}", args.keys)
            figures["match"].append(match)
            figures["revoke"].append(revoke)
            figures["revoke_cpu"].append(revoke_cpu)
            floor, floor_cpu = floor_round(copies[1], args.keys)
            figures["floor"].append(floor)
            figures["floor_cpu"].append(floor_cpu)
            wall, cpu = command_round(copies[2])
            figures["command"].append(wall)
            figures["command_cpu"].append(cpu)
    med = {name: statistics.median(values) for name, values in figures.items()}
    ratios = [r / f for r, f in zip(figures["revoke"], figures["floor"], strict=True)]
    print_table(
        f"revoke {args.keys:,} keys by tag on SQLite, {args.rounds} rounds (target: revoke < 1 s)",
        [
            Row("revoke_keys (one transaction)", med["revoke"], med["floor"], "s",
                higher_is_better=False, paired=statistics.median(ratios)),
            Row("  its CPU time", med["revoke_cpu"], med["floor_cpu"], "s",
                higher_is_better=False),
            Row("matching_keys (count + sample)", med["match"], None, "s",
                higher_is_better=False),
            Row("keydesk key revoke --tag … --yes", med["command"], None, "s",
                higher_is_better=False, note="a fresh process, all in"),
            Row("  its CPU time", med["command_cpu"], None, "s", higher_is_better=False),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
