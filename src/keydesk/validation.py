"""Checks on what users type. Each failure is an `InvalidInput` whose
message says what is wrong and what to do instead."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from keydesk.errors import InvalidInput, InvalidLabel

LABEL_MAX = 64
NAME_MAX = 64
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _first_unprintable(text: str) -> str | None:
    for char in text:
        # C*: control, format (bidi overrides, zero-width), surrogate, private,
        # unassigned; Zl/Zp: line breaks. Any of them can move, hide or
        # restyle what a terminal shows next to it.
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return char
    return None


def shown_literally(text: str | None, *, newlines: bool = False) -> str:
    """`text` with every non-printable character written as an escape
    (``\\x1b``), so nothing stored can move, clear or restyle a terminal.
    Used wherever stored text meets a screen (CLI and TUI alike)."""
    if not text:
        return ""
    return "".join(
        c if c.isprintable() or (newlines and c == "\n") else f"\\x{ord(c):02x}" for c in text
    )


def printable_text(
    value: str, what: str, max_length: int, error: type[InvalidInput] = InvalidInput
) -> str:
    """`value` trimmed; required, at most `max_length` characters, printable only."""
    text = (value or "").strip()
    if not text:
        raise error(f"{what} is required")
    bad = _first_unprintable(text)
    if bad is not None:
        kind = "an escape sequence" if bad == "\x1b" else "a control or invisible character"
        raise error(f"{what} contains {kind} (U+{ord(bad):04X}); use printable text only")
    if len(text) > max_length:
        raise error(f"{what} is {len(text)} characters long; at most {max_length} are allowed")
    return text


def label(value: str) -> str:
    return printable_text(value, "the label", LABEL_MAX, InvalidLabel)


def name(value: str, what: str) -> str:
    return printable_text(value, what, NAME_MAX)


def redirect_uri(value: str) -> str:
    """An absolute https:// URL, or http:// on a local host for development."""
    text = printable_text(value, "the redirect URI", 2048)
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return text
    if parts.scheme == "http" and host in LOCAL_HOSTS:
        return text
    raise InvalidInput(
        f"the redirect URI {text!r} must be an absolute https:// URL "
        "(or http://localhost… for development)"
    )


def scopes(value: str) -> str:
    """Space- or comma-separated OAuth scopes, normalised to single spaces."""
    if not value or not value.strip():
        return ""
    text = printable_text(value, "the scopes", 2048)
    return " ".join(part for part in text.replace(",", " ").split() if part)


_DURATION = re.compile(r"(\d{1,6})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since(value: str, now: datetime) -> datetime:
    """A starting point: a time ago (`30m`, `12h`, `7d`, `2w`) or a date or
    time (`2026-11-01`, `2026-11-01T09:00`, local time unless it says)."""
    text = printable_text(value, "--since", 64).lower()
    if match := _DURATION.fullmatch(text):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.upper()) if "t" in text else None
        if moment is None:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise InvalidInput(
            f"--since {text!r} is neither a time ago (30m, 12h, 7d, 2w) nor a date (2026-11-01)"
        ) from None
    return (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)
