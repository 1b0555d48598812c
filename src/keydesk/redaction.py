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


# A key's id follows its prefix and ends at `_`, or at the end of what has
# been typed so far: its public key is `kdpk_` and that id. Stated here for
# the same reason as the prefix (keydesk.keys holds the same shape).
PUBLIC_KEY_PREFIX = "kdpk_"
PRIVATE_KEY_LENGTH = 71  # prefix, a 16-character id, `_`, 43 secret and 6 checksum characters
_KEY_ID = re.compile(r"kdsk_([0-9A-Za-z]{16})(?:_|$)")
_KEY_CHARACTER = re.compile(r"[0-9A-Za-z_]")


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


def private_key_spans(text: str) -> list[tuple[int, int]]:
    """Where in `text` each private-key-like run starts and ends."""
    if PRIVATE_KEY_PREFIX not in text:
        return []
    return [match.span() for match in _KEYLIKE.finditer(text)]


def public_key_of(key: str) -> str | None:
    """The public key a private key (or its start, as far as its id) names;
    None when `key` is not shaped like one that far. No checksum is checked:
    a mistyped secret still names its key."""
    match = _KEY_ID.match(key)
    return None if match is None else PUBLIC_KEY_PREFIX + match.group(1)


def shown_instead(key: str) -> str:
    """What to show where a private key was typed or pasted: its public key,
    else its redacted form (`redacted_key`)."""
    return public_key_of(key) or redacted_key(key)


def is_key_character(character: str) -> bool:
    """A character a private key may hold after its prefix."""
    return _KEY_CHARACTER.fullmatch(character) is not None
