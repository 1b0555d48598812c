"""Git: keys added in history (`scan_git_history`) or staged for commit
(`scan_staged`), and what git ignores for a folder walk (`learn_ignored`).

History is read blob by blob from the object store (`keydesk.scan.git_blobs`);
what is staged, as a patch read in bounded pieces (`keydesk.scan.patch`), its
changes git calls binary from the object store. Closing an iterator early
stops the git processes it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator

from keydesk.scan.decode import GIT_PICKAXE
from keydesk.scan.events import ScanEvent, Skipped
from keydesk.scan.git_blobs import (
    HISTORY_OPTIONS,
    LIST_OPTIONS,
    Change,
    binary_changes,
    change_events,
    history_changes,
)
from keydesk.scan.patch import scan_patch
from keydesk.scan.shown import reason, shown, shown_path
from keydesk.scan.streams import CHUNK_SIZE, Buffer, scan_readable
from keydesk.validation import shown_literally

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


class _GitError(Exception):
    """Git could not answer; becomes a `Skipped` note, never escapes."""


class _NoGit(_GitError):
    pass


def scan_git_history(
    repo: str | os.PathLike[str] = ".", *, chunk_size: int = CHUNK_SIZE
) -> Iterator[ScanEvent]:
    """Keys added in any commit reachable from a ref or a reflog, even if
    later deleted, as `commit:file:line` (line in that commit's file). Each
    key is reported where it was introduced (or re-introduced), not in every
    commit that carries it. Files git deems binary are searched if they are
    UTF-16/32 text (`keydesk.scan.git_blobs`)."""
    cwd = os.fspath(repo)
    shown_cwd = shown_path(cwd)
    try:
        _git_output(cwd, "rev-parse", "--git-dir")
        listed = _git_argv("log", "--all", "--reflog", "--format=%x00%H", *HISTORY_OPTIONS)
    except _GitError as error:
        yield Skipped(shown_cwd, f"not scanned: {error}", failed=True)
        return
    with _Started(cwd, listed) as log:
        if log.error is not None:
            yield Skipped(shown_cwd, f"not scanned: {log.error}", failed=True)
            return
        assert log.process is not None and log.process.stdout is not None
        changes = history_changes(log.process.stdout)
        yield from _blob_events(cwd, changes, report_skipped=False, chunk_size=chunk_size)
        if (failed := log.failure()) is not None:
            yield Skipped(shown_cwd, f"git log failed: {failed}", failed=True)


def scan_staged(
    repo: str | os.PathLike[str] = ".", *, chunk_size: int = CHUNK_SIZE
) -> Iterator[ScanEvent]:
    """Keys on lines added by what is staged (`git diff --cached`), as
    `file:line`: what a pre-commit hook must stop. A staged file git deems
    binary is decoded if it is UTF-16/32 text, else reported skipped."""
    yield from _staged_events(repo, chunk_size=chunk_size)


def learn_ignored(ignored: set[str], real_dir: str, shown_dir: str) -> Iterator[Skipped]:
    """Add what git ignores under real_dir to `ignored` (real paths).
    `--directory` names an ignored folder once instead of every file in it."""
    try:
        top = os.fsdecode(_git_output(real_dir, "rev-parse", "--show-toplevel").rstrip(b"\n"))
    except _NoGit as error:
        yield Skipped(shown_dir, f"could not ask git what is ignored, scanning all: {error}")
        return
    except _GitError:
        return  # not in a work tree: nothing is ignored
    try:
        relative = os.path.relpath(real_dir, top)
        listed = _git_output(
            top, "--literal-pathspecs", "ls-files", "-z", "--others", "--ignored",
            "--exclude-standard", "--directory", "--", relative,
        )  # fmt: skip
    except (_GitError, ValueError) as error:
        yield Skipped(shown_dir, f"could not ask git what is ignored, scanning all: {error}")
        return
    found = {
        os.path.join(top, os.fsdecode(item.rstrip(b"/"))) for item in listed.split(b"\0") if item
    }
    # The named directory itself lies in an ignored one: it was asked for, so
    # scan all of it (git has nothing finer to say inside).
    if any(real_dir == p or real_dir.startswith(p + os.sep) for p in found):
        return
    ignored |= found


def _staged_events(repo: str | os.PathLike[str], *, chunk_size: int) -> Iterator[ScanEvent]:
    cwd = os.fspath(repo)
    shown_cwd = shown_path(cwd)
    try:
        _git_output(cwd, "rev-parse", "--git-dir")
        argv = _git_argv("diff", "--cached", *_PATCH_OPTIONS)
        listed = _git_argv("diff", "--cached", *LIST_OPTIONS)
    except _GitError as error:
        yield Skipped(shown_cwd, f"not scanned: {error}", failed=True)
        return
    # The binary changes' listing runs beside the patch, on another core.
    with _Started(cwd, listed, to_file=True) as listing, _Started(cwd, argv) as patch:
        if patch.error is not None:
            yield Skipped(shown_cwd, f"not scanned: {patch.error}", failed=True)
            return
        assert patch.process is not None and patch.process.stdout is not None
        yield from scan_patch(patch.process.stdout, commits=False, chunk_size=chunk_size)
        if (failed := patch.failure()) is not None:
            yield Skipped(shown_cwd, f"git diff failed: {failed}", failed=True)
            return
        if (failed := listing.failure()) is not None:
            yield Skipped(shown_cwd, f"not scanned: {failed}", failed=True)
            return
        changes = binary_changes(listing.output())
        yield from _blob_events(cwd, changes, report_skipped=True, chunk_size=chunk_size)


class _Started:
    """A git process started at once: its output piped when none is given
    (the patch), else to a file read at the end (the listing). Leaving the
    block stops it if it still runs: a caller that stopped early stops git."""

    def __init__(self, cwd: str, argv: list[str], *, to_file: bool = False) -> None:
        self.cwd, self.argv, self.to_file = cwd, argv, to_file
        self.process: subprocess.Popen[bytes] | None = None
        self.error: str | None = None

    def __enter__(self) -> _Started:
        # Files, closed by __exit__: a full stderr or listing pipe would stall git.
        self._stderr = tempfile.TemporaryFile()
        self._stdout = tempfile.TemporaryFile() if self.to_file else None
        try:
            self.process = subprocess.Popen(  # noqa: S603 - a list argv, no shell; arguments are ours
                self.argv, cwd=self.cwd, env=_git_env(), stdin=subprocess.DEVNULL,
                stdout=self._stdout or subprocess.PIPE, stderr=self._stderr,
            )  # fmt: skip
        except OSError as error:
            self.error = reason(error)
        return self

    def failure(self) -> str | None:
        """Once it ends: None if it succeeded, else why not (the first line it wrote)."""
        if self.process is None:
            return self.error
        if self.process.wait() == 0:
            return None
        self._stderr.seek(0)
        return _first_line(self._stderr.read()) or "git failed"

    def output(self) -> bytes:
        assert self._stdout is not None
        self._stdout.seek(0)
        return self._stdout.read()

    def __exit__(self, *_exc: object) -> None:
        process = self.process
        if process is not None:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        for file in (self._stderr, self._stdout):
            if file is not None:
                file.close()


def _blob_events(
    cwd: str, changes: Iterable[Change], *, report_skipped: bool, chunk_size: int
) -> Iterator[ScanEvent]:
    """Changes read from the object store: UTF-16/32 text in them is
    decoded; with `report_skipped` (what is staged) any other binary file is
    reported skipped, as on disk."""
    try:
        cat_file = _git_argv("cat-file", "--batch")
    except _GitError as error:
        yield Skipped(shown_path(cwd), f"not scanned: {error}", failed=True)
        return
    buffer = Buffer(chunk_size)
    yield from change_events(
        changes, cat_file, cwd=cwd, env=_git_env(), shown_path=shown,
        scan=lambda blob, where: scan_readable(blob, where, where, buffer, sniff=True),
        report_skipped=report_skipped,
    )  # fmt: skip


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
        raise _GitError(reason(error)) from error
    except ValueError as error:  # a NUL byte in the folder's name
        raise _GitError("not a valid path (it contains a NUL byte)") from error
    if done.returncode != 0:
        raise _GitError(_first_line(done.stderr) or f"git {args[0]} failed")
    return done.stdout


def _first_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "backslashreplace").strip().splitlines()
    return shown_literally(lines[0]) if lines else ""
