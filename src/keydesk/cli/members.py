"""`keydesk member …`: who is in a workspace, and as what.

Here --member (or, not over SSH, --account) names the member concerned;
the acting account is never typed (`keydesk.identity`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from keydesk.cli import context
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.output import fail, iso, print_json, print_table, say, when
from keydesk.cli.parser import Commands

if TYPE_CHECKING:
    from keydesk.views import MemberView


def register(cli: Commands) -> None:
    group = cli.group("member", "list and manage workspace members")
    sub = cli.command(
        "list",
        list_,
        "list the members of your workspaces (or of one)",
        json_output=True,
        parent=group,
        shared=cli.db_only,
    )
    sub.add_argument("--workspace", metavar="NAME", help="only this one (default: all of yours)")
    for name, handler, help in (
        ("add", add, "add an account to a workspace (or change its role)"),
        ("set-role", set_role, "change a member's role"),
    ):
        sub = cli.command(name, handler, help, json_output=True, parent=group, shared=cli.db_only)
        _member_arguments(sub)
        # Checked by the service, whose error lists the roles (keydesk.views.Role):
        # argparse's choices would load the read-models to print --help.
        sub.add_argument("--role", required=True, help="owner, admin, member or viewer")
    sub = cli.command(
        "remove",
        remove,
        "take an account out of a workspace (the keys it created stay active)",
        json_output=True,
        parent=group,
        shared=cli.db_only,
    )
    _member_arguments(sub)


def _member_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--workspace", required=True, metavar="NAME", help="the member's workspace")
    # --member first: over SSH any option spelled like --account is refused
    # (the SSH key alone says who acts), so --account works only locally.
    sub.add_argument(
        "--member",
        "--account",
        dest="member",
        required=True,
        metavar="NAME",
        help="the member concerned (--account: the same, but not over SSH)",
    )


def list_(args: argparse.Namespace) -> int:
    # Not at import: `keydesk --help` loads this module.
    from keydesk.store.stored_values import UnknownRole

    rows, broken = [], False
    with context.reads(args) as reads:  # bare sqlite3 on an up-to-date SQLite store
        names = [args.workspace] if args.workspace else [w.name for w in reads.workspaces()]
        for name in names:  # a role changed around keydesk in one: the others are still listed
            try:
                rows += [(name, member) for member in reads.members(name).members]
            except UnknownRole as error:
                fail(error.message)
                broken = True
    if args.json:
        print_json([_member_json(workspace, member) for workspace, member in rows])
    else:
        print_table(
            ["WORKSPACE", "ACCOUNT", "ROLE", "SINCE"],
            [[workspace, m.account, m.role.value, when(m.since)] for workspace, m in rows],
        )
    return EXIT_REFUSED if broken else 0


def add(args: argparse.Namespace) -> int:
    """Adds the member, and says which of their SSH keys may not act here
    until an owner of the workspace approves them (keydesk.service.ssh_approvals)."""
    from keydesk.ssh.gate import awaiting_notice

    service = context.service(args)
    member = service.add_member(args.workspace, args.member, args.role)
    waiting = service.ssh_keys_awaiting(args.workspace, member.account)
    notice = awaiting_notice(args.workspace, member.account, waiting)
    message = f"{member.account} is now {member.role} in {args.workspace}"
    data = _member_json(args.workspace, member) | {"ssh_keys_awaiting_approval": list(waiting)}
    say(args, data, message if notice is None else f"{message}\n{notice}")
    return 0


def set_role(args: argparse.Namespace) -> int:
    member = context.service(args).set_member_role(args.workspace, args.member, args.role)
    _said(args, member, f"{member.account} is now {member.role} in {args.workspace}")
    return 0


def remove(args: argparse.Namespace) -> int:
    member = context.service(args).remove_member(args.workspace, args.member)
    say(
        args,
        _member_json(args.workspace, member) | {"removed": True},
        f"removed {member.account} ({member.role}) from {args.workspace}; "
        "the keys they created stay active",
    )
    return 0


def _said(args: argparse.Namespace, member: MemberView, message: str) -> None:
    say(args, _member_json(args.workspace, member), message)


def _member_json(workspace: str, member: MemberView) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "account": member.account,
        "role": member.role.value,
        "since": iso(member.since),
    }
