"""`keydesk init`: a new workspace, with you as its owner; `keydesk
workspace …`: your workspaces and their key policy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keydesk import validation
from keydesk.cli import context
from keydesk.cli.output import print_json, print_table, say
from keydesk.cli.parser import Commands
from keydesk.errors import UsageError

if TYPE_CHECKING:
    from keydesk.views import WorkspaceView


def register(cli: Commands) -> None:
    sub = cli.command(
        "init",
        init,
        "create a workspace (and the store, if there is none yet); you become its owner",
        json_output=True,
    )
    sub.add_argument("--workspace", required=True, metavar="NAME", help="the new workspace's name")
    group = cli.group("workspace", "your workspaces and their key policy")
    cli.command("list", list_, "list your workspaces", json_output=True, parent=group)
    sub = cli.command(
        "set-policy",
        set_policy,
        "set how long new keys may live, and their default rate (owners only)",
        json_output=True,
        parent=group,
    )
    sub.add_argument("--workspace", metavar="NAME", help="default: your only workspace")
    sub.add_argument(
        "--max-key-lifetime",
        metavar="SPAN",
        help="e.g. 90d, 365d; none: keys may live without an expiry",
    )
    sub.add_argument(
        "--default-rate",
        metavar="N/PERIOD",
        help="the rate new keys get unless made with --rate (600/min; none: no default)",
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
    with context.reads(args) as reads:  # bare sqlite3 on an up-to-date SQLite store
        mine = reads.workspaces()
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
    if args.max_key_lifetime is None and args.default_rate is None:
        raise UsageError(
            "give --max-key-lifetime SPAN, --default-rate N/PERIOD, or both "
            "(see: keydesk workspace set-policy --help)"
        )
    service = context.service(args)
    ws = service.workspace(args.workspace)
    said = []
    if args.max_key_lifetime is not None:
        text = args.max_key_lifetime.strip().lower()
        lifetime = args.max_key_lifetime
        days = None if text == "none" else validation.days(lifetime, "--max-key-lifetime")
        ws = service.set_key_policy(ws.name, days)
        said.append(ws.policy_text)
    if args.default_rate is not None:
        rate = service.set_default_rate(ws.name, args.default_rate)
        said.append(f"new keys in {ws.name} get the rate {rate or 'none'} unless made with --rate")
    policy = _workspace_json(ws)
    if args.default_rate is not None:
        policy["default_rate"] = service.default_rate(ws.name)
    say(args, policy, "; ".join(said))
    return 0
