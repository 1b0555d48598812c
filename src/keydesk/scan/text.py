"""Text in UTF-16 or UTF-32, which the scanner reads as UTF-8: what
PowerShell 5's `>` and Notepad's "Unicode" write. A key in it is a key, not
a binary file to skip.

Recognised by its byte-order mark, or (UTF-16 without one) by every other
byte of the first few thousand being NUL while the rest are not: Latin-1
text, as an ASCII key is. Only a stream's first bytes are looked at, so
ordinary text pays four comparisons and, when there is no NUL, nothing more.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from typing import Protocol

from keydesk.scan.events import Finding, ScanEvent

# Longest first: UTF-32LE's mark begins with UTF-16LE's.
_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MARK_STARTS = b"\xfe\xff\x00"
_READ_SIZE = 1 << 18


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def wide_encoding(buf: bytes | bytearray, sniffed: int) -> str | None:
    """The codec of a stream whose first bytes are buf[:sniffed] if it is
    UTF-16 or UTF-32 text, else None: for other text, one `memchr` and a
    comparison."""
    if not buf or (buf[0] not in _MARK_STARTS and buf.find(b"\0", 0, sniffed) == -1):
        return None  # no mark, and no NUL as Latin-1 in UTF-16 has
    head = buf[:sniffed]
    for mark, codec in _MARKS:
        if head.startswith(mark):
            return codec
    even = len(head) & ~1
    if even < 4:
        return None
    for text_at, codec in ((0, "utf-16-le"), (1, "utf-16-be")):
        text, zeros = head[text_at:even:2], head[1 - text_at : even : 2]
        if zeros.count(0) == len(zeros) and 0 not in text:
            return codec
    return None


def read_head(stream: Readable, view: memoryview) -> int | None:
    """Read until `view` is full or the stream ends (None: it would block
    before giving anything)."""
    got = 0
    while got < len(view):
        read = stream.readinto(view[got:])
        if read is None:
            return got or None
        if not read:
            break
        got += read
    return got


class Transcoded:
    """A `Readable` giving UTF-8 for a stream in `codec`, whose first bytes
    (`head`) were read already. Undecodable units become U+FFFD; a key is
    ASCII, so none is lost to them."""

    def __init__(self, stream: Readable, codec: str, head: bytes) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self._raw = bytearray(_READ_SIZE)
        self._out = self._utf8(head, final=False)
        self._at = 0  # how much of _out was given
        self._done = False

    def _utf8(self, data: bytes | memoryview, *, final: bool) -> bytes:
        return self._decoder.decode(data, final).encode("utf-8")

    def readinto(self, buffer: memoryview, /) -> int | None:
        while self._at == len(self._out) and not self._done:
            read = self._stream.readinto(memoryview(self._raw))
            if read is None:
                return None
            self._done = read == 0
            self._out, self._at = self._utf8(memoryview(self._raw)[:read], final=self._done), 0
        size = min(len(buffer), len(self._out) - self._at)
        buffer[:size] = self._out[self._at : self._at + size]
        self._at += size
        return size


def both_readings(
    stream: Readable, codec: str, head: bytes, scan: Callable[..., Iterator[ScanEvent]]
) -> Iterator[ScanEvent]:
    """The keys of a stream in `codec` whose first bytes `head` were read:
    decoded, then, if it is a file that can be read again, as it is, for a
    line appended in ASCII (`echo KEY=… >> f` on a file PowerShell made).
    Each key once. `scan(stream, wide=False)` scans a stream as it is."""
    seen: set[str] = set()
    for event in scan(Transcoded(stream, codec, head), wide=False):
        if isinstance(event, Finding):
            seen.add(event.public_key)
        yield event
    seekable = getattr(stream, "seekable", None)
    if seekable is None or not seekable():
        return
    stream.seek(0)  # type: ignore[attr-defined]
    for event in scan(stream, wide=False):
        if not (isinstance(event, Finding) and event.public_key in seen):
            yield event
