"""Where `keydesk scan` finds a key written escaped: percent-encoded up to
three times, JSON-escaped behind one to four backslashes, any mix of them
character by character, or inside `Basic` credentials' base64.

Large buffers pass through here, so C searches go first: a buffer without
`%`, `\\` or `asic` costs two `memchr` and one `memmem` (`keydesk.scan.search`);
the regular expressions run only near an escaped `k`, `d`, `s` or `_` or
a plain `kdsk_`. Base64 elsewhere than in `Basic` credentials is not looked
for: three more full searches would cost more than the whole plain scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from keydesk.encodings import B64_CHARS, b64decoded, unescaped_stages
from keydesk.keys import (
    CHECKSUM_LENGTH,
    ID_LENGTH,
    PRIVATE_KEY_LENGTH,
    PRIVATE_PREFIX,
    SECRET_LENGTH,
)
from keydesk.scan.search import find

# The longest way one character of a key is written here: three percent
# encodings (`%25256B`) or a JSON escape behind four backslashes.
UNIT_MAX = 9
ENCODED_KEY_MAX = PRIVATE_KEY_LENGTH * UNIT_MAX

_PREFIX = PRIVATE_PREFIX.encode("ascii")
_REST = SECRET_LENGTH + CHECKSUM_LENGTH


def _unit(allowed: str, hex_forms: str) -> str:
    """One key character: itself, or percent-encoded up to three times, or
    JSON-escaped behind one to four backslashes."""
    return rf"(?:{allowed}|%(?:25){{0,2}}{hex_forms}|\\{{1,4}}u00{hex_forms})"


def _hex_of(char: str) -> str:
    digits = f"{ord(char):02x}"
    low = digits[1]
    return digits[0] + (f"[{low}{low.upper()}]" if low.isalpha() else low)


_BODY = _unit("[0-9A-Za-z]", "[0-9A-Fa-f]{2}")
_ESCAPED = re.compile(
    (
        "".join(_unit(re.escape(c), _hex_of(c)) for c in PRIVATE_PREFIX)
        + f"{_BODY}{{{ID_LENGTH}}}{_unit('_', _hex_of('_'))}{_BODY}{{{_REST}}}"
    ).encode("ascii")
)
_PLAIN = re.compile(rf"kdsk_[0-9A-Za-z]{{{ID_LENGTH}}}_[0-9A-Za-z]{{{_REST}}}".encode())
# An escaped `k`, `d`, `s` or `_`: a key with an escaped prefix is near one.
# (Each starts with a literal: the search stays in C, `\\+u` would not.)
_PERCENT_HIT = re.compile(rb"%(?:25){0,2}(?:6[bB]|64|73|5[fF])")
_JSON_HIT = re.compile(rb"\\u00(?:6[bB]|64|73|5[fF])")
# `Basic` credentials (RFC 7617: base64 of `user:password`).
_BASIC = re.compile(rb"[Bb]asic[ \t]+")
_BASIC_TOKEN_MAX = 4 * -(-(256 + PRIVATE_KEY_LENGTH) // 3)  # a 255-byte user name, `:`, a key

# What git's `-G` is given: a line where one of these occurs may hold a key.
GIT_PICKAXE = "|".join(
    [PRIVATE_PREFIX, "%(25){0,2}(6[bB]|64|73|5[fF])", r"\\u00(6[bB]|64|73|5[fF])", "[Bb]asic"]
)


def escaped_keys(
    buf: bytes | bytearray, start: int, end: int, plain: int | None = None
) -> Iterator[tuple[int, int, str]]:
    """(raw start, raw end, decoded text) for each key-shaped run written with
    at least one escape in buf[start:end], then for each in a `Basic`
    credential. The text is a candidate: its checksum is the caller's to
    check. Plain keys are not repeated here. `plain`: where the caller found
    the first plain `kdsk_` (-1: none), so it is not searched for twice."""
    done = start  # keys do not overlap: one found, the next starts after it
    for hit in _escape_hits(buf, start, end, plain):
        # A key begins at most four characters (and three more backslashes)
        # before an escaped one of its prefix, or at a plain `kdsk_`.
        low, high = max(done, hit - 5 * UNIT_MAX), min(end, hit + ENCODED_KEY_MAX)
        for match in _ESCAPED.finditer(buf, low, high):
            raw = match.group()
            text = unescaped_stages(raw)[-1]  # the pattern allows four rounds at most
            if (b"%" in raw or b"\\" in raw) and _PLAIN.fullmatch(text):
                done = match.end()
                yield match.start(), match.end(), text.decode("ascii")
    yield from _basic_credentials(buf, start, end)


def _escape_hits(buf: bytes | bytearray, start: int, end: int, plain: int | None) -> list[int]:
    """Where an escaped key may be, in order: each escaped prefix character,
    and each plain `kdsk_` when the buffer has escapes at all."""
    hits: list[int] = []
    marked = False
    for mark, pattern in ((b"%", _PERCENT_HIT), (b"\\", _JSON_HIT)):
        at = buf.find(mark, start, end)  # one byte: memchr
        if at != -1:
            marked = True
            hits.extend(match.start() for match in pattern.finditer(buf, at, end))
    if marked:
        at = find(buf, _PREFIX, start, end) if plain is None else plain
        while at != -1:
            hits.append(at)
            at = find(buf, _PREFIX, at + 1, end)
    return sorted(hits)


def _basic_credentials(
    buf: bytes | bytearray, start: int, end: int
) -> Iterator[tuple[int, int, str]]:
    at = find(buf, b"asic", start, end)
    while at != -1:
        scheme = _BASIC.match(buf, max(start, at - 1), end)
        if scheme is not None:
            token_at = scheme.end()
            token = B64_CHARS.match(buf, token_at, min(end, token_at + _BASIC_TOKEN_MAX))
            decoded = b64decoded(token.group() if token else b"")
            for found in _PLAIN.finditer(decoded):
                # Its first and last base64 characters: the same wherever a
                # chunk boundary fell, so a carried tail counts it once.
                first = token_at + 4 * found.start() // 3
                last = token_at + -(-4 * found.end() // 3)
                yield first, last, found.group().decode("ascii")
        at = find(buf, b"asic", at + 1, end)
