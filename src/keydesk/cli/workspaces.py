"""`keydesk init`: a new workspace, with you as its owner; `keydesk
workspace …`: your workspaces and their key policy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keydesk import validation
from keydesk.cli import context
from keydesk.cli.output import print_json, print_table, say
from keydesk.cli.parser import Commands

if TYPE_CHECKING:
    from keydesk.views import WorkspaceView


def register(cli: Commands) -> None:
    sub = cli.command(
        "init",
        init,
        "create a workspace (and the store, if there is none yet); you become its owner",
        json_output=True,
    )
    sub.add_argument("--workspace", required=True, metavar="NAME")
    group = cli.group("workspace", "your workspaces and their key policy")
    cli.command("list", list_, "list your workspaces", json_output=True, parent=group)
    sub = cli.command(
        "set-policy",
        set_policy,
        "set how long new keys may live (owners only)",
        json_output=True,
        parent=group,
    )
    sub.add_argument("--workspace", metavar="NAME", help="default: your only workspace")
    sub.add_argument(
        "--max-key-lifetime",
        required=True,
        metavar="SPAN",
        help="e.g. 90d, 365d; none: keys may live without an expiry",
    )


def init(args: argparse.Namespace) -> int:
    # Checked before the store is made, so a refused name leaves no empty store behind.
    validation.name(args.workspace, "the workspace name")
    service = context.service(args, create=True)  # refuses a typed account before creating
    try:
        ws = service.create_workspace(args.workspace)
    except BaseException:
        service.store.discard()  # a refused init leaves no store it made behind
        raise
    say(
        args,
        {"workspace": ws.name, "owner": service.actor},
        f"created workspace {ws.name}; you ({service.actor}) are its owner",
    )
    return 0


def _workspace_json(ws: WorkspaceView) -> dict[str, object]:
    return {
        "workspace": ws.name,
        "role": ws.role.value,
        "max_key_lifetime_days": ws.max_key_lifetime_days,
    }


def list_(args: argparse.Namespace) -> int:
    mine = context.service(args).workspaces()
    if args.json:
        print_json([_workspace_json(ws) for ws in mine])
        return 0
    print_table(
        ["WORKSPACE", "ROLE", "MAX KEY LIFETIME"],
        [
            [ws.name, ws.role.value, f"{d} days" if (d := ws.max_key_lifetime_days) else "none"]
            for ws in mine
        ],
    )
    return 0


def set_policy(args: argparse.Namespace) -> int:
    text = args.max_key_lifetime.strip().lower()
    days = None if text == "none" else validation.days(args.max_key_lifetime, "--max-key-lifetime")
    ws = context.service(args).set_key_policy(args.workspace, days)
    say(args, _workspace_json(ws), ws.policy_text)
    return 0
