"""The errors of keydesk.ssh: each `message` is one line, fit to show as it
is, and never holds key material beyond a fingerprint."""

from __future__ import annotations

from keydesk.errors import KeydeskError


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
