"""OpenSSH public keys: parsing a ``.pub`` line, checking its blob against its
type, and fingerprints computed exactly as ``ssh-keygen -lf`` prints them
(no subprocess). Knows nothing of authorized_keys beyond refusing a key
pasted with its options."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from keydesk.ssh.errors import InvalidPublicKey, InvalidSshInput
from keydesk.ssh.line_syntax import skip_options
from keydesk.validation import shown_literally

_ED25519 = "ssh-ed25519"
_RSA = "ssh-rsa"
_SK_ED25519 = "sk-ssh-ed25519@openssh.com"
_SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"

# The NIST curves: (coordinate bytes, p, b).
_CURVES: dict[str, tuple[int, int, int]] = {
    "nistp256": (
        32,
        2**256 - 2**224 + 2**192 + 2**96 - 1,
        0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    ),
    "nistp384": (
        48,
        2**384 - 2**128 - 2**96 + 2**32 - 1,
        0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    ),
    "nistp521": (
        66,
        2**521 - 1,
        0x0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
    ),
}
_ECDSA = {f"ecdsa-sha2-{curve}": curve for curve in _CURVES}

KEY_TYPES = frozenset({_ED25519, _RSA, _SK_ED25519, _SK_ECDSA, *_ECDSA})
# What any OpenSSH key type name looks like (ours, ssh-dss, certificates…).
_KEY_TYPE_SHAPE = re.compile(r"(?:ssh|ecdsa|sk)-[a-z0-9@._-]{1,60}")
RSA_MIN_BITS = 2048

_PRIVATE_KEY_MARKERS = ("PRIVATE KEY-----", "PuTTY-User-Key-File-")


@dataclass(frozen=True)
class PublicKey:
    """One OpenSSH public key: its type, its wire-format blob and the comment
    it came with (keydesk writes its own comment, never this one)."""

    key_type: str
    blob: bytes
    comment: str = field(default="", compare=False)  # equal keys are the same key

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def bits(self) -> int:
        """The size `ssh-keygen -l` prints: modulus bits for RSA, curve size
        otherwise."""
        return _bits(self.key_type, self.blob)

    def openssh(self) -> str:
        """`TYPE BASE64`, without a comment: as it goes into authorized_keys."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"

    def __repr__(self) -> str:
        return f"PublicKey({self.key_type} {self.fingerprint})"


