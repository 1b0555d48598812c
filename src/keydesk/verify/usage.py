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
# (key, source) pairs counted with one look-up, per hour (~200 bytes each);
# pairs beyond are counted all the same, under the lock.
ENTRIES_KEPT = 250_000
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
    in-process verify), under the source text "". The counters last the
    hour: a take reads how far each has gone since the last (they were
    swapped out at each take, and with 100,000 keys every key's next
    request took the lock again). A count made on a counter of an hour gone
    by (a thread that found it before the hour turned) is taken next time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: UsageCounts = {}  # refusals, and hours gone by
        self._hour = -1  # the hour of the four below
        # Accepted, per key and source ("": none known): a counter whose
        # `next()` is a request, or a take (which says how far it has gone).
        self._placed: dict[tuple[int, str], itertools.count[int]] = {}
        self._marks: dict[tuple[int, str], int] = {}  # what the next take reads from
        self._sources: dict[int, set[str]] = {}  # addresses kept one by one, per key
        self._entries: dict[tuple[int, str], itertools.count[int]] = {}  # (key, source text)
        # The last hour's counters, and their marks: late counts on them.
        self._gone: tuple[int, dict[tuple[int, str], tuple[itertools.count[int], int]]] = (-1, {})
        self._counted = False  # accepted requests counted since the last take

    def add_accepted(self, key_id: int, source: Source | None) -> bool:
        """Count one accepted request, and where it came from (None: not
        known); True when it starts a new batch."""
        hour = int(time.time()) // 3600  # usage_hour, inline
        given = "" if source is None else source.text
        if hour == self._hour:  # nearly every request: no lock
            counter = self._entries.get((key_id, given))
            if counter is not None:
                next(counter)
                if self._counted:
                    return False
                self._counted = True  # two threads may both say so: one more look, no loss
                return True
        with self._lock:
            if hour != self._hour or max(len(self._sources), len(self._placed)) >= ENTRIES_KEPT:
                self._turn(hour)  # a flood of networks too: memory stays bounded
            started = not (self._counts or self._counted)
            self._counted = True
            entry = (key_id, self._source_text(key_id, source))
            counter = self._placed.get(entry)
            if counter is None:
                counter = self._placed[entry] = itertools.count()
            # A flood of addresses fills it: the pairs already there stay quick.
            if len(self._entries) < ENTRIES_KEPT:
                self._entries[(key_id, given)] = counter
            next(counter)
        return started

    def _source_text(self, key_id: int, source: Source | None) -> str:  # with the lock held
        """How the count names the source: its address among the key's first
        SOURCES_PER_HOUR this hour, its network beyond ("": none known)."""
        if source is None:
            return ""
        seen = self._sources.get(key_id)
        if seen is None:
            seen = self._sources[key_id] = set()
        if source.text in seen:
            return source.text
        if len(seen) < SOURCES_PER_HOUR:
            seen.add(source.text)
            return source.text
        return SOURCE + source_network(source.address)

    def _turn(self, hour: int) -> None:  # with the lock held
        """A new hour (or too many keys or sources to keep): counted anew."""
        self._fold()
        marks = self._marks
        self._gone = (self._hour, {e: (c, marks.get(e, 0)) for e, c in self._placed.items()})
        self._hour, self._sources, self._entries, self._placed, self._marks = (
            hour, {}, {}, {}, {}
        )  # fmt: skip

    def _fold(self) -> None:  # with the lock held
        """What each counter counted since the last fold into `_counts`."""
        counts = self._counts
        hour, gone = self._gone
        for entry, (counter, mark) in gone.items():
            reached = next(counter)  # less this `next()`, which counts no request
            if reached > mark:
                _add_placed(counts, hour, entry, reached - mark)
        self._gone = (-1, {})  # a thread holding one had a moment, and no more
        marks = self._marks
        for entry, counter in self._placed.items():
            reached = next(counter)
            mark = marks.get(entry, 0)
            if reached > mark:
                _add_placed(counts, self._hour, entry, reached - mark)
            marks[entry] = reached + 1

    def add(self, key_id: int, outcome: str) -> bool:
        """Count one; True when it starts a new batch (the writer is told)."""
        entry = (key_id, usage_hour(time.time()), outcome)
        with self._lock:
            counts = self._counts
            started = not counts
            counts[entry] = counts.get(entry, 0) + 1
        return started

    def __len__(self) -> int:
        """Counts waiting to be written (about one per key, hour and outcome;
        every key counted this hour, once one has counted since the last take)."""
        return len(self._counts) + (len(self._placed) if self._counted else 0)

    def take(self) -> UsageCounts:
        with self._lock:
            self._counted = False  # first: a count made during the fold says so again
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
