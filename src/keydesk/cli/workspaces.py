"""`keydesk init`: a new workspace, with you as its owner."""

from __future__ import annotations

import argparse

from keydesk import validation
from keydesk.cli import context
from keydesk.cli.output import say
from keydesk.cli.parser import Commands


def register(cli: Commands) -> None:
    sub = cli.command(
        "init",
        init,
        "create a workspace (and the store, if there is none yet); you become its owner",
        json_output=True,
    )
    sub.add_argument("--workspace", required=True, metavar="NAME")


def init(args: argparse.Namespace) -> int:
    # Checked before the store is made, so a refused name leaves no empty store behind.
    validation.name(args.workspace, "the workspace name")
    service = context.service(args, create=True)  # refuses a typed account before creating
    ws = service.create_workspace(args.workspace)
    say(
        args,
        {"workspace": ws.name, "owner": service.actor},
        f"created workspace {ws.name}; you ({service.actor}) are its owner",
    )
    return 0
