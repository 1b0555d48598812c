"""What proven identity costs: row-level security on PostgreSQL, and reading
a long audit trail a page at a time.

    python bench/identity.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/identity.py --smoke [--postgres URL]   # 300 keys, 2,000 events (CI)

Prints, for an integration with KEYS keys and a workspace with EVENTS audit
events (median of a few runs, each in a fresh session):
  * `service.keys()` as the store's owner (row-level security bypassed) and
    as an admin's own role (every row checked by the policies);
  * the first page (200 events) and a page deep in the trail, SQLite and
    PostgreSQL, against reading the whole trail at once.
Needs a superuser URL (it makes a database and login roles, then drops them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from keydesk.service import KeyService
from keydesk.store.engine import Store, open_store
from keydesk.store.models import ApiKey, AuditEvent
from keydesk.views import utcnow

KEYS = 20_000
EVENTS = 100_000
SMOKE = (300, 2_000)  # keys, events: seconds, for CI


def median_ms(run: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fill(store: Store, owner: KeyService, keys: int, events: int) -> None:
    integration = owner.integration("github").id
    account = 1
    with store.engine.begin() as connection:
        account = connection.execute(sa.text("SELECT id FROM account LIMIT 1")).scalar_one()
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": integration, "public_key": f"kdpk_b{n:015d}",
                 "label": f"svc-{n}", "secret_hash": "$argon2id$x", "created_at": utcnow(),
                 "created_by": account}
                for n in range(keys)
            ],
        )  # fmt: skip
        connection.execute(
            sa.insert(AuditEvent),
            [
                {"workspace_id": 1, "integration_id": integration, "actor": owner.actor,
                 "action": "note", "target": f"event {n}", "at": utcnow()}
                for n in range(events)
            ],
        )  # fmt: skip


# The newest replacement as it was read before issue #25: two correlated
# subselects per row (the key list's floor in this bench's before/after).
TWO_SUBSELECTS = (
    "(SELECT s.public_key FROM api_key s WHERE s.replaces_id = k.id ORDER BY s.id DESC LIMIT 1),"
    " (SELECT s.revoked_at IS NOT NULL FROM api_key s WHERE s.replaces_id = k.id"
    " ORDER BY s.id DESC LIMIT 1),"
)


def server_ms(service: KeyService, former: bool = False) -> float:
    """The key list's execution time on the server (EXPLAIN ANALYZE of the
    SQL the service's key list runs, keydesk.store.queries); `former`: as
    it read a key's replacement before issue #25."""
    from keydesk.store.queries import _KEYS, _REPLACEMENT, _TAG_JOIN, _TAGS

    tags = {"tags": _TAGS["postgresql"], "tag_join": _TAG_JOIN["postgresql"]}
    keys = _KEYS.format(replacement=_REPLACEMENT["postgresql"], **tags)
    if former:
        keys = _KEYS.format(replacement="", **tags)
        keys = keys.replace("s.public_key, s.revoked_at IS NOT NULL,", TWO_SUBSELECTS)
    sql = f"{keys} WHERE k.integration_id = 1 ORDER BY k.created_at DESC, k.id DESC"
    with service.store.engine.connect() as connection:
        plan = connection.execute(sa.text(f"EXPLAIN ANALYZE {sql}")).scalars().all()
    return float(plan[-1].split(":")[1].split()[0])


def audit_figures(service: KeyService, events: int) -> tuple[float, float, float]:
    first = median_ms(lambda: service.audit("acme"))
    deep = service.audit("acme", limit=1)
    for _ in range(3):  # a cursor ~600 events down
        deep = service.audit("acme", after=deep[-1], limit=200)
    deep_ms = median_ms(lambda: service.audit("acme", after=deep[-1]))
    whole = median_ms(lambda: service.audit("acme", limit=events + 100), rounds=2)
    return first, deep_ms, whole


def world(url: str, actor: str, keys: int, events: int) -> tuple[Store, KeyService]:
    store = open_store(url, create=True)
    owner = KeyService(store, actor)
    owner.create_workspace("acme")
    owner.add_integration(
        "acme", "github", "GitHub", client_id="x", redirect_uri="https://x.example/cb",
        configure=True,
    )  # fmt: skip
    fill(store, owner, keys, events)
    return store, owner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="a superuser URL (optional)")
    parser.add_argument("--smoke", action="store_true", help="300 keys, 2,000 events (for CI)")
    args = parser.parse_args()
    keys, events = SMOKE if args.smoke else (KEYS, EVENTS)
    print(f"keydesk bench/identity.py — {keys:,} keys, {events:,} audit events, medians\n")
    with tempfile.TemporaryDirectory() as folder:
        store, owner = world(f"sqlite:///{folder}/b.db", "alice", keys, events)
        first, deep, whole = audit_figures(owner, events)
        print(f"  SQLite      audit: first page {first:6.1f} ms   deep page {deep:6.1f} ms"
              f"   whole trail at once {whole:7.0f} ms")  # fmt: skip
        store.dispose()
    if args.postgres:
        postgres(args.postgres, keys, events)


def postgres(server: str, keys: int, events: int) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/support/pg_team.py makes the team
    from tests.support.pg_team import team_database

    with team_database(server) as team:
        alice = team.service_as("alice")
        alice.create_workspace("acme")
        alice.add_integration(
            "acme", "github", "GitHub", client_id="x", redirect_uri="https://x.example/cb",
            configure=True,
        )  # fmt: skip
        superuser = open_store(team.url)
        fill(superuser, KeyService(superuser, team.role("alice")), keys, events)
        with superuser.engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
        trusted = KeyService(superuser, team.role("alice"))
        bypass, enforced, bypass_sql, enforced_sql, former = [], [], [], [], []
        for _ in range(5):  # interleaved: a busy machine slows both alike
            bypass.append(median_ms(lambda: trusted.keys("github"), rounds=1))
            enforced.append(median_ms(lambda: alice.keys("github"), rounds=1))
            bypass_sql.append(server_ms(trusted))
            enforced_sql.append(server_ms(alice))
            former.append(server_ms(trusted, former=True))
        for what, owner_ms, role_ms in (
            ("service.keys()", bypass, enforced),
            ("its SQL on the server", bypass_sql, enforced_sql),
        ):
            a, b = statistics.median(owner_ms), statistics.median(role_ms)
            print(f"  PostgreSQL  {keys:,} keys, {what:<22} owner (no RLS) {a:6.1f} ms   "
                  f"admin's role (RLS) {b:6.1f} ms   ×{b / a:.2f}")  # fmt: skip
        now, then = statistics.median(bypass_sql), statistics.median(former)
        print(f"  PostgreSQL  {keys:,} keys, the key list's SQL as the owner: {now:6.1f} ms, "
              f"before issue #25 (two subselects a row) {then:6.1f} ms   ×{now / then:.2f}")  # fmt: skip
        first, deep, whole = audit_figures(alice, events)
        print(f"  PostgreSQL  audit as the admin's role: first page {first:6.1f} ms   deep page"
              f" {deep:6.1f} ms   whole trail at once {whole:7.0f} ms")  # fmt: skip
        superuser.dispose()


if __name__ == "__main__":
    os.environ.setdefault("TZ", "UTC")
    main()
