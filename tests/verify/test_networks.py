"""A key's allowlist, at the verifier: from elsewhere `ForbiddenNetwork`
before any hash work; IPv4 and IPv6; a key refused whatever its secret
keeps its 401; where accepted requests came from is counted per hour."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from keydesk.errors import ForbiddenNetwork, Unauthorized, UnauthorizedReason
from keydesk.keys import check_secret
from keydesk.verify import Verifier


@pytest.fixture
def fenced(world):
    """A key usable only from 10.0.0.0/8 and 2001:db8::/32; the checks its
    verifier made with argon2 are counted."""
    created = world.owner.create_key("github", "fenced", allow_from=["10.0.0.0/8", "2001:db8::/32"])
    hashed: list[int] = []

    def counting(stored, key):
        hashed.append(1)
        return check_secret(stored, key)

    verifier = Verifier(world.store.engine, check_secret=counting)
    yield world, created, verifier, hashed
    verifier.close()


def test_a_request_from_an_allowed_network_is_accepted_ipv4_and_ipv6(fenced):
    _world, created, verifier, _hashed = fenced
    key = created.private_key.reveal()
    assert verifier.verify(key, "10.1.2.3").allow_from == ("10.0.0.0/8", "2001:db8::/32")
    assert verifier.verify(key, "2001:db8:0:1::5").public_key == created.key.public_key
    assert verifier.verify(key, "::ffff:10.9.9.9").public_key == created.key.public_key  # mapped


@pytest.mark.parametrize("source", ["192.0.2.1", "2001:db9::1", "", "not-an-address", "11.0.0.1"])
def test_a_request_from_elsewhere_is_forbidden_before_any_hash_work(fenced, source):
    _world, created, verifier, hashed = fenced
    key = created.private_key.reveal()
    with pytest.raises(ForbiddenNetwork):
        verifier.verify(key, source)
    wrong = key[:-8] + ("A" if key[-8] != "A" else "B") + key[-7:]  # a bad checksum: 401 first
    with pytest.raises(Unauthorized):
        verifier.verify(wrong, source)
    assert hashed == []


def test_a_wrong_secret_from_elsewhere_is_forbidden_unhashed(fenced, keys):
    world, created, verifier, hashed = fenced
    other = world.owner.create_key("github", "other-fenced", allow_from=["10.0.0.0/8"])
    from tests.conftest import _with_checksum

    mixed = _with_checksum(other.private_key.reveal()[:22] + created.private_key.reveal()[22:-6])
    with pytest.raises(ForbiddenNetwork):
        verifier.verify(mixed, "192.0.2.1")
    assert hashed == []
    with pytest.raises(Unauthorized) as refused:  # from inside: the usual 401
        verifier.verify(mixed, "10.0.0.1")
    assert refused.value.reason is UnauthorizedReason.WRONG_SECRET
    # Remembered as a wrong secret now, it is still 403 from elsewhere, sync or async.
    with pytest.raises(ForbiddenNetwork):
        verifier.verify(mixed, "192.0.2.1")
    with pytest.raises(ForbiddenNetwork):
        asyncio.run(verifier.verify_async(mixed, "192.0.2.1"))
    with pytest.raises(Unauthorized):  # and 401 from inside, without argon2 again
        verifier.verify(mixed, "10.0.0.1")
    assert len(hashed) == 1


def test_a_revoked_key_is_401_before_403(fenced):
    world, created, verifier, _hashed = fenced
    world.owner.revoke_key(created.key.public_key)
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(created.private_key.reveal(), "192.0.2.1")
    assert refused.value.reason is UnauthorizedReason.REVOKED


def test_no_source_given_is_a_local_caller_with_no_network_to_check(fenced):
    _world, created, verifier, _hashed = fenced
    assert verifier.verify(created.private_key.reveal()).public_key == created.key.public_key


def test_a_key_without_an_allowlist_works_from_anywhere(world, keys):
    verifier = Verifier(world.store.engine)
    try:
        assert verifier.verify(keys["valid"], "198.51.100.7").allow_from == ()
        assert verifier.verify(keys["valid"], "").allow_from == ()
    finally:
        verifier.close()


def test_sources_are_counted_per_hour_and_aggregated_beyond_a_few_dozen(world, keys):
    from keydesk.verify.usage import SOURCES_PER_HOUR

    verifier = Verifier(world.store.engine, usage_flush_seconds=3600.0)
    try:
        for _ in range(3):
            verifier.verify(keys["valid"], "203.0.113.7")
        verifier.verify(keys["valid"], "2001:db8::1")
        for n in range(SOURCES_PER_HOUR + 5):  # 198.51.100.0 .. : the 31 beyond go to /24
            verifier.verify(keys["valid"], f"198.51.100.{n}")
        # Again: each counted where it was the first time.
        for n in range(SOURCES_PER_HOUR - 5, SOURCES_PER_HOUR + 5):
            verifier.verify(keys["valid"], f"198.51.100.{n}")
        verifier.flush()
    finally:
        verifier.close()
    with world.store.engine.connect() as connection:
        rows = dict(connection.execute(sa.text("SELECT source, count FROM key_source")).all())
    assert rows["203.0.113.7"] == 3 and rows["2001:db8::1"] == 1
    assert rows["198.51.100.0/24"] == 14  # 37 addresses, 30 kept one by one; 7 of the 10 again
    assert rows["198.51.100.27"] == 2
    assert len(rows) == SOURCES_PER_HOUR + 1


def test_ipv6_sources_beyond_a_few_dozen_are_counted_under_their_48(world, keys):
    from keydesk.verify.usage import SOURCES_PER_HOUR

    verifier = Verifier(world.store.engine, usage_flush_seconds=3600.0)
    try:
        for n in range(SOURCES_PER_HOUR):  # kept one by one, each in a /48 of its own
            verifier.verify(keys["valid"], f"2001:db8:{n:x}::1")
        # Beyond: two addresses of one /48 (differing past its 48 bits), one of another.
        for source in (
            "2001:db8:ab:1::1",
            "2001:db8:ab:ffff:1::9",
            "2001:db8:ab:1::1",
            "2001:db9::1",
        ):
            verifier.verify(keys["valid"], source)
        verifier.verify(keys["valid"], "2001:db8:5::1")  # one kept: counted as itself
        verifier.flush()
    finally:
        verifier.close()
    with world.store.engine.connect() as connection:
        rows = dict(connection.execute(sa.text("SELECT source, count FROM key_source")).all())
    assert rows["2001:db8:ab::/48"] == 3
    assert rows["2001:db9::/48"] == 1
    assert rows["2001:db8:5::1"] == 2
    assert len(rows) == SOURCES_PER_HOUR + 2
