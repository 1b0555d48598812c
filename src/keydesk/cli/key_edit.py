"""`keydesk key edit PUBLIC_KEY …`: change what may change of a key after it
is made. Its tags (`--tag NAME=VALUE`, `--untag NAME`), its limits and
networks (`--rate`, `--quota`, `--allow-from`: cli/key_limits.py), each
change audited."""

from __future__ import annotations

import argparse

from keydesk.cli import context
from keydesk.cli.key_limits import limit_choices, limit_options, limits_line
from keydesk.cli.output import key_json, say
from keydesk.cli.parser import Commands, SubParsers, public_key
from keydesk.errors import UsageError
from keydesk.validation import shown_literally


def register(cli: Commands, group: SubParsers) -> None:
    sub = cli.command(
        "edit", edit, "change a key's tags, limits and networks (each change audited)",
        json_output=True, parent=group,
    )  # fmt: skip
    sub.add_argument(
        "public_key", metavar="PUBLIC_KEY", type=public_key, help="the key's public key (kdpk_…)"
    )
    sub.add_argument(
        "--tag", action="append", default=[], metavar="NAME=VALUE",
        help="add a tag, or change its value (repeat for more)",
    )  # fmt: skip
    sub.add_argument(
        "--untag", action="append", default=[], metavar="NAME",
        help="remove the tag NAME (NAME=VALUE: only while it has that value)",
    )  # fmt: skip
    limit_options(sub, edit=True)


def edit(args: argparse.Namespace) -> int:
    from keydesk.views.tags import tags_text

    limits = limit_choices(args)
    if not args.tag and not args.untag and not limits:
        raise UsageError(
            "give something to change: --tag NAME=VALUE, --untag NAME, --rate, --quota, "
            "--allow-from (or --no-rate, --no-quota, --allow-anywhere)"
        )
    service = context.service(args)
    if args.tag or args.untag:
        key = service.edit_key_tags(args.public_key, add=args.tag, remove=args.untag)
    if limits:
        key = service.edit_key_limits(args.public_key, **limits)
    what = [f"tags {tags_text(key.tags) or '(none)'}"] if args.tag or args.untag else []
    if limits:
        what.append(limits_line(key).removeprefix("Limits:").strip())
    say(args, key_json(key), f"{key.public_key} ({shown_literally(key.label)}): {'; '.join(what)}")
    return 0
