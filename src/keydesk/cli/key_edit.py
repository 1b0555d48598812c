"""`keydesk key edit PUBLIC_KEY …`: change what may change of a key after it
is made. Its tags (`--tag NAME=VALUE`, `--untag NAME`), each change audited."""

from __future__ import annotations

import argparse

from keydesk.cli import context
from keydesk.cli.output import key_json, say
from keydesk.cli.parser import Commands, SubParsers
from keydesk.errors import UsageError
from keydesk.validation import shown_literally


def register(cli: Commands, group: SubParsers) -> None:
    sub = cli.command(
        "edit", edit, "change a key's tags (each change audited)", json_output=True, parent=group
    )
    sub.add_argument("public_key", metavar="PUBLIC_KEY")
    sub.add_argument(
        "--tag", action="append", default=[], metavar="NAME=VALUE",
        help="add a tag, or change its value (repeat for more)",
    )  # fmt: skip
    sub.add_argument(
        "--untag", action="append", default=[], metavar="NAME",
        help="remove the tag NAME (NAME=VALUE: only while it has that value)",
    )  # fmt: skip


def edit(args: argparse.Namespace) -> int:
    from keydesk.views.tags import tags_text

    if not args.tag and not args.untag:
        raise UsageError("give something to change: --tag NAME=VALUE or --untag NAME")
    key = context.service(args).edit_key_tags(args.public_key, add=args.tag, remove=args.untag)
    say(
        args,
        key_json(key),
        f"{key.public_key} ({shown_literally(key.label)}): tags {tags_text(key.tags) or '(none)'}",
    )
    return 0
