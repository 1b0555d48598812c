"""Changes to files git calls binary (a NUL byte in their first 8000 bytes),
which `git log -p` and `git diff` show only as "Binary files … differ" and
which `-G` never selects. UTF-16 and UTF-32 text is such a file (what
PowerShell 5's `>` writes): each changed one is read from the object store,
and the scanner decodes it or says it skipped a binary file, as for a file
on disk.

Keys are those of the new version that the old one did not hold: a binary
change has no added lines, so "added" is judged key by key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, cast

from keydesk.scan.events import Finding, ScanEvent, Skipped

# Options for `git log`/`git diff`: each change with its blob ids, and `-`
# for its line counts when git deems it binary. No renames: a numstat line
# then names one path. Deleted files leave nothing to scan.
LIST_OPTIONS = ("--raw", "--numstat", "-z", "--no-renames", "--no-abbrev", "--diff-filter=d")
_NO_BLOB = "0" * 40
_READ = 1 << 16


@dataclass(frozen=True, slots=True)
class BinaryChange:
    commit: str  # "" for what is staged
    path: bytes
    old: str  # blob ids; `_NO_BLOB` for none
    new: str


def binary_changes(listing: bytes) -> list[BinaryChange]:
    """Parse `LIST_OPTIONS` output (`\\0<commit>` headers from `git log
    --format=%x00%H`): the changes whose numstat is `-\\t-`."""
    changes: list[BinaryChange] = []
    blobs: dict[bytes, tuple[str, str]] = {}
    commit, tokens, at = "", listing.split(b"\0"), 0
    while at < len(tokens):
        token = tokens[at].lstrip(b"\n")
        at += 1
        if not token:  # a commit's header follows
            if at < len(tokens) and tokens[at][:1].isalnum():  # not the next ":" entry
                commit, blobs = tokens[at][:40].decode("ascii", "replace"), {}
                at += 1
        elif token.startswith(b":"):  # ":mode mode old new status", then the path
            fields = token.split()
            if at < len(tokens) and len(fields) >= 4:
                blobs[tokens[at]] = (fields[2].decode("ascii"), fields[3].decode("ascii"))
            at += 1
        elif token.startswith(b"-\t-\t") and token[4:] in blobs:
            old, new = blobs[token[4:]]
            changes.append(BinaryChange(commit, token[4:], old, new))
    return changes


class _Blob:
    """One blob of `git cat-file --batch`'s answer, as a `Readable` that can
    be read again from its start (asked for again)."""

    def __init__(self, process: subprocess.Popen[bytes], blob: str) -> None:
        self._in, self._out = cast(IO[bytes], process.stdin), cast(IO[bytes], process.stdout)
        self._blob, self.left, self._open = blob, 0, False
        self._request()

    def _request(self) -> None:
        self._in.write(self._blob.encode("ascii") + b"\n")
        self._in.flush()
        header = self._out.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            raise OSError(f"git cannot read {self._blob}")
        self.left, self._open = int(header[2]), True

    def readinto(self, buffer: memoryview, /) -> int:
        if not self.left:
            return 0
        data = self._out.read(min(len(buffer), self.left))
        if not data:
            raise OSError("git cat-file ended early")
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int) -> None:
        assert offset == 0  # only ever read again from the start
        self.finish()
        self._request()

    def finish(self) -> None:
        if not self._open:
            return
        self._open = False
        while self.left:  # what the scanner did not read (a skipped binary file)
            self.left -= len(self._out.read(min(_READ, self.left)) or b"\0" * self.left)
        self._out.read(1)  # the newline after each blob


ScanBlob = Callable[[_Blob, str], Iterator[ScanEvent]]  # (blob, where) → events


def binary_change_events(
    changes: Sequence[BinaryChange],
    cat_file: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    scan: ScanBlob,
    shown_path: Callable[[bytes], str],
    report_skipped: bool,
) -> Iterator[ScanEvent]:
    """Findings for each change's keys that its old version did not hold;
    with `report_skipped`, a note for each change that is not text."""
    if not changes:
        return
    try:
        process = subprocess.Popen(  # noqa: S603 - a list argv, no shell; arguments are ours
            cat_file, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    except OSError as error:
        yield Skipped(shown_path(os.fsencode(cwd)), f"not scanned: {error.strerror}", failed=True)
        return
    try:
        for change in changes:
            path = shown_path(change.path)
            where = f"{change.commit}:{path}" if change.commit else path
            events = _blob_events(process, change.new, where, scan)
            old: set[str] = set()
            if change.old != _NO_BLOB and any(isinstance(e, Finding) for e in events):
                old = {e.public_key for e in _blob_events(process, change.old, where, scan) if isinstance(e, Finding)}  # fmt: skip
            for event in events:
                if isinstance(event, Finding):
                    wanted = event.public_key not in old
                else:  # a note: wanted, or a failure
                    wanted = report_skipped or event.failed
                if wanted:
                    yield event
    finally:
        cast(IO[bytes], process.stdin).close()
        process.kill()
        process.wait()
        cast(IO[bytes], process.stdout).close()  # else one descriptor leaks per scan


def _blob_events(
    process: subprocess.Popen[bytes], blob: str, where: str, scan: ScanBlob
) -> list[ScanEvent]:
    try:
        reader = _Blob(process, blob)
    except OSError:  # git cat-file has gone, or cannot read the blob
        return [Skipped(where, "not scanned: git cannot read it", failed=True)]
    try:
        return list(scan(reader, where))
    except OSError:  # asked for again, it could not be read
        return [Skipped(where, "not scanned: git cannot read it", failed=True)]
    finally:
        reader.finish()
