"""Usage counts: per key, hour and outcome, added up in memory by the
verifier and written in batches off the request path; read back by the
service (`key_usage`) for the CLI and the TUI."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from keydesk.errors import NotFound, Unauthorized, UnauthorizedReason
from keydesk.verify import Verifier
from keydesk.verify.bookkeeping import WRITE_GATHER_SECONDS
from keydesk.views import utcnow


def _rows(store) -> list[tuple]:
    with store.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text("SELECT api_key_id, outcome, count FROM key_usage ORDER BY outcome")
            )
        ]


def _refused(verifier: Verifier, key: str) -> UnauthorizedReason:
    with pytest.raises(Unauthorized) as error:
        verifier.verify(key)
    return error.value.reason


def test_counts_are_written_in_one_batch_not_per_request(world, keys):
    verifier = Verifier(world.store.engine, usage_flush_seconds=3600.0)  # only flush() writes
    try:
        for _ in range(50):
            verifier.verify(keys["valid"])
        for _ in range(3):  # the first checked with argon2, the others from the failure cache
            assert _refused(verifier, keys["wrong_secret"]) is UnauthorizedReason.WRONG_SECRET
        assert _refused(verifier, keys["revoked"]) is UnauthorizedReason.REVOKED
        assert _refused(verifier, keys["unknown"]) is UnauthorizedReason.UNKNOWN  # no key: no row
        time.sleep(WRITE_WAIT := WRITE_GATHER_SECONDS * 3)
        assert _rows(world.store) == [], f"nothing written within {WRITE_WAIT} s of requests"
        verifier.flush()
        counts = {outcome: count for _id, outcome, count in _rows(world.store)}
        assert counts == {"accepted": 50, "wrong_secret": 3, "revoked": 1}
        for _ in range(2):  # the next batch adds to the same hour's rows
            verifier.verify(keys["valid"])
        verifier.flush()
        assert {o: c for _i, o, c in _rows(world.store)}["accepted"] == 52
    finally:
        verifier.close()


def test_counts_reach_the_store_by_themselves(world, keys):
    verifier = Verifier(world.store.engine, usage_flush_seconds=0.05)
    try:
        verifier.verify(keys["valid"])
        deadline = time.monotonic() + 30
        while not _rows(world.store) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(o, c) for _i, o, c in _rows(world.store)] == [("accepted", 1)]
    finally:
        verifier.close()


def test_close_writes_what_is_counted(world, keys):
    verifier = Verifier(world.store.engine)
    verifier.verify(keys["valid"])
    verifier.close()
    assert [(o, c) for _i, o, c in _rows(world.store)] == [("accepted", 1)]


def test_counting_can_be_turned_off(world, keys):
    verifier = Verifier(world.store.engine, count_usage=False)
    verifier.verify(keys["valid"])
    verifier.close()
    assert _rows(world.store) == []


def test_the_service_reads_usage_per_hour_and_wrong_secrets(world, keys):
    public_key = "kdpk_" + keys["valid"][5:21]
    verifier = Verifier(world.store.engine)
    for _ in range(4):
        verifier.verify(keys["valid"])
    _refused(verifier, keys["wrong_secret"])
    verifier.close()
    now = utcnow()
    usage = world.owner.key_usage(public_key, now - timedelta(days=7))
    assert len(usage.hours) == 7 * 24 + 1  # every hour of the range, quiet ones as zeros
    assert usage.accepted == 4 and usage.refused == {"wrong_secret": 1}
    assert usage.hours[-1].accepted == 4
    assert usage.wrong_secrets_since(now - timedelta(hours=1)) == 1
    viewer = world.as_account("vic", "viewer")
    assert viewer.key_usage(public_key, now - timedelta(hours=1)).accepted == 4
    outsider = world.as_account("mallory")
    with pytest.raises(NotFound, match=f"^no key {public_key}$"):  # as for an unknown key
        outsider.key_usage(public_key, now - timedelta(hours=1))


def test_expired_and_integration_disabled_refusals_are_counted(world):
    """README: the verifier counts refusals by reason, `expired` and
    `integration_disabled` among them."""
    expired = world.owner.create_key("github", "old", expires_at=utcnow() + timedelta(hours=1))
    with world.store.engine.begin() as connection:  # expired since
        connection.execute(
            sa.text("UPDATE api_key SET expires_at = :past WHERE public_key = :key"),
            {"past": utcnow() - timedelta(minutes=1), "key": expired.key.public_key},
        )
    gitea = world.owner.add_integration(
        "acme", "gitea", "Gitea", client_id="Iv1.g",
        redirect_uri="https://app.example.com/cb", configure=True,
    )  # fmt: skip
    disabled = world.owner.create_key(gitea.id, "off")
    world.owner.disable_integration(gitea.id)
    verifier = Verifier(world.store.engine, usage_flush_seconds=3600.0)  # only flush() writes
    try:
        for _ in range(2):
            assert _refused(verifier, expired.private_key.reveal()) is UnauthorizedReason.EXPIRED
        refused = _refused(verifier, disabled.private_key.reveal())
        assert refused is UnauthorizedReason.INTEGRATION_DISABLED
        verifier.flush()
    finally:
        verifier.close()
    since = utcnow() - timedelta(hours=1)
    assert world.owner.key_usage(expired.key.public_key, since).refused == {"expired": 2}
    usage = world.owner.key_usage(disabled.key.public_key, since)
    assert usage.refused == {"integration_disabled": 1}


def test_an_expired_key_is_refused_on_the_very_next_request_and_shows_expired(world):
    created = world.owner.create_key("github", "soon", expires_at=utcnow() + timedelta(hours=1))
    verifier = Verifier(world.store.engine)
    try:
        assert verifier.verify(created.private_key).label == "soon"
        overlap = timedelta(seconds=0.2)  # a second's overlap slept 1.1 s per backend
        rotated = world.owner.rotate_key(created.key.public_key, overlap)
        time.sleep(overlap.total_seconds() + 0.1)
        assert _refused(verifier, created.private_key.reveal()) is UnauthorizedReason.EXPIRED
        assert world.owner.key(created.key.public_key).status == "expired"
        assert verifier.verify(rotated.created.private_key).label.startswith("soon (")
    finally:
        verifier.close()


def test_a_count_made_on_a_counter_just_taken_comes_with_the_next_batch():
    """A source seen before is counted without the lock: a thread that found
    its counter before `take` swapped it out still has its count written."""
    from ipaddress import ip_address

    from keydesk.verify.usage import Source, UsageCounter
    from keydesk.views.usage import ACCEPTED

    counter = UsageCounter()
    source = Source.of(ip_address("203.0.113.7"))
    assert counter.add_accepted(7, source)  # the batch starts
    assert not counter.add_accepted(7, source)  # counted without the lock
    found = counter._placed[(7, source.text)]  # as a request thread held it
    first = counter.take()
    next(found)  # that thread's count, made once the counter was taken
    assert counter.add_accepted(7, source)  # a new batch: a new counter
    second = counter.take()

    def accepted(counts):
        return sum(n for (key, _hour, outcome), n in counts.items() if outcome == ACCEPTED)

    assert accepted(first) == 2 and accepted(second) == 2
    assert [n for (_k, _h, outcome), n in second.items() if outcome == source.text] == [2]
    assert accepted(counter.take()) == 0  # nothing counted twice


def test_a_request_from_no_known_source_is_counted_as_accepted_only():
    """An in-process verify gives no address: counted without the lock after
    its first count (32 threads had queued on it), and never as a source."""
    from ipaddress import ip_address

    from keydesk.verify.usage import Source, UsageCounter
    from keydesk.views.usage import ACCEPTED

    counter = UsageCounter()
    assert counter.add_accepted(7, None)  # the batch starts
    assert not counter.add_accepted(7, None)
    assert not counter.add_accepted(7, Source.of(ip_address("203.0.113.7")))
    counts = counter.take()
    assert {outcome: n for (_key, _hour, outcome), n in counts.items()} == {
        ACCEPTED: 3,
        "@203.0.113.7": 1,
    }


class _CountingLock:
    """A lock that says how often it was taken."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.taken = 0

    def __enter__(self):
        self.taken += 1
        return self._lock.__enter__()

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)


