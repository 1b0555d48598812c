"""What a key's rate, quota and allowlist cost a warm verify. Prints figures; not a test.

    python bench/limits.py                      # SQLite, ~1 minute
    python bench/limits.py --db postgresql+psycopg://postgres@127.0.0.1:55433/postgres
    python bench/limits.py --smoke              # a few short rounds: seconds (CI)

One Verifier, three keys of one integration, each verified once beforehand
(warm: its digest is known, so no argon2 is in the figures):
  * unlimited: no rate, no quota, no allowlist — the floor;
  * limited: a rate of 1,000,000,000/d and a quota of 1,000,000,000/month
    (never reached here: every request is counted and accepted, and the
    counts are synced to the store in batches, as in production), and an
    allowlist of three networks the request's address is checked against;
  both presented from an address, as the middleware presents them (so both
  count where they were used from).
Rounds alternate the keys; the ratio is the median of per-round ratios
(issue #22's budget: a limited verify costs at most 1.1 x an unlimited one).
The batches' size follows the limit (N / 20 to start): a smaller N means
more syncs, each one short transaction; `--rate` sets it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import FreshPostgres, median

from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.verify import Verifier

NETWORKS = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]


def _timed(verify, key: str, source: str | None, count: int) -> float:
    """CPU seconds per verify (every thread of this process), over `count`
    calls: on a shared machine, wall time mostly measures the neighbours."""
    start = time.process_time()
    for _ in range(count):
        verify(key, source)
    return (time.process_time() - start) / count


def measure(url: str, rounds: int, count: int, rate: str) -> None:
    store = open_store(url, create=True)
    owner = KeyService(store, "bench")
    owner.create_workspace("bench")
    owner.add_integration(
        "bench", "api", "API", client_id="bench", redirect_uri="https://bench.example/cb",
        scopes="read", configure=True,
    )  # fmt: skip
    free = owner.create_key("api", "unlimited").private_key.reveal()
    limited = owner.create_key(
        "api", "limited", rate=rate, quota="1000000000/month", allow_from=NETWORKS
    ).private_key.reveal()
    verifier = Verifier(store.engine)
    try:
        for key in (free, limited):
            verifier.verify(key, "10.1.2.3")  # warm: argon2 once, before any timing
        plain, fenced, ratios = [], [], []
        for _ in range(rounds):
            base = _timed(verifier.verify, free, "10.1.2.3", count)
            with_limits = _timed(verifier.verify, limited, "10.1.2.3", count)
            plain.append(base)
            fenced.append(with_limits)
            ratios.append(with_limits / base)
        verifier.flush()
    finally:
        verifier.close()
        store.dispose()
    backend = url.split(":", 1)[0]
    print(f"warm verify, one thread, CPU per verify — {backend}, {rounds} rounds of {count:,}")
    print(f"  unlimited key          {median(plain) * 1e6:8.1f} µs")
    print(
        f"  limited key            {median(fenced) * 1e6:8.1f} µs   {median(ratios):.2f}×"
        f"   (rate {rate}, quota 1000000000/month, {len(NETWORKS)} networks)"
    )
    print("  ratio = median of per-round ratios (budget: ≤ 1.10×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", metavar="URL", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--rate", default="1000000000/d", help="the limited key's rate")
    parser.add_argument("--smoke", action="store_true", help="a few short rounds (CI)")
    args = parser.parse_args()
    rounds, count = (3, 300) if args.smoke else (15, 5_000)
    if args.db:
        with FreshPostgres(args.db) as url:
            measure(url, rounds, count, args.rate)
        return
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/bench.db", rounds, count, args.rate)


if __name__ == "__main__":
    main()
