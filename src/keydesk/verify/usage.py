"""Usage counts: presentations per key, hour and outcome, added up in memory."""

from __future__ import annotations

import itertools
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
    """The request path counts in memory, never writes. This hour's accepted
    requests are counted per key and per key and source (the tuples of
    `UsageCounts` made only when they are taken, or when the hour turns):
    the count runs on every accepted request. A (key, source) seen before
    this hour takes no lock: `next()` on its own `itertools.count`, one
    atomic step; so does a key counted before from no known source (an
    in-process verify), under the source text "". A count made on a counter
    just taken (a thread that found it before `take` swapped it out) is
    taken with the next batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: UsageCounts = {}  # refusals, and hours gone by
        self._hour = -1  # the hour of the three below
        # Accepted, per key and source ("": none known): a counter whose
        # `next()` is a request (and, from `_fold`, says how many came before it).
        self._placed: dict[tuple[int, str], itertools.count[int]] = {}
        self._sources: dict[int, set[str]] = {}  # addresses kept one by one, per key
        # This hour's (key, source text) → its entry in `_placed`.
        self._entries: dict[tuple[int, str], tuple[int, str]] = {}
        # The counters last taken, with their hour and what was taken of each:
        # counts made on them after that are taken next time.
        self._taken: tuple[int, dict[tuple[int, str], tuple[itertools.count[int], int]]] = (-1, {})

    def add_accepted(self, key_id: int, source: Source | None) -> bool:
        """Count one accepted request, and where it came from (None: not
        known); True when it starts a new batch."""
        hour = int(time.time()) // 3600  # usage_hour, inline
        given = "" if source is None else source.text
        if hour == self._hour:  # nearly every request: no lock
            entry = self._entries.get((key_id, given))
            counter = None if entry is None else self._placed.get(entry)
            if counter is not None:
                next(counter)
                return False  # its first count started the batch
        with self._lock:
            if hour != self._hour or len(self._sources) > 10_000:
                self._fold()
                self._hour, self._sources, self._entries = hour, {}, {}  # a new hour counts anew
            started = not (self._counts or self._placed)
            text = given
            if source is not None:
                seen = self._sources.get(key_id)
                if seen is None:
                    seen = self._sources[key_id] = set()
                if text not in seen:
                    if len(seen) < SOURCES_PER_HOUR:
                        seen.add(text)
                    else:
                        text = SOURCE + source_network(source.address)
            if len(self._entries) >= ENTRIES_KEPT:  # a flood of addresses: start over
                self._entries.clear()
            entry = self._entries[(key_id, given)] = (key_id, text)
            counter = self._placed.get(entry)
            if counter is None:
                counter = self._placed[entry] = itertools.count()
            next(counter)
        return started

    def _fold(self) -> None:  # with the lock held
        """This hour's accepted counts into `_counts`, with any counted late
        on the counters taken before."""
        counts = self._counts
        hour, taken = self._taken
        for entry, (counter, before) in taken.items():
            late = next(counter) - before - 1  # less the `next()` that took it
            if late:
                _add_placed(counts, hour, entry, late)
        hour = self._hour
        now_taken = {}
        for entry, counter in self._placed.items():
            count = next(counter)  # the requests counted on it so far
            now_taken[entry] = (counter, count)
            _add_placed(counts, hour, entry, count)
        self._taken = (hour, now_taken)
        self._placed = {}

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
        return len(self._counts) + len(self._placed)

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


def _add_placed(counts: UsageCounts, hour: int, entry: tuple[int, str], count: int) -> None:
    key_id, text = entry
    accepted = (key_id, hour, ACCEPTED)
    counts[accepted] = counts.get(accepted, 0) + count
    if text:  # "": from no known source, counted as accepted only
        source = (key_id, hour, text)
        counts[source] = counts.get(source, 0) + count
