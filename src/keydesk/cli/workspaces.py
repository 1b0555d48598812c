"""`keydesk init` and `keydesk member …`: workspaces and who is in them."""

from __future__ import annotations

import argparse

from keydesk import validation
from keydesk.cli import context
from keydesk.cli.output import say
from keydesk.cli.parser import Commands
from keydesk.config import acting_account


def register(cli: Commands) -> None:
    sub = cli.command(
        "init",
        init,
        "create a workspace (and the store, if there is none yet); you become its owner",
        json_output=True,
    )
    sub.add_argument("--workspace", required=True, metavar="NAME")

    members = cli.group("member", "manage workspace members")
    # Here --account names the member; the acting account goes before the
    # command (`keydesk --account alice member add ...`) or in $KEYDESK_ACCOUNT.
    sub = cli.command(
        "add",
        member_add,
        "add an account to a workspace, or change its role",
        json_output=True,
        parent=members,
        shared=cli.db_only,
    )
    sub.add_argument("--workspace", required=True, metavar="NAME")
    sub.add_argument(
        "--account",
        dest="member",
        required=True,
        metavar="NAME",
        help="the account to add or change",
    )
    # Checked by the service, whose error lists the roles (keydesk.views.Role):
    # argparse's choices would load the read-models to print --help.
    sub.add_argument("--role", required=True, help="owner, admin, member or viewer")


def init(args: argparse.Namespace) -> int:
    # Checked before the store is made, so a refused name leaves no empty store behind.
    validation.name(args.workspace, "the workspace name")
    validation.name(acting_account(args.account), "the account name")
    ws = context.service(args, create=True).create_workspace(args.workspace)
    say(
        args,
        {"workspace": ws.name, "owner": acting_account(args.account)},
        f"created workspace {ws.name}; you are its owner",
    )
    return 0


def member_add(args: argparse.Namespace) -> int:
    member = context.service(args).add_member(args.workspace, args.member, args.role)
    say(
        args,
        {"workspace": args.workspace, "account": member.account, "role": member.role.value},
        f"{member.account} is now {member.role} in {args.workspace}",
    )
    return 0
