"""`keydesk notify`: send what a workspace's owners must know (for cron or
a systemd timer), and its channels: `notify add-webhook`, `add-email`,
`list`, `remove`. Owners only. Passwords never come from argv."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keydesk.cli import context
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.output import fail, iso, print_json, print_table, say
from keydesk.cli.parser import Commands
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from keydesk.notify import Channels, ChannelView, Failure, Notice, Notifier


def register(cli: Commands) -> None:
    top = cli.root.add_parser(
        "notify", parents=[cli.common], help="send what owners must know about their keys",
        description="Send the notices that are due (keys expiring within 14, 3 or 1 days, a "
        "rotated key still used, a leaked key revoked, a spike of wrong secrets), each once, "
        "through the workspace's channels and one line each on stdout. Owners only.",
    )  # fmt: skip
    top.set_defaults(handler=send, parser=top)
    top.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    top.add_argument("--workspace", metavar="NAME", help="default: every workspace you own")
    top.add_argument("--json", action="store_true", help="print JSON")
    group = top.add_subparsers(title="commands", metavar="COMMAND")
    sub = cli.command(
        "add-webhook", add_webhook, "POST each notice as JSON to URL, signed with HMAC-SHA256 "
        "(the signing secret is shown once)", json_output=True, parent=group,
    )  # fmt: skip
    sub.add_argument("url", metavar="URL", help="https:// (http:// only to localhost)")
    sub.add_argument(
        "--workspace", metavar="NAME", required=True, help="the workspace whose notices it gets"
    )
    sub = cli.command("add-email", add_email, "email each notice to ADDRESS through SMTP",
                      json_output=True, parent=group)  # fmt: skip
    sub.add_argument("address", metavar="ADDRESS", help="the address to send to")
    sub.add_argument(
        "--workspace", metavar="NAME", required=True, help="the workspace whose notices it gets"
    )
    sub.add_argument(
        "--smtp", metavar="URL", help="smtp://[user@]host[:587] (STARTTLS whenever offered) or "
        "smtps://host[:465]; default: the sending host's $KEYDESK_SMTP_URL",
    )  # fmt: skip
    sub.add_argument("--from", dest="sender", metavar="ADDRESS", help="default: keydesk@HOST")
    password = sub.add_mutually_exclusive_group()
    password.add_argument("--smtp-password-file", metavar="PATH",
                          help="read the SMTP password from this file when sending")  # fmt: skip
    password.add_argument("--smtp-password-env", metavar="NAME",
                          help="read the SMTP password from this variable when sending")  # fmt: skip
    sub = cli.command("list", list_, "list the notification channels of workspaces you own",
                      json_output=True, parent=group)  # fmt: skip
    sub.add_argument("--workspace", metavar="NAME", help="only this one (default: all you own)")
    sub = cli.command("remove", remove, "remove a channel (by its id, URL or address)",
                      parent=group)  # fmt: skip
    sub.add_argument("channel", metavar="CHANNEL", help="its id, URL or address (see: notify list)")
    sub.add_argument(
        "--workspace", metavar="NAME", help="the channel's workspace, where CHANNEL is in several"
    )


def _notifier(args: argparse.Namespace) -> Notifier:
    from keydesk.notify import Notifier
    from keydesk.service.context import ServiceContext

    service = context.service(args)
    return Notifier(ServiceContext(service.store, service.actor, service.ssh_key))


def _channels(args: argparse.Namespace) -> Channels:
    from keydesk.notify import Channels
    from keydesk.service.context import ServiceContext

    service = context.service(args)
    return Channels(ServiceContext(service.store, service.actor, service.ssh_key))


def send(args: argparse.Namespace) -> int:
    def tell(notice: Notice) -> None:  # at once: a run killed in a send has printed it
        if not args.json:
            print(notice.line(), flush=True)

    report = _notifier(args).run(args.workspace, dry_run=args.dry_run, tell=tell)
    if args.json:
        print_json({
            "dry_run": args.dry_run,
            "notices": [n.payload(None) for n in report.notices],
            "sent": report.sent,
            "retried": [p.notice.payload(None) | {"channel": p.channel,
                                                  "last_error": p.last_error}
                        for p in report.retries],
            "failed": [{"channel": f.channel, "notice": f.notice.kind,
                        "public_key": f.notice.public_key, "error": f.error}
                       for f in report.failures],
        })  # fmt: skip
    else:
        for notice in report.notices if args.dry_run else ():
            print("would send: " + notice.line())
        for pending in report.retries:
            print(f"would retry: {shown_literally(pending.channel)}: {pending.notice.line()}")
    _failures(report.failures)
    return EXIT_REFUSED if report.failures else 0


def _failures(failures: list[Failure]) -> None:
    """One line per channel and error, each error said in full."""
    from keydesk.views.words import counted

    groups: dict[tuple[str, str], int] = {}
    for failure in failures:
        groups[failure.channel, failure.error] = groups.get((failure.channel, failure.error), 0) + 1
    for (channel, error), count in groups.items():
        fail(f"{channel}: {counted(count, 'delivery', 'deliveries')} failed, tried again on "
             f"the next run: {error}")  # fmt: skip


def _channel_json(channel: ChannelView) -> dict[str, object]:
    return {
        "id": channel.id, "workspace": channel.workspace, "kind": channel.kind,
        "target": channel.target, "smtp": channel.server or None, "from": channel.smtp_sender,
        "password_from": channel.password_from, "created_by": channel.created_by,
        "created_at": iso(channel.created_at), "failing_deliveries": channel.failing,
        "last_error": channel.last_error,
    }  # fmt: skip


def add_webhook(args: argparse.Namespace) -> int:
    added = _channels(args).add_webhook(args.workspace, args.url)
    say(
        args,
        _channel_json(added.channel) | {"secret": added.secret},
        f"{added.channel.workspace} now sends its notices to {added.channel.target} "
        f"(channel {added.channel.id}).\nSigning secret, shown once (check each request's "
        f"X-Keydesk-Signature-256 with it):\n{added.secret}",
    )
    return 0


def add_email(args: argparse.Namespace) -> int:
    channel = _channels(args).add_email(
        args.workspace, args.address, smtp=args.smtp, sender=args.sender,
        password_file=args.smtp_password_file, password_env=args.smtp_password_env,
    )  # fmt: skip
    say(args, _channel_json(channel),
        f"{channel.workspace} now emails its notices to {channel.target} through "
        f"{channel.server} (channel {channel.id})")  # fmt: skip
    return 0


def list_(args: argparse.Namespace) -> int:
    channels = _channels(args).listed(args.workspace)
    if args.json:
        print_json([_channel_json(c) for c in channels])
        return 0
    print_table(
        ["ID", "WORKSPACE", "KIND", "TARGET", "SMTP", "FAILING", "LAST ERROR"],
        [[str(c.id), c.workspace, c.kind, c.target, c.server or "-", str(c.failing),
          c.last_error if c.failing and c.last_error else "-"]
         for c in channels],
    )  # fmt: skip
    return 0


def remove(args: argparse.Namespace) -> int:
    channel = _channels(args).remove(args.channel, args.workspace)
    print(shown_literally(f"{channel.workspace} no longer sends notices to {channel.target}"))
    return 0
