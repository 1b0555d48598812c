"""SSH access, the gitolite way: one service account, one forced command per key.

Every admin reaches keydesk with ``ssh keydesk@bastion``. The service
account's ``~/.ssh/authorized_keys`` maps each person's SSH key to an account
name through a forced command, so sshd, not the person, says who connects::

    command="/path/keydesk ssh-session alice SHA256:…",restrict,pty ssh-ed25519 AAAA… keydesk:alice

The command names the key's fingerprint too: a session knows its key, which
an owner approves per workspace (keydesk.ssh.gate).

This module is the core of that: parsing and fingerprinting OpenSSH public
keys, building and recognising keydesk's lines, editing the file atomically
without touching any line keydesk did not write, and turning
``SSH_ORIGINAL_COMMAND`` into an argv that is safe to hand to keydesk's own
parser. It knows nothing of the store or the interface; the CLI wires it in.

No subprocess, no shell: fingerprints are computed here exactly as
``ssh-keygen -lf`` prints them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import os
import pwd
import re
import shlex
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from keydesk.errors import KeydeskError
from keydesk.validation import shown_literally

# -- errors ----------------------------------------------------------------------


class SshAccessError(KeydeskError):
    """Base of this module's errors; also an authorized_keys file that cannot
    be read or written. `message` is one line, fit to show as it is, and never
    holds key material beyond a fingerprint."""


class InvalidSshInput(SshAccessError):
    """An account name, keydesk path or fingerprint that cannot be used."""


class InvalidPublicKey(InvalidSshInput):
    """Text that is not one OpenSSH public key of a supported type."""


class KeyAlreadyAuthorized(SshAccessError):
    """The key already appears in authorized_keys (keydesk's line or not)."""


class KeyNotAuthorized(SshAccessError):
    """No line keydesk wrote has this fingerprint."""


class SessionRefused(SshAccessError):
    """SSH_ORIGINAL_COMMAND is not a keydesk command that may run over SSH."""


# -- constants -------------------------------------------------------------------

SESSION_COMMAND = "ssh-session"
COMMENT_PREFIX = "keydesk:"
ACCOUNT_MAX = 64

# The options of every line keydesk writes, after command="…": `restrict`
# turns off port, agent and X11 forwarding (and whatever later OpenSSH
# releases add); `pty` gives back the terminal the TUI needs.
LINE_OPTIONS = "restrict,pty"

# Commands that may run over SSH by default (scan reads only stdin there), and
# those that never may, even when a caller lists them: a session must not start
# a session, edit who may connect, open a throwaway demo or start a server.
REMOTE_COMMANDS = frozenset({"init", "member", "integration", "key", "verify", "audit", "scan"})
NEVER_REMOTE = frozenset({SESSION_COMMAND, "ssh", "demo", "serve"})

# Options that pick the acting account or the store: over SSH both come from
# the forced command alone.
_FIXED_OPTIONS = ("--account", "--db")

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


# -- public keys -----------------------------------------------------------------


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
        rest = _skip_options(lines[0])[1].split(None, 1)
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


# -- names, paths, fingerprints --------------------------------------------------

_NAMES = {'"': "a double quote", "'": "a single quote", "\\": "a backslash"}


def validate_account(name: str) -> str:
    """`name` if it can stand in a forced command and a comment: printable,
    no whitespace, quotes or backslashes, not an option, at most 64 characters."""
    if not name:
        raise InvalidSshInput("the account name is required")
    shown = shown_literally(name[:ACCOUNT_MAX])
    if len(name) > ACCOUNT_MAX:
        raise InvalidSshInput(
            f"the account name is {len(name)} characters long; at most {ACCOUNT_MAX} are allowed"
        )
    for char in name:
        if not char.isprintable() or char.isspace():
            raise InvalidSshInput(
                f"the account name '{shown}' contains a space or an invisible character"
                f" (U+{ord(char):04X})"
            )
        if char in "\"'\\":
            raise InvalidSshInput(f"the account name '{shown}' contains {_NAMES[char]}; it may not")
    if name.startswith("-"):
        raise InvalidSshInput(f"the account name '{shown}' may not start with '-'")
    return name


def validate_keydesk_path(path: str) -> str:
    """`path` if it can stand in a forced command: absolute, printable, and
    free of quotes and backslashes (spaces are quoted for the shell)."""
    shown = shown_literally(path)
    if not os.path.isabs(path):
        raise InvalidSshInput(
            f"the keydesk path '{shown}' is not absolute; sshd needs the full path"
        )
    for char in path:
        if not char.isprintable():
            raise InvalidSshInput(
                f"the keydesk path '{shown}' contains an invisible character (U+{ord(char):04X})"
            )
        if char in "\"'\\":
            raise InvalidSshInput(
                f"the keydesk path '{shown}' contains {_NAMES[char]}; install keydesk elsewhere"
            )
    return path


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


def authorized_keys_line(account: str, key: PublicKey, keydesk_path: str) -> str:
    """The line keydesk writes for `account`'s `key`, without a newline."""
    account, keydesk_path = validate_account(account), validate_keydesk_path(keydesk_path)
    command = shlex.join([keydesk_path, SESSION_COMMAND, account, key.fingerprint])
    return f'command="{command}",{LINE_OPTIONS} {key.openssh()} {COMMENT_PREFIX}{account}'


def default_authorized_keys_path() -> Path:
    """``~/.ssh/authorized_keys`` of the user running keydesk (the service
    account), with the home directory sshd uses: the user database's, not
    $HOME, which `sudo` may have kept from whoever ran it."""
    try:
        home = pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        home = str(Path.home())
    return Path(home) / ".ssh" / "authorized_keys"


def running_keydesk_path() -> str:
    """The absolute path of the `keydesk` command running now (a venv's
    ``bin/keydesk`` is not on sshd's PATH, so forced commands name it)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "keydesk":
        found = argv0 if os.sep in argv0 else shutil.which(argv0)
        if found:
            return validate_keydesk_path(os.path.abspath(found))
    beside = Path(sys.executable).parent / "keydesk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return validate_keydesk_path(str(beside.absolute()))
    found = shutil.which("keydesk")
    if found:
        return validate_keydesk_path(os.path.abspath(found))
    raise SshAccessError("cannot tell where the keydesk command is installed")


# -- authorized_keys -------------------------------------------------------------


@dataclass(frozen=True)
class SshGrant:
    """A line keydesk wrote: `key` opens keydesk as `account`. `pinned`: it names the key."""

    account: str
    key: PublicKey
    keydesk_path: str
    line_number: int
    pinned: bool = True

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint


@dataclass(frozen=True)
class _Line:
    number: int
    raw: bytes
    key: PublicKey | None  # any key the line holds, leniently parsed
    grant: SshGrant | None  # set when keydesk wrote the line


def _split_lines(data: bytes) -> list[bytes]:
    """Lines as sshd reads them (ended by LF only), each with its ending, so
    that joining them gives `data` back byte for byte."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _skip_options(text: str) -> tuple[str, str]:
    """(options, rest): as sshd's sshkey_advance_past_options reads them."""
    quoted, index = False, 0
    while index < len(text) and (quoted or text[index] not in " \t"):
        if text[index] == "\\" and text[index + 1 : index + 2] == '"':
            index += 1
        elif text[index] == '"':
            quoted = not quoted
        index += 1
    return text[:index], text[index:].lstrip(" \t")


def _split_options(options: str) -> list[str]:
    result: list[str] = []
    current: list[str] = []
    quoted, index = False, 0
    while index < len(options):
        char = options[index]
        if char == "\\" and options[index + 1 : index + 2] == '"':
            current.append('\\"')
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            result.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    result.append("".join(current))
    return result


def _forced_command(options: str) -> str | None:
    for option in _split_options(options):
        name, _, value = option.partition("=")
        if name.lower() == "command" and len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1].replace('\\"', '"')
    return None


