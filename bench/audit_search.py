"""The audit trail's `/` (KeyService.audit(matching=…)) on a SQLite store of
1,000,000 events: the first page without a filter, and a search that finds
a few events or none, which reads the whole trail. Prints figures; not a test.

    python bench/audit_search.py              # 1,000,000 events, 3 rounds
    python bench/audit_search.py --events 100000
    python bench/audit_search.py --smoke      # 2,000 events, 1 round: seconds (CI)

The TUI runs each search in a worker thread, after 0.4 s of quiet typing;
medians of wall time (on a loaded machine mostly waiting for a core).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from keydesk.demo import seed_demo
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.store.models import AuditEvent
from keydesk.views import utcnow

BATCH = 100_000
SEARCHES = (None, "slack", "worker 99999", "no such text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    events, rounds = (2_000, 1) if args.smoke else (args.events, args.rounds)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'keydesk.db'}", create=True)
        seed_demo(store)
        now = utcnow()
        with store.engine.begin() as connection:
            for start in range(0, events, BATCH):
                connection.execute(
                    sa.insert(AuditEvent),
                    [
                        {"workspace_id": 1, "actor": "alice", "action": "key.create",
                         "target": f"kdpk_x{n:015d}", "label": f"worker {n}", "at": now}
                        for n in range(start, min(events, start + BATCH))
                    ],
                )  # fmt: skip
        alice = KeyService(store, "alice")
        print(f"\naudit trail of acme: {events:,} events besides the demo's (SQLite)")
        for needle in SEARCHES:
            times, found = [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                found = len(alice.audit("acme", limit=200, matching=needle))
                times.append(time.perf_counter() - started)
            what = "first page, no filter" if needle is None else f"search {needle!r}"
            print(f"  {what:<24} {statistics.median(times):8.3f} s  {found} events")
        store.dispose()


if __name__ == "__main__":
    main()
