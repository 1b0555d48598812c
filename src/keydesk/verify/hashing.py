"""argon2 off the request path: a small pool of threads (one per core), and
how long its checks took lately, to time the refusal of ids that do not exist
like a wrong secret for a real one without computing anything."""

from __future__ import annotations

import concurrent.futures
import math
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_CONCURRENT_HASHES = 2  # one per core: argon2 is CPU-bound, more only queues memory
CHECK_SAMPLES = 256  # durations of recent real checks kept to time unknown ids
MIN_CHECK_SAMPLES = 16
CHECK_SAMPLES_FRESH_SECONDS = 60.0


class HashingPool:
    """argon2 on `size` threads, first come first served (one job per public
    key at a time, see `Gates`, so first come is also round robin by key).
    Daemon threads, started on first use: pure computation, nothing to finish
    when the process exits, and a verifier nobody closed never holds it up."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[
            tuple[concurrent.futures.Future[None], Callable[[], None]] | None
        ] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        if not self._threads:
            with self._lock:
                while len(self._threads) < self._size:
                    thread = threading.Thread(target=self._work, name="keydesk-argon2", daemon=True)
                    thread.start()
                    self._threads.append(thread)
        self._jobs.put((future, job))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue  # its caller has gone
            try:
                job()
            except BaseException as error:  # delivered to whoever waits
                future.set_exception(error)
            else:
                future.set_result(None)


class CheckTimes:
    """How long real checks took lately (queue wait + argon2)."""

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=CHECK_SAMPLES)
        self._latest = -math.inf

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self._latest = time.monotonic()

    def draw(self) -> float | None:
        """A recent duration, at random; None when there are too few or they
        are stale (then the caller measures with a decoy)."""
        samples = self._samples
        if len(samples) < MIN_CHECK_SAMPLES:
            return None
        if time.monotonic() - self._latest > CHECK_SAMPLES_FRESH_SECONDS:
            return None
        try:
            return samples[secrets.randbelow(len(samples))]
        except IndexError:  # evicted between the two reads
            return samples[-1]