def _lenient_key(text: str) -> tuple[PublicKey, str] | None:
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


def _parse_line(number: int, raw: bytes) -> _Line:
    text = raw.decode("utf-8", "replace").rstrip("\r\n").lstrip(" \t")
    if not text or text.startswith("#"):
        return _Line(number, raw, None, None)
    options = ""
    found = _lenient_key(text)
    if found is None:
        options, rest = _skip_options(text)
        found = _lenient_key(rest)
    if found is None:
        return _Line(number, raw, None, None)
    key, comment = found
    grant = None
    command = _forced_command(options) if options else None
    if command is not None and comment.startswith(COMMENT_PREFIX):
        account = comment[len(COMMENT_PREFIX) :]
        try:
            words = shlex.split(command)
        except ValueError:
            words = []
        pinned = words[3:] == [key.fingerprint]
        if words[1:3] == [SESSION_COMMAND, account] and len(words) == 3 + pinned:
            grant = SshGrant(account, key, words[0], number, pinned)
        grant = grant if grant and os.path.isabs(grant.keydesk_path) else None
    return _Line(number, raw, key, grant)


def _read(path: Path) -> list[_Line]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SshAccessError(f"cannot read {path}: {exc.strerror}") from exc
    return [_parse_line(number, raw) for number, raw in enumerate(_split_lines(data), start=1)]


