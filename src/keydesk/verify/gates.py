"""At most one unverified check at a time per presented public key, whether
or not it exists; a few more attempts with other secrets wait their turn,
beyond that `TooManyAttempts` (HTTP 429). Attempts against one real key
therefore use at most one hashing thread, and the hashing queue holds at most
one job per key: a key seen for the first time waits behind one job per key
being attacked, not behind the attack."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable

from keydesk.errors import TooManyAttempts

MAX_WAITING_PER_KEY = 8  # attempts with other secrets queued behind one check of a key
RETRY_AFTER_SECONDS = 1


class _Gate:
    """The attempts of one public key: which secrets (by digest) hold or
    wait for the gate, and who waits, in order."""

    __slots__ = ("digests", "waiting")

    def __init__(self, digest: bytes) -> None:
        self.digests: dict[bytes, int] = {digest: 1}
        self.waiting: deque[tuple[bytes, Callable[[], bool]]] = deque()


class Gates:
    """One gate per public key being checked, and a bounded number of other
    secrets waiting behind it (the same rule for ids that do not exist, so
    the rule itself reveals nothing). Attempts with the same secret do not
    count: a client's concurrent first requests wait for the one check and
    then find its result cached. Whoever holds the gate calls `leave`."""

    def __init__(self, max_waiting: int) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, _Gate] = {}
        self._max_waiting = max_waiting

    def hold(self, public_key: str, digest: bytes) -> None:
        """For a thread: returns once the caller holds the gate."""
        turn = threading.Lock()
        turn.acquire()

        def wake() -> bool:
            turn.release()
            return True

        if not self.enter(public_key, digest, wake):
            turn.acquire()

    async def hold_async(self, public_key: str, digest: bytes) -> None:
        """For an event loop: returns once the caller holds the gate; a
        caller cancelled meanwhile passes the gate on."""
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        if self.enter(public_key, digest, self._async_wake(loop, turn, public_key, digest)):
            return
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given the gate, then cancelled
                self.leave(public_key, digest)
            raise

    def enter(self, public_key: str, digest: bytes, wake: Callable[[], bool]) -> bool:
        """True: the caller holds the gate. False: `wake()` is called when it
        does (`wake` returns False if its caller has gone)."""
        with self._lock:
            gate = self._gates.get(public_key)
            if gate is None:
                self._gates[public_key] = _Gate(digest)
                return True
            count = gate.digests.get(digest, 0)
            if not count and len(gate.digests) > self._max_waiting:
                raise TooManyAttempts(
                    "too many attempts with this key at once; retry in a moment",
                    RETRY_AFTER_SECONDS,
                )
            gate.digests[digest] = count + 1
            gate.waiting.append((digest, wake))
            return False

    def leave(self, public_key: str, digest: bytes) -> None:
        """The holder (with `digest`) is done: the next waiter holds the gate."""
        while True:
            with self._lock:
                gate = self._gates[public_key]
                left = gate.digests[digest] - 1
                if left:
                    gate.digests[digest] = left
                else:
                    del gate.digests[digest]
                if not gate.waiting:
                    del self._gates[public_key]
                    return
                digest, wake = gate.waiting.popleft()
            if wake():  # handed over; the gate stays held
                return
            # that waiter has gone: it leaves at once, and the next is woken

    def _async_wake(
        self,
        loop: asyncio.AbstractEventLoop,
        turn: asyncio.Future[None],
        public_key: str,
        digest: bytes,
    ) -> Callable[[], bool]:
        def grant() -> None:
            if turn.cancelled():  # its caller has gone: pass the gate on
                self.leave(public_key, digest)
            else:
                turn.set_result(None)

        def wake() -> bool:
            try:
                loop.call_soon_threadsafe(grant)
            except RuntimeError:  # that loop is closed
                return False
            return True

        return wake
