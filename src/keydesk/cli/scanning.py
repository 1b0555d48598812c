"""`keydesk scan`: find leaked private keys, tell whether they still work,
and revoke the live ones on the spot.

Exit status, for CI and pre-commit: 0 nothing found, 1 only dead keys found
(revoked, expired, unknown to the store), 2 a key that may still work, 3 the
scan was incomplete or could not run (fail closed: 0 and 1 become 3; 2 stays).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import TYPE_CHECKING, Any

from keydesk.cli import context
from keydesk.cli.output import confirmed, fail, print_json
from keydesk.cli.parser import Commands
from keydesk.errors import KeydeskError
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey
    from keydesk.scan import Finding, Sighting, Skipped
    from keydesk.service import KeyService
    from keydesk.views import FoundKey, KeyView

EXIT_CLEAN, EXIT_DEAD_ONLY, EXIT_LIVE, EXIT_INCOMPLETE = 0, 1, 2, 3
UNCHECKED = "unchecked"  # no store was asked: counts as live
UNPROVEN = "matched by public key"
UNPROVEN_NOTE = (
    "found keys were matched by their public key, not checked against the hash on "
    "PostgreSQL: an admin cannot read hashes"
)


def register(cli: Commands) -> None:
    sub = cli.command(
        "scan",
        scan,
        "find leaked private keys in files, folders, stdin (-) or git history",
        json_output=True,
        usage_exit=EXIT_INCOMPLETE,
    )
    sub.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders, - for stdin (default: .)"
    )
    sub.add_argument(
        "--git", action="store_true", help="also every commit of the repository at each PATH"
    )
    sub.add_argument(
        "--staged",
        action="store_true",
        help="only lines staged for commit in the repository at PATH (pre-commit; no store needed)",
    )
    sub.add_argument(
        "--respect-gitignore",
        action="store_true",
        help="skip what git ignores (by default ignored files are scanned: leaks hide there)",
    )
    sub.add_argument(
        "--revoke",
        action="store_true",
        help="revoke every live key found, after one confirmation (no admin role needed: the "
        "key's secret is the proof; on PostgreSQL an admin cannot check it: see --revoke-via)",
    )
    sub.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list each file left out on purpose (binary, symbolic link, ignored by git); "
        "by default they are counted in one line",
    )
    sub.add_argument("--yes", action="store_true", help="with --revoke: do not ask")
    sub.add_argument(
        "--revoke-via",
        metavar="URL",
        help="with --revoke: have keys your role cannot check (PostgreSQL admins) revoked by "
        "keydesk serve at URL, which checks each one's secret (POST /v1/revoke)",
    )
    sub.epilog = (
        "exit status: 0 nothing found; 1 only dead keys (revoked, expired, unknown to the "
        "store); 2 a key that may still work (or no store to ask, or in a workspace you cannot "
        "see); 3 the scan could not run "
        "or was incomplete"
    )


class Report:
    """A finding and what the store says of it (None: no store was asked)."""

    __slots__ = ("finding", "found")

    def __init__(self, finding: Finding, found: FoundKey | None = None) -> None:
        self.finding = finding
        self.found = found

    @property
    def status(self) -> str:
        return UNCHECKED if self.found is None else self.found.status

    @property
    def key(self) -> KeyView | None:
        return None if self.found is None else self.found.key

    @property
    def live(self) -> bool:
        return self.found is None or self.found.may_work

    @property
    def unproven(self) -> bool:
        """Matched by public key only: the secret was not checked."""
        return self.found is not None and not self.found.secret_checked

    def line(self) -> str:
        f = self.finding
        text = f"{f.location}: {f.redacted} {f.public_key} {self.status}"
        if self.key is not None:
            text += f", label {self.key.label!r}, integration {self.key.integration}"
        if self.unproven:
            text += f" ({UNPROVEN})"
        return shown_literally(text)

    def as_json(self) -> dict[str, Any]:
        f = self.finding
        return {
            "location": f.location,
            "public_key": f.public_key,
            "redacted": f.redacted,
            "status": self.status,
            "label": self.key.label if self.key else None,
            "integration": self.key.integration if self.key else None,
            "secret_checked": self.found is not None and self.found.secret_checked,
        }


def scan(args: argparse.Namespace) -> int:
    try:
        return _scan(args)
    except KeydeskError as exc:
        fail(exc.message)
        return EXIT_INCOMPLETE


def _scan(args: argparse.Namespace) -> int:
    from keydesk import scan as scanner  # key parsing loads argon2: only when scanning

    if (args.yes or args.revoke_via) and not args.revoke:
        fail("--yes and --revoke-via go with --revoke (see: keydesk scan --help)")
        return EXIT_INCOMPLETE
    if args.revoke_via:
        from keydesk.cli.leak_reports import revoke_url

        revoke_url(args.revoke_via)  # refused before scanning, not after
    if args.staged and (args.git or args.revoke or args.respect_gitignore):
        fail("--staged takes no --git, --revoke or --respect-gitignore (see: keydesk scan --help)")
        return EXIT_INCOMPLETE
    over_ssh = args.proven_ssh_key is not None  # the server's files are not the admin's
    if over_ssh and (args.paths != [scanner.STDIN] or args.git or args.staged):
        from keydesk.ssh.gate import SCAN_REFUSED, RefusedOverSsh

        raise RefusedOverSsh(SCAN_REFUSED)
    request = scanner.ScanRequest(
        tuple(args.paths or ["."]),
        git=args.git,
        staged=args.staged,
        respect_gitignore=args.respect_gitignore,
        allow_lists=not over_ssh,
        workers=_idle_cores(),  # one process, no threads: it may fork
    )
    with ExitStack() as stack:  # the bare store connection, if one is opened
        look_up, service = _look_up(args, stack)
        return _report(args, scanner.run_scan(request, look_up), service)


def _report(
    args: argparse.Namespace,
    events: Iterator[Skipped | Sighting[FoundKey | None]],
    service: KeyService | None,
) -> int:
    from keydesk.scan import SkipCount, Skipped

    reports: list[Report] = []
    incomplete = False
    routine = SkipCount()  # a __pycache__'s 188 binary files: one line, as the TUI says it
    # The pipeline the TUI's scan runs too: walk, match, allow-lists, one look-up per key.
    for event in events:
        if isinstance(event, Skipped):
            if not routine.counted(event) or args.verbose:
                _note(str(event))
            incomplete |= event.failed
            continue
        report = Report(event.finding, event.verdict)
        reports.append(report)
        if args.staged:
            found = event.finding
            fail(
                f"{found.location}: a keydesk private key ({found.redacted}, {found.public_key}) "
                "is staged; remove it before committing"
            )
        elif not args.json:
            print(report.line(), flush=True)
    if routine and not args.verbose:
        _note(f"{routine} (--verbose lists them)")
    if any(report.unproven for report in reports):
        _note(UNPROVEN_NOTE)
    if args.revoke and service is not None:
        _revoke(service, reports, yes=args.yes, via=args.revoke_via)
    elif args.revoke:
        fail("cannot revoke: no store to revoke in (see the note above)")
        incomplete = True
    if args.json:
        print_json([report.as_json() for report in reports])
    return _exit_status(reports, incomplete)


def _idle_cores() -> int:
    """Processes to read a big walk with: one per core the machine leaves
    idle (its load average). On a busy machine workers only add their cost."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - os.getloadavg()[0])))


