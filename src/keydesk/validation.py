"""Checks on what users type. Each failure is an `InvalidInput` whose
message says what is wrong and what to do instead."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache

from keydesk.errors import InvalidInput, InvalidLabel
from keydesk.redaction import looks_like_private_key

LABEL_MAX = 64
NAME_MAX = 64
URI_MAX = SCOPES_MAX = 2048  # as the store's columns
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


def why_unprintable(text: str, what: str) -> str | None:
    """Why `text` cannot be `what` (a name, a label) for what it holds that
    is not printable, or None. The TUI refuses a paste with these words."""
    bad = _first_unprintable(text)
    if bad is None:
        return None
    kind = "an escape sequence" if bad == "\x1b" else "a control or invisible character"
    return f"{what} contains {kind} (U+{ord(bad):04X}); use printable text only"


def shown_literally(text: str | None, *, newlines: bool = False) -> str:
    """`text` with every non-printable character written as an escape
    (``\\x1b``), so nothing stored can move, clear or restyle a terminal.
    Used wherever stored text meets a screen (CLI and TUI alike)."""
    if not text:
        return ""
    return "".join(
        c if c.isprintable() or (newlines and c == "\n") else f"\\x{ord(c):02x}" for c in text
    )


def as_stored(value: str) -> str:
    """Typed text as names and labels are stored: trimmed and in Unicode NFC
    (so `café` typed two ways is one name). Every lookup by name and every
    check of a new name asks this, so the two never disagree."""
    return unicodedata.normalize("NFC", value.strip())


def printable_text(
    value: str, what: str, max_length: int, error: type[InvalidInput] = InvalidInput
) -> str:
    """`value` as stored (`as_stored`); required, at most `max_length`
    characters, printable only, and never a private key pasted into the
    wrong field."""
    text = as_stored(value or "")
    if not text:
        raise error(f"{what} is required")
    if looks_like_private_key(text):
        raise error(f"{what} {text!r} is refused")  # KeydeskError redacts it, with a note
    if (why := why_unprintable(text, what)) is not None:
        raise error(why)
    if len(text) > max_length:
        raise error(f"{what} is {len(text)} characters long; at most {max_length} are allowed")
    return text


def label(value: str) -> str:
    return printable_text(value, "the label", LABEL_MAX, InvalidLabel)


def name(value: str, what: str) -> str:
    return printable_text(value, what, NAME_MAX)


def redirect_uri(value: str) -> str:
    """An absolute https:// URL, or http:// on a local host for development."""
    from urllib.parse import urlsplit  # only when a URI is checked

    text = printable_text(value, "the redirect URI", URI_MAX)
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise InvalidInput(
            f"the redirect URI {text!r} is not a valid URL (check the host and port)"
        ) from None
    if parts.fragment or text.endswith("#"):
        raise InvalidInput(
            f"the redirect URI {text!r} has a fragment (#…); OAuth forbids one (RFC 6749 §3.1.2)"
        )
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
    text = printable_text(value, "the scopes", SCOPES_MAX)
    return " ".join(part for part in text.replace(",", " ").split() if part)


# --- look-alike names -----------------------------------------------------------
#
# `prod`, `pr\u043ed` (a Cyrillic o), `\uff50rod` (full width), `Prod`: one name to a reader, so
# keydesk refuses a new name or label that a reader could take for an existing
# one. Two strings are confusable when one of their skeletons is equal:
#   * NFKC, case folded, then each character mapped to its confusable class
#     (Unicode's UTS #39 data): `Prod` ~ `pr\u043ed` ~ `\uff50rod`;
#   * NFKC then mapped without case folding, UTS #39's own skeleton: `PayPaI`
#     (capital I) ~ `PayPal`, which folding first would miss.
# The data comes from the confusable_homoglyphs package (MIT), which ships
# Unicode's confusables.txt as pairs; its single-character pairs are joined
# into classes, each represented by its smallest member.


def skeletons(text: str) -> frozenset[str]:
    table = confusable_classes()
    compatible = unicodedata.normalize("NFKC", text)
    folded = unicodedata.normalize("NFKC", compatible.casefold())
    return frozenset((folded.translate(table), compatible.translate(table)))


