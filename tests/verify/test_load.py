"""The verifier under load: forged keys cost no argon2 and are refused after a
real check's time; attempts against one public key cannot queue ahead of
others; concurrent lookups share reads, yet each read starts after its
request arrived; the event loop never waits for the store."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from keydesk.errors import StoreUnavailable, TooManyAttempts, Unauthorized, UnauthorizedReason
from keydesk.keys import SecretCheck, check_secret, checksum, generate_key_pair
from keydesk.verify import MIN_CHECK_SAMPLES, RefusalLog, Verifier
from keydesk.verify.lookups import Lookups
from keydesk.verify.store_reads import open_reads

WAIT = 30.0  # generous bound for "it happens", never a measured time


def _forged() -> str:
    """Well-formed, valid checksum, an id nobody issued."""
    return generate_key_pair().private_key.reveal()


def _with_secret(public_key: str, secret: str) -> str:
    body = f"kdsk_{public_key[5:]}_{secret}"
    return body + checksum(body)


def _secret(n: int) -> str:
    return f"{n:043d}"


def _timed(world, verifier: Verifier) -> None:
    """Enough real checks for the verifier to time unknown ids by them."""
    for n in range(MIN_CHECK_SAMPLES):
        verifier.verify(world.owner.create_key("github", f"timing-{n}").private_key)


def _wait_for(condition, what: str) -> None:
    deadline, tick = time.monotonic() + WAIT, threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        tick.wait(0.005)


class CountingCheck:
    """The real argon2 check, recording which public keys it checked."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, stored_hash, key):
        self.calls.append(key.public_key)
        return check_secret(stored_hash, key)


# -- forged keys ------------------------------------------------------------------


def test_forged_keys_cost_no_argon2_and_wait_a_real_checks_time(world):
    argon2, pauses = CountingCheck(), []
    verifier = Verifier(world.store.engine, check_secret=argon2, sleep=pauses.append)
    _timed(world, verifier)
    before = len(argon2.calls)
    for _ in range(50):
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(_forged())
        assert refused.value.reason is UnauthorizedReason.UNKNOWN
    assert len(argon2.calls) == before  # not one argon2 for 50 forged keys
    measured = set(verifier._checks._check_times._samples)
    assert len(pauses) == 50 and set(pauses) <= measured  # each a real check's duration
    verifier.close()


async def test_forged_keys_on_the_event_loop_too(world):
    argon2, pauses = CountingCheck(), []

    async def recording(seconds):
        pauses.append(seconds)
        await asyncio.sleep(0)

    verifier = Verifier(world.store.engine, check_secret=argon2, async_sleep=recording)
    await asyncio.to_thread(_timed, world, verifier)
    before = len(argon2.calls)
    results = await asyncio.gather(
        *(verifier.verify_async(_forged()) for _ in range(64)), return_exceptions=True
    )
    assert all(
        isinstance(r, Unauthorized) and r.reason is UnauthorizedReason.UNKNOWN for r in results
    )
    assert len(argon2.calls) == before
    assert len(pauses) == 64 and set(pauses) <= set(verifier._checks._check_times._samples)
    verifier.close()


# -- one check at a time per public key ----------------------------------------------------


@pytest.mark.parametrize("exists", [True, False], ids=["real-key", "unknown-id"])
def test_one_check_at_a_time_per_public_key_and_a_bounded_queue(world, exists):
    """The same rule whether the id exists or not, so it reveals nothing."""
    target = (
        world.owner.create_key("github", "attacked").key.public_key
        if exists
        else generate_key_pair().public_key
    )
    release, inside, most = threading.Event(), [0], [0]

    def blocking(*_args):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        release.wait(WAIT)
        inside[0] -= 1
        return SecretCheck(False) if exists else None

    def check(stored, key):
        return blocking() if key.public_key == target else check_secret(stored, key)

    # A real key blocks in its argon2 check, an unknown id in its timed refusal.
    blocked = {"check_secret": check} if exists else {"sleep": blocking}
    verifier = Verifier(world.store.engine, max_waiting_per_key=3, **blocked)
    _timed(world, verifier)

    outcomes: list[str] = []

    def attempt(secret: int) -> None:
        try:
            verifier.verify(_with_secret(target, _secret(secret)))
        except Unauthorized as refused:
            outcomes.append(refused.reason.value)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in (1, 2, 3, 4, 2)]
    threads[0].start()
    _wait_for(lambda: inside[0] == 1, "the first check started")
    for thread in threads[1:4]:
        thread.start()
    gate = verifier._checks._gates._gates[target]
    _wait_for(lambda: len(gate.waiting) == 3, "three others waiting")
    with pytest.raises(TooManyAttempts):  # a fourth other secret: refused at once
        verifier.verify(_with_secret(target, _secret(5)))
    threads[4].start()  # the same secret as one waiting: waits, uncounted
    _wait_for(lambda: len(gate.waiting) == 4, "a repeat waiting too")
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert most[0] == 1  # never two checks of one key at once
    reason = "wrong_secret" if exists else "unknown"
    assert outcomes == [reason] * 5
    verifier.close()