def read_grants(path: Path) -> list[SshGrant]:
    """The lines keydesk wrote in `path`, in file order (none if it is missing)."""
    return [line.grant for line in _read(Path(path)) if line.grant is not None]


def add_grant(path: Path, account: str, key: PublicKey, keydesk_path: str) -> SshGrant:
    """Append keydesk's line letting `key` open keydesk as `account`.

    Refuses a key whose fingerprint is already in the file, in keydesk's lines
    or any other. Every other line is kept byte for byte; a last line without
    a newline gets one, so the new line starts on its own.
    """
    line = authorized_keys_line(account, key, keydesk_path)
    target = _resolve(Path(path))
    with _locked(target.parent, create=True):
        lines = _read(target)
        for existing in lines:
            if existing.key is None or existing.key.blob != key.blob:
                continue
            if existing.grant is not None:
                raise KeyAlreadyAuthorized(
                    f"key {key.fingerprint} already opens keydesk as {existing.grant.account}"
                    f" (line {existing.number} of {target})"
                )
            raise KeyAlreadyAuthorized(
                f"key {key.fingerprint} is already in line {existing.number} of {target},"
                " which keydesk did not write; remove it there first"
            )
        data = b"".join(existing.raw for existing in lines)
        if data and not data.endswith(b"\n"):
            data += b"\n"
        data += line.encode("utf-8") + b"\n"
        _write_atomically(target, data)
    written = replace(key, comment=COMMENT_PREFIX + account)
    return SshGrant(account, written, keydesk_path, len(lines) + 1)


def find_grant(path: Path, fingerprint_text: str) -> SshGrant:
    """keydesk's line for the key with this fingerprint (the first, should
    the file hold several); `KeyNotAuthorized` says why there is none."""
    wanted = normalize_fingerprint(fingerprint_text)
    target = _resolve(Path(path))
    lines = _read(target)
    return _grants_of(lines, wanted, target)[0]


