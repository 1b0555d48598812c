"""The service account's authorized_keys: reading keydesk's lines and adding
or removing them, without touching any line keydesk did not write. Every
edit holds a lock and replaces the file atomically (keydesk.ssh.file_edits);
the lines themselves are keydesk.ssh.grant_line's."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, replace
from pathlib import Path

from keydesk.ssh.errors import KeyAlreadyAuthorized, KeyNotAuthorized, SshAccessError
from keydesk.ssh.file_edits import locked, resolve, write_atomically
from keydesk.ssh.grant_line import COMMENT_PREFIX, SshGrant, authorized_keys_line, keydesk_grant
from keydesk.ssh.line_syntax import skip_options, split_lines
from keydesk.ssh.public_keys import PublicKey, lenient_key, normalize_fingerprint


def default_authorized_keys_path() -> Path:
    """``~/.ssh/authorized_keys`` of the user running keydesk (the service
    account), with the home directory sshd uses: the user database's, not
    $HOME, which `sudo` may have kept from whoever ran it."""
    try:
        home = pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        home = str(Path.home())
    return Path(home) / ".ssh" / "authorized_keys"


@dataclass(frozen=True)
class _Line:
    number: int
    raw: bytes
    key: PublicKey | None  # any key the line holds, leniently parsed
    grant: SshGrant | None  # set when keydesk wrote the line


def _parse_line(number: int, raw: bytes) -> _Line:
    text = raw.decode("utf-8", "replace").rstrip("\r\n").lstrip(" \t")
    if not text or text.startswith("#"):
        return _Line(number, raw, None, None)
    options = ""
    found = lenient_key(text)
    if found is None:
        options, rest = skip_options(text)
        found = lenient_key(rest)
    if found is None:
        return _Line(number, raw, None, None)
    key, comment = found
    return _Line(number, raw, key, keydesk_grant(number, key, options, comment))


def _read(path: Path) -> list[_Line]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SshAccessError(f"cannot read {path}: {exc.strerror}") from exc
    return [_parse_line(number, raw) for number, raw in enumerate(split_lines(data), start=1)]


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
    target = resolve(Path(path))
    with locked(target.parent, create=True):
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
        write_atomically(target, data)
    written = replace(key, comment=COMMENT_PREFIX + account)
    return SshGrant(account, written, keydesk_path, len(lines) + 1)


def find_grant(path: Path, fingerprint_text: str) -> SshGrant:
    """keydesk's line for the key with this fingerprint (the first, should
    the file hold several); `KeyNotAuthorized` says why there is none."""
    wanted = normalize_fingerprint(fingerprint_text)
    target = resolve(Path(path))
    lines = _read(target)
    return _grants_of(lines, wanted, target)[0]


def remove_grant(path: Path, fingerprint_text: str, *, repin: str | None = None) -> list[SshGrant]:
    """Remove keydesk's line(s) for the key with this fingerprint; returns
    what was removed. Lines keydesk did not write are never removed. With
    `repin` (a keydesk path), the first is rewritten as today's line instead
    (naming the fingerprint): how an older line is upgraded, in one write."""
    wanted, target = normalize_fingerprint(fingerprint_text), resolve(Path(path))
    with locked(target.parent, create=False):
        lines = _read(target)
        removed = _grants_of(lines, wanted, target)
        new = authorized_keys_line(removed[0].account, removed[0].key, repin) if repin else None
        swap = {id(removed[0]): f"{new}\n".encode()} if new else {}
        kept = b"".join(
            swap.get(id(line.grant), b"") if line.grant in removed else line.raw for line in lines
        )
        write_atomically(target, kept)
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
