"""Usage counts: presentations per key, hour and outcome, added up in memory."""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

from keydesk.limits import Address, source_network
from keydesk.views.usage import ACCEPTED, usage_hour

USAGE_BACKLOG_MAX = 100_000  # counts kept for a retry while the store refuses writes
# Addresses a key's hour keeps one by one; beyond, a new one is counted under
# its /24 or /48 (what a busy key's page can show, and a store can hold).
SOURCES_PER_HOUR = 32
ENTRIES_KEPT = 100_000  # (key, source) pairs counted with one look-up, per hour
SOURCE = "@"  # an outcome starting with it is a source: key_source, not key_usage

UsageCounts = dict[tuple[int, int, str], int]  # (key id, hour, outcome or @source) -> count


class Source(NamedTuple):
    """Where a request came from, and how usage counts name it (`@203.0.113.7`)."""

    address: Address
    text: str

    @classmethod
    def of(cls, address: Address) -> Source:
        return cls(address, SOURCE + str(address))


class UsageCounter:
    """The request path does a dict update under a lock, never a write.
    This hour's accepted requests are counted per key and per key and
    source (the tuples of `UsageCounts` made only when they are taken, or
    when the hour turns): the count runs on every accepted request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: UsageCounts = {}  # refusals, and hours gone by
        self._hour = -1  # the hour of the three below
        self._unplaced: dict[int, int] = {}  # accepted from no known address, per key
        self._placed: dict[tuple[int, str], int] = {}  # accepted, per key and source
        self._sources: dict[int, set[str]] = {}  # addresses kept one by one, per key
        # This hour's (key, source) → its entry in `_placed`: a source seen
        # before is counted with one look-up.
        self._entries: dict[tuple[int, str], tuple[int, str]] = {}

    def add_accepted(self, key_id: int, source: Source | None) -> bool:
        """Count one accepted request, and where it came from (None: not
        known); True when it starts a new batch."""
        hour = int(time.time()) // 3600  # usage_hour, inline
        with self._lock:
            placed = self._placed
            if source is not None and hour == self._hour:  # nearly every request
                entry = self._entries.get((key_id, source.text))
                if entry is not None:
                    started = not (placed or self._counts or self._unplaced)
                    placed[entry] = placed.get(entry, 0) + 1
                    return started
            if hour != self._hour or len(self._sources) > 10_000:
                self._fold()
                self._hour, self._sources, self._entries = hour, {}, {}  # a new hour counts anew
            started = not (self._counts or self._unplaced or self._placed)
            if source is None:
                self._unplaced[key_id] = self._unplaced.get(key_id, 0) + 1
                return started
            seen = self._sources.get(key_id)
            if seen is None:
                seen = self._sources[key_id] = set()
            text = source.text
            if text not in seen:
                if len(seen) < SOURCES_PER_HOUR:
                    seen.add(text)
                else:
                    text = SOURCE + source_network(source.address)
            if len(self._entries) >= ENTRIES_KEPT:  # a flood of addresses: start over
                self._entries.clear()
            entry = self._entries[(key_id, source.text)] = (key_id, text)
            self._placed[entry] = self._placed.get(entry, 0) + 1
        return started

    def _fold(self) -> None:  # with the lock held
        """This hour's accepted counts into `_counts`."""
        hour, counts = self._hour, self._counts
        for key_id, count in self._unplaced.items():
            accepted = (key_id, hour, ACCEPTED)
            counts[accepted] = counts.get(accepted, 0) + count
        for (key_id, text), count in self._placed.items():
            accepted, source = (key_id, hour, ACCEPTED), (key_id, hour, text)
            counts[accepted] = counts.get(accepted, 0) + count
            counts[source] = counts.get(source, 0) + count
        self._unplaced, self._placed = {}, {}

    def add(self, key_id: int, outcome: str) -> bool:
        """Count one; True when it starts a new batch (the writer is told)."""
        entry = (key_id, usage_hour(time.time()), outcome)
        with self._lock:
            counts = self._counts
            started = not counts
            counts[entry] = counts.get(entry, 0) + 1
        return started

    def __len__(self) -> int:
        """Counts waiting to be written (about one per key, hour and outcome)."""
        return len(self._counts) + len(self._unplaced) + len(self._placed)

    def take(self) -> UsageCounts:
        with self._lock:
            self._fold()
            counts, self._counts = self._counts, {}
        return counts

    def put_back(self, counts: UsageCounts) -> None:
        """Counts a write could not store, kept for the next one (up to a
        bound: a store refusing writes for long loses the oldest)."""
        with self._lock:
            for entry, count in counts.items():
                if len(self._counts) >= USAGE_BACKLOG_MAX:
                    break
                self._counts[entry] = self._counts.get(entry, 0) + count
