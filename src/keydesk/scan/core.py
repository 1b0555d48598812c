"""Find leaked private keys: in files, on stdin, in git history, in what is staged.

A candidate is counted only when its CRC32 checksum is valid (checked by
`keydesk.keys.parse_private_key`), so random text never matches: a string of
the right shape passes by chance with probability 62**-6 ≈ 2e-11, written
plainly or escaped (`keydesk.scan.decode`, through `_keys_in`).

Everything streams in constant memory: files are read in chunks with an
overlap of the longest escaped key less one byte (a key split by a chunk
boundary is found once), git output is read in bounded pieces, and line
numbers are counted, never split out. Whatever cannot be read becomes a `Skipped` note
instead of an exception.

The core is pure: no store, no screen. Callers (CLI, service, TUI) iterate
the events and decide what to show, look up or revoke; closing the iterator
early stops any git process it started.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache, partial
from typing import IO, Protocol, cast

from keydesk.errors import Unauthorized
from keydesk.keys import (
    BASE62,
    CHECKSUM_LENGTH,
    ID_LENGTH,
    PRIVATE_PREFIX,
    SECRET_LENGTH,
    PrivateKey,
    parse_private_key,
)
from keydesk.scan.decode import ENCODED_KEY_MAX, GIT_PICKAXE, escaped_keys
from keydesk.scan.events import Finding, ScanEvent, Skipped
from keydesk.scan.git_blobs import LIST_OPTIONS, binary_change_events, binary_changes
from keydesk.scan.text import both_readings, read_head, wide_encoding
from keydesk.validation import shown_literally

__all__ = [
    "ALLOW_FILE",
    "CHUNK_SIZE",
    "Finding",
    "Readable",
    "ScanEvent",
    "ScanStatus",
    "Skipped",
    "find_allow_list",
    "read_allow_list",
    "scan_bytes",
    "scan_git_history",
    "scan_paths",
    "scan_staged",
    "scan_status",
    "scan_stream",
]

CHUNK_SIZE = 1 << 20
OVERLAP = ENCODED_KEY_MAX - 1  # carried between chunks: holds all but a byte of any key
SNIFF_BYTES = 8000  # what git looks at to call a file binary
STDIN = "-"
STDIN_LABEL = "<stdin>"

_PREFIX = PRIVATE_PREFIX.encode("ascii")
_B62 = b"[" + re.escape(BASE62).encode("ascii") + b"]"
_SHAPE = re.compile(
    _PREFIX + _B62 + b"{%d}_" % ID_LENGTH + _B62 + b"{%d}" % (SECRET_LENGTH + CHECKSUM_LENGTH)
)
# Reached while walking, these would read kernel memory or never end (/proc/kcore,
# /proc/kmsg); name them explicitly to scan something inside.
_PSEUDO_FILESYSTEMS = frozenset({"/proc", "/sys"})


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class ScanStatus(IntEnum):
    """What a scan found, as `keydesk scan` will exit with it."""

    CLEAN = 0
    DEAD_ONLY = 1  # every key found is revoked, expired or unknown
    LIVE = 2  # at least one key may still work


def scan_status(
    findings: Iterable[Finding], is_live: Callable[[Finding], bool] | None = None
) -> ScanStatus:
    """Sum up findings. Without `is_live` (no store to ask, e.g. a pre-commit
    hook) every checksum-valid key counts as possibly live."""
    status = ScanStatus.CLEAN
    for finding in findings:
        if is_live is None or is_live(finding):
            return ScanStatus.LIVE
        status = ScanStatus.DEAD_ONLY
    return status


# --- matching ---------------------------------------------------------------


def _keys_in(
    buf: bytes | bytearray, start: int, end: int, fresh: int = 0
) -> list[tuple[int, str, str]]:
    """(offset, key text, public key) of each checksum-valid key in buf[start:end], plain
    or escaped, in order, ending past `fresh` (buf[:fresh] was the previous chunk's)."""
    first = buf.find(_PREFIX, start, end)  # the common case, no prefix at all, stays in C
    plain = _SHAPE.finditer(buf, first, end) if first != -1 else ()
    found = [(m.start(), m.end(), m.group().decode("ascii")) for m in plain]
    found += escaped_keys(buf, start, end, first)
    checked = ((at, text, _checked(text)) for at, stop, text in sorted(found) if stop > fresh)
    return [(at, text, public_key) for at, text, public_key in checked if public_key]


def _checked(text: str) -> str | None:
    """The public key of a well-shaped candidate, None if its checksum is wrong."""
    try:
        return parse_private_key(text).public_key
    except Unauthorized:
        return None


def _finding(location: str, text: str, public_key: str) -> Finding:
    redacted = PRIVATE_PREFIX + public_key[len(PRIVATE_PREFIX) :][:4] + "…"
    return Finding(location, public_key, redacted, PrivateKey(text))


def _display(raw: bytes) -> str:
    """A path as it may be printed: undecodable bytes and control characters
    escaped, so a hostile file name cannot restyle a terminal or fake a line."""
    text = raw.decode("utf-8", "backslashreplace")
    return text if text.isprintable() else shown_literally(text)


def _display_path(path: str) -> str:
    return _display(os.fsencode(path))


# --- streams ----------------------------------------------------------------


def scan_bytes(data: bytes | bytearray, label: str = "<bytes>") -> Iterator[Finding]:
    """Keys in an in-memory blob (a paste, a clipboard, a test)."""
    if wide_encoding(data, SNIFF_BYTES):
        yield from scan_stream(io.BytesIO(data), label)
        return
    line, last = 1, 0
    for offset, text, public_key in _keys_in(data, 0, len(data)):
        line += data.count(b"\n", last, offset)
        last = offset
        yield _finding(f"{label}:{line}", text, public_key)


def scan_stream(stream: Readable, label: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Finding]:
    """Keys in a binary stream, read `chunk_size` bytes at a time."""
    for event in _scan_readable(stream, label, label, _Buffer(chunk_size), sniff=False):
        if isinstance(event, Finding):
            yield event


class _Buffer:
    """One reading buffer per scan, not per file: a fresh zeroed MiB for each
    small file would cost more than reading it. Scans run one file at a time.
    `on_file` is called as each file is opened for reading (progress, and a
    place for a caller to stop a scan by raising)."""

    def __init__(self, chunk_size: int, on_file: Callable[[], object] | None = None) -> None:
        self.chunk_size = chunk_size
        self.data = bytearray(OVERLAP + chunk_size)
        self.view = memoryview(self.data)
        self.on_file = on_file


@dataclass(slots=True)
class _Lines:
    """Newlines counted up to `pos` (an offset in the stream). Counting is the
    costliest pass, so with `recount` (files) it stops at the last key found
    and skipped bytes are read again only when a key turns up after them;
    without (pipes) every chunk is counted as it passes."""

    recount: Callable[[int, int], int] | None
    pos: int = 0
    newlines: int = 0


def _scan_readable(
    stream: Readable,
    label: str,
    path: str,
    buffer: _Buffer,
    *,
    sniff: bool,
    recount: Callable[[int, int], int] | None = None,
    wide: bool = True,  # whether UTF-16/32 text is decoded
) -> Iterator[ScanEvent]:
    """The streaming loop. buf holds `keep` carried bytes then the new chunk,
    buf[0] being at offset `base` of the stream. Keys are looked for only
    past a `kdsk_`, in C, so a chunk without a key costs no Python per line."""
    buf, view, size = buffer.data, buffer.view, buffer.chunk_size
    lines = _Lines(recount)
    keep, base, first = 0, 0, True
    while True:
        try:
            if first:  # the encoding is judged on the first bytes: a pipe may give a few
                read = read_head(stream, view[: max(size, min(len(view), SNIFF_BYTES))])
            else:
                read = stream.readinto(view[keep : keep + size])
        except OSError as error:
            yield Skipped(path, f"read failed: {_reason(error)}", failed=True)
            return
        if read is None:  # non-blocking source with nothing to give
            yield Skipped(path, "would block (not a regular file?)", failed=True)
            return
        if not read:
            return
        end = keep + read
        if first:  # keep is 0: the stream's first bytes
            first, sniffed = False, min(end, SNIFF_BYTES)
            if wide and (codec := wide_encoding(buf, sniffed)):  # UTF-16/32 text
                scan = partial(_scan_readable, label=label, path=path, buffer=buffer, sniff=False)
                yield from both_readings(stream, codec, bytes(buf[:end]), scan)
                return
            if sniff and buf.find(b"\0", 0, sniffed) != -1:
                yield Skipped(path, "binary file")
                return
        for offset, text, public_key in _keys_in(buf, 0, end, keep):
            line = _line_at(lines, buf, base, offset)
            yield _finding(f"{label}:{line}", text, public_key)
        if recount is None:
            _line_at(lines, buf, base, end)
        # Carry the last OVERLAP bytes: long enough to complete a key that the
        # next chunk finishes; keys wholly inside them were reported already.
        base += end - min(OVERLAP, end)
        keep = min(OVERLAP, end)
        buf[:keep] = buf[end - keep : end]


def _line_at(lines: _Lines, buf: bytearray, base: int, offset: int) -> int:
    """The line number at buf[offset], counting on from where `lines` stopped."""
    if lines.pos < base:  # lazily counted: read the skipped part again
        assert lines.recount is not None
        lines.newlines += lines.recount(lines.pos, base)
        lines.pos = base
    if base + offset > lines.pos:
        lines.newlines += buf.count(b"\n", lines.pos - base, offset)
        lines.pos = base + offset
    return lines.newlines + 1


def _newlines_in_file(fd: int) -> Callable[[int, int], int] | None:
    if not hasattr(os, "pread"):
        return None

    def count(start: int, stop: int) -> int:
        total = 0
        while start < stop:
            block = os.pread(fd, min(CHUNK_SIZE, stop - start), start)
            if not block:
                break
            total += block.count(b"\n")
            start += len(block)
        return total

    return count


# --- files and directories --------------------------------------------------


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    respect_gitignore: bool = False,
    stdin: Readable | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_file: Callable[[], object] | None = None,
) -> Iterator[ScanEvent]:
    """Scan files, directories (recursively) and `-` (stdin).

    Named paths are always scanned, binary or ignored or behind a symlink.
    What a directory walk meets is filtered: `.git` is left out (see
    `scan_git_history`), symlinks are not followed (no loops, no double
    counts), only regular files are opened, binary files (a NUL byte in the
    first 8000 bytes) are skipped, and with `respect_gitignore` so is what
    git ignores. Off by default: leaked keys often sit in ignored files.
    `on_file` is called before each regular file is read (the TUI counts
    files read, and stops a cancelled scan by raising from it).
    """
    buffer = _Buffer(chunk_size, on_file)
    for path in paths:
        name = os.fspath(path)
        if name == STDIN:
            source = stdin if stdin is not None else cast(Readable, sys.stdin.buffer)
            yield from _scan_readable(source, STDIN_LABEL, STDIN_LABEL, buffer, sniff=False)
            continue
        shown = _display_path(name)
        try:
            info = os.stat(name)
        except OSError as error:
            yield Skipped(shown, _open_reason(name, error), failed=True)
            continue
        except ValueError:  # a NUL byte: no file has that name
            yield Skipped(shown, "not a valid path (it contains a NUL byte)", failed=True)
            continue
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(name, respect_gitignore, buffer)
        else:
            yield from _scan_file(name, shown, buffer, named=True)


