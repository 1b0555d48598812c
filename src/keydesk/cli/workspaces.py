"""`keydesk init`: a new workspace, with you as its owner."""

from __future__ import annotations

import argparse

from keydesk.cli import context
from keydesk.cli.output import say
from keydesk.cli.parser import Commands


def register(cli: Commands) -> None:
    sub = cli.command("init", init, "create a workspace; you become its owner", json_output=True)
    sub.add_argument("--workspace", required=True, metavar="NAME")


def init(args: argparse.Namespace) -> int:
    service = context.service(args)
    ws = service.create_workspace(args.workspace)
    say(
        args,
        {"workspace": ws.name, "owner": service.actor},
        f"created workspace {ws.name}; you ({service.actor}) are its owner",
    )
    return 0
