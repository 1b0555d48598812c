"""One scan, as `keydesk scan` and the TUI's scan screen both run it: walk
(files, folders, stdin, git history or what is staged) → match → allow-list
→ each key looked up once. Both call `run_scan`, so they cannot drift apart
(they once read different allow-lists)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from typing import Generic, TypeVar

from keydesk.keys import PrivateKey
from keydesk.scan.allow import allowed_in
from keydesk.scan.events import Finding, ScanEvent, Skipped
from keydesk.scan.files import scan_paths
from keydesk.scan.git import scan_git_history, scan_staged
from keydesk.scan.shown import STDIN
from keydesk.scan.text import Readable

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """What to scan: files, folders and `-` (stdin), as `keydesk scan` names them."""

    paths: tuple[str, ...] = (".",)
    git: bool = False  # also every commit of the repository at each path
    staged: bool = False  # only the lines staged in the repository at each path (pre-commit)
    respect_gitignore: bool = False
    allow_lists: bool = True  # off over SSH: the server's folders are not the admin's
    workers: int = 1  # processes reading a big walk's files (see scan_paths; not from threads)


@dataclass(frozen=True, slots=True)
class Sighting(Generic[V]):
    """A key found, and what the caller's look-up said of it."""

    finding: Finding
    verdict: V


def run_scan(
    request: ScanRequest,
    look_up: Callable[[PrivateKey], V],
    *,
    stdin: Readable | None = None,
    on_file: Callable[[], object] | None = None,
) -> Generator[Skipped | Sighting[V], None, None]:
    """Notes on what was not scanned (the allow-lists' own first) and each
    key found that no allow-list names, with `look_up`'s verdict. A key is
    looked up once however often it is found, keyed by the whole key (in
    memory, for this scan only): a look-alike with the same public key and
    another secret is another key. `on_file`: see `scan_paths`. Closing the
    iterator stops the walk and any git process at once."""
    allowed: frozenset[str] = frozenset()
    if request.allow_lists:
        allowed, notes = allowed_in(request.paths)
        yield from notes
    verdicts: dict[str, V] = {}
    with closing(_events(request, stdin, on_file)) as events:
        try:
            for event in events:
                if isinstance(event, Skipped):
                    yield event
                elif event.public_key not in allowed:
                    text = event.private_key.reveal()
                    if text not in verdicts:
                        verdicts[text] = look_up(event.private_key)
                    yield Sighting(event, verdicts[text])
        finally:
            verdicts.clear()


def _events(
    request: ScanRequest, stdin: Readable | None, on_file: Callable[[], object] | None
) -> Generator[ScanEvent, None, None]:
    if request.staged:
        for path in request.paths:
            yield from scan_staged(path)
        return
    yield from scan_paths(
        request.paths,
        respect_gitignore=request.respect_gitignore,
        stdin=stdin,
        on_file=on_file,
        workers=request.workers,
    )
    if request.git:
        for path in request.paths:
            if path != STDIN:
                yield from scan_git_history(path)
