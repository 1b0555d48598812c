"""Verifying presented API keys, at request speed.

The hot path for a key this process has verified before:
  parse + checksum (no I/O) → keyed digest → one indexed read → status checks.
argon2 runs only the first time a given key is seen (or after a failure has
been forgotten), under a concurrency cap.

What is cached, and what is not:
  * verified keys: HMAC-SHA256(per-process random key, private key) → key row id.
    Never the plaintext; the digest is useless outside this process.
  * recent failures: the same digest → reason, for a short while, so hammering
    one wrong key costs no argon2.
  * nothing about revocation, expiry or integration status: those are read
    from the store on every call, so a revoke by any process sharing the store
    is refused on the very next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import queue
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import SQLModel

import keydesk.models  # noqa: F401  (defines the tables read here)
from keydesk.errors import StoreUnavailable, Unauthorized, UnauthorizedReason
from keydesk.keys import PrivateKey, check_secret, parse_private_key
from keydesk.store import create_engine
from keydesk.views import IntegrationStatus, KeyStatus, key_status, utcnow

VERIFIED_CACHE_SIZE = 10_000
FAILED_CACHE_SIZE = 10_000
FAILED_TTL_SECONDS = 60.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_CONCURRENT_HASHES = 2  # one per core: argon2 is CPU-bound, more only queues memory


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """Who a valid key is. Safe to log and to put in a request scope."""

    public_key: str
    label: str
    integration_id: int
    integration: str
    workspace_id: int
    workspace: str

    def as_dict(self) -> dict[str, str | int]:
        return {
            "public_key": self.public_key,
            "label": self.label,
            "integration_id": self.integration_id,
            "integration": self.integration,
            "workspace_id": self.workspace_id,
            "workspace": self.workspace,
        }


class KeyRow(NamedTuple):
    """What one indexed read returns about a presented key (the hash included:
    never log or show a KeyRow)."""

    id: int
    secret_hash: str
    label: str
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    integration_id: int
    integration: str
    integration_status: str
    workspace_id: int
    workspace: str

    def __repr__(self) -> str:
        return f"KeyRow(id={self.id})"


_STATUS_REFUSAL = {
    KeyStatus.REVOKED: UnauthorizedReason.REVOKED,
    KeyStatus.EXPIRED: UnauthorizedReason.EXPIRED,
}

_api_key = SQLModel.metadata.tables["api_key"]
_integration = SQLModel.metadata.tables["integration"]
_workspace = SQLModel.metadata.tables["workspace"]
_LOOKUP = (
    sa.select(
        _api_key.c.id,
        _api_key.c.secret_hash,
        _api_key.c.label,
        _api_key.c.revoked_at,
        _api_key.c.expires_at,
        _api_key.c.last_used_at,
        _integration.c.id,
        _integration.c.name,
        _integration.c.status,
        _workspace.c.id,
        _workspace.c.name,
    )
    .join(_integration, _integration.c.id == _api_key.c.integration_id)
    .join(_workspace, _workspace.c.id == _integration.c.workspace_id)
    .where(_api_key.c.public_key == sa.bindparam("public_key"))
)


@dataclass(slots=True)
class Attempt:
    """A presented key between its cheap checks and its argon2 check.
    Its repr leaves out the digest and the row (which holds the hash); the
    key masks itself."""

    key: PrivateKey
    digest: bytes = field(repr=False)
    row: KeyRow | None = field(repr=False)
    needs_hash: bool


class Verifier:
    """Thread-safe; make one per process and share it."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_concurrent_hashes: int = MAX_CONCURRENT_HASHES,
        failed_ttl: float = FAILED_TTL_SECONDS,
    ) -> None:
        # Its own small pool, reading in autocommit: each read sees the newest
        # committed state (no snapshot could hide a revocation), and nothing
        # here changes the connections the service's sessions use.
        # Connections are kept in a free list of our own (a deque's append and
        # pop are atomic): as many as were ever needed at once, and no pool
        # bookkeeping on the hot path.
        self._engine = create_engine(
            engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        self._idle: deque[Any] = deque()  # DB-API connections
        compiled = _LOOKUP.compile(dialect=engine.dialect)
        self._sql = compiled.string
        # qmark drivers (sqlite3) take a tuple, the others a mapping
        self._positional = bool(compiled.positiontup)
        self._digest_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._verified: OrderedDict[bytes, int] = OrderedDict()
        self._failed: OrderedDict[bytes, tuple[float, UnauthorizedReason]] = OrderedDict()
        self._failed_ttl = failed_ttl
        self._hash_slots = threading.BoundedSemaphore(max_concurrent_hashes)
        self._max_hashes = max_concurrent_hashes
        self._loop_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._writes: queue.SimpleQueue[sa.Executable | None] = queue.SimpleQueue()
        self._touched: dict[int, float] = {}
        self._writer: threading.Thread | None = None

    # -- the whole check --------------------------------------------------------

    def verify(self, presented: str | PrivateKey | None) -> VerifiedKey:
        """The key's identity, or `Unauthorized` with the reason."""
        attempt = self.prepare(presented)
        if attempt.needs_hash:
            with self._hash_slots:
                self.check_secret(attempt)
        return self.finish(attempt)

    async def verify_async(self, presented: str | PrivateKey | None) -> VerifiedKey:
        """The same, for an event loop. The cheap steps run inline (a parse and
        one indexed read); only argon2 goes to a thread, at most
        `max_concurrent_hashes` at a time, so a flood of forged keys queues
        behind the cap while keys already verified are answered at once."""
        attempt = self.prepare(presented)
        if attempt.needs_hash:
            async with self._async_slots():
                await asyncio.to_thread(self.check_secret, attempt)
        return self.finish(attempt)

    def _async_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop_slots is None or self._loop_slots[0] is not loop:
            self._loop_slots = (loop, asyncio.Semaphore(self._max_hashes))
        return self._loop_slots[1]

    # -- the same, in steps, for callers that schedule argon2 themselves --------

    def prepare(self, presented: str | PrivateKey | None) -> Attempt:
        """Everything before argon2: shape, checksum, failure cache, one read."""
        if presented is None or (isinstance(presented, str) and not presented.strip()):
            raise Unauthorized(UnauthorizedReason.MISSING)
        key = parse_private_key(presented)
        digest = hmac.digest(self._digest_key, key.reveal().encode("ascii"), hashlib.sha256)
        with self._lock:
            failure = self._failed.get(digest)
            if failure is not None:
                if failure[0] > time.monotonic():
                    raise Unauthorized(failure[1])
                del self._failed[digest]
            cached_id = self._verified.get(digest)
        row = self._lookup(key.public_key)
        needs_hash = row is None or cached_id != row.id
        return Attempt(key, digest, row, needs_hash)

    def check_secret(self, attempt: Attempt) -> None:
        """The argon2 step (the caller bounds its concurrency). An unknown id
        is verified against a decoy hash, so it costs what a wrong secret costs."""
        row = attempt.row
        check = check_secret(row.secret_hash if row else None, attempt.key)
        if row is None or not check.matches:
            reason = UnauthorizedReason.UNKNOWN if row is None else UnauthorizedReason.WRONG_SECRET
            self._remember_failure(attempt.digest, reason)
            raise Unauthorized(reason)
        if check.new_hash is not None:
            self._write(
                sa.update(_api_key)
                .where(_api_key.c.id == row.id, _api_key.c.secret_hash == row.secret_hash)
                .values(secret_hash=check.new_hash)
            )
        with self._lock:
            self._verified[attempt.digest] = row.id
            self._verified.move_to_end(attempt.digest)
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        attempt.needs_hash = False

    def finish(self, attempt: Attempt) -> VerifiedKey:
        """Status checks on the row just read: revoked, expired, integration off."""
        row = attempt.row
        assert not attempt.needs_hash and row is not None
        now = utcnow()
        status = key_status(row.revoked_at, row.expires_at, now)
        if status is not KeyStatus.ACTIVE:
            raise Unauthorized(_STATUS_REFUSAL[status])
        if row.integration_status != IntegrationStatus.CONFIGURED:
            raise Unauthorized(UnauthorizedReason.INTEGRATION_DISABLED)
        self._touch(row.id, row.last_used_at, now)
        return VerifiedKey(
            attempt.key.public_key,
            row.label,
            row.integration_id,
            row.integration,
            row.workspace_id,
            row.workspace,
        )

    # -- upkeep -------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued last-used and rehash writes are in the store."""
        if self._writer is None:
            return
        done = threading.Event()
        self._writes.put(done)  # type: ignore[arg-type]
        done.wait(timeout)

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writes.put(None)
            self._writer.join(timeout=5)
            self._writer = None
        while self._idle:
            self._idle.pop().close()
        self._engine.dispose()

    def cached_digests(self) -> list[bytes]:
        """What the caches hold (for tests and audits): digests only."""
        with self._lock:
            return [*self._verified, *self._failed]

    # -- internals -------------------------------------------------------------

    def _lookup(self, public_key: str) -> KeyRow | None:
        # The one read on the hot path goes straight to the driver with SQL
        # compiled once: SQLAlchemy's per-execute bookkeeping would cost more
        # than the read itself (bench/verify.py).
        try:
            connection = self._idle.pop()
        except IndexError:
            try:
                connection = self._engine.raw_connection()
            except sa.exc.SQLAlchemyError as exc:
                raise StoreUnavailable("the key store is unavailable") from exc
        try:
            cursor = connection.cursor()
            params = (public_key,) if self._positional else {"public_key": public_key}
            cursor.execute(self._sql, params)
            row = cursor.fetchone()
            cursor.close()
        except self._engine.dialect.loaded_dbapi.Error as exc:
            connection.invalidate()  # broken: drop it, the next call opens another
            raise StoreUnavailable("the key store is unavailable") from exc
        self._idle.append(connection)
        if row is None:
            return None
        found = KeyRow(*row)
        return found._replace(
            revoked_at=_to_datetime(found.revoked_at),
            expires_at=_to_datetime(found.expires_at),
            last_used_at=_to_datetime(found.last_used_at),
        )

    def _remember_failure(self, digest: bytes, reason: UnauthorizedReason) -> None:
        with self._lock:
            self._failed[digest] = (time.monotonic() + self._failed_ttl, reason)
            self._failed.move_to_end(digest)
            if len(self._failed) > FAILED_CACHE_SIZE:
                self._failed.popitem(last=False)

    def _touch(self, key_id: int, last_used_at: datetime | None, now: datetime) -> None:
        """Record use at most once a minute per key, off the request path."""
        if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
            return
        clock = time.monotonic()
        with self._lock:
            if clock - self._touched.get(key_id, -1e9) < LAST_USED_RESOLUTION.total_seconds():
                return
            self._touched[key_id] = clock
        self._write(
            sa.update(_api_key)
            .where(
                _api_key.c.id == key_id,
                sa.or_(
                    _api_key.c.last_used_at.is_(None),
                    _api_key.c.last_used_at < now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )

    def _write(self, statement: sa.Executable) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="keydesk-writes", daemon=True
                )
                self._writer.start()
        self._writes.put(statement)

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                with self._engine.connect() as connection:
                    connection.execute(item)
            except sa.exc.DBAPIError:
                pass  # bookkeeping only: a busy store must not fail a request


def _to_datetime(value: datetime | str | None) -> datetime | None:
    """Driver value → aware UTC (sqlite3 hands back the stored text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