def test_a_first_seen_key_is_not_queued_behind_attempts_against_another(world):
    attacked = world.owner.create_key("github", "attacked").key.public_key
    fresh = world.owner.create_key("github", "fresh").private_key
    release = threading.Event()

    def slow_for_attacked(stored, key):
        if key.public_key == attacked:
            release.wait(WAIT)
        return check_secret(stored, key)

    # Two hashing threads, eight waiting per key.
    verifier = Verifier(world.store.engine, check_secret=slow_for_attacked)
    refusals: list[str] = []

    def attack(n: int) -> None:
        try:
            verifier.verify(_with_secret(attacked, _secret(n)))
        except Unauthorized as refused:
            refusals.append(refused.reason.value)

    attackers = [threading.Thread(target=attack, args=(n,)) for n in range(9)]
    for thread in attackers:
        thread.start()
    _wait_for(
        lambda: (
            attacked in verifier._checks._gates._gates
            and len(verifier._checks._gates._gates[attacked].waiting) == 8
        ),
        "nine attempts against one key",
    )
    done: list[str] = []
    first_seen = threading.Thread(target=lambda: done.append(verifier.verify(fresh).label))
    first_seen.start()
    first_seen.join(WAIT)
    assert done == ["fresh"]  # checked while the attack is still stuck
    assert all(thread.is_alive() for thread in attackers)
    release.set()
    for thread in attackers:
        thread.join(WAIT)
    assert refusals == ["wrong_secret"] * 9
    verifier.close()


# -- coalesced reads ------------------------------------------------------------------------


class CountingReads:
    """The store's reads, recording how many keys each read asked for."""

    def __init__(self, reads) -> None:
        self._reads = reads
        self.sizes: list[int] = []

    def fetch(self, public_keys):
        self.sizes.append(len(public_keys))
        return self._reads.fetch(public_keys)

    def close(self) -> None:
        self._reads.close()


async def test_concurrent_lookups_share_reads(world):
    keys = [world.owner.create_key("github", f"k{n}").key.public_key for n in range(64)]
    reads = CountingReads(open_reads(world.store.engine, 1.0))
    lookups = Lookups(reads, 1.0)  # what Verifier.verify_async reads through
    rows = await asyncio.gather(*(lookups.get_async(key) for key in keys))
    assert [row.label for row in rows] == [f"k{n}" for n in range(64)]
    assert sum(reads.sizes) == 64 and len(reads.sizes) <= 4  # 64 lookups, a few reads
    lookups.close()


@pytest.mark.parametrize("callers", ["tasks", "threads"])
def test_every_request_after_a_revoke_is_refused_though_reads_are_shared(world, callers):
    created = world.owner.create_key("github", "busy")
    verifier = Verifier(world.store.engine)
    verifier.verify(created.private_key)
    attempts: list[tuple[float, str]] = []
    revoked_at: list[float] = []

    def outcome_of(call) -> str:
        try:
            call()
        except Unauthorized as refused:
            return refused.reason.value
        return "ok"

    def enough() -> bool:
        return bool(revoked_at) and sum(start > revoked_at[0] for start, _ in attempts) >= 200

    def revoke() -> None:
        _wait_for(lambda: len(attempts) >= 200, "200 attempts before the revoke")
        world.owner.revoke_key(created.key.public_key)
        revoked_at.append(time.monotonic())

    if callers == "tasks":

        async def run() -> None:
            async def hammer() -> None:
                while not enough():
                    start = time.monotonic()
                    try:
                        await verifier.verify_async(created.private_key)
                        attempts.append((start, "ok"))
                    except Unauthorized as refused:
                        attempts.append((start, refused.reason.value))

            revoking = asyncio.create_task(asyncio.to_thread(revoke))
            await asyncio.gather(*(hammer() for _ in range(16)))
            await revoking

        asyncio.run(run())
    else:

        def hammer() -> None:
            while not enough():
                start = time.monotonic()
                attempts.append((start, outcome_of(lambda: verifier.verify(created.private_key))))

        # Four: enough to share reads; with 16 spinning on the GIL the revoke
        # between them waited seconds for its turn.
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        revoke()
        for thread in threads:
            thread.join(WAIT)
    after = [result for start, result in attempts if start > revoked_at[0]]
    assert len(after) >= 200 and set(after) == {"revoked"}
    assert "ok" in {result for start, result in attempts if start < revoked_at[0]}
    verifier.close()


# -- the event loop never waits for the store -------------------------------------------------


async def test_the_event_loop_runs_while_a_read_waits_for_a_lock(sqlite_url, migrated):
    from keydesk.store.engine import open_store
    from tests.conftest import build_world

    store = open_store(sqlite_url, create=True)
    key = build_world(store).owner.create_key("github", "prod").private_key
    store.dispose()
    path = sa.make_url(sqlite_url).database
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE workspace SET name = name")  # holds the file: no reader gets in
    verifier = Verifier(sqlite_url, read_timeout=1.0)
    lookup = asyncio.create_task(verifier.verify_async(key))
    await asyncio.sleep(0)
    with pytest.raises(Unauthorized):  # answered while the read waits
        await verifier.verify_async("hello")
    assert not lookup.done()
    with pytest.raises(StoreUnavailable):
        await lookup  # once the busy timeout is spent
    locker.execute("ROLLBACK")
    locker.close()
    assert (await verifier.verify_async(key)).label == "prod"
    verifier.close()


def test_a_flood_of_refusals_is_logged_in_bounded_lines(caplog):
    """One line per refused key, up to a bound a second; the rest counted."""
    caplog.set_level(logging.INFO, logger="keydesk")
    clock = [1000.0]
    log = RefusalLog(per_second=20, clock=lambda: clock[0])
    for n in range(500):
        log.refused(f"kdpk_{n:016d}", "unknown" if n % 2 else "wrong_secret")
    clock[0] += 1
    log.refused("kdpk_" + "X" * 16, "revoked")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 22
    assert lines[0] == "refused kdpk_0000000000000000: wrong_secret"
    assert lines[20] == (
        "refused 480 more in the last second, not logged one by one (240 unknown, 240 wrong_secret)"
    )
    assert lines[21] == "refused kdpk_XXXXXXXXXXXXXXXX: revoked"
