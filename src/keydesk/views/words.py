"""The clock and how views put times and counts in words, the same in every shell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def stop_time(moment: datetime) -> str:
    """When a key stops working, as every shell shows it: UTC to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 file`, `2 files`, `1,204 keys`: a count as a sentence says it
    (`plural` for a noun not made plural by an s: `2 earlier expiries`)."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} {plural or noun + 's'}"


def in_words(delta: timedelta) -> str:
    """A span as a person says it: `3 days`, `5 hours`, `12 minutes`, in its
    largest whole unit, rounded to the nearest: every "N days left" says it
    (one wording everywhere), and a key made for 90 days a moment ago has
    90 days left, not 89 (cut down, 89 days 23:59 read as 89)."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return counted((seconds + size // 2) // size, unit)
    return "less than a minute"