def test_a_take_leaves_every_key_counted_without_the_lock_and_counts_each_request_once():
    """With 100,000 keys, each take sent every key's next request through the
    lock: the counters now last the hour, and a take reads how far each went."""
    from ipaddress import ip_address

    from keydesk.verify.usage import Source, UsageCounter
    from keydesk.views.usage import ACCEPTED

    counter = UsageCounter()
    source = Source.of(ip_address("203.0.113.7"))
    for key_id in (1, 2):
        counter.add_accepted(key_id, source)
    first = counter.take()
    lock = counter._lock = _CountingLock()
    assert counter.add_accepted(1, source)  # the new batch starts: the writer is told
    assert not counter.add_accepted(1, source)
    assert not counter.add_accepted(2, source)
    assert lock.taken == 0
    second = counter.take()

    def accepted(counts, key_id):
        return sum(
            n for (key, _h, outcome), n in counts.items() if key == key_id and outcome == ACCEPTED
        )

    assert [accepted(first, k) for k in (1, 2)] == [1, 1]
    assert [accepted(second, k) for k in (1, 2)] == [2, 1]
    assert counter.take() == {}  # nothing counted twice, no empty rows


def test_a_flood_of_sources_leaves_the_keys_counted_before_it_quick(monkeypatch):
    """Past ENTRIES_KEPT pairs the new ones are counted under the lock; the
    pairs kept stay lock-free (emptying them sent every key the slow way)."""
    from ipaddress import ip_address

    from keydesk.verify import usage
    from keydesk.verify.usage import Source, UsageCounter

    monkeypatch.setattr(usage, "ENTRIES_KEPT", 4)
    monkeypatch.setattr(usage, "SOURCES_PER_HOUR", 1)  # the flood: counted as one /24
    counter = UsageCounter()
    regular = Source.of(ip_address("198.51.100.1"))
    counter.add_accepted(1, regular)
    for n in range(10):
        counter.add_accepted(2, Source.of(ip_address(f"203.0.113.{n}")))
    lock = counter._lock = _CountingLock()
    counter.add_accepted(1, regular)
    assert lock.taken == 0
    counter.add_accepted(2, Source.of(ip_address("203.0.113.9")))
    assert lock.taken == 1  # beyond the kept pairs: counted all the same
    counts = counter.take()
    assert (
        sum(n for (k, _h, outcome), n in counts.items() if k == 2 and outcome == "accepted") == 11
    )