@dataclass(slots=True)
class _Walk:
    respect_gitignore: bool
    buffer: _Buffer
    ignored: set[str] = field(default_factory=set)  # real paths git ignores


def _walk(root: str, respect_gitignore: bool, buffer: _Buffer) -> Iterator[ScanEvent]:
    """Depth first with an explicit stack (no recursion limit on deep trees),
    entries in name order so results are reproducible."""
    walk = _Walk(respect_gitignore, buffer)
    real_root = os.path.realpath(root)
    if respect_gitignore:
        yield from _learn_ignored(walk, real_root, _display_path(root))
    stack = [(root, real_root)]
    while stack:
        path, real = stack.pop()
        subdirs: list[tuple[str, str]] = []
        yield from _scan_dir(walk, path, real, subdirs)
        stack.extend(reversed(subdirs))


def _scan_dir(
    walk: _Walk, path: str, real: str, subdirs: list[tuple[str, str]]
) -> Iterator[ScanEvent]:
    try:
        with os.scandir(path) as found:
            entries = sorted(found, key=lambda entry: entry.name)
    except OSError as error:
        yield Skipped(_display_path(path), _reason(error), failed=True)
        return
    for entry in entries:
        if entry.name == ".git":
            continue
        child_real = os.path.join(real, entry.name)
        shown = _display_path(entry.path)
        if child_real in walk.ignored:
            yield Skipped(shown, "ignored by git")
            continue
        try:
            if entry.is_symlink():
                yield Skipped(shown, "symbolic link, not followed")
            elif entry.is_dir(follow_symlinks=False):
                yield from _enter_dir(walk, entry, child_real, shown, subdirs)
            elif entry.is_file(follow_symlinks=False):
                yield from _scan_file(entry.path, shown, walk.buffer, named=False)
            else:
                kind = _file_kind(entry.stat(follow_symlinks=False).st_mode)
                yield Skipped(shown, f"not a regular file ({kind})")
        except OSError as error:
            yield Skipped(shown, _reason(error), failed=True)


