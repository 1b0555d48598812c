"""Key material: generation, parsing and hashing of API keys.

Formats (base62 bodies, `_` separators so a double-click selects the whole key):

    public key   kdpk_<id>
    private key  kdsk_<id>_<secret><checksum>

`<id>` is 16 base62 characters (~95 bits, random), shared by both keys so a
presented private key leads to one indexed row. `<secret>` is 43 base62
characters drawn uniformly from 62**43 > 2**256. `<checksum>` is the CRC32 of
everything before it, as 6 base62 characters: a typo, a truncation or a
random string is refused without touching the store, and a scanner can find
leaked keys with almost no false positives.
"""

from __future__ import annotations

import re
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from keydesk.errors import Unauthorized, UnauthorizedReason

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PUBLIC_PREFIX = "kdpk_"
PRIVATE_PREFIX = "kdsk_"
ID_LENGTH = 16
SECRET_LENGTH = 43  # 62**43 ≈ 2**256.03
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
PRIVATE_KEY_LENGTH = len(PRIVATE_PREFIX) + ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH

_B62 = "[0-9A-Za-z]"
_PRIVATE_RE = re.compile(
    rf"kdsk_({_B62}{{{ID_LENGTH}}})_({_B62}{{{SECRET_LENGTH}}})({_B62}{{{CHECKSUM_LENGTH}}})"
)
_PUBLIC_RE = re.compile(rf"kdpk_{_B62}{{{ID_LENGTH}}}")


def base62(number: int, width: int) -> str:
    """`number` in base62, left-padded with '0' to exactly `width` characters."""
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    if number:
        raise ValueError("number does not fit the width")
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    """base62(CRC32, 6) by pairs of digits: every presented key is checked."""
    high, low = divmod(zlib.crc32(body.encode("ascii")), _PAIR_SPAN)
    high, middle = divmod(high, _PAIR_SPAN)  # < 62**2: a CRC32 is below 62**6
    return _PAIRS[high] + _PAIRS[middle] + _PAIRS[low]


_PAIR_SPAN = 62 * 62
_PAIRS = [first + second for first in BASE62 for second in BASE62]


def random_base62(length: int) -> str:
    return base62(secrets.randbelow(62**length), length)


class PrivateKey:
    """A bearer credential. Its text is reachable only through `reveal()`,
    so a stray repr, f-string, log line or traceback shows a mask instead."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def public_key(self) -> str:
        return PUBLIC_PREFIX + self._value[len(PRIVATE_PREFIX) : len(PRIVATE_PREFIX) + ID_LENGTH]

    def __repr__(self) -> str:
        return f"PrivateKey({self.public_key}, secret=***)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:  # pickling would copy the secret somewhere unseen
        raise TypeError("a PrivateKey cannot be pickled")


@dataclass(frozen=True, slots=True)
class KeyPair:
    public_key: str
    private_key: PrivateKey


KeyPairSource = Callable[[], "KeyPair"]


def key_pair_from(key_id: str, secret: str) -> KeyPair:
    """The pair for an id and a secret (base62, of their exact lengths)."""
    body = f"{PRIVATE_PREFIX}{key_id}_{secret}"
    return KeyPair(PUBLIC_PREFIX + key_id, PrivateKey(body + checksum(body)))


def generate_key_pair() -> KeyPair:
    """A new pair from `secrets`. The service takes a `KeyPairSource` so
    tests can pass a repeatable one explicitly; nothing patches this."""
    return key_pair_from(random_base62(ID_LENGTH), random_base62(SECRET_LENGTH))


def parse_private_key(presented: str | PrivateKey) -> PrivateKey:
    """Check a presented private key's shape and checksum, without I/O.

    Returns the key (its `public_key` names the row to read), or raises
    `Unauthorized` (malformed / bad checksum). Surrounding whitespace (a
    trailing newline from stdin) is tolerated.
    """
    text = (presented.reveal() if isinstance(presented, PrivateKey) else presented).strip()
    if len(text) != PRIVATE_KEY_LENGTH:  # cheap, and bounds the regex's work
        raise Unauthorized(UnauthorizedReason.MALFORMED)
    match = _PRIVATE_RE.fullmatch(text)
    if match is None:
        raise Unauthorized(UnauthorizedReason.MALFORMED)
    if not secrets.compare_digest(checksum(text[:-CHECKSUM_LENGTH]), match.group(3)):
        raise Unauthorized(UnauthorizedReason.BAD_CHECKSUM)
    return PrivateKey(text)


def is_public_key(text: str) -> bool:
    return _PUBLIC_RE.fullmatch(text) is not None


# Argon2 parameters: the one place they are set.
#
# A private key carries 256 bits from `secrets`: nobody will brute-force that
# from a leaked hash at any speed, so neither memory-hardness nor a slow hash
# buys anything here; the hash only has to be one-way, which argon2id is at
# any setting. A higher cost would only hand attackers a denial-of-service
# lever and put a cliff past the verifier's cache. So: one pass over argon2id's smallest
# memory (8 KiB, one lane), ~24 µs per verify on this machine's kind against
# ~1.8 ms at the 4 MiB used before (`python bench/hashing.py`). Hashes made
# with other parameters still verify, and are made again with these on a
# key's next successful verify where the verifier may write them (SQLite).
HASH_TIME_COST = 1
HASH_MEMORY_KIB = 8
HASH_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=HASH_TIME_COST, memory_cost=HASH_MEMORY_KIB, parallelism=HASH_PARALLELISM
)


@cache
def _decoy_hash() -> str:
    """Verified against when a key id is unknown, so a miss costs what a hit
    costs and response time does not tell which ids exist. Made on first use:
    commands that verify nothing do not pay for it."""
    return _hasher.hash(random_base62(SECRET_LENGTH))


def hash_private_key(key: PrivateKey) -> str:
    return _hasher.hash(key.reveal())


@dataclass(frozen=True, slots=True)
class SecretCheck:
    """The answer to "is this the key that hash was made from?"."""

    matches: bool
    new_hash: str | None = field(default=None, repr=False)  # when parameters changed


def check_secret(stored_hash: str | None, key: PrivateKey) -> SecretCheck:
    """argon2 verify of `key` against `stored_hash` (None: an unknown id,
    checked against a decoy for equal work), and the upgraded hash when the
    stored one was made with other parameters."""
    try:
        matched = _hasher.verify(stored_hash or _decoy_hash(), key.reveal())
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return SecretCheck(False)
    if not matched or stored_hash is None:
        return SecretCheck(False)
    new_hash = hash_private_key(key) if _needs_rehash(stored_hash) else None
    return SecretCheck(True, new_hash)


@cache
def _todays_form() -> tuple[str, int, int]:
    """A hash made today: its parameters' prefix, where its hash part starts, its length."""
    made = _hasher.hash("")
    return made[: made.rindex("$", 0, made.rindex("$")) + 1], made.rindex("$"), len(made)


def made_today(stored_hash: str) -> bool:
    """Made with today's parameters: a look at its text, without argon2-cffi's
    parse (which costs nearly what a verify does at these parameters)."""
    prefix, hash_at, length = _todays_form()
    return (
        len(stored_hash) == length
        and stored_hash.startswith(prefix)
        and stored_hash.rfind("$") == hash_at
    )


def _needs_rehash(stored_hash: str) -> bool:
    return not made_today(stored_hash) and _hasher.check_needs_rehash(stored_hash)