def remove_grant(path: Path, fingerprint_text: str, *, repin: str | None = None) -> list[SshGrant]:
    """Remove keydesk's line(s) for the key with this fingerprint; returns
    what was removed. Lines keydesk did not write are never removed. With
    `repin` (a keydesk path), the first is rewritten as today's line instead
    (naming the fingerprint): how an older line is upgraded, in one write."""
    wanted, target = normalize_fingerprint(fingerprint_text), _resolve(Path(path))
    with _locked(target.parent, create=False):
        lines = _read(target)
        removed = _grants_of(lines, wanted, target)
        new = authorized_keys_line(removed[0].account, removed[0].key, repin) if repin else None
        swap = {id(removed[0]): f"{new}\n".encode()} if new else {}
        kept = b"".join(
            swap.get(id(line.grant), b"") if line.grant in removed else line.raw for line in lines
        )
        _write_atomically(target, kept)
    return removed


def _grants_of(lines: list[_Line], wanted: str, target: Path) -> list[SshGrant]:
    found = [line.grant for line in lines if line.grant and line.grant.fingerprint == wanted]
    if found:
        return found
    foreign = [line for line in lines if line.key and line.key.fingerprint == wanted]
    if foreign:
        raise KeyNotAuthorized(
            f"key {wanted} is in line {foreign[0].number} of {target}, which keydesk"
            " did not write; keydesk leaves it alone"
        )
    raise KeyNotAuthorized(f"no keydesk line in {target} has key {wanted}")


