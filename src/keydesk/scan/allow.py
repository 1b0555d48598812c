"""`.keydesk-scan-allow`: public keys whose private keys are known not to be
secret (demo data in snapshots and screenshots), left out of every scan."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from keydesk.keys import ID_LENGTH
from keydesk.scan.events import Skipped
from keydesk.scan.shown import STDIN, reason, shown_path

ALLOW_FILE = ".keydesk-scan-allow"
_PUBLIC_KEY = re.compile(rf"kdpk_[0-9A-Za-z]{{{ID_LENGTH}}}")


def find_allow_list(start: str | os.PathLike[str] = ".") -> str | None:
    """The `.keydesk-scan-allow` that applies at `start`: in it or a parent,
    looking no higher than the top of the git work tree (a folder holding
    `.git`), like `.gitleaksignore`."""
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, ALLOW_FILE)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if os.path.lexists(os.path.join(folder, ".git")) or parent == folder:
            return None
        folder = parent


def allowed_in(paths: Iterable[str]) -> tuple[frozenset[str], list[Skipped]]:
    """Public keys the allow-lists of the scanned `paths` name, with notes
    on their lines: for each path, the `.keydesk-scan-allow` found from its
    folder up (standard input: the current folder), so a scan allows the
    same keys wherever it is run from."""
    allowed: set[str] = set()
    notes: list[Skipped] = []
    read: set[str] = set()
    for path in paths:
        start = "." if path == STDIN else path if os.path.isdir(path) else os.path.dirname(path)
        found = find_allow_list(start or ".")
        if found is None or found in read:
            continue
        read.add(found)
        keys, found_notes = read_allow_list(found)
        allowed |= keys
        notes += found_notes
    return frozenset(allowed), notes


def read_allow_list(path: str) -> tuple[frozenset[str], list[Skipped]]:
    """The public keys listed in `path`, one per line; `#` starts a comment.
    A line that is not a public key is a note, and is never echoed (it might
    be the very secret someone meant to allow)."""
    allowed: set[str] = set()
    notes: list[Skipped] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read(1 << 20).splitlines()
    except OSError as error:
        return frozenset(), [Skipped(shown_path(path), reason(error), failed=True)]
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if _PUBLIC_KEY.fullmatch(entry):
            allowed.add(entry)
        else:
            ignored = f"line {number} ignored: not a public key (kdpk_…)"
            notes.append(Skipped(shown_path(path), ignored))
    return frozenset(allowed), notes
