"""Keys in blobs read from git's object store: in history (each commit's
changed files), and in staged changes git calls binary (a NUL byte in their
first 8000 bytes), which `git diff` shows only as "Binary files … differ".
UTF-16 and UTF-32 text is such a file (what PowerShell 5's `>` writes): the
scanner decodes it or says it skipped a binary file, as for a file on disk.

A change's keys are those of its new version that no old one held (a merge
has one old version per parent): "added" is judged key by key. History is
listed with `git log --raw` (no diffs: it compares trees) and each blob is
read once through one `git cat-file --batch`, which costs about half of what
`git log -p` costs to diff every commit.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, cast

from keydesk.scan.events import Finding, ScanEvent, Skipped

# Options for `git diff --cached`: each change with its blob ids, and `-`
# for its line counts when git deems it binary. No renames: a numstat line
# then names one path. Deleted files leave nothing to scan.
LIST_OPTIONS = ("--raw", "--numstat", "-z", "--no-renames", "--no-abbrev", "--diff-filter=d")
# Options for `git log`: each commit's changed blobs (the first commit's
# too), a merge's against each parent where it differs from all of them (`-c`:
# what the merge itself made; with --raw no patch, in any git); a moved file is
# not a new leak; a user's settings cannot narrow the paths or add lines.
HISTORY_OPTIONS = (
    "--raw", "-z", "--no-abbrev", "-c", "--find-renames", "--root", "--no-relative",
    "--no-show-signature",
)  # fmt: skip
_GITLINK = b"160000"  # a submodule's commit, not a blob
_READ = 1 << 16


@dataclass(frozen=True, slots=True)
class Change:
    commit: str  # "" for what is staged
    path: bytes
    olds: tuple[str, ...]  # the blob in each parent; all zeros for none
    new: str


def binary_changes(listing: bytes) -> list[Change]:
    """Parse `LIST_OPTIONS` output: the changes whose numstat is `-\t-`."""
    changes: list[Change] = []
    blobs: dict[bytes, tuple[str, str]] = {}
    tokens, at = listing.split(b"\0"), 0
    while at < len(tokens):
        token = tokens[at].lstrip(b"\n")
        at += 1
        if token.startswith(b":"):  # ":mode mode old new status", then the path
            fields = token.split()
            if at < len(tokens) and len(fields) >= 4:
                blobs[tokens[at]] = (fields[2].decode("ascii"), fields[3].decode("ascii"))
            at += 1
        elif token.startswith(b"-\t-\t") and token[4:] in blobs:
            old, new = blobs[token[4:]]
            changes.append(Change("", token[4:], (old,), new))
    return changes


def history_changes(stream: IO[bytes]) -> Iterator[Change]:
    """Parse `git log --format=%x00%H` with `HISTORY_OPTIONS` as it streams:
    after each commit's id, ":modes… ids… status" and the path (two for a
    rename or copy: the new one is scanned). Deleted files and submodules
    leave nothing to read."""
    tokens = _nul_separated(stream)
    commit = ""
    for token in tokens:
        token = token.lstrip(b"\n")
        if not token.startswith(b":"):
            commit = token.decode("ascii", "replace") if token else commit
            continue
        parents = len(token) - len(token.lstrip(b":"))
        fields = token[parents:].split() or [b""]  # modes (parents + 1), ids (as many), status
        path = next(tokens, b"")
        if fields[-1][:1] in (b"R", b"C"):
            path = next(tokens, b"")
        ids = [field.decode("ascii") for field in fields[parents + 1 : 2 * parents + 2]]
        if len(fields) == 2 * parents + 3 and fields[parents] != _GITLINK and ids[-1].strip("0"):
            yield Change(commit, path, tuple(ids[:-1]), ids[-1])


def _nul_separated(stream: IO[bytes]) -> Iterator[bytes]:
    rest = b""
    while block := stream.read1(_READ):  # type: ignore[attr-defined]
        parts = (rest + block).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


class _Blob:
    """One blob of `git cat-file --batch`'s answer, as a `Readable` that can
    be read again from its start (through `again`, another cat-file: the
    first has answers to later requests queued behind this one)."""

    def __init__(self, out: IO[bytes], blob: str, again: Callable[[str], IO[bytes]]) -> None:
        self._out, self._blob, self._again = out, blob, again
        self.left, self._open = 0, False
        self._header()

    def _header(self) -> None:
        header = self._out.readline().split()
        if len(header) == 3 and header[1] != b"blob":  # skip its body: keep in step
            self.left, self._open = int(header[2]), True
            self.finish()
        if len(header) != 3 or header[1] != b"blob":
            raise OSError(f"git cannot read {self._blob}")
        self.left, self._open = int(header[2]), True

    def readinto(self, buffer: memoryview, /) -> int:
        if not self.left:
            return 0
        read = self._out.readinto(buffer[: min(len(buffer), self.left)])  # type: ignore[attr-defined]
        if not read:
            raise OSError("git cat-file ended early")
        self.left -= read
        return int(read)

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int) -> None:
        assert offset == 0  # only ever read again from the start
        self.finish()
        self._out = self._again(self._blob)
        self._header()

    def finish(self) -> None:
        if not self._open:
            return
        self._open = False
        while self.left:  # what the scanner did not read (a skipped binary file)
            self.left -= len(self._out.read(min(_READ, self.left)) or b"\0" * self.left)
        self._out.read(1)  # the newline after each blob


ScanBlob = Callable[[_Blob, str], Iterator[ScanEvent]]  # (blob, where) → events
_AHEAD = 512  # changes whose blobs are asked for before the first is read (~21 KB of ids)


def change_events(
    changes: Iterable[Change],
    cat_file: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    scan: ScanBlob,
    shown_path: Callable[[bytes], str],
    report_skipped: bool,
) -> Iterator[ScanEvent]:
    """Findings for each change's keys that none of its old versions held;
    with `report_skipped`, a note for each change that is not text. Each
    blob is read once: what it holds is kept by its id (~100 bytes a blob).
    Blobs are asked for `_AHEAD` changes ahead: one request and answer at a
    time waited on git (and the scheduler) 5,000 times for 5,000 commits."""
    blobs = _Blobs(cat_file, cwd, env, scan)
    ahead: deque[Change] = deque()
    try:
        for change in changes:
            ahead.append(change)
            blobs.ask(change.new)
            if len(ahead) >= _AHEAD:
                yield from _added(blobs, ahead.popleft(), shown_path, report_skipped)
        while ahead:
            yield from _added(blobs, ahead.popleft(), shown_path, report_skipped)
    except _NoCatFile as error:
        yield Skipped(shown_path(os.fsencode(cwd)), f"not scanned: {error}", failed=True)
    finally:
        blobs.close()


def _added(
    blobs: _Blobs, change: Change, shown_path: Callable[[bytes], str], report_skipped: bool
) -> Iterator[ScanEvent]:
    events = blobs.events(change.new)
    old: set[str] = set()
    if any(isinstance(e, Finding) for e in events):
        for blob in change.olds:
            if blob.strip("0"):
                old |= {e.public_key for e in blobs.events(blob) if isinstance(e, Finding)}
    path = shown_path(change.path)
    where = f"{change.commit}:{path}" if change.commit else path
    for event in events:
        if isinstance(event, Finding):
            if event.public_key not in old:
                yield dataclasses.replace(event, location=where + event.location)
        elif report_skipped or event.failed:  # a note: wanted, or a failure
            yield dataclasses.replace(event, path=where)


class _NoCatFile(Exception):
    pass


class _Blobs:
    """`git cat-file --batch` started on the first request, the blobs asked
    of it and not yet read (in order), and what each blob read holds: events
    whose locations are only `:line` (a Finding) or empty (a note)."""

    def __init__(self, cat_file: list[str], cwd: str, env: dict[str, str], scan: ScanBlob) -> None:
        self.argv, self.cwd, self.env, self.scan = cat_file, cwd, env, scan
        self.known: dict[bytes, tuple[ScanEvent, ...]] = {}
        self.asked: deque[str] = deque()
        self.waiting: set[str] = set()  # what `asked` holds, to look up
        self.processes: list[subprocess.Popen[bytes]] = []  # [answers, reads again]

    def ask(self, blob: str) -> None:
        key = _key(blob)
        if key is not None and key not in self.known and blob not in self.waiting:
            self._send(0, blob, flush=False)
            self.asked.append(blob)
            self.waiting.add(blob)

    def events(self, blob: str) -> tuple[ScanEvent, ...]:
        key = _key(blob)
        if key is None:  # not an object id: nothing git could give
            return (_UNREADABLE,)
        if (known := self.known.get(key)) is not None:
            return known
        self.ask(blob)
        self._send(0, None, flush=True)
        while True:  # answers come in the order asked
            asked = self.asked.popleft()
            self.waiting.discard(asked)
            events = tuple(self._read(asked))
            self.known[bytes.fromhex(asked)] = events
            if asked == blob:
                return events

    def _read(self, blob: str) -> list[ScanEvent]:
        out = cast(IO[bytes], self.processes[0].stdout)
        try:
            reader = _Blob(out, blob, self._again)
        except OSError:  # git cat-file has gone, or cannot read the blob
            return [_UNREADABLE]
        try:
            return list(self.scan(reader, ""))
        except OSError:  # asked for again, it could not be read
            return [_UNREADABLE]
        finally:
            reader.finish()

    def _again(self, blob: str) -> IO[bytes]:
        self._send(1, blob, flush=True)
        return cast(IO[bytes], self.processes[1].stdout)

    def _send(self, which: int, blob: str | None, *, flush: bool) -> None:
        stdin = self._stdin(which)
        try:
            if blob is not None:
                stdin.write(blob.encode("ascii") + b"\n")
            if flush:
                stdin.flush()
        except OSError as error:  # it has gone: no more blobs can be read
            raise _NoCatFile(error.strerror or "git cat-file ended") from error

    def _stdin(self, which: int) -> IO[bytes]:
        while len(self.processes) <= which:
            try:
                process = subprocess.Popen(  # noqa: S603 - a list argv, no shell; arguments are ours
                    self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            except OSError as error:
                raise _NoCatFile(error.strerror) from error
            self.processes.append(process)
            _widen(cast(IO[bytes], process.stdout))
        return cast(IO[bytes], self.processes[which].stdin)

    def close(self) -> None:
        for process in self.processes:
            cast(IO[bytes], process.stdin).close()
            process.kill()
            process.wait()
            cast(IO[bytes], process.stdout).close()  # else one descriptor leaks per scan


_UNREADABLE = Skipped("", "not scanned: git cannot read it", failed=True)


def _widen(pipe: IO[bytes]) -> None:
    """Let git run a MiB ahead of the scan (Linux; 64 KiB by default):
    with a few blobs in the pipe, each side waited on the other in turn."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):  # not Linux, or over the system's limit
        pass


def _key(blob: str) -> bytes | None:
    try:
        return bytes.fromhex(blob)
    except ValueError:
        return None
