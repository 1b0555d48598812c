"""Files, folders and standard input: what `keydesk scan PATH…` reads.

Named paths are always scanned, binary or ignored or behind a symlink. What a
folder walk meets is filtered: `.git` is left out (`keydesk.scan.git` reads
history), symlinks are not followed (no loops, no double counts), only
regular files are opened, and binary files are skipped.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from typing import cast

from keydesk.scan.events import IGNORED, SPECIAL, SYMLINK, Finding, ScanEvent, Skipped
from keydesk.scan.git import learn_ignored
from keydesk.scan.shown import STDIN, STDIN_LABEL, reason, shown_path
from keydesk.scan.spread import FileJob, Found, in_order
from keydesk.scan.streams import CHUNK_SIZE, Buffer, newlines_in_file, scan_readable
from keydesk.scan.text import Readable

# Reached while walking, these would read kernel memory or never end (/proc/kcore,
# /proc/kmsg); name them explicitly to scan something inside.
PSEUDO_FILESYSTEMS = frozenset({"/proc", "/sys"})


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    respect_gitignore: bool = False,
    stdin: Readable | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_file: Callable[[], object] | None = None,
    workers: int = 1,
) -> Iterator[ScanEvent]:
    """Scan files, directories (recursively) and `-` (stdin).

    Binary files (a NUL byte in the first 8000 bytes) met in a walk are
    skipped, and with `respect_gitignore` so is what git ignores. Off by
    default: leaked keys often sit in ignored files. `on_file` is called
    before each regular file is read (the TUI counts files read, and stops a
    cancelled scan by raising from it). `workers` > 1: a big walk's files
    are read by that many forked processes (`keydesk.scan.spread`; only
    from a process without threads), with the same results in the same order.
    """
    buffer = Buffer(chunk_size, on_file)
    for path in paths:
        name = os.fspath(path)
        if name == STDIN:
            source = stdin if stdin is not None else cast(Readable, sys.stdin.buffer)
            yield from scan_readable(source, STDIN_LABEL, STDIN_LABEL, buffer, sniff=False)
            continue
        shown = shown_path(name)
        try:
            info = os.stat(name)
        except OSError as error:
            yield Skipped(shown, _open_reason(name, error), failed=True)
            continue
        except ValueError:  # a NUL byte: no file has that name
            yield Skipped(shown, "not a valid path (it contains a NUL byte)", failed=True)
            continue
        if stat.S_ISDIR(info.st_mode):
            read_here = partial(_read_job, buffer=buffer)
            yield from in_order(
                _walk(name, respect_gitignore, buffer), read_here, _read_in_worker,
                workers=workers, on_file=on_file,
            )  # fmt: skip
        else:
            yield from _scan_file(name, shown, buffer, named=True)


@dataclass(slots=True)
class _Walk:
    respect_gitignore: bool
    buffer: Buffer
    ignored: set[str] = field(default_factory=set)  # real paths git ignores


def _walk(root: str, respect_gitignore: bool, buffer: Buffer) -> Iterator[ScanEvent | FileJob]:
    """Depth first with an explicit stack (no recursion limit on deep trees),
    entries in name order so results are reproducible."""
    walk = _Walk(respect_gitignore, buffer)
    real_root = os.path.realpath(root)
    if respect_gitignore:
        yield from learn_ignored(walk.ignored, real_root, shown_path(root))
    stack = [(root, real_root)]
    while stack:
        path, real = stack.pop()
        subdirs: list[tuple[str, str]] = []
        yield from _scan_dir(walk, path, real, subdirs)
        stack.extend(reversed(subdirs))


def _scan_dir(
    walk: _Walk, path: str, real: str, subdirs: list[tuple[str, str]]
) -> Iterator[ScanEvent | FileJob]:
    try:
        with os.scandir(path) as found:
            entries = sorted(found, key=lambda entry: entry.name)
    except OSError as error:
        yield Skipped(shown_path(path), reason(error), failed=True)
        return
    for entry in entries:
        if entry.name == ".git":
            continue
        child_real = os.path.join(real, entry.name)
        shown = shown_path(entry.path)
        if child_real in walk.ignored:
            yield Skipped(shown, "ignored by git", routine=IGNORED)
            continue
        try:
            if entry.is_symlink():
                yield Skipped(shown, "symbolic link, not followed", routine=SYMLINK)
            elif entry.is_dir(follow_symlinks=False):
                yield from _enter_dir(walk, entry, child_real, shown, subdirs)
            elif entry.is_file(follow_symlinks=False):
                yield FileJob(entry.path, shown, entry.stat(follow_symlinks=False).st_size)
            else:
                kind = _file_kind(entry.stat(follow_symlinks=False).st_mode)
                yield Skipped(shown, f"not a regular file ({kind})", routine=SPECIAL)
        except OSError as error:
            yield Skipped(shown, reason(error), failed=True)


def _enter_dir(
    walk: _Walk,
    entry: os.DirEntry[str],
    real: str,
    shown: str,
    subdirs: list[tuple[str, str]],
) -> Iterator[ScanEvent]:
    if real in PSEUDO_FILESYSTEMS:
        yield Skipped(shown, "kernel pseudo-filesystem (name it to scan inside)")
        return
    if walk.respect_gitignore and os.path.lexists(os.path.join(entry.path, ".git")):
        # A nested repository or submodule: its own ignore rules apply.
        yield from learn_ignored(walk.ignored, real, shown)
    subdirs.append((entry.path, real))


def _read_job(job: FileJob, buffer: Buffer) -> Iterator[ScanEvent]:
    return _scan_file(job.path, job.shown, buffer, named=False)


@cache
def _worker_buffer() -> Buffer:
    """A worker process's own buffer, reused for each file (as one per scan)."""
    return Buffer(CHUNK_SIZE)


def _read_in_worker(jobs: list[FileJob]) -> list[Found]:
    return [
        (event.location, event.private_key.reveal(), event.public_key)
        if isinstance(event, Finding)
        else event
        for job in jobs
        for event in _scan_file(job.path, job.shown, _worker_buffer(), named=False)
    ]


def _scan_file(path: str, shown: str, buffer: Buffer, *, named: bool) -> Iterator[ScanEvent]:
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
                yield Skipped(
                    shown, f"not a regular file ({_file_kind(mode)})", failed=named, routine=SPECIAL
                )
                return
            if buffer.on_file is not None:
                buffer.on_file()
            yield from scan_readable(
                file, shown, shown, buffer, sniff=not named, recount=newlines_in_file(fd)
            )
        except OSError as error:  # e.g. re-reading for line numbers failed
            yield Skipped(shown, f"read failed: {reason(error)}", failed=True)


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


def _open_reason(path: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError) and os.path.islink(path):
        return "broken symbolic link"
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    return reason(error)