def fingerprint(blob: bytes) -> str:
    """`SHA256:` and the unpadded base64 of the blob's SHA-256, as
    ``ssh-keygen -lf`` prints it."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def parse_public_key(text: str) -> PublicKey:
    """One public key as found in a ``.pub`` file (``TYPE BASE64 [COMMENT]``).

    Refuses private keys, RFC 4716 (``---- BEGIN SSH2 PUBLIC KEY ----``)
    blocks, several keys, authorized_keys options, unsupported types, bad
    base64 and blobs whose content does not match their declared type.
    """
    if any(marker in text for marker in _PRIVATE_KEY_MARKERS):
        raise InvalidPublicKey(
            "that is a private key: give its .pub file instead, and keep the private key to yourself"
        )
    if "BEGIN SSH2 PUBLIC KEY" in text:
        raise InvalidPublicKey(
            "that is an RFC 4716 public key: convert it with `ssh-keygen -i -f FILE` first"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidPublicKey("no public key given: expected a line like `ssh-ed25519 AAAA… name`")
    if len(lines) > 1:
        raise InvalidPublicKey(f"expected one public key, got {len(lines)} lines")
    parts = lines[0].split(None, 2)
    key_type = parts[0]
    if key_type not in KEY_TYPES:
        rest = skip_options(lines[0])[1].split(None, 1)
        if not _KEY_TYPE_SHAPE.fullmatch(key_type) and rest and rest[0] in KEY_TYPES:
            raise InvalidPublicKey("give the public key alone, without authorized_keys options")
        raise InvalidPublicKey(_unsupported(key_type))
    if len(parts) < 2:
        raise InvalidPublicKey(f"the {key_type} key has no key data after its type")
    blob = _decode_base64(parts[1])
    if blob is None:
        raise InvalidPublicKey(
            f"the {key_type} key data is not valid base64 (truncated or mistyped?)"
        )
    problem = _check_blob(key_type, blob)
    if problem is not None:
        raise InvalidPublicKey(f"the {key_type} key data is invalid: {problem}")
    comment = parts[2] if len(parts) > 2 else ""
    return PublicKey(key_type, blob, comment)


def _unsupported(key_type: str) -> str:
    supported = ", ".join(sorted(KEY_TYPES))
    if not _KEY_TYPE_SHAPE.fullmatch(key_type):
        # Not even shaped like a key type: say nothing of what it was (it
        # could be a secret pasted in the wrong place).
        return f"not an OpenSSH public key; expected one of {supported}"
    if key_type == "ssh-dss":
        return "DSA keys (ssh-dss) are not accepted by current OpenSSH; use ssh-ed25519"
    if key_type.endswith("-cert-v01@openssh.com"):
        return f"{key_type} is a certificate; give the plain public key"
    return f"{key_type} keys are not supported; use one of {supported}"


def _decode_base64(text: str) -> bytes | None:
    try:
        blob = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return blob or None


class _Truncated(Exception):
    pass


def _strings(blob: bytes) -> list[bytes]:
    """The SSH wire strings (uint32 length, bytes) the blob is made of."""
    fields: list[bytes] = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            raise _Truncated
        length = int.from_bytes(blob[offset : offset + 4], "big")
        end = offset + 4 + length
        if end > len(blob):
            raise _Truncated
        fields.append(blob[offset + 4 : end])
        offset = end
    return fields


def _check_blob(key_type: str, blob: bytes) -> str | None:
    """What is wrong with `blob` as a key of `key_type`, or None."""
    try:
        fields = _strings(blob)
    except _Truncated:
        return "it is truncated"
    if not fields or fields[0] != key_type.encode("ascii"):
        embedded = fields[0].decode("ascii", "replace") if fields else ""
        if _KEY_TYPE_SHAPE.fullmatch(embedded):
            return f"it holds a {embedded} key"
        return "it holds no key of that type"
    rest = fields[1:]
    if key_type in (_ED25519, _SK_ED25519):
        expected = 2 if key_type == _SK_ED25519 else 1
        if len(rest) != expected or len(rest[0]) != 32:
            return "an Ed25519 key is 32 bytes"
        return None
    if key_type in _ECDSA or key_type == _SK_ECDSA:
        curve = _ECDSA.get(key_type, "nistp256")
        expected = 3 if key_type == _SK_ECDSA else 2
        if len(rest) != expected or rest[0] != curve.encode("ascii"):
            return f"expected a {curve} curve point"
        if not _on_curve(curve, rest[1]):
            return f"the point is not on the {curve} curve"
        return None
    # ssh-rsa: mpint e, mpint n
    if len(rest) != 2 or not rest[0] or not rest[1] or rest[0][0] & 0x80 or rest[1][0] & 0x80:
        return "expected an RSA exponent and modulus"
    bits = int.from_bytes(rest[1], "big").bit_length()
    if bits < RSA_MIN_BITS:
        return (
            f"a {bits}-bit RSA key is too short; use at least {RSA_MIN_BITS} bits, or ssh-ed25519"
        )
    return None


def _on_curve(curve: str, point: bytes) -> bool:
    size, p, b = _CURVES[curve]
    if len(point) != 1 + 2 * size or point[0] != 0x04:
        return False  # OpenSSH writes uncompressed points only
    x = int.from_bytes(point[1 : 1 + size], "big")
    y = int.from_bytes(point[1 + size :], "big")
    if x >= p or y >= p:
        return False
    return (y * y - (x * x * x - 3 * x + b)) % p == 0


def _bits(key_type: str, blob: bytes) -> int:
    if key_type == _RSA:
        return int.from_bytes(_strings(blob)[2], "big").bit_length()
    if key_type in _ECDSA:
        return int(_ECDSA[key_type].removeprefix("nistp"))
    return 256  # Ed25519, and the only security-key ECDSA curve (nistp256)


def normalize_fingerprint(text: str) -> str:
    """`SHA256:…` from what a person pastes (with or without the prefix)."""
    value = text.strip()
    if value.upper().startswith("MD5:") or value.count(":") > 2:
        raise InvalidSshInput(
            "that is an MD5 fingerprint; give the SHA256:… one `ssh-keygen -lf` prints"
        )
    digest = value[len("SHA256:") :] if value.startswith("SHA256:") else value
    padded = digest + "=" * (-len(digest) % 4)
    try:
        raw = base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != 32 or "=" in digest:
        raise InvalidSshInput(
            f"'{shown_literally(value[:80])}' is not a SHA256 fingerprint like SHA256:…(43 characters)"
        )
    return "SHA256:" + digest


def lenient_key(text: str) -> tuple[PublicKey, str] | None:
    """The key at the start of `text` and the rest (its comment); any type,
    with the blob only base64-checked: enough to compare fingerprints."""
    parts = text.split(None, 2)
    if len(parts) < 2 or not _KEY_TYPE_SHAPE.fullmatch(parts[0]):
        return None
    blob = _decode_base64(parts[1])
    try:
        if blob is None or _strings(blob)[0] != parts[0].encode("ascii"):
            return None
    except (_Truncated, IndexError):
        return None
    comment = parts[2].strip() if len(parts) > 2 else ""
    return PublicKey(parts[0], blob, comment), comment
