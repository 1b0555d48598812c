"""`keydesk key …`: create, list, rotate, revoke API keys, and read their usage."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from keydesk.cli import context, key_bulk, key_edit
from keydesk.cli.delivery import deliver, require_output
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.key_limits import (
    limit_choices,
    limit_options,
    limits_line,
    print_usage_extras,
    usage_extras,
)
from keydesk.cli.output import (
    confirmed,
    iso,
    key_json,
    print_json,
    print_json_list,
    print_table,
    say,
    when,
)
from keydesk.cli.parser import Commands, public_key
from keydesk.errors import AlreadyRevoked, RevokedUnreadable, UnknownStoredValue, UsageError
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from datetime import datetime

    from keydesk.views import CreatedKey


REVOKE_HELP = "revoke a key now, irreversibly; or every active key matching filters, together"


def register(cli: Commands) -> None:
    group = cli.group("key", "create, list, rotate, keep and revoke API keys; read their usage")
    sub = cli.command(
        "create",
        create,
        "create an API key (its private key is shown once)",
        json_output=True,
        parent=group,
    )
    _create_options(sub)
    _list_options(
        cli.command(
            "list",
            list_,
            "list keys (never secrets): an integration's, a workspace's, or all of yours",
            json_output=True,
            parent=group,
        )
    )
    sub = cli.command(
        "rotate",
        rotate,
        "replace a key: a new key now, the old one stops after the overlap",
        json_output=True,
        parent=group,
    )
    _rotate_options(sub)
    sub = cli.command(
        "keep",
        keep,
        "cancel the stop a rotation set (its replacement was revoked, say)",
        json_output=True,
        parent=group,
    )
    sub.add_argument(
        "public_key", type=public_key, metavar="PUBLIC_KEY", help="the old key of the rotation"
    )
    sub = cli.command("revoke", revoke, REVOKE_HELP, json_output=True, parent=group)
    sub.add_argument(
        "public_key", type=public_key, metavar="PUBLIC_KEY", nargs="?",
        help="the key to revoke (or none, and filters below)",
    )  # fmt: skip
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    key_bulk.revoke_options(sub)
    sub = cli.command(
        "usage",
        usage,
        "a key's use per hour: accepted and refused presentations",
        json_output=True,
        parent=group,
    )
    sub.add_argument("public_key", type=public_key, metavar="PUBLIC_KEY", help="the key to read")
    sub.add_argument("--since", metavar="WHEN", default="7d", help="a time ago or a date (7d)")
    key_edit.register(cli, group)


def _rotate_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("public_key", type=public_key, metavar="PUBLIC_KEY", help="the key to replace")
    sub.add_argument(
        "--overlap",
        required=True,
        metavar="SPAN",
        help="how long the old key keeps working: 0 (revoke it now), 1h, 24h, 7d",
    )
    sub.add_argument("--label", help="the new key's label (default: the old one, dated)")


def _list_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--integration", metavar="NAME_OR_ID", help="the keys of this integration")
    sub.add_argument(
        "--workspace", metavar="NAME", help="every key of the workspace, or its --integration's"
    )
    sub.add_argument(
        "--expiring-within", metavar="SPAN", help="only active keys that stop within SPAN (14d)"
    )
    sub.add_argument(
        "--unused-for", metavar="SPAN", help="only active keys not used for SPAN (30d)"
    )
    sub.add_argument(
        "--tag", action="append", default=[], metavar="NAME=VALUE",
        help="only keys with this tag (repeat: all of them)",
    )  # fmt: skip


def _create_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--integration", required=True, metavar="NAME_OR_ID", help="a configured integration"
    )
    sub.add_argument("--label", required=True, help="e.g. api-gateway-prod, CI Runner")
    expiry = sub.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in",
        metavar="SPAN",
        help="e.g. 30d, 90d, 365d, 12h (default: 90d, or the policy's cap)",
    )
    expiry.add_argument("--expires-at", metavar="WHEN", help="a date (midnight UTC) or a UTC time")
    expiry.add_argument(
        "--no-expiry", action="store_true", help="never expires (if the workspace allows it)"
    )
    sub.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="restrict the key to this scope of its integration (repeat; default: all)",
    )
    sub.add_argument(
        "--tag", action="append", default=[], metavar="NAME=VALUE",
        help="tag the key (env=prod; repeat for more)",
    )  # fmt: skip
    limit_options(sub)


def create(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from keydesk import validation
    from keydesk.views import default_expiry_days, utcnow

    require_output()
    service = context.service(args)
    expires_at: datetime | None = None
    if args.expires_in is not None:
        expires_at = utcnow() + validation.duration(args.expires_in, "--expires-in")
    elif args.expires_at is not None:
        expires_at = validation.moment(args.expires_at, "--expires-at")
    elif not args.no_expiry:  # the TUI form's default: 90 days, or the policy's cap if shorter
        policy = service.integration(args.integration).max_key_lifetime_days
        expires_at = utcnow() + timedelta(days=default_expiry_days(policy))
    created = service.create_key(
        args.integration, args.label, expires_at=expires_at, scopes=args.scope, tags=args.tag,
        **limit_choices(args),
    )  # fmt: skip
    key = created.key

    def show() -> None:
        if args.json:
            print_json({"api_key": created.private_key.reveal(), **key_json(key)})
        else:
            headline = f"Created API key {key.label!r} for integration {key.integration}."
            _print_created(created, headline)

    def undo() -> str:
        service.revoke_key(key.public_key)
        return f"{key.public_key} was revoked; create another where the output is kept"

    deliver(show, key.public_key, undo)
    return 0


def _print_created(created: CreatedKey, headline: str) -> None:
    """The one time a private key is printed, with what the key may do and
    until when."""
    from keydesk.views import stop_time
    from keydesk.views.tags import tags_text

    key = created.key
    print(shown_literally(headline))
    print(f"Public key:  {key.public_key}")
    print(f"API key:     {created.private_key.reveal()}")
    print(f"Scopes:      {' '.join(key.scopes) or '(none)'}")
    print(f"Expires:     {stop_time(key.expires_at) if key.expires_at else 'never'}")
    if key.limits.any:
        print(limits_line(key))
    if key.tags:
        print(f"Tags:        {tags_text(key.tags)}")
    print()
    print("Copy the API key now: it will never be shown again. keydesk keeps only its hash.")


def list_(args: argparse.Namespace) -> int:
    from keydesk import validation
    from keydesk.views import utcnow
    from keydesk.views.tags import parse_tags, tags_text

    expiring, unused = (
        None if value is None else validation.duration(value, option)
        for value, option in (
            (args.expiring_within, "--expiring-within"),
            (args.unused_for, "--unused-for"),
        )
    )
    tags = parse_tags(args.tag)
    if args.integration is args.workspace is expiring is unused is None and not tags:
        raise UsageError(
            "give --integration or --workspace (or --expiring-within / --unused-for "
            "/ --tag to search all your workspaces)"
        )
    where: dict[str, Any] = {
        "workspace": args.workspace, "expiring_within": expiring, "unused_for": unused,
        "tags": tags,
    }  # fmt: skip
    with context.reads(args) as reads:
        if args.json:  # streamed: flat memory at any size
            print_json_list(key_json(k) for k in reads.keys(args.integration, stream=True, **where))
            return 0
        keys = list(reads.keys(args.integration, **where))  # a table needs every row's width
    now = utcnow()
    print_table(
        ["PUBLIC KEY", "LABEL", "INTEGRATION", "STATUS", "SCOPES", "TAGS", "EXPIRES", "CREATED",
         "BY", "LAST USED"],
        [
            [
                k.public_key,
                k.label,
                k.integration,
                k.status_words(now),
                " ".join(k.scopes) or "-",
                tags_text(k.tags) or "-",
                when(k.expires_at),
                when(k.created_at),
                k.creator,
                when(k.last_used_at),
            ]
            for k in keys
        ],
    )  # fmt: skip
    return 0


def rotate(args: argparse.Namespace) -> int:
    from keydesk import validation
    from keydesk.views import stop_time

    overlap = validation.duration(args.overlap, "--overlap", zero=True)
    require_output()
    service = context.service(args)
    rotated = service.rotate_key(args.public_key, overlap, label=args.label)
    old, new = rotated.old, rotated.created.key
    if rotated.old_revoked:
        stops = f"{old.public_key} was revoked now: it stopped working at once."
    else:
        verb = "stops" if old.is_active else "stopped"
        stops = f"{old.public_key} {verb} working at {stop_time(rotated.old_stops_at)}."

    def show() -> None:
        if args.json:
            print_json(
                {
                    "api_key": rotated.created.private_key.reveal(),
                    **key_json(new),
                    "old_key": key_json(old),
                    "old_key_stops_at": iso(rotated.old_stops_at),
                }
            )
            return
        _print_created(
            rotated.created,
            f"Rotated {old.public_key}: created API key {new.label!r} "
            f"for integration {new.integration}.",
        )
        print(stops)

    def undo() -> str:
        service.revoke_key(new.public_key)
        if rotated.old_revoked:
            return f"{new.public_key} was revoked, and {old.public_key} had been revoked already"
        if old.is_active:
            service.keep_key(old.public_key)  # its scheduled stop, cancelled
            return f"{new.public_key} was revoked and {old.public_key} keeps working as before"
        return f"{new.public_key} was revoked"

    deliver(show, new.public_key, undo)
    return 0


def keep(args: argparse.Namespace) -> int:
    from keydesk.views import stop_time

    key = context.service(args).keep_key(args.public_key)
    until = f"until {stop_time(key.expires_at)}" if key.expires_at else "with no expiry"
    say(
        args,
        key_json(key),
        f"kept {key.public_key} ({shown_literally(key.label)}): it keeps working {until}",
    )
    return 0


def revoke(args: argparse.Namespace) -> int:
    if args.public_key is None or key_bulk.filtered(args):
        return key_bulk.revoke_many(args)
    service = context.service(args)
    try:
        key = service.key(args.public_key)
        if key.revoked_at is not None:  # said as such, not "not revoked: pass --yes"
            raise AlreadyRevoked(f"key {key.public_key} ({key.label}) is already revoked")
        what = (
            f"{key.public_key} ({shown_literally(key.label)}) of {shown_literally(key.integration)}"
        )
    except UnknownStoredValue as bad:  # revoking must not need the whole row
        what = f"{args.public_key.strip()} (keydesk: {bad})"
    question = (
        f"Revoke {what}?\n"
        "Revocation is immediate and cannot be undone: every service still using this key\n"
        "will get 401 Unauthorized on its next request. Deploy a replacement first\n"
        f"(keydesk key rotate {args.public_key.strip()} --overlap 24h)."
    )
    if not args.yes and not confirmed("revoke", "revoked", question):
        return EXIT_REFUSED
    try:
        key = service.revoke_key(args.public_key)
    except RevokedUnreadable as done:
        say(args, {"public_key": args.public_key.strip(), "revoked": True}, str(done))
        return 0
    say(args, key_json(key), f"revoked {key.public_key} ({shown_literally(key.label)})")
    return 0


def usage(args: argparse.Namespace) -> int:
    from keydesk import validation
    from keydesk.views import HOUR, utcnow

    now = utcnow()
    since = validation.since(args.since, now)
    service = context.service(args)
    found = service.key_usage(args.public_key, since)
    extras = usage_extras(service, args.public_key, since)
    if args.json:
        print_json(
            {
                "public_key": found.public_key,
                "since": iso(found.since),
                "until": iso(found.until),
                "accepted": found.accepted,
                "refused": found.refused,
                "wrong_secret_last_hour": found.wrong_secrets_since(now - HOUR),
                "hours": [
                    {"start": iso(h.start), "accepted": h.accepted, "refused": h.refused}
                    for h in found.hours
                    if h.accepted or h.refused
                ],
                **extras,
            }
        )
        return 0
    refused = ", ".join(f"{n} {reason}" for reason, n in found.refused.items()) or "none"
    print(
        f"{found.public_key} since {when(found.since)}: {found.accepted} accepted; refused: {refused}"
    )
    wrong = found.wrong_secrets_since(now - HOUR)
    if wrong:
        print(f"{wrong} refused attempts with a wrong secret in the last hour")
    print_usage_extras(extras)
    busy = [h for h in found.hours if h.accepted or h.refused]
    if not busy:
        return 0
    print_table(
        ["HOUR", "ACCEPTED", "REFUSED"],
        [
            [when(h.start), str(h.accepted), ", ".join(f"{n} {r}" for r, n in h.refused.items())]
            for h in busy
        ],
    )
    return 0
