"""`keydesk audit`: read the audit trail. JSON is one event per line (JSON
Lines, oldest first) for shipping to a SIEM; the table is newest first.
Either way the trail is read a page at a time, so its size does not matter."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from keydesk import validation
from keydesk.cli import context
from keydesk.cli.output import iso, print_table, when
from keydesk.cli.parser import Commands, public_key
from keydesk.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from keydesk.store.queries import Reads
    from keydesk.views import AuditView


def register(cli: Commands) -> None:
    sub = cli.command(
        "audit",
        audit,
        "show the audit trail of your workspaces (JSON: one event per line, oldest first)",
        json_output=True,
    )
    sub.add_argument("--workspace", metavar="NAME", help="only this one (default: all of yours)")
    sub.add_argument(
        "--integration", metavar="NAME_OR_ID", help="the events of one integration and its keys"
    )
    sub.add_argument("--key", metavar="PUBLIC_KEY", type=public_key, help="the events of one key")
    sub.add_argument("--since", metavar="WHEN", help="a time ago (30m, 12h, 7d, 2w) or a date")
    sub.add_argument("--limit", type=int, metavar="N", help="at most N events (the newest)")


def audit(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    from keydesk.views import utcnow

    since = validation.since(args.since, utcnow()) if args.since else None
    with context.reads(args) as reads:  # bare sqlite3 on an up-to-date SQLite store
        events = _events(reads, args, since, oldest_first=args.json and args.limit is None)
        if args.json:
            import json

            if args.limit is not None:  # the newest N, still written oldest first
                events = iter(list(events)[::-1])
            for event in events:
                print(json.dumps(_event_json(event), ensure_ascii=False))
            return 0
        print_table(
            ["WHEN", "WORKSPACE", "ACTOR", "ACTION", "TARGET", "LABEL"],
            [
                [when(e.at), e.workspace, e.actor, e.action, _target(e), e.label or ""]
                for e in events
            ],
        )
    return 0


def _events(
    reads: Reads, args: argparse.Namespace, since: datetime | None, *, oldest_first: bool
) -> Iterator[AuditView]:
    """Every matching event, page by page (newest first unless `oldest_first`)."""
    from keydesk.store.audit_queries import audit_page

    left = args.limit
    last: AuditView | None = None
    while left is None or left > 0:
        page = audit_page(
            reads,
            args.workspace,
            integration=args.integration,
            key=args.key,
            since=since,
            after=last,
            oldest_first=oldest_first,
            **({"limit": min(left, 500)} if left is not None else {}),
        )
        yield from page
        if not page:
            return
        last = page[-1]
        if left is not None:
            left -= len(page)


def _target(event: AuditView) -> str:
    """What the event is about; a rotation names both keys, old -> new."""
    return f"{event.target} -> {event.related}" if event.related else event.target


def _event_json(event: AuditView) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(event.at),
        "workspace": event.workspace,
        "integration": event.integration,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "label": event.label,
        "related": event.related,  # another key concerned: a rotation's replacement
    }
