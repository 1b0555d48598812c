"""A presented secret this process has not verified yet: argon2, and the
digest caches that spare it the next time.

What is cached: keyed BLAKE2b(per-process random key, private key) → the key
row's id for verified keys, and → the reason, for a short while, for recent
failures (hammering one wrong key costs no argon2). Never the plaintext; the
digest is useless outside this process.

argon2 (~24 µs at keydesk's parameters, keys.py) runs on the calling thread,
for an event loop too; a hash made with older, costlier parameters is checked
on a small pool of threads (hashing.py) instead. One check at a time per
public key (gates.py). Unknown ids cost no argon2: their refusal waits for a
duration drawn from the recent durations of real checks in this process
(queue wait included, so it follows the load), which is what a wrong secret
for a real id costs. The response time does not tell which ids exist, and a
flood of forged keys costs timers, not CPU. (The first few, and the first
after a quiet minute, still run a decoy argon2 to measure.)"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import NamedTuple, NoReturn

from keydesk.errors import Unauthorized, UnauthorizedReason
from keydesk.keys import PrivateKey, SecretCheck, check_secret, made_today
from keydesk.verify.bookkeeping import Bookkeeping
from keydesk.verify.gates import Gates
from keydesk.verify.hashing import CheckTimes, HashingPool
from keydesk.verify.refusals import RefusalLog
from keydesk.verify.stored_key import StoredKey

# Keys verified recently skip argon2. 100,000 of them hold ~20 MB; past that
# each verify of a forgotten key pays one 8 KiB argon2 (~0.05 ms), no cliff.
VERIFIED_CACHE_SIZE = 100_000
FAILED_CACHE_SIZE = 10_000
FAILED_TTL_SECONDS = 60.0

# The stored hash (None: an unknown id, checked against a decoy) and the key.
SecretChecker = Callable[[str | None, PrivateKey], SecretCheck]
Sleep = Callable[[float], object]
AsyncSleep = Callable[[float], Awaitable[object]]


class Failure(NamedTuple):
    """A refusal remembered for a minute, answered again with no read and
    no hash: a wrong secret keeps its key's allowlist as read then, so that
    from elsewhere it is 403 as the whole path would say."""

    reason: UnauthorizedReason
    key_id: int | None  # None: an id that matched no row
    allow_from: str | None


class SecretChecks:
    """The caches, the gates and the hashing threads, shared by every request.
    `check_secret`, `sleep` and `async_sleep` are the argon2 check and the
    waits that time an unknown id's refusal."""

    def __init__(
        self,
        bookkeeping: Bookkeeping,
        refusals: RefusalLog,
        *,
        max_concurrent_hashes: int,
        max_waiting_per_key: int,
        failed_ttl: float = FAILED_TTL_SECONDS,
        check_secret: SecretChecker = check_secret,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        self._bookkeeping = bookkeeping
        self._refusals = refusals
        self._check_secret = check_secret
        self._sleep = sleep
        self._async_sleep = async_sleep
        # Keyed once: each digest copies this state (the key's block already
        # hashed), half the cost of keying a new one.
        self._keyed = hashlib.blake2b(key=secrets.token_bytes(32), digest_size=32)
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, int] = OrderedDict()
        # digest -> (until, reason, the key's row id and allowlist when the key exists)
        self._failed: OrderedDict[bytes, tuple[float, Failure]] = OrderedDict()
        self._failed_ttl = failed_ttl
        self._gates = Gates(max_waiting_per_key)
        self._check_times = CheckTimes()
        self._hashing = HashingPool(max_concurrent_hashes)

    def digest(self, key: PrivateKey) -> bytes:
        """What the caches know `key` by."""
        return self.digest_text(key.reveal())

    def digest_text(self, text: str) -> bytes:
        """What the caches know a key of this text by."""
        # Keyed BLAKE2b is a MAC by design, and unlike hmac.digest it keeps the
        # GIL for short inputs: the event loop does not hand the interpreter
        # to the reader or hashing threads in the middle of a request.
        mac = self._keyed.copy()
        # UTF-8 (an ASCII key's bytes are the same): a text of a key's length
        # with other characters (é, a lone surrogate) then knows no key and
        # takes the whole path, which refuses it as malformed; "ascii" raised.
        mac.update(text.encode("utf-8", "surrogatepass"))
        return mac.digest()

    def verified(self, digest: bytes) -> bool:
        """A key with this digest passed argon2 (for some row)."""
        return digest in self._verified

    def passed(self, digest: bytes) -> int | None:
        """The id of the row a key with this digest passed argon2 for, unless
        it has been refused since (None: ask `known`, `refuse_if_failed`)."""
        if digest in self._failed:
            return None
        return self._verified.get(digest)

    def known(self, digest: bytes, row: StoredKey | None) -> bool:
        """This secret was verified for this row: no argon2 needed."""
        return row is not None and self._verified.get(digest) == row.id

    def remembered(self, digest: bytes) -> Failure | None:
        """How a key with this digest failed within the last minute (None:
        it did not, or longer ago)."""
        failed = self._failed.get(digest)
        if failed is None:
            return None
        if failed[0] > time.monotonic():
            return failed[1]
        with self._lock:
            self._failed.pop(digest, None)
        return None

    def refuse_if_failed(self, key: PrivateKey, digest: bytes) -> None:
        failure = self.remembered(digest)
        if failure is not None:
            self.refuse(key, digest, failure.reason, remember=False, key_id=failure.key_id)

    def refuse(
        self,
        key: PrivateKey,
        digest: bytes,
        reason: UnauthorizedReason,
        *,
        remember: bool,
        key_id: int | None = None,
        allow_from: str | None = None,
    ) -> NoReturn:
        if key_id is not None:  # a real key's refusal is its usage too (a wrong secret: a signal)
            self._bookkeeping.count(key_id, reason.value)
        if remember:
            failure = Failure(reason, key_id, allow_from)
            with self._lock:
                self._failed[digest] = (time.monotonic() + self._failed_ttl, failure)
                self._failed.move_to_end(digest)
                if len(self._failed) > FAILED_CACHE_SIZE:
                    self._failed.popitem(last=False)
        self._refusals.refused(key.public_key, reason.value)  # exact; never the secret
        raise Unauthorized(reason, key.public_key)

    def check(self, key: PrivateKey, digest: bytes, row: StoredKey | None) -> None:
        """The secret against the row (None: an unknown id), for a thread."""
        public_key = key.public_key
        self._gates.hold(public_key, digest)
        try:
            if self.known(digest, row):  # the attempt before ours had the same key
                return
            self.refuse_if_failed(key, digest)
            pause = None if row is not None else self._check_times.draw()
            if pause is not None:
                self._sleep(pause)
                self.refuse(key, digest, UnauthorizedReason.UNKNOWN, remember=True)
            # On the caller's thread: a check costs less than handing it to
            # the pool and back, and a thread that waited would only idle.
            self._hash(key, digest, row, time.perf_counter())
        finally:
            self._gates.leave(public_key, digest)

    async def check_async(self, key: PrivateKey, digest: bytes, row: StoredKey | None) -> None:
        """The same on an event loop, which never waits for a costly argon2."""
        public_key = key.public_key
        await self._gates.hold_async(public_key, digest)
        leave_here = True
        try:
            if self.known(digest, row):
                return
            self.refuse_if_failed(key, digest)
            pause = None if row is not None else self._check_times.draw()
            if pause is not None:
                await self._async_sleep(pause)
                self.refuse(key, digest, UnauthorizedReason.UNKNOWN, remember=True)
            if row is not None and made_today(row.secret_hash):
                # ~24 µs: less than handing it to a thread and back. Older
                # parameters' hashes (up to ~2 ms) still go to the threads.
                self._hash(key, digest, row, time.perf_counter())
                return
            job = self._hashing.submit(self._hash_job(key, digest, row))
            # The gate opens when the hashing ends, even if this caller has gone.
            job.add_done_callback(lambda _job: self._gates.leave(public_key, digest))
            leave_here = False
            await asyncio.wrap_future(job)
        finally:
            if leave_here:
                self._gates.leave(public_key, digest)

    def sizes(self) -> dict[str, int]:
        return {"cache:verified": len(self._verified), "cache:failed": len(self._failed)}

    def close(self) -> None:
        self._hashing.close()

    def _hash_job(
        self, key: PrivateKey, digest: bytes, row: StoredKey | None
    ) -> Callable[[], None]:
        queued_at = time.perf_counter()
        return lambda: self._hash(key, digest, row, queued_at)

    def _hash(
        self, key: PrivateKey, digest: bytes, row: StoredKey | None, queued_at: float
    ) -> None:
        """On a hashing thread or the caller's. An unknown id is checked against a decoy only
        while `CheckTimes` has too few recent samples."""
        check = self._check_secret(row.secret_hash if row else None, key)
        self._check_times.add(time.perf_counter() - queued_at)
        if row is None:
            self.refuse(key, digest, UnauthorizedReason.UNKNOWN, remember=True)
        if not check.matches:
            self.refuse(
                key, digest, UnauthorizedReason.WRONG_SECRET, remember=True, key_id=row.id,
                allow_from=row.allow_from,
            )  # fmt: skip
        if check.new_hash is not None:
            self._bookkeeping.rehash(row.id, row.secret_hash, check.new_hash, row.public_key)
        with self._lock:
            self._verified[digest] = row.id
            self._verified.move_to_end(digest)
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
