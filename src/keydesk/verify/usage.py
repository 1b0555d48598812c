"""Usage counts: presentations per key, hour and outcome, added up in memory."""

from __future__ import annotations

import threading
import time

from keydesk.limits import Address, source_network
from keydesk.views.usage import usage_hour

USAGE_BACKLOG_MAX = 100_000  # counts kept for a retry while the store refuses writes
# Addresses a key's hour keeps one by one; beyond, a new one is counted under
# its /24 or /48 (what a busy key's page can show, and a store can hold).
SOURCES_PER_HOUR = 32
SOURCE = "@"  # an outcome starting with it is a source: key_source, not key_usage

UsageCounts = dict[tuple[int, int, str], int]  # (key id, hour, outcome or @source) -> count


class UsageCounter:
    """The request path does a dict update under a lock, never a write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: UsageCounts = {}
        self._sources: dict[tuple[int, int], set[str]] = {}  # this hour's, per key

    def add_source(self, key_id: int, source: Address) -> bool:
        """Count where an accepted request came from (with the usage counts);
        True when it starts a new batch."""
        hour = usage_hour(time.time())
        text = str(source)
        with self._lock:
            if len(self._sources) > 10_000 or any(h != hour for _, h in self._sources):
                self._sources = {k: v for k, v in self._sources.items() if k[1] == hour}
            seen = self._sources.setdefault((key_id, hour), set())
            if text not in seen:
                if len(seen) < SOURCES_PER_HOUR:
                    seen.add(text)
                else:
                    text = source_network(source)
            entry = (key_id, hour, SOURCE + text)
            started = not self._counts
            self._counts[entry] = self._counts.get(entry, 0) + 1
        return started

    def add(self, key_id: int, outcome: str) -> bool:
        """Count one; True when it starts a new batch (the writer is told)."""
        entry = (key_id, usage_hour(time.time()), outcome)
        with self._lock:
            counts = self._counts
            started = not counts
            counts[entry] = counts.get(entry, 0) + 1
        return started

    def __len__(self) -> int:
        """Counts waiting to be written (one per key, hour and outcome)."""
        return len(self._counts)

    def take(self) -> UsageCounts:
        with self._lock:
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