def _resolve(path: Path) -> Path:
    """The real file behind a symlinked authorized_keys (edit it, not the link)."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def _locked(directory: Path, *, create: bool) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (two admins authorizing at once
    must not lose a line). The directory is made 0700 if keydesk creates it."""
    try:
        if create and not directory.exists():
            _make_private_dir(directory)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError as exc:
        raise KeyNotAuthorized(f"{directory} does not exist; no key is authorized") from exc
    except OSError as exc:
        raise SshAccessError(f"cannot open {directory}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _make_private_dir(directory: Path) -> None:
    parent = directory.parent
    if not parent.exists():
        raise SshAccessError(f"cannot create {directory}: {parent} does not exist")
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        return  # another admin's authorize made it a moment ago (and owns its mode)
    os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    _give_to(directory, os.stat(parent))


def _give_to(path: Path | int, owner: os.stat_result) -> None:
    """Make `path` owned like `owner` when keydesk runs as root (root editing
    the service account's file must not leave it unreadable to sshd's check
    as that user); a no-op when the owner already matches."""
    current = os.stat(path) if isinstance(path, Path) else os.fstat(path)
    if os.geteuid() == 0 and (current.st_uid, current.st_gid) != (owner.st_uid, owner.st_gid):
        os.chown(path, owner.st_uid, owner.st_gid)  # takes a descriptor too (fchown)


def _write_atomically(target: Path, data: bytes) -> None:
    """Replace `target` with `data`: temp file in the same directory, 0600,
    fsync, rename, fsync the directory. On any failure the old file stays."""
    directory = target.parent
    try:
        owner = os.stat(target)
    except FileNotFoundError:
        owner = os.stat(directory)
    except OSError as exc:
        raise SshAccessError(f"cannot update {target}: {exc.strerror}") from exc
    temp: str | None = None
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.keydesk-", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), stat.S_IRUSR | stat.S_IWUSR)
            _give_to(handle.fileno(), owner)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        temp = None
        _fsync_dir(directory)
        _tighten_dir(directory)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise SshAccessError(f"cannot update {target}: {reason}; it was left as it was") from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tighten_dir(directory: Path) -> None:
    """~/.ssh is 0700: sshd's StrictModes refuses a group- or world-writable one."""
    mode = stat.S_IMODE(os.stat(directory).st_mode)
    if directory.name == ".ssh" and mode != 0o700:
        os.chmod(directory, 0o700)


# -- the forced command ----------------------------------------------------------

# Outside quotes these mean something to a shell (control, redirection,
# expansion, globbing) that they do not mean here, where no shell runs.
_SHELL_SYNTAX = frozenset(";&|<>()$`*?[")
_WORD_START_SYNTAX = frozenset("#~")
_DOUBLE_QUOTED_SYNTAX = frozenset("$`")

# Longer than any command keydesk accepts (a 2048-character redirect URI and
# as many scopes, beside names of 64), so no refusal echoes a flood back.
SESSION_COMMAND_MAX = 8192


def parse_session_command(original: str, allowed: frozenset[str]) -> list[str]:
    """The argv for keydesk's parser from ``SSH_ORIGINAL_COMMAND``.

    Split with POSIX shell quoting rules (`shlex`); never run by a shell, so
    anything a shell would treat specially (``;``, ``|``, ``$``, globs…)
    outside quotes is refused rather than passed on. The first word must be
    in `allowed` and never in `NEVER_REMOTE`; ``--account`` and ``--db`` (in
    any form argparse would accept) are refused: the forced command alone says
    who acts and on which store. Raises `SessionRefused`.
    """
    choices = ", ".join(sorted(allowed - NEVER_REMOTE)) or "none"
    if len(original) > SESSION_COMMAND_MAX:
        raise SessionRefused(
            f"the command is {len(original)} characters long; at most {SESSION_COMMAND_MAX}"
            " are allowed"
        )
    if not _is_utf8(original):
        raise SessionRefused(
            "the command is not UTF-8 text; send names and labels in UTF-8 (set LANG to a"
            " UTF-8 locale)"
        )
    if not original.strip():
        raise SessionRefused(
            f"no command given: connect without one (ssh -t) for the TUI, or run one of: {choices}"
        )
    _refuse_shell_syntax(original)
    try:
        argv = shlex.split(original)
    except ValueError as exc:
        raise SessionRefused(f"cannot read the command: {str(exc).lower()}") from exc
    command = argv[0]
    shown = shown_literally(command[:40])
    if command == "keydesk" and len(argv) > 1:
        raise SessionRefused(
            f"leave out 'keydesk': run `ssh … {shown_literally(shlex.join(argv[1:3]))} …`"
        )
    if command in NEVER_REMOTE:
        raise SessionRefused(f"`keydesk {shown}` cannot be run over SSH")
    if command not in allowed:
        raise SessionRefused(
            f"'{shown}' is not a keydesk command that runs over SSH; use one of: {choices}"
        )
    for word in argv[1:]:
        name = word.split("=", 1)[0]
        if len(name) > 2 and name.startswith("--"):
            for fixed in _FIXED_OPTIONS:
                if fixed.startswith(name):
                    raise SessionRefused(
                        f"{fixed} cannot be given over SSH: your SSH key fixes the account and the store"
                    )
    return argv


def _is_utf8(text: str) -> bool:
    """False when `text` came from bytes that are not UTF-8 (Python decodes
    the environment with surrogateescape: such bytes are lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_shell_syntax(original: str) -> None:
    quote: str | None = None
    word_start = True
    index = 0
    while index < len(original):
        char = original[index]
        if not char.isprintable() and char != " ":
            raise SessionRefused(
                f"the command contains a control character (U+{ord(char):04X}); it may not"
            )
        if quote == "'":
            if char == "'":
                quote = None
        elif quote == '"':
            if char == '"':
                quote = None
            elif char == "\\" and original[index + 1 : index + 2] in ('"', "\\"):
                index += 1
            elif char in _DOUBLE_QUOTED_SYNTAX:
                raise _syntax(char, "inside double quotes")
        elif char == "\\":
            index += 1  # escapes the next character, as in a shell
        elif char in "'\"":
            quote = char
        elif char in _SHELL_SYNTAX or (word_start and char in _WORD_START_SYNTAX):
            raise _syntax(char, "")
        word_start = quote is None and char in " \t"
        index += 1


def _syntax(char: str, where: str) -> SessionRefused:
    place = f" {where}" if where else ""
    return SessionRefused(
        f"{char!r}{place} is shell syntax and no shell runs here;"
        " put it in single quotes if it is part of a value"
    )
