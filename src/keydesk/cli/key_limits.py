"""A key's limits and networks on the command line: the options `key
create` and `key edit` share, and what `key usage` adds (quota remaining,
where the key was used from)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keydesk.cli.output import iso, print_table

if TYPE_CHECKING:
    from keydesk.service import KeyService
    from keydesk.views import KeyView

RATE_HELP = "at most N requests per PERIOD (s, min, h, d, month), e.g. 600/min"
SOURCES_SHOWN = 10  # busiest sources `key usage` prints (--json lists them all)


def limit_options(sub: argparse.ArgumentParser, *, edit: bool = False) -> None:
    """--rate/--no-rate, --quota/--no-quota, --allow-from (repeatable)
    and, for `key edit`, --allow-anywhere."""
    rate = sub.add_mutually_exclusive_group()
    default = "" if edit else " (default: the workspace's default rate)"
    rate.add_argument("--rate", metavar="N/PERIOD", help=RATE_HELP + default)
    rate.add_argument("--no-rate", action="store_true", help="no rate limit")
    quota = sub.add_mutually_exclusive_group()
    quota.add_argument(
        "--quota", metavar="N/PERIOD", help="at most N requests per PERIOD in all (1000000/month)"
    )
    quota.add_argument("--no-quota", action="store_true", help="no quota")
    networks = sub.add_mutually_exclusive_group()
    networks.add_argument(
        "--allow-from", action="append", metavar="CIDR", default=None,
        help="accept the key only from this network, IPv4 or IPv6 (repeat for more)"
        + ("; replaces the list" if edit else "; default: anywhere"),
    )  # fmt: skip
    if edit:
        networks.add_argument(
            "--allow-anywhere", action="store_true", help="drop the key's network allowlist"
        )


def limit_choices(args: argparse.Namespace) -> dict[str, Any]:
    """The service's arguments for what was given (absent: unchanged)."""
    chosen: dict[str, Any] = {}
    if args.rate is not None or args.no_rate:
        chosen["rate"] = "none" if args.no_rate else args.rate
    if args.quota is not None or args.no_quota:
        chosen["quota"] = "none" if args.no_quota else args.quota
    if args.allow_from is not None or getattr(args, "allow_anywhere", False):
        chosen["allow_from"] = args.allow_from or ()
    return chosen


def limits_json(key: KeyView) -> dict[str, Any]:
    return key.limits.as_json()


def limits_line(key: KeyView) -> str:
    limits = key.limits
    return (
        f"Limits:      rate {limits.rate or 'none'}, quota {limits.quota or 'none'}; "
        f"from {limits.networks}"
    )


def usage_extras(service: KeyService, public_key: str, since: datetime) -> dict[str, Any]:
    """`key usage --json`'s quota and sources (busiest first, per hour)."""
    from keydesk.limits import stored_limit
    from keydesk.views.usage import usage_hour, usage_hour_start

    key = service.key(public_key)
    quota = stored_limit(key.limits.quota)
    used = service.quota_used(public_key) if quota else None
    sources = service.key_sources(public_key, usage_hour(since.timestamp()))
    return {
        "quota": None if quota is None else str(quota),
        "quota_used": used,
        "quota_remaining": None if quota is None else max(0, quota.count - (used or 0)),
        "sources": [
            {"hour": iso(usage_hour_start(hour)), "source": source, "count": count}
            for hour, source, count in sources
        ],
    }


def print_usage_extras(extras: dict[str, Any]) -> None:
    if extras["quota"] is not None:
        print(f"quota {extras['quota']}: {extras['quota_remaining']} remaining")
    totals: dict[str, int] = {}
    for row in extras["sources"]:
        totals[row["source"]] = totals.get(row["source"], 0) + row["count"]
    if totals:
        busiest = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:SOURCES_SHOWN]
        print_table(["USED FROM", "REQUESTS"], [[source, str(n)] for source, n in busiest])
