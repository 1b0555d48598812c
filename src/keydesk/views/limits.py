"""A key's limits and networks as views show them (keydesk.limits has the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from keydesk.limits import address, source_network

NOTE_MAX = 64  # an audit event's label


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """At most `rate` and `quota` requests (`600/min`; None: no limit), from
    `allow_from` (CIDRs; none: anywhere)."""

    rate: str | None = None
    quota: str | None = None
    allow_from: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.rate or self.quota or self.allow_from)

    @property
    def networks(self) -> str:
        return " ".join(self.allow_from) or "anywhere"

    def note(self) -> str:
        """The `key.limits` event's label (PostgreSQL's trigger writes the same)."""
        text = f"rate {self.rate or 'none'}, quota {self.quota or 'none'}, from {self.networks}"
        return text[:NOTE_MAX]

    def as_json(self) -> dict[str, object]:
        return {"rate": self.rate, "quota": self.quota, "allow_from": list(self.allow_from)}


NO_LIMITS = KeyLimits()


def stored_limits(rate: str | None, quota: str | None, allow_from: str | None) -> KeyLimits:
    if rate is None and quota is None and not allow_from:
        return NO_LIMITS
    return KeyLimits(rate, quota, tuple((allow_from or "").split()))


@dataclass(frozen=True, slots=True)
class SourceCount:
    """Where a key was used from lately, and whether that network is new:
    not seen in the hours read before (its /24 or /48, keydesk.limits)."""

    source: str
    count: int
    new: bool


def recent_sources(rows: Iterable[tuple[int, str, int]], recent_hour: int) -> list[SourceCount]:
    """The sources of hours from `recent_hour` on, busiest first, each
    marked new unless its network was seen in an hour before that."""
    earlier: set[str] = set()
    recent: dict[str, int] = {}
    for hour, source, count in rows:
        if hour < recent_hour:
            earlier.add(_network(source))
        else:
            recent[source] = recent.get(source, 0) + count
    ordered = sorted(recent.items(), key=lambda item: (-item[1], item[0]))
    return [SourceCount(s, n, _network(s) not in earlier) for s, n in ordered]


def _network(source: str) -> str:
    if "/" in source:
        return source
    found = address(source)
    return source if found is None else source_network(found)
