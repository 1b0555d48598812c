"""Keys on the added lines of `git log -p` / `git diff` output, each with the
line number it has in its commit's (or the index's) version of the file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from keydesk.scan.events import Finding
from keydesk.scan.matching import finding, keys_in
from keydesk.scan.shown import shown
from keydesk.scan.streams import OVERLAP

_HUNK = re.compile(rb"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_C_ESCAPES = {ord(k): v for k, v in zip('abtnvfr"\\', b'\a\b\t\n\v\f\r"\\', strict=True)}


@dataclass(slots=True)
class _Patch:
    """Where a patch reader stands: commit, file, and the hunk's remaining lines."""

    commit: str = ""
    path: str | None = None
    old_left: int = 0
    new_left: int = 0
    new_line: int = 0


def scan_patch(stream: IO[bytes], *, commits: bool, chunk_size: int) -> Iterator[Finding]:
    """Lines are read in pieces of at most `chunk_size` bytes, so a huge line is
    never held whole; a key split between two pieces is found with a carried
    tail, as in files. `commits`: locations start with the commit (git log)."""
    state = _Patch()
    continued = False  # this piece continues the previous line
    added = False  # the current line is an added line of a hunk
    line = 0
    carry = b""
    while piece := stream.readline(chunk_size):
        if not continued:
            added, line = _patch_line(state, piece)
            carry = b""
        continued = not piece.endswith(b"\n")
        if not added or state.path is None:
            continue
        start = 0 if carry else 1  # skip the `+` on a line's first piece
        text = carry + piece if carry else piece
        for _, key, public_key in keys_in(text, start, len(text), len(carry)):
            where = f"{state.commit}:{state.path}" if commits else state.path
            yield finding(f"{where}:{line}", key, public_key)
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
    return shown(raw[2:] if raw.startswith(b"b/") else raw)


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
