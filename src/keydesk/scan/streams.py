"""The reading loop: keys in a stream read in chunks, in constant memory.

Each chunk is searched with an overlap of the longest escaped key less one
byte carried from the one before, so a key split by a chunk boundary is found
once. Line numbers are counted, never split out. A stream in UTF-16/32 is
decoded (`keydesk.scan.text`). Whatever cannot be read becomes a `Skipped`
note instead of an exception.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from keydesk.scan.decode import ENCODED_KEY_MAX
from keydesk.scan.events import BINARY, Finding, ScanEvent, Skipped
from keydesk.scan.matching import finding, keys_in
from keydesk.scan.shown import reason
from keydesk.scan.text import Readable, both_readings, read_head, wide_encoding

CHUNK_SIZE = 1 << 20
OVERLAP = ENCODED_KEY_MAX - 1  # carried between chunks: holds all but a byte of any key
SNIFF_BYTES = 8000  # what git looks at to call a file binary


def scan_bytes(data: bytes | bytearray, label: str = "<bytes>") -> Iterator[Finding]:
    """Keys in an in-memory blob (a paste, a clipboard, a test)."""
    if wide_encoding(data, SNIFF_BYTES):
        yield from scan_stream(io.BytesIO(data), label)
        return
    line, last = 1, 0
    for offset, text, public_key in keys_in(data, 0, len(data)):
        line += data.count(b"\n", last, offset)
        last = offset
        yield finding(f"{label}:{line}", text, public_key)


def scan_stream(stream: Readable, label: str, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Finding]:
    """Keys in a binary stream, read `chunk_size` bytes at a time."""
    for event in scan_readable(stream, label, label, Buffer(chunk_size), sniff=False):
        if isinstance(event, Finding):
            yield event


class Buffer:
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


def scan_readable(
    stream: Readable,
    label: str,
    path: str,
    buffer: Buffer,
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
            yield Skipped(path, f"read failed: {reason(error)}", failed=True)
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
                scan = partial(scan_readable, label=label, path=path, buffer=buffer, sniff=False)
                yield from both_readings(stream, codec, bytes(buf[:end]), scan)
                return
            if sniff and buf.find(b"\0", 0, sniffed) != -1:
                yield Skipped(path, "binary file", routine=BINARY)
                return
        for offset, text, public_key in keys_in(buf, 0, end, keep):
            line = _line_at(lines, buf, base, offset)
            yield finding(f"{label}:{line}", text, public_key)
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


def newlines_in_file(fd: int) -> Callable[[int, int], int] | None:
    """How a file's skipped bytes are counted again (`_Lines.recount`)."""
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
