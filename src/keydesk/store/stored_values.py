"""Values read back from the store that SQL typed around keydesk may have
set (SQLite has no CHECK constraints; PostgreSQL's came with revision 0006,
and a store may hold rows from before). Every read of a membership's role,
an integration's status and a lifetime in days comes through here, so a
value keydesk never writes is one `UnknownStoredValue` naming the row,
never a crash."""

from __future__ import annotations

from datetime import datetime

from keydesk.errors import UnknownStoredValue
from keydesk.store.dbapi import stored_time
from keydesk.validation import SPAN_MAX_DAYS
from keydesk.views import IntegrationStatus, Role


def _unknown(row: str, column: str, value: object, allowed: str) -> UnknownStoredValue:
    return UnknownStoredValue(
        f"{row} has {column} {value!r}, which keydesk does not know (changed outside "
        f"keydesk?); set {allowed} in the store"
    )


class UnknownRole(UnknownStoredValue):
    """A membership row holds a role keydesk does not know (written around
    keydesk, with SQL). Guessing what it allows would be wrong either way, so
    whatever needs that row is refused in one line naming it."""


def stored_role(value: str, workspace: str, account: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise UnknownRole(
            f"in workspace {workspace!r}, account {account!r} has the role {value!r}, which "
            f"keydesk does not know (changed outside keydesk?); set one of {known} in the store"
        ) from None


def stored_status(value: str, workspace: str, integration: str) -> IntegrationStatus:
    try:
        return IntegrationStatus(value)
    except ValueError:
        known = ", ".join(status.value for status in IntegrationStatus)
        row = f"in workspace {workspace!r}, integration {integration!r}"
        raise _unknown(row, "the status", value, f"one of {known}") from None


def stored_days(value: int | None, row: str, column: str) -> int | None:
    """A key's lifetime or a workspace's cap: None, or 1 to SPAN_MAX_DAYS days
    (what a date can be moved by without overflowing)."""
    if value is None or (isinstance(value, int) and 1 <= value <= SPAN_MAX_DAYS):
        return value
    raise _unknown(row, column, value, f"a number of days from 1 to {SPAN_MAX_DAYS}, or NULL")


def stored_moment(value: object, row: str, column: str) -> datetime | None:
    """A stored time (SQLite's UTC text, PostgreSQL's value) or None; text
    that is no time, or a year past 9999, is the row's error."""
    try:
        return stored_time(value)  # type: ignore[arg-type]  # checked by the call
    except (ValueError, TypeError, AttributeError, OverflowError):
        raise _unknown(row, column, value, "a time such as 2025-01-31 12:00:00") from None


def stored_scopes(value: object, row: str) -> str:
    """A key's or integration's scopes: text, space-separated."""
    if isinstance(value, str):
        return value
    raise _unknown(row, "scopes", value, "space-separated scope names as text")
