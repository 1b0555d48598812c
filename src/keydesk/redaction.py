"""What a private key looks like to whoever pasted one into the wrong place,
and the text shown in its stead. Imports nothing of keydesk: every error
message (keydesk.errors) and every line the CLI prints pass through here."""

from __future__ import annotations

import re

# What a private key looks like to a human who pasted one into the wrong
# field: its prefix, then base62 with at least an id's worth of characters
# (a truncated or mistyped key is still mostly secret). Stated here rather
# than taken from keydesk.keys, which loads argon2.
PRIVATE_KEY_PREFIX = "kdsk_"
_KEYLIKE = re.compile(r"kdsk_[0-9A-Za-z]{4}[0-9A-Za-z_]{12,}")
PRIVATE_KEY_NOTE = "this looks like a private key; it was not stored or logged"


def looks_like_private_key(text: str | None) -> bool:
    return text is not None and PRIVATE_KEY_PREFIX in text and _KEYLIKE.search(text) is not None


def redacted_key(key: str) -> str:
    """`kdsk_7Qm2…`: enough to tell which key, nothing of its secret."""
    return key[: len(PRIVATE_KEY_PREFIX) + 4] + "…"


def redact_private_keys(text: str, *, note: bool = True) -> str:
    """`text` with every private-key-like run shown as `kdsk_7Qm2…`, and (with
    `note`) a note saying so. Applied to every error message (`KeydeskError`)
    and to everything the CLI prints on stderr."""
    if PRIVATE_KEY_PREFIX not in text:  # the common case costs one scan in C
        return text
    redacted, count = _KEYLIKE.subn(lambda match: redacted_key(match.group()), text)
    if count == 0 or not note or PRIVATE_KEY_NOTE in redacted:
        return redacted
    return f"{redacted} ({PRIVATE_KEY_NOTE})"
