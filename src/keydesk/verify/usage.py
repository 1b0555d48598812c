"""Usage counts: presentations per key, hour and outcome, added up in memory."""

from __future__ import annotations

import threading
import time

from keydesk.views.usage import usage_hour

USAGE_BACKLOG_MAX = 100_000  # counts kept for a retry while the store refuses writes

UsageCounts = dict[tuple[int, int, str], int]  # (key id, hour, outcome) -> count


class UsageCounter:
    """The request path does a dict update under a lock, never a write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: UsageCounts = {}

    def add(self, key_id: int, outcome: str) -> bool:
        """Count one; True when it starts a new batch (the writer is told)."""
        entry = (key_id, usage_hour(time.time()), outcome)
        with self._lock:
            counts = self._counts
            started = not counts
            counts[entry] = counts.get(entry, 0) + 1
        return started

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
