"""`keydesk key …`: create, list and revoke API keys."""

from __future__ import annotations

import argparse
import sys

from keydesk.cli import context
from keydesk.cli.output import (
    EXIT_ERROR,
    fail,
    key_json,
    print_json,
    print_json_list,
    print_table,
    say,
    when,
)
from keydesk.cli.parser import Commands
from keydesk.validation import shown_literally


def register(cli: Commands) -> None:
    group = cli.group("key", "create, list and revoke API keys")
    sub = cli.command(
        "create",
        create,
        "create an API key (its private key is shown once)",
        json_output=True,
        parent=group,
    )
    sub.add_argument("--integration", required=True, metavar="NAME_OR_ID")
    sub.add_argument("--label", required=True, help="e.g. api-gateway-prod, CI Runner")
    sub = cli.command(
        "list", list_, "list an integration's keys (never secrets)", json_output=True, parent=group
    )
    sub.add_argument("--integration", required=True, metavar="NAME_OR_ID")
    sub = cli.command(
        "revoke", revoke, "revoke a key now, irreversibly", json_output=True, parent=group
    )
    sub.add_argument("public_key", metavar="PUBLIC_KEY")
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def create(args: argparse.Namespace) -> int:
    created = context.service(args).create_key(args.integration, args.label)
    key = created.key
    if args.json:
        print_json({"api_key": created.private_key.reveal(), **key_json(key)})
        return 0
    print(f"Created API key {key.label!r} for integration {key.integration}.")
    print(f"Public key:  {key.public_key}")
    print(f"API key:     {created.private_key.reveal()}")
    print()
    print("Copy the API key now: it will never be shown again. keydesk keeps only its hash.")
    return 0


def list_(args: argparse.Namespace) -> int:
    service = context.service(args)
    if args.json:  # streamed: flat memory at any size
        print_json_list(key_json(k) for k in service.iter_keys(args.integration))
        return 0
    keys = service.keys(args.integration)  # a table needs every row for its widths
    print_table(
        ["PUBLIC KEY", "LABEL", "STATUS", "CREATED", "BY", "LAST USED"],
        [
            [
                k.public_key,
                k.label,
                k.status.value,
                when(k.created_at),
                k.created_by,
                when(k.last_used_at),
            ]
            for k in keys
        ],
    )
    return 0


def revoke(args: argparse.Namespace) -> int:
    service = context.service(args)
    key = service.key(args.public_key)
    if not args.yes:
        if not sys.stdin.isatty():
            fail("refusing to revoke without confirmation: pass --yes when not at a terminal")
            return EXIT_ERROR
        print(
            f"Revoke {key.public_key} ({shown_literally(key.label)}) of {shown_literally(key.integration)}?\n"
            "Revocation is immediate and cannot be undone: every service still using this key\n"
            "will get 401 Unauthorized on its next request. Deploy a replacement first.",
            file=sys.stderr,
        )
        if input("Type 'revoke' to confirm: ").strip().lower() != "revoke":
            fail("not revoked")
            return EXIT_ERROR
    key = service.revoke_key(key.public_key)
    say(args, key_json(key), f"revoked {key.public_key} ({shown_literally(key.label)})")
    return 0
