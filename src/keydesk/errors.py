"""Typed errors. Each carries a one-line message fit to show a user as it is.

No error in keydesk ever includes a private key: messages are built from
labels, names and public keys, and `KeydeskError` redacts anything that
looks like a private key (a user may paste one into any field).
"""

from __future__ import annotations

from enum import StrEnum

from keydesk.redaction import redact_private_keys


class KeydeskError(Exception):
    """Base of every error keydesk expects; `message` is user-facing.

    Whatever a caller put in the message, a value that looks like a private
    key (pasted into the wrong field) leaves here redacted: no error shown on
    a screen, written to a log or carried in a traceback can repeat it."""

    def __init__(self, message: str) -> None:
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


class UsageError(InvalidInput):
    """The command was asked for in a way that cannot be run as written
    (options that do not go together, one left out): the caller's mistake,
    not a refusal of a value."""


class NoTerminal(UsageError):
    """The TUI was asked for where there is no terminal to draw it on."""


class IntegrationNotConfigured(KeydeskError):
    pass


class UnknownStoredValue(KeydeskError):
    """A row holds a value keydesk never writes (changed around keydesk, with
    SQL). Guessing what it means would be wrong either way, so whatever needs
    that row is refused in one line naming it (keydesk.store.stored_values)."""


class RevokedUnreadable(UnknownStoredValue):
    """A key was revoked, but its row holds a value keydesk cannot show."""


class AlreadyRevoked(KeydeskError):
    pass


class NoScheduledStop(InvalidInput):
    """Keeping a key whose stop no rotation scheduled: nothing to cancel."""


class StoreUnavailable(KeydeskError):
    pass


class TooManyAttempts(KeydeskError):
    """Too many unverified attempts with one public key at once (whether or
    not the key exists); the caller may retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ForbiddenNetwork(KeydeskError):
    """A valid-looking key presented from outside its allowlist (HTTP 403),
    refused before its secret is checked."""

    def __init__(self, public_key: str) -> None:
        super().__init__(f"API key {public_key} may not be used from this network")
        self.public_key = public_key


class RateLimited(KeydeskError):
    """A valid key over its rate or its quota (HTTP 429): `limit` names
    which ("rate", "quota"); retry after `retry_after` seconds. `policies`
    are what the RateLimit headers state."""

    def __init__(
        self, public_key: str, limit: str, retry_after: int, policies: tuple[object, ...] = ()
    ) -> None:
        super().__init__(f"API key {public_key} is over its {limit}; retry in {retry_after} s")
        self.public_key, self.limit = public_key, limit
        self.retry_after, self.policies = retry_after, policies


class UnsafeStore(StoreUnavailable):
    """A SQLite store others could read or replace: refused, never opened."""


class StoreNotFound(StoreUnavailable):
    """No keydesk store where one was named (a typo in --db?). Only
    `keydesk init`, `keydesk demo` and the TUI's first run create one."""


class UnauthorizedReason(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_CHECKSUM = "bad_checksum"
    # Exact reasons for a credential that does not match: for the server log
    # and for `keydesk verify` (which reads the store anyway). An HTTP client
    # is told `invalid` for both: telling them apart would tell a caller which
    # key ids exist, undoing the equal timing of the two.
    UNKNOWN = "unknown"
    WRONG_SECRET = "wrong_secret"  # noqa: S105 (a reason, not a password)
    INVALID = "invalid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    INTEGRATION_DISABLED = "integration_disabled"

    @property
    def public(self) -> UnauthorizedReason:
        """What a remote caller may be told. `revoked`, `expired` and
        `integration_disabled` stay distinct: they are only reached with the
        right secret, so only a holder of a once-valid key learns them."""
        if self in (UnauthorizedReason.UNKNOWN, UnauthorizedReason.WRONG_SECRET):
            return UnauthorizedReason.INVALID
        return self


_REASON_TEXT = {
    UnauthorizedReason.MISSING: "no API key was presented",
    UnauthorizedReason.MALFORMED: "the API key is malformed",
    UnauthorizedReason.BAD_CHECKSUM: "the API key's checksum does not match (mistyped or truncated?)",
    UnauthorizedReason.UNKNOWN: "the API key is not known",
    UnauthorizedReason.WRONG_SECRET: "the API key's secret is wrong",
    UnauthorizedReason.INVALID: "the API key is not valid",
    UnauthorizedReason.REVOKED: "the API key has been revoked",
    UnauthorizedReason.EXPIRED: "the API key has expired",
    UnauthorizedReason.INTEGRATION_DISABLED: "the API key's integration is disabled",
}


class Unauthorized(KeydeskError):
    """A presented key was refused. Never carries the key itself; carries
    its public key (safe to log) once the key's shape was valid."""

    def __init__(self, reason: UnauthorizedReason, public_key: str | None = None) -> None:
        super().__init__(_REASON_TEXT[reason])
        self.reason = reason
        self.public_key = public_key

    @property
    def public_reason(self) -> UnauthorizedReason:
        return self.reason.public

    @property
    def public_message(self) -> str:
        return _REASON_TEXT[self.reason.public]