def confusable_with(text: str, existing: Iterable[str]) -> str | None:
    """The first of `existing` that a reader could take for `text` (itself
    included), or None."""
    mine = skeletons(text)
    for other in existing:
        if other == text or not mine.isdisjoint(skeletons(other)):
            return other
    return None


_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")


@cache
def confusable_classes() -> dict[int, str]:
    """Code point -> the representative of its confusable class. Loaded on
    the first check (~0.9 MB of JSON), never by a command that adds no name."""
    import json
    from importlib.resources import files

    data = files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.get(char, char) != char:
            parent[char] = parent.get(parent[char], parent[char])
            char = parent[char]
        return char

    for char, homoglyphs in json.loads(data).items():
        char = char.translate(_DIRECTION_MARKS)
        for entry in homoglyphs:
            other = entry["c"].translate(_DIRECTION_MARKS)
            if len(char) == 1 and len(other) == 1:
                a, b = root(char), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {ord(char): root(char) for char in parent}


_DURATION = re.compile(r"(\d{1,6})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Longer spans are typos (999999w would overflow a date): a century is plenty
# for an expiry, an overlap, a policy or a look back.
SPAN_MAX_DAYS = 36_500


def _span(match: re.Match[str], what: str) -> timedelta:
    span = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if span > timedelta(days=SPAN_MAX_DAYS):
        raise InvalidInput(f"{what} {match.group(0)!r} is longer than {SPAN_MAX_DAYS} days")
    return span


def since(value: str, now: datetime) -> datetime:
    """A starting point: a time ago (`30m`, `12h`, `7d`, `2w`) or a date or
    time (`2026-11-01`, `2026-11-01T09:00`, local time unless it says)."""
    text = printable_text(value, "--since", 64).lower()
    if match := _DURATION.fullmatch(text):
        return now - _span(match, "--since")
    try:
        moment = datetime.fromisoformat(text.upper()) if "t" in text else None
        if moment is None:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        return (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"--since {text!r} is neither a time ago (30m, 12h, 7d, 2w) nor a date (2026-11-01)"
        ) from None


def duration(value: str, what: str, *, zero: bool = False, least: str = "1m") -> timedelta:
    """A span typed as `30m`, `24h`, `90d` or `2w` (and `0` when `zero`);
    `least`: the smallest the caller takes, suggested for a zero span."""
    text = printable_text(value, what, 32).lower()
    if zero and text == "0":
        return timedelta(0)
    if match := _DURATION.fullmatch(text):
        span = _span(match, what)
        if span or zero:
            return span
        raise InvalidInput(f"{what} {text!r} is no time at all: give a span of at least {least}")
    examples = "0, 1h, 24h, 7d" if zero else "30m, 24h, 90d, 2w"
    raise InvalidInput(f"{what} {text!r} is not a duration ({examples})")


def days(value: str, what: str) -> int:
    """A span in whole days: `365d`, `52w` (a policy counts days)."""
    span = duration(value, what, least="1d")
    if span.seconds or span.microseconds:
        raise InvalidInput(f"{what} {value.strip()!r} must be whole days (e.g. 90d, 365d, 52w)")
    return span.days


def moment(value: str, what: str) -> datetime:
    """A date (`2027-03-01`: midnight UTC) or a time (`2027-03-01T12:00`, UTC
    unless it gives a zone): server-side keys stop at one instant for all."""
    text = printable_text(value, what, 64)
    try:
        if "t" in text.lower() or " " in text:
            parsed = datetime.fromisoformat(text.upper().replace(" ", "T"))
        else:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{what} {text!r} is neither a date (2027-03-01) nor a time (2027-03-01T12:00Z)"
        ) from None


def key_scopes(requested: Iterable[str], allowed: str, integration: str) -> str:
    """The scopes a new key asks for, each one of its integration's, in the
    integration's order; none asked: all of them."""
    offered = allowed.split()
    wanted = {s for value in requested for s in scopes(value).split()}
    if not wanted:
        return " ".join(offered)
    unknown = sorted(wanted.difference(offered))
    if unknown:
        have = " ".join(offered) if offered else "none"
        raise InvalidInput(
            f"{integration!r} has no scope {' '.join(unknown)!r} (its scopes: {have}); "
            "a key can only have scopes its integration has"
        )
    return " ".join(s for s in offered if s in wanted)