def _look_up(
    args: argparse.Namespace, stack: ExitStack
) -> tuple[Callable[[PrivateKey], FoundKey | None], KeyService | None]:
    """How each key found is looked up, and the service --revoke needs. An
    up-to-date SQLite store is read bare (no SQLAlchemy: most of a short
    scan's time was importing it); any other store, or --revoke, goes
    through the service."""
    if args.staged:
        return partial(_found_key, None), None
    if not args.revoke:
        from keydesk.config import database_url
        from keydesk.store.queries import bare_sqlite_reads

        try:
            context.refuse_typed_account(args)
            url = database_url(args.db)
            bare = stack.enter_context(
                bare_sqlite_reads(url, args.proven_actor, args.proven_ssh_key)
            )
        except KeydeskError as exc:
            _no_store(exc)
            return partial(_found_key, None), None
        if bare is not None:
            return bare.found_key, None
    service = _service(args)
    return partial(_found_key, service), service


def _no_store(exc: KeydeskError) -> None:
    _note(f"{exc.message}; not checked against a store, every key found counts as live")


def _service(args: argparse.Namespace) -> KeyService | None:
    """The store to ask, when one is reachable; else a note, and every key
    found counts as live."""
    try:
        return context.service(args)
    except KeydeskError as exc:
        _no_store(exc)
        return None


