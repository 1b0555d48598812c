"""Typed errors. Each carries a one-line message fit to show a user as it is.

No error in keydesk ever includes a private key: messages are built from
labels, names and public keys, and `KeydeskError` redacts anything that
looks like a private key (a user may paste one into any field).
"""

from __future__ import annotations

from enum import StrEnum


class KeydeskError(Exception):
    """Base of every error keydesk expects; `message` is user-facing.

    Whatever a caller put in the message, a value that looks like a private
    key (pasted into the wrong field) leaves here redacted: no error shown on
    a screen, written to a log or carried in a traceback can repeat it."""

    def __init__(self, message: str) -> None:
        from keydesk.validation import redact_private_keys  # validation imports errors

        message = redact_private_keys(message)
        super().__init__(message)
        self.message = message


class PermissionDenied(KeydeskError):
    pass


class NotFound(KeydeskError):
    pass


class AlreadyExists(KeydeskError):
    pass


class InvalidInput(KeydeskError):
    pass


class InvalidLabel(InvalidInput):
    pass


class IntegrationNotConfigured(KeydeskError):
    pass


class AlreadyRevoked(KeydeskError):
    pass


class StoreUnavailable(KeydeskError):
    pass


class StoreNotFound(StoreUnavailable):
    """No keydesk store where one was named (a typo in --db?). Only
    `keydesk init`, `keydesk demo` and the TUI's first run create one."""


class UnauthorizedReason(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_CHECKSUM = "bad_checksum"
    UNKNOWN = "unknown"
    WRONG_SECRET = "wrong_secret"  # noqa: S105 (a reason, not a password)
    REVOKED = "revoked"
    EXPIRED = "expired"
    INTEGRATION_DISABLED = "integration_disabled"


_REASON_TEXT = {
    UnauthorizedReason.MISSING: "no API key was presented",
    UnauthorizedReason.MALFORMED: "the API key is malformed",
    UnauthorizedReason.BAD_CHECKSUM: "the API key's checksum does not match (mistyped or truncated?)",
    UnauthorizedReason.UNKNOWN: "the API key is not known",
    UnauthorizedReason.WRONG_SECRET: "the API key's secret is wrong",
    UnauthorizedReason.REVOKED: "the API key has been revoked",
    UnauthorizedReason.EXPIRED: "the API key has expired",
    UnauthorizedReason.INTEGRATION_DISABLED: "the API key's integration is disabled",
}


class Unauthorized(KeydeskError):
    """A presented key was refused. Never carries the key itself."""

    def __init__(self, reason: UnauthorizedReason) -> None:
        super().__init__(_REASON_TEXT[reason])
        self.reason = reason
