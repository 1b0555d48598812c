"""`keydesk integration …`: the OAuth integrations keys are issued for."""

from __future__ import annotations

import argparse

from keydesk.cli import context
from keydesk.cli.output import integration_json, print_json, print_table, say
from keydesk.cli.parser import Commands


def register(cli: Commands) -> None:
    group = cli.group("integration", "manage OAuth integrations")
    sub = cli.command("add", add, "add an OAuth integration", json_output=True, parent=group)
    sub.add_argument("--workspace", required=True, metavar="NAME")
    sub.add_argument("--name", required=True)
    sub.add_argument("--provider", required=True, metavar="NAME")
    sub.add_argument("--client-id", metavar="ID")
    sub.add_argument("--redirect-uri", metavar="URI")
    sub.add_argument("--scopes", metavar="SCOPES", help="space- or comma-separated")
    sub.add_argument("--configure", action="store_true", help="mark it configured now")
    sub = cli.command(
        "configure",
        configure,
        "mark an integration configured (needs client id and redirect URI)",
        json_output=True,
        parent=group,
    )
    sub.add_argument("integration", metavar="NAME_OR_ID")
    sub.add_argument("--workspace", metavar="NAME")
    sub = cli.command("list", list_, "list integrations", json_output=True, parent=group)
    sub.add_argument("--workspace", metavar="NAME")


def add(args: argparse.Namespace) -> int:
    integration = context.service(args).add_integration(
        args.workspace,
        args.name,
        args.provider,
        client_id=args.client_id,
        redirect_uri=args.redirect_uri,
        scopes=args.scopes or "",
        configure=args.configure,
    )
    say(
        args,
        integration_json(integration),
        f"added integration {integration.name} (id {integration.id}, {integration.status})",
    )
    return 0


def configure(args: argparse.Namespace) -> int:
    integration = context.service(args).configure_integration(args.integration, args.workspace)
    say(args, integration_json(integration), f"integration {integration.name} is configured")
    return 0


def list_(args: argparse.Namespace) -> int:
    integrations = context.service(args).integrations(args.workspace)
    if args.json:
        print_json([integration_json(i) for i in integrations])
    else:
        print_table(
            ["ID", "WORKSPACE", "NAME", "PROVIDER", "STATUS", "ACTIVE KEYS"],
            [
                [str(i.id), i.workspace, i.name, i.provider, i.status.value, str(i.active_keys)]
                for i in integrations
            ],
        )
    return 0
