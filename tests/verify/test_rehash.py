"""Stored hashes follow keydesk's argon2 parameters without re-issuing a key:
a key hashed with older ones still verifies, and on SQLite gets today's hash
at that verify (on PostgreSQL the verifier may not write hashes, so the key
keeps its own). A key the verifier's cache has forgotten verifies as before."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, extract_parameters

from keydesk.keys import (
    HASH_MEMORY_KIB,
    HASH_PARALLELISM,
    HASH_TIME_COST,
    SecretCheck,
    check_secret,
    generate_key_pair,
    hash_private_key,
)
from keydesk.store.models import ApiKey
from keydesk.verify import Verifier, secret_checks
from keydesk.views import utcnow
from tests.support.pg_team import acme_with_github

# keydesk's parameters before issue #25.
OLD_HASHER = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)


def _row(world, public_key: str) -> sa.Row:
    with world.store.engine.connect() as connection:
        return connection.execute(
            sa.select(ApiKey.secret_hash, ApiKey.last_used_at).where(
                ApiKey.public_key == public_key
            )
        ).one()


@pytest.mark.parametrize("on_loop", [False, True], ids=["thread", "event-loop"])
def test_a_key_hashed_with_older_parameters_verifies_and_is_rehashed(world, on_loop):
    created = world.owner.create_key("github", "old")
    old_hash = OLD_HASHER.hash(created.private_key.reveal())
    with world.store.engine.begin() as connection:
        connection.execute(
            sa.update(ApiKey)
            .where(ApiKey.public_key == created.key.public_key)
            .values(secret_hash=old_hash)
        )

    verifier = Verifier(world.store.engine)
    verify = (
        (lambda key: asyncio.run(verifier.verify_async(key))) if on_loop else verifier.verify
    )  # an older hash is checked on the hashing threads for an event loop
    assert verify(created.private_key).label == "old"
    verifier.flush()
    verifier.close()

    stored, last_used = _row(world, created.key.public_key)
    assert last_used is not None  # the batch with the last-used time went through
    if world.store.engine.dialect.name == "sqlite":
        made = extract_parameters(stored)
        assert (made.time_cost, made.memory_cost, made.parallelism) == (
            HASH_TIME_COST, HASH_MEMORY_KIB, HASH_PARALLELISM,
        )  # fmt: skip
        assert check_secret(stored, created.private_key) == SecretCheck(True)  # up to date
    else:  # the verifier never writes a hash there: the key keeps its own
        assert stored == old_hash

    fresh = Verifier(world.store.engine)  # nothing cached: checked against the stored hash
    assert fresh.verify(created.private_key).label == "old"
    fresh.close()


def test_a_key_the_cache_has_forgotten_still_verifies(world, monkeypatch):
    """More keys than the cache holds (shrunk to 20 here: it holds 100,000),
    the first presented again last: it is checked against its hash again, and
    accepted."""
    if world.store.engine.dialect.name != "sqlite":
        pytest.skip("the cache is the same on both backends")
    monkeypatch.setattr(secret_checks, "VERIFIED_CACHE_SIZE", 20)  # 21 argon2 hashes, not 201
    cache_size = secret_checks.VERIFIED_CACHE_SIZE
    made_by = world.owner.create_key("github", "probe")
    with world.store.engine.connect() as connection:
        integration_id, created_by = connection.execute(
            sa.select(ApiKey.integration_id, ApiKey.created_by).where(
                ApiKey.public_key == made_by.key.public_key
            )
        ).one()
    pairs = [generate_key_pair() for _ in range(cache_size + 1)]
    now = utcnow()
    with world.store.engine.begin() as connection:
        connection.execute(
            sa.insert(ApiKey),
            [
                {
                    "integration_id": integration_id,
                    "public_key": pair.public_key,
                    "label": f"bulk-{n}",
                    "secret_hash": hash_private_key(pair.private_key),
                    "created_at": now,
                    "created_by": created_by,
                }
                for n, pair in enumerate(pairs)
            ],
        )
    checked: list[str] = []

    def counting(stored_hash, key):
        checked.append(key.public_key)
        return check_secret(stored_hash, key)

    verifier = Verifier(world.store.engine, check_secret=counting, count_usage=False)
    for pair in pairs:
        verifier.verify(pair.private_key)
    assert verifier.verify(pairs[0].private_key).label == "bulk-0"
    assert checked.count(pairs[0].public_key) == 2  # forgotten, checked again
    assert verifier.verify(pairs[-1].private_key).label == f"bulk-{cache_size}"
    assert checked.count(pairs[-1].public_key) == 1  # still cached
    verifier.close()


def test_only_a_hash_made_with_other_parameters_is_made_again():
    key = generate_key_pair().private_key
    assert check_secret(hash_private_key(key), key) == SecretCheck(True)
    for other in (
        OLD_HASHER,
        PasswordHasher(time_cost=1, memory_cost=80, parallelism=1),  # m=8… as a prefix
        PasswordHasher(1, HASH_MEMORY_KIB, 1, hash_len=31, salt_len=17),
    ):
        check = check_secret(other.hash(key.reveal()), key)
        assert check.matches and check.new_hash is not None
        made = extract_parameters(check.new_hash)
        assert (made.time_cost, made.memory_cost, made.parallelism) == (
            HASH_TIME_COST, HASH_MEMORY_KIB, HASH_PARALLELISM,
        )  # fmt: skip


@pytest.mark.postgres
def test_on_postgresql_the_verifier_role_keeps_an_old_hash_and_writes_its_last_use(team):
    """The role cannot write hashes: it does not try, so the batch carrying
    the key's last-used time is not refused with it."""
    created = acme_with_github(team).create_key("github", "old")
    old_hash = OLD_HASHER.hash(created.private_key.reveal())
    superuser = sa.create_engine(team.url)
    try:
        this_key = ApiKey.public_key == created.key.public_key
        with superuser.begin() as connection:
            connection.execute(sa.update(ApiKey).where(this_key).values(secret_hash=old_hash))
        verifier = Verifier(team.store_as("verifier").engine)
        assert verifier.verify(created.private_key).label == "old"
        verifier.flush()
        verifier.close()
        with superuser.connect() as connection:
            stored, last_used = connection.execute(
                sa.select(ApiKey.secret_hash, ApiKey.last_used_at).where(this_key)
            ).one()
    finally:
        superuser.dispose()
    assert stored == old_hash and last_used is not None
