"""`keydesk store copy` (SQLite → PostgreSQL) against PostgreSQL's own COPY
of the same rows. Prints figures; not a test.

    python bench/store_copy.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/store_copy.py --smoke --postgres URL    # 1,000 keys, 10,000 events (CI)

A SQLite store with KEYS keys and EVENTS audit events is seeded in bulk,
then copied by `keydesk.upkeep.copy.copy_store` (what the command runs:
the checks, COPY of every table, the proof that reads every key back as
keydesk_verifier) into a database prepared by `keydesk postgres setup`.
The floor: the same rows, dumped from that database with `COPY … TO
STDOUT` beforehand, loaded with `COPY … FROM STDIN` into a second database
prepared the same way, in one transaction with the same triggers off (the
name checks and constraints on): what PostgreSQL itself takes to take
those rows in. Ratio = floor time / keydesk time (speed; the issue's
target is 0.5 or more). Needs a superuser URL (it makes two databases and a
role, then drops them).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa
from benchlib import Row, print_table, seed, sqlite_path

from keydesk.store.postgres_roles import USERS_ROLE, setup
from keydesk.upkeep.copy import copy_store
from keydesk.upkeep.tables import sqlite_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres", metavar="URL", default=os.environ.get("KEYDESK_TEST_POSTGRES_URL")
    )
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="1,000 keys, 10,000 events")
    args = parser.parse_args()
    if not args.postgres:
        sys.exit("needs --postgres SUPERUSER_URL (or KEYDESK_TEST_POSTGRES_URL)")
    keys, events = (1_000, 10_000) if args.smoke else (args.keys, args.events)
    tag = secrets.token_hex(4)
    actor, owner = f"bench_admin_{tag}", f"bench_owner_{tag}"
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o700)
        source = f"sqlite:///{Path(folder) / 'source.db'}"
        started = time.perf_counter()
        seed(source, {"svc": keys}, actor=actor, workspace="bench")
        _add_events(sqlite_path(source), events, actor)
        seeded = time.perf_counter() - started
        print(f"seeded {keys:,} keys and {events:,} events in {seeded:.1f} s")
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        names = [f"bench_copy_{tag}", f"bench_floor_{tag}"]
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f"CREATE ROLE {actor} LOGIN"))  # the account's role
                for name in names:
                    connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            server = sa.make_url(args.postgres)
            urls = [server.set(database=n).render_as_string(hide_password=False) for n in names]
            for url in urls:
                setup(url, owner)
            with admin.connect() as connection:
                connection.execute(sa.text(f"GRANT {USERS_ROLE} TO {actor}"))
            measure(source, urls, keys, events, sqlite_path(source))
        finally:
            with admin.connect() as connection:
                for name in names:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                for role in (actor, owner):
                    connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
            admin.dispose()


def _add_events(path: str, count: int, actor: str) -> None:
    """`count` audit events, as keydesk writes them, a second apart."""
    db = sqlite3.connect(path)
    (workspace,) = db.execute("SELECT id FROM workspace").fetchone()
    (integration,) = db.execute("SELECT id FROM integration").fetchone()
    keys = [k for (k,) in db.execute("SELECT public_key FROM api_key LIMIT 1000")]
    rows = (
        (workspace, integration, actor, "key.create", keys[n % len(keys)], f"svc-{n}",
         f"2026-01-01 00:00:00.{n % 1_000_000:06d}")
        for n in range(count)
    )  # fmt: skip
    db.executemany(
        "INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    parsed = sa.make_url(url)
    return psycopg.connect(
        host=parsed.host, port=parsed.port, dbname=parsed.database,
        user=parsed.username, password=parsed.password,
    )  # fmt: skip


def measure(source: str, urls: list[str], keys: int, events: int, path: str) -> None:
    started = time.perf_counter()
    done = copy_store(source, urls[0], mapping={}, copier="bench")
    keydesk = time.perf_counter() - started
    assert done.proof.keys == keys, done.proof
    reading = sqlite3.connect(path)
    tables = [t for t in sqlite_tables(reading) if t != "ssh_approval"]
    reading.close()
    dumps: dict[str, bytes] = {}  # the same rows, as PostgreSQL writes them
    with _connect(urls[0]) as dumping, dumping.cursor() as cursor:
        for table in tables:
            with cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                dumps[table] = b"".join(bytes(chunk) for chunk in copy)
    with _connect(urls[1]) as loading, loading.cursor() as cursor:
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version'")
        (owner,) = cursor.fetchone() or ("",)
        started = time.perf_counter()
        cursor.execute(f'SET LOCAL ROLE "{owner}"')
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal"
            " AND p.prosrc LIKE '%keydesk_record%'"
        )
        triggers = cursor.fetchall()
        for table, trigger in triggers:
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"')
        for table in tables:
            with cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                copy.write(dumps[table])
        for table, trigger in triggers:
            cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER "{trigger}"')
        loading.commit()
        floor = time.perf_counter() - started
    rows = sum(done.counts.values())
    print_table(
        f"store copy: SQLite → PostgreSQL, {rows:,} rows (same rows, same prepared schema)",
        [
            Row(f"copy {keys:,} keys, {events:,} events", keydesk, floor, "s",
                higher_is_better=False,
                note="keydesk: checks, COPY, ids, proof (every key read back); floor: COPY FROM STDIN"),
            Row("rows per second", rows / keydesk, rows / floor, "rows/s"),
        ],
    )  # fmt: skip
    print(f"  speed: {floor / keydesk:.2f}× PostgreSQL's own COPY (target ≥ 0.5×)")


if __name__ == "__main__":
    main()
