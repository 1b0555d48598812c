"""Repeatable stand-ins the tests pass explicitly (nothing is patched)."""

from __future__ import annotations

import random

from keydesk.keys import ID_LENGTH, SECRET_LENGTH, KeyPair, KeyPairSource, base62, key_pair_from


def seeded_key_pairs(seed: int) -> KeyPairSource:
    """Key pairs drawn from a seeded generator: the same seed, the same keys
    (for pictures and snapshots). The product always uses `secrets`."""
    rng = random.Random(seed)

    def next_pair() -> KeyPair:
        return key_pair_from(
            base62(rng.randrange(62**ID_LENGTH), ID_LENGTH),
            base62(rng.randrange(62**SECRET_LENGTH), SECRET_LENGTH),
        )

    return next_pair


def last_character_changed(key: str) -> str:
    """The key with its last character replaced by a different one (a fixed
    replacement would equal the original for one key in 62)."""
    return key[:-1] + ("y" if key.endswith("x") else "x")