def _found_key(service: KeyService | None, key: PrivateKey) -> FoundKey | None:
    """What the store says of a key found (None: no store to ask). The
    pipeline asks once per key: a look-alike with the same public key and
    another secret is another key, which the hash check may call unknown."""
    return None if service is None else service.found_key(key)


def _revoke(service: KeyService, reports: list[Report], *, yes: bool, via: str | None) -> None:
    """Revoke the live keys found. One matched by public key alone (an admin
    on PostgreSQL) is revoked only through keydesk serve at `via`, which
    checks its secret: else a forgery could revoke the real key."""
    from dataclasses import replace  # not at import: `keydesk --help` loads this module

    from keydesk.cli import leak_reports
    from keydesk.views import UNVERIFIED

    url = None if via is None else leak_reports.revoke_url(via)
    live: dict[str, Report] = {}
    done: set[str] = set()  # public keys told of (another workspace) or revoked
    for report in reports:
        public_key = report.finding.public_key
        if report.status == "active" and report.unproven and url is None:
            fail(f"{report.finding.location}: {public_key}: {UNVERIFIED}")
        elif report.status == "active":
            # Unproven, each distinct key is its own candidate: a forgery shares the public key.
            live.setdefault(report.finding.private_key.reveal() if report.unproven else public_key, report)  # fmt: skip
        elif report.found is not None and report.found.elsewhere and public_key not in done:
            done.add(public_key)
            fail(
                f"cannot revoke {public_key}: it is in a workspace you are not a member of; "
                "ask its admins, or POST it to keydesk serve's /v1/revoke"
            )
    if url is None and any(r.status == "active" and r.unproven for r in reports):
        fail(leak_reports.HOW)
    if not live or (not yes and not _confirmed(live.values())):
        return
    for first in live.values():
        public_key, key = first.finding.public_key, None
        try:
            if not first.unproven:
                key = service.revoke_found_key(first.finding.private_key, first.finding.location)
            elif public_key not in done:  # not revoked already through another candidate
                key = leak_reports.revoke_through(url or "", service, first.finding.private_key)
        except KeydeskError as exc:
            fail(exc.message)
            continue
        if key is None:
            if public_key not in done:
                fail(f"{first.finding.location}: {public_key}: {UNVERIFIED} ({url} checked it)")
            continue
        done.add(public_key)
        for report in reports:
            found = report.found
            if found is not None and found.key is not None and found.public_key == public_key:
                report.found = replace(found, key=key)
        print(
            shown_literally(f"revoked {key.public_key} ({key.label!r}) of {key.integration}"),
            file=sys.stderr,
        )


def _confirmed(live: Iterable[Report]) -> bool:
    lines = "".join(f"\n  {report.line()}" for report in live)
    return confirmed(
        "revoke",
        "revoked",
        f"These keys leaked and still work; revoke them now, for good?{lines}\n"
        "Every service using them gets 401 Unauthorized on its next request.",
    )


def _exit_status(reports: list[Report], incomplete: bool) -> int:
    if any(report.live for report in reports):
        return EXIT_LIVE
    if incomplete:
        return EXIT_INCOMPLETE
    return EXIT_DEAD_ONLY if reports else EXIT_CLEAN


def _note(text: str) -> None:
    fail(text)
