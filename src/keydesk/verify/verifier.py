"""The `Verifier`: a presented key's whole check, composed of the parts in
this package.

The path of a key this process has verified before:
  parse + checksum (no I/O) → keyed digest → one indexed read → status checks.

Revocation, expiry and integration status are read for every request, by a
read that starts after the request arrived (lookups.py), so a revoke by any
process sharing the store is refused on the very next request. On SQLite
that read is of the store's data version, and of the key's row only once
the store has changed since it was last read (store_reads.py); the expiry
is checked against the clock every time."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, NoReturn

from keydesk.errors import ForbiddenNetwork, RateLimited, Unauthorized, UnauthorizedReason
from keydesk.keys import (
    ID_LENGTH,
    PRIVATE_KEY_LENGTH,
    PRIVATE_PREFIX,
    PUBLIC_PREFIX,
    PrivateKey,
    check_secret,
    parse_private_key,
)
from keydesk.limits import Allowlist, address
from keydesk.verify.bookkeeping import USAGE_FLUSH_SECONDS, Bookkeeping
from keydesk.verify.gates import MAX_WAITING_PER_KEY
from keydesk.verify.hashing import MAX_CONCURRENT_HASHES
from keydesk.verify.limits import SYNC_TIMEOUT_SECONDS, LimitCounts, LimitState
from keydesk.verify.lookups import Lookups
from keydesk.verify.refusals import RefusalLog
from keydesk.verify.secret_checks import (
    FAILED_TTL_SECONDS,
    AsyncSleep,
    SecretChecker,
    SecretChecks,
    Sleep,
)
from keydesk.verify.store_reads import KEPT_ROWS, evict_oldest, open_reads
from keydesk.verify.store_writes import WriteBatch, WriteConnections, write_batch
from keydesk.verify.stored_key import StoredKey
from keydesk.verify.usage import Source
from keydesk.verify.verified_key import VerifiedKey
from keydesk.views import IntegrationStatus, KeyStatus, key_status

if TYPE_CHECKING:
    import sqlalchemy as sa

READ_TIMEOUT_SECONDS = 1.0  # longest wait for the store before answering "unavailable"
SCOPE_PAIRS_CACHED = 10_000
FORBIDDEN_NETWORK = "forbidden_network"  # a usage outcome, as over_rate and over_quota are

_ID_START = len(PRIVATE_PREFIX)  # a private key's id, which its public key carries
_ID_END = _ID_START + ID_LENGTH

_ON: str = IntegrationStatus.CONFIGURED.value  # as a row holds it
_STATUS_REFUSAL = {
    KeyStatus.REVOKED: UnauthorizedReason.REVOKED,
    KeyStatus.EXPIRED: UnauthorizedReason.EXPIRED,
}


class Verifier:
    """Thread-safe; make one per process and share it. `store` is the
    store's engine or URL; the verifier opens connections of its own.

    The last four arguments are the collaborators a host may replace (tests
    do): the argon2 check, the waits that time an unknown id's refusal, and
    how a batch of bookkeeping reaches the store."""

    def __init__(
        self,
        store: sa.Engine | str,
        *,
        max_concurrent_hashes: int = MAX_CONCURRENT_HASHES,
        failed_ttl: float = FAILED_TTL_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_waiting_per_key: int = MAX_WAITING_PER_KEY,
        count_usage: bool = True,
        usage_flush_seconds: float = USAGE_FLUSH_SECONDS,
        check_secret: SecretChecker = check_secret,
        sleep: Sleep = time.sleep,
        async_sleep: AsyncSleep = asyncio.sleep,
        write_batch: WriteBatch = write_batch,
    ) -> None:
        reads = open_reads(store, read_timeout)
        self._lookups = Lookups(reads, read_timeout)
        self._bookkeeping = Bookkeeping(
            WriteConnections(reads),
            count_usage=count_usage,
            usage_flush_seconds=usage_flush_seconds,
            write=write_batch,
        )
        self._checks = SecretChecks(
            self._bookkeeping,
            RefusalLog(),
            max_concurrent_hashes=max_concurrent_hashes,
            max_waiting_per_key=max_waiting_per_key,
            failed_ttl=failed_ttl,
            check_secret=check_secret,
            sleep=sleep,
            async_sleep=async_sleep,
        )
        self._scopes: dict[tuple[str, str], tuple[str, ...]] = {}
        self._allowlists: dict[str, Allowlist] = {}
        self._sources: dict[str, Source | None] = {}  # sources seen, parsed once
        # Per key, the row and networks of its last answer, and that answer without limits.
        self._identities: dict[int, tuple[StoredKey, tuple[str, ...], VerifiedKey]] = {}
        self._limits = LimitCounts(WriteConnections(reads, SYNC_TIMEOUT_SECONDS))

    def verify(self, presented: str | PrivateKey | None, source: str | None = None) -> VerifiedKey:
        """The key's identity, or `Unauthorized` with the exact reason
        (`StoreUnavailable` when the store cannot answer in time,
        `TooManyAttempts` when this public key is being hammered).

        `source`: the address the request came from (keydesk.limits.
        client_address); a key with an allowlist refuses any other, or one
        that is no address, with `ForbiddenNetwork` before its secret is
        checked. None: no network to check (a local caller); `RateLimited`
        over the key's rate or quota."""
        digest = None
        if type(presented) is str and len(presented) == PRIVATE_KEY_LENGTH:
            digest = self._checks.digest_text(presented)
            if (warm := self._warm(presented, digest, source)) is not None:
                return warm
        key, digest = self._parse(presented, digest)
        self._refuse_remembered(key, digest, source)
        row = self._lookups.get(key.public_key)
        where, networks = self._screen(key, row, source)
        if not self._checks.known(digest, row):
            self._checks.check(key, digest, row)
        row = self._status(key, digest, row)
        while (limits := self._admit(row)) is None:
            self._limits.sync(row.id)
        return self._accept(key, row, limits, where, networks)

    def answered(self, presented: str, source: str | None = None) -> VerifiedKey | None:
        """What `verify` answers a key it has answered before, when nothing
        it checks can have changed (`_warm`): from memory, with no read, no
        hash and no wait, so an event loop may ask it inline. None: ask
        `verify` or `verify_async`, which answer every other key and every
        refusal."""
        if len(presented) != PRIVATE_KEY_LENGTH:
            return None
        return self._warm(presented, self._checks.digest_text(presented), source)

    async def verify_async(
        self, presented: str | PrivateKey | None, source: str | None = None
    ) -> VerifiedKey:
        """The same, for an event loop, which never waits for the store or for
        argon2: the parse runs inline, the read and the hashing on threads."""
        digest = None
        if type(presented) is str and len(presented) == PRIVATE_KEY_LENGTH:
            digest = self._checks.digest_text(presented)
            if (warm := self._warm(presented, digest, source)) is not None:
                return warm
        key, digest = self._parse(presented, digest)
        self._refuse_remembered(key, digest, source)
        row = await self._lookups.get_async(key.public_key)
        where, networks = self._screen(key, row, source)
        if not self._checks.known(digest, row):
            await self._checks.check_async(key, digest, row)
        row = self._status(key, digest, row)
        while (limits := self._admit(row)) is None:
            await asyncio.to_thread(self._limits.sync, row.id)
        return self._accept(key, row, limits, where, networks)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued last-used, usage, source and limit counts are in the store."""
        self._limits.flush()
        self._bookkeeping.flush(timeout)

    def sizes(self) -> dict[str, int]:
        """Cache and queue sizes and refused writes (`keydesk serve --metrics`)."""
        return {**self._checks.sizes(), **self._bookkeeping.sizes()}

    def close(self) -> None:
        self._limits.close()
        self._bookkeeping.close()
        self._checks.close()
        self._lookups.close()

    def _warm(self, presented: str, digest: bytes, source: str | None) -> VerifiedKey | None:
        """The answer the whole path below would give a key it has answered
        before, when nothing it checks can have changed: this very text passed
        argon2 for the row (so it parses), the row is kept as read (the store
        unchanged since: `Lookups.kept`), the source was seen before, and its
        last answer was made from this row. Its status (revoked, expired,
        integration off) is checked all the same, its allowlist too (from
        elsewhere: the whole path, which refuses it), and a limited key is
        counted and answered with its limits' states. None: take the whole
        path."""
        key_id = self._checks.passed(digest)
        if key_id is None:
            return None
        row = self._lookups.kept(PUBLIC_PREFIX + presented[_ID_START:_ID_END])
        if row is None or row.id != key_id:
            return None
        # Active at a glance (three fields, inline), else asked in full: it may expire later.
        plain = row.revoked_at is None and row.expires_at is None and row.integration_status == _ON
        if not plain and self._refusal(row) is not None:
            return None
        kept = self._identities.get(key_id)
        if kept is None or kept[0] is not row:
            return None
        try:
            where = None if source is None else self._sources[source]
        except KeyError:
            return None
        answer = kept[2]
        allow_from = row.allow_from
        if allow_from and source is not None and not self._allowlist(allow_from).allows(source):
            return None  # the whole path refuses it (403), and counts the refusal
        if row.rate_limit is not None or row.quota is not None:
            limits = self._admit(row)
            if limits is None:  # a sync first: the whole path waits for it
                return None
            answer = answer.with_limits(limits)
        self._bookkeeping.touch(row)
        self._bookkeeping.accepted(key_id, where)
        return answer

    def _parse(
        self, presented: str | PrivateKey | None, digest: bytes | None
    ) -> tuple[PrivateKey, bytes]:
        """The key and its digest (`digest`: of `presented`, when already made)."""
        if presented is None or (isinstance(presented, str) and not presented.strip()):
            raise Unauthorized(UnauthorizedReason.MISSING)
        if digest is not None:
            assert isinstance(presented, str)
            key = PrivateKey(presented)
            if self._checks.verified(digest):  # this very text passed the parse before
                return key, digest
        key = parse_private_key(presented)  # shape and checksum: no I/O
        if digest is None or key.reveal() != presented:  # the digest of the text as parsed
            digest = self._checks.digest(key)
        return key, digest

    def _refuse_remembered(self, key: PrivateKey, digest: bytes, source: str | None) -> None:
        """A refusal of the last minute again, before any read (a flood of one
        wrong secret or forged key costs no I/O, alike): from outside the
        key's networks as they were then, 403, as the whole path says."""
        failure = self._checks.remembered(digest)
        if failure is None:
            return
        allow_from, key_id = failure.allow_from, failure.key_id
        if allow_from and source is not None and not self._allowlist(allow_from).allows(source):
            self._forbid(key, key_id)
        self._checks.refuse(key, digest, failure.reason, remember=False, key_id=key_id)

    def _refusal(self, row: StoredKey) -> UnauthorizedReason | None:
        """Why the row's key is refused whatever the secret: revoked,
        expired, integration off (None: it is active)."""
        status = key_status(row.revoked_at, row.expires_at)  # the clock read only to expire
        if status is not KeyStatus.ACTIVE:
            return _STATUS_REFUSAL[status]
        if row.integration_status != IntegrationStatus.CONFIGURED:
            return UnauthorizedReason.INTEGRATION_DISABLED
        return None

    def _screen(
        self, key: PrivateKey, row: StoredKey | None, source: str | None
    ) -> tuple[Source | None, tuple[str, ...]]:
        """The request's address and the key's networks (looked up once per
        request); `ForbiddenNetwork` from outside an active key's allowlist,
        before any hash work (a key refused whatever the secret goes on to
        its 401, as before)."""
        allowlist = self._allowlist(row.allow_from) if row is not None and row.allow_from else None
        networks = () if allowlist is None else allowlist.networks
        if source is None:
            return None, networks
        try:
            where = self._sources[source]
        except KeyError:
            if len(self._sources) > SCOPE_PAIRS_CACHED:
                self._sources.clear()
            found = address(source)
            where = self._sources[source] = None if found is None else Source.of(found)
        if allowlist is None or row is None or allowlist.allows(source):
            return where, networks
        if self._refusal(row) is None:
            self._forbid(key, row.id)
        return where, networks

    def _forbid(self, key: PrivateKey, key_id: int | None) -> NoReturn:
        """From outside the key's networks: 403, counted as the key's usage."""
        if key_id is not None:
            self._bookkeeping.count(key_id, FORBIDDEN_NETWORK)
        raise ForbiddenNetwork(key.public_key)

    def _status(self, key: PrivateKey, digest: bytes, row: StoredKey | None) -> StoredKey:
        """Status checks on the row just read: revoked, expired, integration off."""
        assert row is not None
        reason = self._refusal(row)
        if reason is not None:
            self._checks.refuse(key, digest, reason, remember=False, key_id=row.id)
        return row

    def _admit(self, row: StoredKey) -> tuple[LimitState, ...] | None:
        """The key's limits once this request is counted (None: sync first)."""
        if row.rate_limit is None and row.quota is None:
            return ()
        try:
            return self._limits.admit(row.id, row.rate_limit, row.quota)
        except RateLimited as refused:
            self._bookkeeping.count(row.id, f"over_{refused.limit}")
            raise RateLimited(
                row.public_key, refused.limit, refused.retry_after, refused.policies
            ) from None

    def _allowlist(self, text: str) -> Allowlist:
        allowlist = self._allowlists.get(text)
        if allowlist is None:
            if len(self._allowlists) > SCOPE_PAIRS_CACHED:
                self._allowlists.clear()
            allowlist = self._allowlists[text] = Allowlist(text)
        return allowlist

    def _accept(
        self,
        key: PrivateKey,
        row: StoredKey,
        limits: tuple[LimitState, ...],
        where: Source | None,
        networks: tuple[str, ...],
    ) -> VerifiedKey:
        self._bookkeeping.touch(row)
        self._bookkeeping.accepted(row.id, where)
        kept = self._identities.get(row.id)
        if kept is not None and kept[1] == networks and kept[0] == row:
            if kept[0] is not row:  # read again, unchanged: `_warm` knows it by this one
                self._identities[row.id] = (row, networks, kept[2])
            identity = kept[2]  # the same row as last time: the same answer
        else:
            if len(self._identities) >= KEPT_ROWS:  # one a kept row: never a cliff of misses
                evict_oldest(self._identities, 1 + KEPT_ROWS // 10)
            identity = self._identity(row, networks)
            self._identities[row.id] = (row, networks, identity)
        return identity.with_limits(limits) if limits else identity  # counts change every time

    def _identity(self, row: StoredKey, networks: tuple[str, ...]) -> VerifiedKey:
        """The answer without limits' states (`VerifiedKey.with_limits` adds them)."""
        return VerifiedKey(
            row.public_key,
            row.label,
            row.integration_id,
            row.integration,
            row.workspace_id,
            row.workspace,
            self._granted(row.scopes, row.integration_scopes),
            networks,
        )

    def _granted(self, scopes: str, offered: str) -> tuple[str, ...]:
        """The key's scopes that its integration still has (cached: a few
        distinct pairs serve every request)."""
        pair = (scopes, offered)
        granted = self._scopes.get(pair)
        if granted is None:
            have = offered.split()
            granted = tuple(scope for scope in scopes.split() if scope in have)
            if len(self._scopes) > SCOPE_PAIRS_CACHED:
                self._scopes.clear()
            self._scopes[pair] = granted
        return granted
