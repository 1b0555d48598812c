"""Which bytes are a key: a `kdsk_` of the right shape, plain or escaped
(`keydesk.scan.decode`), whose CRC32 checksum is valid (checked by
`keydesk.keys.parse_private_key`). Random text of the right shape passes by
chance with probability 62**-6 ≈ 2e-11."""

from __future__ import annotations

import re

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
from keydesk.scan.decode import escaped_keys
from keydesk.scan.events import Finding
from keydesk.scan.search import find

_PREFIX = PRIVATE_PREFIX.encode("ascii")
_B62 = b"[" + re.escape(BASE62).encode("ascii") + b"]"
_SHAPE = re.compile(
    _PREFIX + _B62 + b"{%d}_" % ID_LENGTH + _B62 + b"{%d}" % (SECRET_LENGTH + CHECKSUM_LENGTH)
)


def keys_in(
    buf: bytes | bytearray, start: int, end: int, fresh: int = 0
) -> list[tuple[int, str, str]]:
    """(offset, key text, public key) of each checksum-valid key in buf[start:end], plain
    or escaped, in order, ending past `fresh` (buf[:fresh] was the previous chunk's)."""
    first = find(buf, _PREFIX, start, end)  # the common case, no prefix at all, stays in C
    plain = _SHAPE.finditer(buf, first, end) if first != -1 else ()  # beat a find() per hit
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


def finding(location: str, text: str, public_key: str) -> Finding:
    redacted = PRIVATE_PREFIX + public_key[len(PRIVATE_PREFIX) :][:4] + "…"
    return Finding(location, public_key, redacted, PrivateKey(text))
