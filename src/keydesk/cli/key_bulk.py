"""`keydesk key revoke --tag … --created-by … --integration … --unused-for …`:
every active key matching all the filters given, that you may revoke,
revoked together in one transaction, after a confirmation that states
how many and names a sample (`--yes` for scripts). `key revoke PUBLIC_KEY`
is keydesk.cli.keys' own, unchanged."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from keydesk.cli import context
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.output import confirmed, fail, print_json
from keydesk.errors import UsageError
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from keydesk.store.bulk_revoke import BareWrites
    from keydesk.views.revocations import BulkRevocation, KeySelection, MatchedKey

FILTERS = ("tag", "created_by", "integration", "unused_for")


def revoke_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--tag", action="append", default=[], metavar="NAME=VALUE",
        help="instead of PUBLIC_KEY: every active key with this tag (repeat: all of them)",
    )  # fmt: skip
    sub.add_argument("--created-by", metavar="ACCOUNT", help="… made by this account")
    sub.add_argument("--integration", metavar="NAME_OR_ID", help="… of this integration")
    sub.add_argument("--unused-for", metavar="SPAN", help="… not used for SPAN (90d)")
    sub.add_argument("--workspace", metavar="NAME", help="only in this workspace")


def filtered(args: argparse.Namespace) -> bool:
    """Whether any filter (not --workspace, which only narrows) was given."""
    return any(getattr(args, name) for name in FILTERS) or args.workspace is not None


def revoke_many(args: argparse.Namespace) -> int:
    from keydesk import validation
    from keydesk.config import database_url
    from keydesk.store.bulk_revoke import bare_sqlite_writes
    from keydesk.views.revocations import KeySelection
    from keydesk.views.tags import parse_tags

    if args.public_key is not None:
        raise UsageError("give a public key or filters (--tag, --created-by, …), not both")
    unused = (
        None if args.unused_for is None else validation.duration(args.unused_for, "--unused-for")
    )
    # Echoed in the summary, its --json and the audit note: never a pasted private key.
    created_by, integration = (
        None if value is None else validation.name(value, option)
        for value, option in (
            (args.created_by, "--created-by"),
            (args.integration, "--integration"),
        )
    )
    selection = KeySelection(parse_tags(args.tag), created_by, integration, unused, args.workspace)
    if selection.empty:
        raise UsageError(
            "give a public key, or at least one filter: --tag, --created-by, --integration "
            "or --unused-for"
        )
    # An up-to-date SQLite store: plain SQL on a bare sqlite3 connection
    # (importing SQLAlchemy would cost more CPU than 10,000 revocations).
    context.refuse_typed_account(args)
    url = database_url(args.db)
    with bare_sqlite_writes(url, args.proven_actor, args.proven_ssh_key) as bare:
        if bare is not None:
            return _revoke(args, selection, _Bare(bare))
    return _revoke(args, selection, context.service(args))


class _Revoker(Protocol):
    def matching_keys(self, selection: KeySelection) -> list[MatchedKey]: ...
    def revoke_keys(self, public_keys: Iterable[str], *, note: str) -> BulkRevocation: ...


class _Bare:
    """The service's two calls, on a bare SQLite connection."""

    def __init__(self, bare: BareWrites) -> None:
        self._bare = bare

    def matching_keys(self, selection: KeySelection) -> list[MatchedKey]:
        from keydesk.store.bulk_revoke import matching

        return matching(self._bare.reads, selection)

    def revoke_keys(self, public_keys: Iterable[str], *, note: str) -> BulkRevocation:
        from keydesk.store.bulk_revoke import revoke

        with self._bare.transaction():
            return revoke(self._bare.reads, public_keys, note)


def _revoke(args: argparse.Namespace, selection: KeySelection, service: _Revoker) -> int:
    keys = service.matching_keys(selection)
    note = shown_literally(selection.note())
    if not keys:
        _report(args, [], [], note, f"no active key you may revoke matches {note}: none revoked")
        return 0
    if not args.yes and not sys.stdin.isatty():
        fail(
            f"not revoked: {len(keys):,} active keys match {note}; "
            "pass --yes to revoke them when not at a terminal"
        )
        return EXIT_REFUSED
    if not args.yes and not confirmed("revoke", "revoked", _question(keys, note)):
        return EXIT_REFUSED
    done = service.revoke_keys([key.public_key for key in keys], note=selection.note())
    left = f"; {len(done.skipped):,} no longer active or yours, left as they were"
    _report(
        args, list(done.revoked), list(done.skipped), note,
        f"revoked {len(done.revoked):,} keys matching {note}{left if done.skipped else ''}",
    )  # fmt: skip
    return 0


def _question(keys: list[MatchedKey], note: str) -> str:
    from keydesk.views.revocations import sampled

    sample = sampled(
        keys,
        lambda k: (
            f"  {k.public_key}  {shown_literally(k.label)}  "
            f"({shown_literally(k.integration)}, by {shown_literally(k.creator)})"
        ),
        indent="  ",
    )
    count = f"{len(keys):,} active key{'s' if len(keys) != 1 else ''}"
    return "\n".join(
        [
            f"Revoke {count} matching {note}?",
            *sample,
            "Revocation is immediate and cannot be undone: every service still using one of",
            "these keys will get 401 Unauthorized on its next request.",
        ]
    )


def _report(
    args: argparse.Namespace, revoked: list[str], skipped: list[str], note: str, line: str
) -> None:
    if args.json:
        print_json({"filter": note, "revoked": revoked, "skipped": skipped})
    else:
        print(line)