def _enter_dir(
    walk: _Walk,
    entry: os.DirEntry[str],
    real: str,
    shown: str,
    subdirs: list[tuple[str, str]],
) -> Iterator[ScanEvent]:
    if real in _PSEUDO_FILESYSTEMS:
        yield Skipped(shown, "kernel pseudo-filesystem (name it to scan inside)")
        return
    if walk.respect_gitignore and os.path.lexists(os.path.join(entry.path, ".git")):
        # A nested repository or submodule: its own ignore rules apply.
        yield from _learn_ignored(walk, real, shown)
    subdirs.append((entry.path, real))


def _scan_file(path: str, shown: str, buffer: _Buffer, *, named: bool) -> Iterator[ScanEvent]:
    # O_NONBLOCK: if a FIFO or device replaced the file since we looked, opening
    # and reading it must not hang. O_NOFOLLOW: a walk never follows symlinks.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    if not named:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        yield Skipped(shown, _open_reason(path, error), failed=True)
        return
    with open(fd, "rb", buffering=0) as file:
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                yield Skipped(shown, f"not a regular file ({_file_kind(mode)})", failed=named)
                return
            if buffer.on_file is not None:
                buffer.on_file()
            yield from _scan_readable(
                file, shown, shown, buffer, sniff=not named, recount=_newlines_in_file(fd)
            )
        except OSError as error:  # e.g. re-reading for line numbers failed
            yield Skipped(shown, f"read failed: {_reason(error)}", failed=True)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link"),
    )
    return next((name for test, name in kinds if test(mode)), "unknown type")


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def _open_reason(path: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError) and os.path.islink(path):
        return "broken symbolic link"
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    return _reason(error)