def test_counts_made_on_the_last_hours_counter_go_to_that_hour(monkeypatch):
    """A thread that found a counter just before the hour turned counts on
    it after: that count is written, under the hour it was made in."""
    from ipaddress import ip_address

    from keydesk.verify import usage
    from keydesk.verify.usage import Source, UsageCounter

    clock = [7200.0 * 1000]
    monkeypatch.setattr(usage.time, "time", lambda: clock[0])
    counter = UsageCounter()
    source = Source.of(ip_address("203.0.113.7"))
    counter.add_accepted(5, source)
    held = counter._entries[(5, source.text)]  # as a request thread held it
    clock[0] += 3600
    counter.add_accepted(5, source)  # the hour turns
    next(held)  # that thread's count, made after the turn
    counts = counter.take()
    hours = {hour: n for (_k, hour, outcome), n in counts.items() if outcome == "accepted"}
    assert hours == {2000: 2, 2001: 1}


def test_a_flood_of_networks_on_one_key_starts_the_counters_anew_and_loses_no_count(monkeypatch):
    """Beyond its first addresses a key's sources are counted per network:
    a flood from many networks makes a counter each, so past ENTRIES_KEPT
    the counters are folded and begun again (memory stays bounded)."""
    from ipaddress import ip_address

    from keydesk.verify import usage
    from keydesk.verify.usage import Source, UsageCounter

    monkeypatch.setattr(usage, "ENTRIES_KEPT", 8)
    monkeypatch.setattr(usage, "SOURCES_PER_HOUR", 1)
    counter = UsageCounter()
    for n in range(40):
        counter.add_accepted(3, Source.of(ip_address(f"10.{n}.0.1")))
        assert len(counter._placed) <= 8
    counts = counter.take()
    assert sum(n for (_k, _h, outcome), n in counts.items() if outcome == "accepted") == 40
