"""The line keydesk writes in authorized_keys, the gitolite way: one service
account, one forced command per key::

    command="/path/keydesk ssh-session alice SHA256:…",restrict,pty ssh-ed25519 AAAA… keydesk:alice

sshd, not the person, says who connects; the command names the key's
fingerprint too, which an owner approves per workspace (keydesk.ssh.gate).
Here: the account names and keydesk paths such a line may hold, building
it, and recognising one keydesk wrote (keydesk.ssh.authorized_keys edits
the file)."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from keydesk.ssh.errors import InvalidSshInput, SshAccessError
from keydesk.ssh.line_syntax import forced_command
from keydesk.ssh.public_keys import PublicKey
from keydesk.validation import shown_literally

SESSION_COMMAND = "ssh-session"
COMMENT_PREFIX = "keydesk:"
ACCOUNT_MAX = 64

# The options of every line keydesk writes, after command="…": `restrict`
# turns off port, agent and X11 forwarding (and whatever later OpenSSH
# releases add); `pty` gives back the terminal the TUI needs.
LINE_OPTIONS = "restrict,pty"


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


def authorized_keys_line(account: str, key: PublicKey, keydesk_path: str) -> str:
    """The line keydesk writes for `account`'s `key`, without a newline."""
    account, keydesk_path = validate_account(account), validate_keydesk_path(keydesk_path)
    command = shlex.join([keydesk_path, SESSION_COMMAND, account, key.fingerprint])
    return f'command="{command}",{LINE_OPTIONS} {key.openssh()} {COMMENT_PREFIX}{account}'


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


def keydesk_grant(number: int, key: PublicKey, options: str, comment: str) -> SshGrant | None:
    """The grant line `number` holds if keydesk wrote it (its forced command
    and comment name the same account), else None."""
    command = forced_command(options) if options else None
    if command is None or not comment.startswith(COMMENT_PREFIX):
        return None
    account = comment[len(COMMENT_PREFIX) :]
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    pinned = words[3:] == [key.fingerprint]
    if words[1:3] != [SESSION_COMMAND, account] or len(words) != 3 + pinned:
        return None
    return SshGrant(account, key, words[0], number, pinned) if os.path.isabs(words[0]) else None