# --- git --------------------------------------------------------------------

# Pinned so a user's or a repository's configuration cannot change the output
# we parse or make git run something (fsmonitor, external diff, textconv).
_GIT_CONFIG = (
    "-c",
    "core.quotePath=true",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "diff.noprefix=false",
)
_PATCH_OPTIONS = (
    "--patch",
    "--unified=0",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-relative",
    "--submodule=short",
    "--find-renames",  # a moved file is not a new leak
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "-G" + GIT_PICKAXE,  # git drops changes with no line that may hold a key, in C
)
_HUNK = re.compile(rb"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class _GitError(Exception):
    pass


class _NoGit(_GitError):
    pass


def _git_argv(*args: str) -> list[str]:
    git = shutil.which("git")
    if git is None:
        raise _NoGit("git is not installed")
    return [git, *_GIT_CONFIG, *args]


def _git_env() -> dict[str, str]:
    # No index.lock taken for a refresh: a scan never races the user's git.
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}


def _git_output(cwd: str | None, *args: str) -> bytes:
    try:
        done = subprocess.run(  # noqa: S603 - a list argv, no shell; arguments are ours
            _git_argv(*args),
            cwd=cwd,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except OSError as error:  # cwd gone, git not executable
        raise _GitError(_reason(error)) from error
    except ValueError as error:  # a NUL byte in the folder's name
        raise _GitError("not a valid path (it contains a NUL byte)") from error
    if done.returncode != 0:
        raise _GitError(_first_line(done.stderr) or f"git {args[0]} failed")
    return done.stdout


def _first_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "backslashreplace").strip().splitlines()
    return shown_literally(lines[0]) if lines else ""


