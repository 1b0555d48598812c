"""Undo the encodings a private key may travel in, so that a key is found
however it is written: percent-encoded at any depth (`%6Bdsk_…`,
`%256Bdsk_…`, either letter case), JSON-escaped (`\\u006b`, `\\/`, or
doubly escaped `\\\\u006b`), any mix of these character by character, and
base64 (standard or URL-safe: `Basic` credentials, `user:kdsk_…`, the key
alone).

`decoded_views` gives every form of a short value (a URL's path or query
string, a header): the value, each round of decoding it again until nothing
changes, and what base64 in any of them holds. The HTTP rule looks for a key
in each (`keydesk.http.middleware`); `keydesk scan` decodes what it matched with
`unescaped_stages` (`keydesk.scan.decode`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from keydesk.keys import CHECKSUM_LENGTH, ID_LENGTH, PRIVATE_KEY_LENGTH, PRIVATE_PREFIX, checksum

# Decoding a value this many times without it settling is no URL a client
# means: the caller refuses it as if it held a key (failing closed beats
# decoding forever, and depth 8 costs nothing to try).
MAX_ROUNDS = 8

# A run of backslashes is tried once, from its first (the look-behind) and
# without backtracking into it (possessive): linear in the value's length. A
# plain `\\+` tried every suffix of a run: 40,000 backslashes in one header
# held the event loop for seconds.
_JSON_ESCAPE = re.compile(rb"(?<!\\)\\++(?:u00([0-9A-Fa-f]{2})|(/))")


class TooDeeplyEncoded(ValueError):
    """A value still changed after `MAX_ROUNDS` decodings."""


def unescaped_once(data: bytes) -> bytes:
    """One round: percent-decoding, then JSON's `\\u00XX` and `\\/` (behind
    any number of backslashes, so a doubly escaped string yields too)."""
    if b"%" in data:
        data = unquote_to_bytes(data)
    if b"\\" in data:
        data = _JSON_ESCAPE.sub(_json_char, data)
    return data


def _json_char(match: re.Match[bytes]) -> bytes:
    hex_digits = match.group(1)
    return bytes([int(hex_digits, 16)]) if hex_digits is not None else b"/"


def unescaped_stages(data: bytes) -> list[bytes]:
    """`data`, then each decoding round's result, until one changes nothing;
    `TooDeeplyEncoded` if it still changes after `MAX_ROUNDS`."""
    stages = [data]
    for _ in range(MAX_ROUNDS):
        if b"%" not in data and b"\\" not in data:
            return stages
        decoded = unescaped_once(data)
        if decoded == data:
            return stages
        stages.append(decoded)
        data = decoded
    if unescaped_once(data) != data:
        raise TooDeeplyEncoded(f"still encoded after {MAX_ROUNDS} decodings")
    return stages


def may_hold_key(data: bytes) -> bool:
    """False when no view of `data` can hold what looks like a key: it is
    shorter than `kdsk_` and an id, or has no `_` (every key and key body
    has one), no escape and no base64 of `kdsk_`. A few searches in C: what
    most headers of most requests cost."""
    if len(data) < _SHORTEST:  # decoding only shortens a value
        return False
    # Searched as text (latin-1: one character per byte): `bytes.__contains__`
    # first tries the needle as an integer and clears the TypeError, ~5 times
    # the cost of the search itself on a header.
    return text_may_hold_key(data.decode("latin-1"))


def text_may_hold_key(text: str) -> bool:
    """`may_hold_key` but for the length, of text: what it looks for is
    ASCII, found alike in a value's bytes and in its text (so in several
    values joined, when it is in one of them)."""
    return (
        "_" in text
        or "%" in text
        or "\\" in text
        or _B64_TEXT[0] in text
        or _B64_TEXT[1] in text
        or _B64_TEXT[2] in text
    )


_SHORTEST = len(PRIVATE_PREFIX) + ID_LENGTH  # what redaction.looks_like_private_key needs


def decoded_views(data: bytes) -> list[bytes]:
    """Every form a short value takes when decoded (`unescaped_stages`), and
    what base64 holds wherever one of them carries `kdsk_` in base64: a key
    written in `data` any of these ways stands whole in at least one view.
    A value without `%`, `\\` or base64 of `kdsk_` (most headers) is its
    only view, found so in five searches in C."""
    # Unrolled: on every header of every request, a generator costs more
    # than the searches themselves.
    views = [data] if b"%" not in data and b"\\" not in data else unescaped_stages(data)
    for stage in views[:]:
        if _B64_0 in stage or _B64_1 in stage or _B64_2 in stage:
            views.extend(decoded for _, decoded in base64_runs(stage, 0, len(stage)))
    return views


# A key's id, `_`, secret and checksum: what is left of it whatever was done
# to its prefix (`Kdsk_…`, `%u006Bdsk_…`). Searched from the `_` (a literal
# first character keeps the search in C), the id checked after.
_SECRET_AND_CHECKSUM = re.compile(rb"_[0-9A-Za-z]{%d}" % (PRIVATE_KEY_LENGTH - ID_LENGTH - 6))


def holds_key_body(data: bytes) -> bool:
    """Whether `data` holds a key's id, secret and checksum, the checksum
    right for them behind `kdsk_`: the secret is the key, whatever stands
    before it. A look-alike passes by chance with probability 62**-6."""
    for match in _SECRET_AND_CHECKSUM.finditer(data):
        key_id = data[match.start() - ID_LENGTH : match.start()]
        if len(key_id) == ID_LENGTH and key_id.isalnum() and key_id.isascii():
            body = (PRIVATE_PREFIX.encode() + key_id + match.group()[:-CHECKSUM_LENGTH]).decode()
            if checksum(body) == match.group()[-CHECKSUM_LENGTH:].decode():
                return True
    return False


# --- base64 ------------------------------------------------------------------------

# `kdsk_` in base64 at each of the three alignments in a 3-byte group: the
# characters its 40 bits alone decide, and where they stand in their group.
# The same in the standard and URL-safe alphabets (no `+`, `/`, `-` or `_`).
_B64_NEEDLES = tuple(
    (encoded[first:last].encode("ascii"), first)
    for encoded, first, last in (
        (base64.b64encode(b"\0" * shift + PRIVATE_PREFIX.encode()).decode(), -(-8 * shift // 6),
         (8 * shift + 8 * len(PRIVATE_PREFIX)) // 6)
        for shift in range(3)
    )
)  # fmt: skip
(_B64_0, _), (_B64_1, _), (_B64_2, _) = _B64_NEEDLES
_B64_TEXT = tuple(needle.decode("ascii") for needle in (_B64_0, _B64_1, _B64_2))
_B64_SPAN = 4 * -(-(2 + PRIVATE_KEY_LENGTH) // 3)  # base64 characters covering a key
B64_CHARS = re.compile(rb"[A-Za-z0-9+/_-]*")
_URL_SAFE = bytes.maketrans(b"-_", b"+/")


def b64decoded(text: bytes) -> bytes:
    """What a run of base64 characters holds (either alphabet, padding
    optional, perhaps cut short), as far as it goes."""
    text = text[: len(text) - 1] if len(text) % 4 == 1 else text
    try:
        return base64.b64decode((text + b"=" * (-len(text) % 4)).translate(_URL_SAFE))
    except (binascii.Error, ValueError):
        return b""


def base64_runs(buf: bytes, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(raw start, decoded bytes) for each place in buf[start:end] where
    base64 of `kdsk_` begins, decoded from the start of its 4-character
    group (a key's worth)."""
    for needle, first in _B64_NEEDLES:
        at = buf.find(needle, start, end)
        while at != -1:
            group = max(start, at - first)
            run = B64_CHARS.match(buf, group, min(end, group + _B64_SPAN))
            yield group, b64decoded(run.group() if run else b"")
            at = buf.find(needle, at + 1, end)
