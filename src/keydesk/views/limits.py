"""A key's limits and networks as views show them (keydesk.limits has the rules)."""

from __future__ import annotations

from dataclasses import dataclass

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
