"""Concurrent lookups of presented keys, coalesced into one read.

Requests waiting at the same moment share one query (`public_key IN (…)` /
`= ANY(…)`): on PostgreSQL that is one round trip for all of them instead of
one each. A request only joins a query that has not started yet, so its read
still starts after it arrived. Reads run on a thread of their own for an
event loop (which never waits for the network), inline for a thread when
nothing else is reading, and inline on an event loop too for SQLite. Every wait is bounded (the read timeout: busy
timeout on SQLite, statement and lock timeouts on PostgreSQL, and a deadline
on the waiting request); past it, or with the store gone, the answer is
`StoreUnavailable` (HTTP 503), with one log line when the store goes away and
one when it is back."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import overload

from keydesk.errors import StoreUnavailable
from keydesk.verify.log import log
from keydesk.verify.store_reads import KeyReads, SqliteReads, first_line
from keydesk.verify.stored_key import StoredKey

UNAVAILABLE_LOG_EVERY_SECONDS = 30.0


class Lookups:
    """Concurrent lookups coalesced into one read (see the module docstring)."""

    def __init__(self, reads: KeyReads, timeout: float) -> None:
        self._reads = reads
        # SQLite's reads are tried on the event loop: they never wait on the network.
        self._sqlite = reads if isinstance(reads, SqliteReads) else None
        self._timeout = timeout
        self._health = _Health()
        # The request path takes the lock itself (a C call); the condition
        # over it wakes the reader thread.
        self._lock = threading.Lock()
        self._state = threading.Condition(self._lock)
        self._pending: list[_Request] = []
        self._reading = False
        self._closed = False
        self._thread: threading.Thread | None = None
        # Per event loop, the lookups asked for during its current iteration:
        # handed to the reader together, with one wake-up and one deadline.
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Request]] = {}

    def kept(self, public_key: str) -> StoredKey | None:
        """The key's row as read before, when the store has not changed since
        (SQLite: `SqliteReads.kept_row`); None: read it."""
        if self._sqlite is None:
            return None
        kept = self._sqlite.kept_row(public_key)
        if kept is not None:
            self._health.answered()
        return kept

    def get(self, public_key: str) -> StoredKey | None:
        """For a thread: reads inline when nothing else is reading, else joins
        the next coalesced read."""
        kept = self.kept(public_key)
        if kept is not None:
            return kept
        with self._state:
            inline = not self._reading and not self._pending
            if inline:
                self._reading = True
            else:
                request = _Request(public_key)
                self._enqueue([request])
        if inline:
            return self._read_inline(public_key)
        assert request.done is not None
        if not request.done.acquire(timeout=self._timeout):
            raise self._late()
        if isinstance(request.value, StoreUnavailable):
            raise request.value
        return request.value

    async def get_async(self, public_key: str) -> StoredKey | None:
        """For an event loop: the read runs on the reader thread, or inline
        on SQLite when nothing else is reading (a read in WAL mode waits for
        no writer, and the hand-off to a thread cost more than the read)."""
        if self._sqlite is not None:
            kept = self.kept(public_key)  # nearly every request
            if kept is not None:
                return kept
            with self._lock:
                inline = not (self._reading or self._pending or self._closed)
                if inline:
                    self._reading = True
            if inline:
                try:
                    found = self._fetch([public_key], 1, at_once=True)
                finally:
                    self._done_reading()
                if found is not None:
                    return found.get(public_key)
            # Locked right now (or not opened yet): the reader thread waits.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredKey | None] = loop.create_future()
        gathering = self._gathering.get(loop)
        if gathering is None:
            gathering = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathering.append(_Request(public_key, loop, future))
        return await future

    def _read_inline(self, public_key: str) -> StoredKey | None:  # with `_reading` taken
        try:
            return self._fetch([public_key], 1).get(public_key)
        finally:
            self._done_reading()

    def _done_reading(self) -> None:
        with self._lock:
            self._reading = False
            if self._pending:
                self._state.notify()

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._state.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._reads.close()

    def _late(self) -> StoreUnavailable:
        return StoreUnavailable(f"the key store did not answer within {self._timeout:g} s")

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        requests = self._gathering.pop(loop)
        deadline = loop.call_later(self._timeout, self._expire, requests)
        for request in requests:
            request.deadline = deadline
        try:
            with self._state:
                self._enqueue(requests)
        except StoreUnavailable as error:
            for request in requests:
                request.value = StoreUnavailable(error.message)
            _settle(requests)

    def _expire(self, requests: list[_Request]) -> None:
        for request in requests:
            assert request.future is not None
            if not request.future.done():
                request.future.set_exception(self._late())

    def _enqueue(self, requests: list[_Request]) -> None:  # with self._state held
        if self._closed:
            raise StoreUnavailable("the verifier is closed")
        self._pending.extend(requests)
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="keydesk-reads", daemon=True)
            self._thread.start()
        self._state.notify()

    @overload
    def _fetch(self, public_keys: list[str], requests: int) -> dict[str, StoredKey]: ...
    @overload
    def _fetch(
        self, public_keys: list[str], requests: int, *, at_once: bool
    ) -> dict[str, StoredKey] | None: ...
    def _fetch(
        self, public_keys: list[str], requests: int, *, at_once: bool = False
    ) -> dict[str, StoredKey] | None:
        """The rows read (`at_once`: None if SQLite would have to wait)."""
        try:
            if at_once:
                assert self._sqlite is not None
                found = self._sqlite.fetch_at_once(public_keys)
                if found is None:
                    return None
            else:
                found = self._reads.fetch(public_keys)
        except StoreUnavailable as error:
            self._health.failed(error.message, requests)
            raise
        except Exception as error:  # unforeseen: still a 503 and one line, never a 500
            self._health.failed(first_line(error), requests)
            raise StoreUnavailable("the key store failed to answer") from None
        self._health.answered()
        return found

    def _serve(self) -> None:
        while True:
            with self._state:
                while not self._closed and (self._reading or not self._pending):
                    self._state.wait()
                if self._closed and not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._reading = True
            # Every request in `batch` arrived before this read starts.
            outcome: dict[str, StoredKey] | StoreUnavailable
            try:
                outcome = self._fetch(list({r.public_key: None for r in batch}), len(batch))
            except StoreUnavailable as error:
                outcome = error
            finally:
                with self._state:
                    self._reading = False
            _deliver(batch, outcome)


class _Health:
    """One log line when the store goes away, a reminder now and then while
    it stays away, one line when it is back. Never a traceback."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_line = 0.0
        self._refused = 0

    def failed(self, detail: str, requests: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._refused += requests
            if self._down_since is None:
                self._down_since = self._last_line = now
                log.warning("key store unavailable, answering 503 until it is back: %s", detail)
            elif now - self._last_line >= UNAVAILABLE_LOG_EVERY_SECONDS:
                self._last_line = now
                log.warning(
                    "key store still unavailable (%d requests answered 503 so far): %s",
                    self._refused, detail,
                )  # fmt: skip

    def answered(self) -> None:
        if self._down_since is None:  # the usual case: no lock
            return
        with self._lock:
            if self._down_since is None:
                return
            log.warning(
                "key store available again after %.1f s (%d requests answered 503)",
                time.monotonic() - self._down_since, self._refused,
            )  # fmt: skip
            self._down_since = None
            self._refused = 0


class _Request:
    """One lookup waiting for a read, on a thread (`done`) or an event loop
    (`future`, with the `deadline` of the requests it was handed over with)."""

    __slots__ = ("deadline", "done", "future", "loop", "public_key", "value")

    def __init__(
        self,
        public_key: str,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[StoredKey | None] | None = None,
    ) -> None:
        self.public_key = public_key
        self.loop = loop
        self.future = future
        self.deadline: asyncio.TimerHandle | None = None
        self.done: threading.Lock | None = None
        self.value: StoredKey | StoreUnavailable | None = None
        if loop is None:
            self.done = threading.Lock()
            self.done.acquire()


def _deliver(batch: list[_Request], outcome: dict[str, StoredKey] | StoreUnavailable) -> None:
    settle: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
    for request in batch:
        request.value = (
            StoreUnavailable(outcome.message)  # one exception object per waiter
            if isinstance(outcome, StoreUnavailable)
            else outcome.get(request.public_key)
        )
        if request.loop is None:
            assert request.done is not None
            request.done.release()
        else:
            settle.setdefault(request.loop, []).append(request)
    for loop, requests in settle.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, requests)


def _settle(requests: list[_Request]) -> None:
    for request in requests:
        if request.deadline is not None:
            request.deadline.cancel()
        future = request.future
        assert future is not None
        if future.done():  # timed out or cancelled meanwhile
            continue
        if isinstance(request.value, StoreUnavailable):
            future.set_exception(request.value)
        else:
            future.set_result(request.value)
