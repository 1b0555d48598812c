"""`keydesk postgres setup`: the roles and the row-level security a team's
PostgreSQL store needs (see keydesk.store.postgres_roles)."""

from __future__ import annotations

import argparse

from keydesk.cli.output import say
from keydesk.cli.parser import Commands
from keydesk.config import database_url


def register(cli: Commands) -> None:
    group = cli.group("postgres", "set up a PostgreSQL store for a team")
    sub = cli.command(
        "setup",
        setup,
        "create keydesk's roles and schema with row-level security (idempotent; run as a "
        "superuser, e.g. sudo -u postgres keydesk postgres setup --db postgresql+psycopg:///keydesk)",
        json_output=True,
        parent=group,
        shared=cli.db_only,
    )
    sub.add_argument(
        "--owner",
        default="keydesk",
        metavar="ROLE",
        help="the role that owns the schema and runs migrations (default: keydesk)",
    )
    sub.add_argument(
        "--print",
        action="store_true",
        dest="print_sql",
        help="print the SQL for a DBA to run (psql) instead of applying it",
    )


def setup(args: argparse.Namespace) -> int:
    from keydesk.store import postgres_roles

    if args.print_sql:
        print(postgres_roles.setup_script(args.owner), end="")
        return 0
    result = postgres_roles.setup(database_url(args.db), args.owner)
    created = ", ".join(result.created_roles) or "none (all existed)"
    say(
        args,
        {
            "database": result.database,
            "owner": result.owner,
            "created_roles": list(result.created_roles),
            "revision": result.revision_after,
        },
        f"keydesk is set up in {result.database}: roles created: {created}; schema at "
        f"revision {result.revision_after}, owned by {result.owner}.\n"
        f"Next, for each admin: CREATE ROLE alice LOGIN IN ROLE {postgres_roles.USERS_ROLE};\n"
        f"and for keydesk serve: CREATE ROLE keydesk_serve LOGIN IN ROLE "
        f"{postgres_roles.VERIFIER_ROLE};",
    )
    return 0
