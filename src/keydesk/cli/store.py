"""`keydesk store …`: the store as a whole: info, backup, restore, check,
copy (keydesk.upkeep does the work)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from keydesk.cli.output import confirmed, iso, print_json, say
from keydesk.cli.parser import Commands
from keydesk.config import database_url
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from keydesk.upkeep.restore import RestoreResult


def register(cli: Commands) -> None:
    group = cli.group("store", "the store as a whole: info, backup, restore, check, copy")
    cli.command(
        "info", info, "which store, where, its schema, counts and size",
        json_output=True, parent=group, shared=cli.db_only,
    )  # fmt: skip
    sub = cli.command(
        "backup", backup,
        "a consistent copy of a SQLite store, taken while it serves (0600, private folder)",
        json_output=True, parent=group, shared=cli.db_only,
    )  # fmt: skip
    sub.add_argument("path", metavar="PATH", help="a new file, in a folder only you may enter")
    sub = cli.command(
        "restore", restore,
        "put a backup back; every revocation made since is applied again",
        json_output=True, parent=group, shared=cli.db_only,
    )  # fmt: skip
    sub.add_argument("path", metavar="PATH", help="a file made by: keydesk store backup")
    sub.add_argument("--yes", action="store_true", help="do not ask (scripts)")
    sub.add_argument(
        "--accept-lost-revocations",
        action="store_true",
        help="with no store left to take them from, restore anyway (keys revoked since the "
        "backup become valid again)",
    )
    register_checks(cli, group)


def register_checks(cli: Commands, group: Any) -> None:
    from keydesk.cli import store_copy

    cli.command(
        "check", check,
        "is the store sound and set up as keydesk makes it? (exit 1: one line per finding)",
        json_output=True, parent=group, shared=cli.db_only,
    )  # fmt: skip
    store_copy.register(cli, group)


def info(args: argparse.Namespace) -> int:
    from keydesk.upkeep.info import store_info

    found = store_info(database_url(args.db))
    counts = ", ".join(f"{table} {count}" for table, count in found.counts.items())
    size = "unknown" if found.size_bytes is None else f"{found.size_bytes:,} bytes"
    say(
        args,
        {
            "backend": found.backend,
            "where": found.where,
            "schema": found.schema,
            "counts": found.counts,
            "size_bytes": found.size_bytes,
        },
        f"backend: {found.backend}\nwhere:   {found.where}\nschema:  {found.schema}\n"
        f"rows:    {counts}\nsize:    {size}",
    )
    return 0


def backup(args: argparse.Namespace) -> int:
    from keydesk.upkeep.backup import backup as take

    made = take(database_url(args.db), args.path)
    say(
        args,
        {
            "path": made.path,
            "taken_at": iso(made.header.taken_at),
            "schema": made.header.schema,
            "size_bytes": made.size_bytes,
        },
        f"backed up to {made.path} ({made.size_bytes:,} bytes; taken "
        f"{iso(made.header.taken_at)}, schema {made.header.schema})",
    )
    return 0


def restore(args: argparse.Namespace) -> int:
    from keydesk.identity import sqlite_account
    from keydesk.upkeep.restore import losses
    from keydesk.upkeep.restore import restore as put_back

    url = database_url(args.db)
    actor = sqlite_account(args.proven_actor)  # restore is for SQLite stores only
    lost = losses(url, args.path, actor)  # told before asking, and after
    if not args.yes and not confirmed(
        "restore",
        "restored",
        "\n".join(
            [
                f"Replace the store's rows with the backup {shown_literally(args.path)}?",
                *([] if lost is None else lost.lines()),
                "Revocations made since are kept.",
            ]
        ),
    ):
        return 1
    done = put_back(
        url,
        args.path,
        actor=actor,
        accept_lost_revocations=args.accept_lost_revocations,
    )
    taken = iso(done.header.taken_at)
    say(
        args,
        {
            "store": done.store,
            "backup_taken_at": taken,
            "backup_schema": done.header.schema,
            "revocations_applied": done.revocations,
            "integrations_disabled": done.disabled,
            "expiries_kept": done.expiries,
            "members_removed": done.members_removed,
            "roles_lowered": done.roles_lowered,
            "ssh_approvals_withdrawn": done.ssh_withdrawn,
            "store_was_missing": done.created,
            "active_in_backup": done.active_in_backup,
            "lost": done.lost.as_json(),
        },
        _restored(done),
    )
    return 0


def _restored(done: RestoreResult) -> str:
    """What a restore did, and what it lost, in words."""
    from keydesk.upkeep.restore import stops_applied
    from keydesk.views.words import counted

    taken = iso(done.header.taken_at)
    lines = [
        f"restored {done.store} from the backup of {taken} (schema {done.header.schema}); "
        f"applied again: {stops_applied(done.revocations, done.disabled, done.expiries)}, "
        f"{counted(done.members_removed, 'member removal')}, "
        f"{counted(done.roles_lowered, 'lowered role')}, "
        f"{counted(done.ssh_withdrawn, 'SSH withdrawal')}"
    ]
    if done.created:
        lines.append(
            f"there was no store to take revocations from: any of the {done.active_in_backup} "
            f"keys active in the backup may have been revoked since {taken}; revoke them "
            "again if so (keydesk key list, keydesk key revoke)"
        )
    else:
        lines += done.lost.lines()
    return "\n".join(lines)


def check(args: argparse.Namespace) -> int:
    from keydesk.store.sqlite_file import sqlite_file_of
    from keydesk.upkeep.check import backup_taken, check_store

    url = database_url(args.db)
    findings = check_store(url)
    # A file refused (its modes, or no database) is read no further: opening
    # it even read-only would make its -wal and -shm, with those loose modes.
    refused = any(finding.kind == "file" for finding in findings)
    header = None if refused else backup_taken(url)
    if args.json:
        found: dict[str, Any] = {"ok": not findings, "findings": [f.as_json() for f in findings]}
        if header is not None:
            found["backup"] = {"taken_at": iso(header.taken_at), "schema": header.schema}
        print_json(found)
    else:
        for finding in findings:
            print(finding.line())
        if not findings:
            print("ok: no findings")
        if header is not None:
            path = shown_literally(str(sqlite_file_of(url)))
            print(
                f"{path} is a backup taken {iso(header.taken_at)} (schema {header.schema}), not "
                f"a store; to put it back: keydesk store restore {path} --db STORE"
            )
    sys.stdout.flush()
    return 1 if findings else 0