@cache
def _git_version() -> tuple[int, ...]:
    text = _git_output(None, "version").decode("ascii", "replace")
    found = re.search(r"(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _merge_diffs() -> str:
    # remerge (git 2.36+) shows only what a merge commit itself introduced
    # (conflict resolutions, "evil" edits); older gits get a diff against each
    # parent, which repeats the branch's lines.
    return "--diff-merges=remerge" if _git_version() >= (2, 36) else "-m"


def _learn_ignored(walk: _Walk, real_dir: str, shown: str) -> Iterator[Skipped]:
    """Add what git ignores under real_dir to walk.ignored (real paths).
    `--directory` names an ignored folder once instead of every file in it."""
    try:
        top = _git_output(real_dir, "rev-parse", "--show-toplevel").rstrip(b"\n")
    except _NoGit as error:
        yield Skipped(shown, f"could not ask git what is ignored, scanning all: {error}")
        return
    except _GitError:
        return  # not in a work tree: nothing is ignored
    try:
        relative = os.path.relpath(real_dir, os.fsdecode(top))
        listed = _git_output(
            os.fsdecode(top),
            "--literal-pathspecs",
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--directory",
            "--",
            relative,
        )
    except (_GitError, ValueError) as error:
        yield Skipped(shown, f"could not ask git what is ignored, scanning all: {error}")
        return
    found = {
        os.path.join(os.fsdecode(top), os.fsdecode(item.rstrip(b"/")))
        for item in listed.split(b"\0")
        if item
    }
    # The named directory itself lies in an ignored one: it was asked for, so
    # scan all of it (git has nothing finer to say inside).
    if any(real_dir == p or real_dir.startswith(p + os.sep) for p in found):
        return
    walk.ignored |= found


def scan_git_history(repo: str | os.PathLike[str] = ".") -> Iterator[ScanEvent]:
    """Keys added in any commit reachable from a ref or a reflog, even if
    later deleted, as `commit:file:line` (line in that commit's file). Each
    key is reported where it was introduced (or re-introduced), not in every
    commit that carries it. Files git deems binary are searched if they are
    UTF-16/32 text (`keydesk.scan.git_blobs`)."""
    selection = ["log", "--all", "--reflog", "--format=%x00%H"]
    yield from _git_patch_events(repo, selection, commits=True)


def scan_staged(repo: str | os.PathLike[str] = ".") -> Iterator[ScanEvent]:
    """Keys on lines added by what is staged (`git diff --cached`), as
    `file:line`: what a pre-commit hook must stop. A staged file git deems
    binary is decoded if it is UTF-16/32 text, else reported skipped."""
    yield from _git_patch_events(repo, ["diff", "--cached"], commits=False)


def _git_patch_events(
    repo: str | os.PathLike[str], selection: list[str], *, commits: bool
) -> Iterator[ScanEvent]:
    cwd = os.fspath(repo)
    shown = _display_path(cwd)
    try:
        _git_output(cwd, "rev-parse", "--git-dir")
        argv = _git_argv(*selection, *_PATCH_OPTIONS, *([_merge_diffs()] if commits else []))
    except _GitError as error:
        yield Skipped(shown, f"not scanned: {error}", failed=True)
        return
    with tempfile.TemporaryFile() as stderr:  # a file: a full stderr pipe would stall git
        try:
            process = subprocess.Popen(  # noqa: S603 - a list argv, no shell; arguments are ours
                argv,
                cwd=cwd,
                env=_git_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        except OSError as error:
            yield Skipped(shown, f"not scanned: {_reason(error)}", failed=True)
            return
        stdout = cast(IO[bytes], process.stdout)
        try:
            yield from _scan_patch(stdout, commits=commits)
            code = process.wait()
        finally:
            if process.poll() is None:  # the caller stopped early
                process.kill()
                process.wait()
            stdout.close()
        if code != 0:
            stderr.seek(0)
            yield Skipped(shown, f"git {selection[0]} failed: {_first_line(stderr.read())}", failed=True)  # fmt: skip
            return
    yield from _binary_events(cwd, selection, commits=commits)


def _binary_events(cwd: str, selection: list[str], *, commits: bool) -> Iterator[ScanEvent]:
    """Changes git calls binary: UTF-16/32 text in them is scanned; in what
    is staged, any other is reported skipped, as a binary file on disk is."""
    try:
        listing = _git_output(cwd, *selection, *LIST_OPTIONS)
        cat_file = _git_argv("cat-file", "--batch")
    except _GitError as error:
        yield Skipped(_display_path(cwd), f"not scanned: {error}", failed=True)
        return
    buffer = _Buffer(CHUNK_SIZE)
    yield from binary_change_events(
        binary_changes(listing), cat_file, cwd=cwd, env=_git_env(), shown_path=_display,
        scan=lambda blob, where: _scan_readable(blob, where, where, buffer, sniff=True),
        report_skipped=not commits,
    )  # fmt: skip


@dataclass(slots=True)
class _Patch:
    """Where a patch reader stands: commit, file, and the hunk's remaining lines."""

    commit: str = ""
    path: str | None = None
    old_left: int = 0
    new_left: int = 0
    new_line: int = 0


def _scan_patch(stream: IO[bytes], *, commits: bool) -> Iterator[Finding]:
    """Keys on added lines of `git log -p` / `git diff` output. Lines are read
    in pieces of at most CHUNK_SIZE bytes, so a huge line is never held whole;
    a key split between two pieces is found with a carried tail, as in files."""
    state = _Patch()
    continued = False  # this piece continues the previous line
    added = False  # the current line is an added line of a hunk
    line = 0
    carry = b""
    while piece := stream.readline(CHUNK_SIZE):
        if not continued:
            added, line = _patch_line(state, piece)
            carry = b""
        continued = not piece.endswith(b"\n")
        if not added or state.path is None:
            continue
        start = 0 if carry else 1  # skip the `+` on a line's first piece
        text = carry + piece if carry else piece
        for _, key, public_key in _keys_in(text, start, len(text), len(carry)):
            where = f"{state.commit}:{state.path}" if commits else state.path
            yield _finding(f"{where}:{line}", key, public_key)
        carry = text[-OVERLAP:] if continued else b""


def _patch_line(state: _Patch, piece: bytes) -> tuple[bool, int]:
    """Read the first piece of a line; return (is an added line, its line number)."""
    first = piece[:1]
    if state.old_left or state.new_left:  # inside a hunk (-U0: only + and - lines)
        if first == b"+":
            state.new_left -= 1
            state.new_line += 1
            return True, state.new_line - 1
        if first == b"-":
            state.old_left -= 1
            return False, 0
        if first == b" ":
            state.old_left -= 1
            state.new_left -= 1
            state.new_line += 1
            return False, 0
        if first == b"\\":  # "\ No newline at end of file"
            return False, 0
        state.old_left = state.new_left = 0  # malformed hunk: read it as a header
    if first == b"\0":
        state.commit = piece[1:].strip().decode("ascii", "replace")
        state.path = None
    elif piece.startswith(b"diff "):
        state.path = None
    elif piece.startswith(b"+++ "):
        state.path = _patch_path(piece[4:])
    elif hunk := _HUNK.match(piece):
        old_count, new_start, new_count = hunk.groups()
        state.old_left = 1 if old_count is None else int(old_count)
        state.new_left = 1 if new_count is None else int(new_count)
        state.new_line = int(new_start)
    return False, 0


def _patch_path(raw: bytes) -> str | None:
    """The path of a `+++ ` header, None for /dev/null (a deleted file)."""
    raw = raw.rstrip(b"\n")
    if raw == b"/dev/null":
        return None
    if raw.startswith(b'"'):
        raw = _c_unquote(raw)
    elif raw.endswith(b"\t"):  # git adds a tab after a name with a space
        raw = raw[:-1]
    return _display(raw[2:] if raw.startswith(b"b/") else raw)


_C_ESCAPES = {ord(k): v for k, v in zip('abtnvfr"\\', b'\a\b\t\n\v\f\r"\\', strict=True)}


def _c_unquote(quoted: bytes) -> bytes:
    """Undo git's C-style quoting of a path ("a\\tb", octal bytes "\\303\\251")."""
    body = quoted[1 : quoted.rfind(b'"')]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != ord("\\") or i + 1 >= len(body):
            out.append(char)
            i += 1
        elif body[i + 1 : i + 2].isdigit():
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(_C_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
    return bytes(out)


# --- allow-list ---------------------------------------------------------------

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
    folder up (standard input: the current folder). The CLI and the TUI
    both ask this, so a scan allows the same keys wherever it is run from."""
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
    """Public keys whose private keys are known not to be secret (demo data
    in snapshots and screenshots), one per line; `#` starts a comment. A line
    that is not a public key is a note, and is never echoed (it might be the
    very secret someone meant to allow)."""
    allowed: set[str] = set()
    notes: list[Skipped] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read(1 << 20).splitlines()
    except OSError as error:
        return frozenset(), [Skipped(_display_path(path), _reason(error), failed=True)]
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if _PUBLIC_KEY.fullmatch(entry):
            allowed.add(entry)
        else:
            reason = f"line {number} ignored: not a public key (kdpk_…)"
            notes.append(Skipped(_display_path(path), reason))
    return frozenset(allowed), notes
