"""`keydesk store copy --to URL`: a SQLite store moved to PostgreSQL
(keydesk.upkeep.copy does the work; this draws its progress and says what
it proved)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from keydesk.cli.output import say
from keydesk.cli.parser import Commands
from keydesk.config import database_url

BAR_WIDTH = 30


def register(cli: Commands, group: Any) -> None:
    sub = cli.command(
        "copy", copy,
        "copy this SQLite store, whole, into a PostgreSQL database prepared with "
        "keydesk postgres setup (all or nothing; run as a superuser there)",
        json_output=True, parent=group, shared=cli.db_only,
    )  # fmt: skip
    sub.add_argument("--to", required=True, metavar="URL", help="postgresql+psycopg://…")
    sub.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="ACCOUNT=ROLE",
        help="the database role an account becomes (default: the role of the same name)",
    )


class _Bar:
    """A progress bar on stderr, at a terminal only, at most 10 draws a second."""

    def __init__(self) -> None:
        self.drawn = 0.0
        self.on = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.on or (now - self.drawn < 0.1 and done < total):
            return
        self.drawn = now
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        end = "\n" if done >= total else ""
        print(f"\rcopying [{bar}] {done:,}/{total:,} rows", end=end, file=sys.stderr, flush=True)


def copy(args: argparse.Namespace) -> int:
    from keydesk.identity import os_account
    from keydesk.upkeep.copy import copy_store, parse_map

    mapping = parse_map(args.map)
    done = copy_store(
        database_url(args.db),
        args.to,
        mapping=mapping,
        copier=args.proven_actor or os_account(),
        progress=_Bar(),
    )
    proof = done.proof
    verdicts = ", ".join(f"{count} {name}" for name, count in sorted(proof.verdicts.items()))
    left = ", ".join(f"{count} {table}" for table, count in done.not_copied.items() if count)
    mapped = ", ".join(f"{a}={r}" for a, r in done.roles.items() if a != r) or "none"
    lines = [
        f"copied {sum(done.counts.values()):,} rows from {done.source}: "
        + ", ".join(f"{table} {count}" for table, count in done.counts.items()),
        f"accounts mapped to other roles: {mapped}",
        f"proof: all {proof.keys} keys verify on the target as on the source ({verdicts or 'none'})",
        f"source untouched (read-only); not copied: {left or 'no SSH authorizations'}"
        + (" (SSH access is for SQLite stores only)" if left else ""),
    ]
    say(
        args,
        {
            "source": done.source,
            "copied": done.counts,
            "not_copied": done.not_copied,
            "roles": done.roles,
            "keys_proven": proof.keys,
            "verdicts": proof.verdicts,
        },
        "\n".join(lines),
    )
    return 0
