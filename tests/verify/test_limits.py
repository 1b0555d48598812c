"""A key's rate and quota at the verifier: exact in one process; between N
and 1.1 x N per window for verifiers (and processes) sharing a store, with
batched writes; a refused request uses nothing; a store that refuses the
counts' writes leaves each process counting alone.

Windows here are a day or a month long, so a test never straddles one."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from keydesk.errors import ForbiddenNetwork, RateLimited, Unauthorized, UnauthorizedReason
from keydesk.verify import Verifier
from keydesk.verify.limits import RETRY_SECONDS


def _attempt(verifier: Verifier, key: str, source: str | None = None) -> bool:
    try:
        verifier.verify(key, source)
    except RateLimited:
        return False
    return True


def _counting_writes(verifier: Verifier, monkeypatch) -> list[int]:
    """How many syncs `verifier` made (each one short transaction)."""
    limits = verifier._limits
    writes: list[int] = []
    real = limits._write

    def counted(slots):
        writes.append(len(slots))
        return real(slots)

    monkeypatch.setattr(limits, "_write", counted)
    return writes


def test_a_rate_is_exact_in_one_process_and_says_when_to_retry(world):
    created = world.owner.create_key("github", "limited", rate="5/d")
    verifier = Verifier(world.store.engine)
    try:
        key = created.private_key.reveal()
        first = verifier.verify(key)
        assert [(s.name, str(s.limit), s.remaining) for s in first.limits] == [("rate", "5/d", 4)]
        assert sum(_attempt(verifier, key) for _ in range(9)) == 4
        with pytest.raises(RateLimited) as refused:
            verifier.verify(key)
        assert refused.value.limit == "rate"
        assert 1 <= refused.value.retry_after <= 86_400
    finally:
        verifier.close()


def test_a_request_refused_for_its_rate_uses_no_quota(world):
    created = world.owner.create_key("github", "both", rate="3/d", quota="100/month")
    verifier = Verifier(world.store.engine)
    try:
        key = created.private_key.reveal()
        assert sum(_attempt(verifier, key) for _ in range(8)) == 3
        verifier.flush()
        assert world.owner.quota_used(created.key.public_key) == 3
    finally:
        verifier.close()


def test_a_request_refused_for_its_quota_uses_no_rate(world):
    created = world.owner.create_key("github", "quota", rate="100/d", quota="2/month")
    verifier = Verifier(world.store.engine)
    try:
        key = created.private_key.reveal()
        assert sum(_attempt(verifier, key) for _ in range(5)) == 2
        with pytest.raises(RateLimited) as refused:
            verifier.verify(key)
        assert refused.value.limit == "quota"
        rate = next(s for s in refused.value.policies if s.name == "rate")
        assert rate.remaining == 98
    finally:
        verifier.close()


@pytest.mark.parametrize("split", [(1, 1), (1, 4), (7, 1)])
def test_two_verifiers_on_one_store_accept_between_n_and_1_1_n(world, split, monkeypatch):
    """Two verifiers with their own connections (as two processes have),
    requests interleaved `split[0]` to one for `split[1]` to the other."""
    n = 400
    created = world.owner.create_key("github", f"shared-{split[0]}-{split[1]}", rate=f"{n}/d")
    key = created.private_key.reveal()
    one, other = Verifier(world.store.engine), Verifier(world.store.engine)
    try:
        syncs = [_counting_writes(v, monkeypatch) for v in (one, other)]
        accepted = 0
        for _ in range(3 * n // sum(split)):
            accepted += sum(_attempt(one, key) for _ in range(split[0]))
            accepted += sum(_attempt(other, key) for _ in range(split[1]))
        assert n <= accepted <= 1.1 * n, accepted
        assert sum(map(len, syncs)) < accepted / 5  # batched, never per request
    finally:
        one.close()
        other.close()


def test_three_verifiers_before_they_meet_accept_at_most_1_1_n(world):
    """The README's worst case for three processes before they have met in
    the store: two each accept a batch (N / (10 x (1 + 1)), P = 1 seen)
    without syncing, then the third, seeing neither, accepts N: 1.1 x N."""
    n = 400
    key = world.owner.create_key("github", "three", rate=f"{n}/d").private_key.reveal()
    first, second, third = (Verifier(world.store.engine) for _ in range(3))
    try:
        batch = n // 20
        accepted = sum(_attempt(v, key) for v in (second, third) for _ in range(batch))
        accepted += sum(_attempt(first, key) for _ in range(n + 10))
        accepted += sum(_attempt(v, key) for v in (second, third, first) for _ in range(10))
        assert n <= accepted <= 1.1 * n, accepted
    finally:
        for verifier in (first, second, third):
            verifier.close()


def test_two_verifiers_on_threads_at_once_accept_between_n_and_1_1_n(world):
    n = 300
    created = world.owner.create_key("github", "threads", rate=f"{n}/d")
    key = created.private_key.reveal()
    verifiers = [Verifier(world.store.engine), Verifier(world.store.engine)]
    counts = [0, 0]

    def run(index: int) -> None:
        for _ in range(n):
            counts[index] += _attempt(verifiers[index], key)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert n <= sum(counts) <= 1.1 * n
    finally:
        for verifier in verifiers:
            verifier.close()


class _SyncsMeeting:
    """Makes two verifiers' next syncs meet in the store: each reads the
    window's total only once the other has written its own count, and ends
    the transaction it read in only once the other has read too (the
    interleaving two processes syncing at once can take)."""

    def __init__(self, monkeypatch, *verifiers: Verifier) -> None:
        self.on = False
        self.wrote = [threading.Event() for _ in verifiers]
        self.read = [threading.Event() for _ in verifiers]
        self.met: list[bool] = []
        for index, verifier in enumerate(verifiers):
            connections = verifier._limits._connections
            connect = connections.connect
            monkeypatch.setattr(
                connections, "connect", lambda c=connect, i=index: _Meeting(self, i, c())
            )

    def wait(self, events: list[threading.Event], index: int) -> None:
        # A guard against a hang, not a measure: the other gets there at once.
        self.met.append(events[1 - index].wait(timeout=10))


class _Meeting:
    """A connection whose count writes, total reads and commits wait as
    _SyncsMeeting says."""

    def __init__(self, meeting: _SyncsMeeting, index: int, connection) -> None:
        self.meeting, self.index, self._connection = meeting, index, connection
        self.has_read = False

    def __getattr__(self, name: str):
        return getattr(self._connection, name)

    def cursor(self, *args, **kwargs):
        return _MeetingCursor(self, self._connection.cursor(*args, **kwargs))

    def commit(self) -> None:
        if self.meeting.on and self.has_read:
            self.meeting.wait(self.meeting.read, self.index)
        self._connection.commit()


class _MeetingCursor:
    def __init__(self, connection: _Meeting, cursor) -> None:
        self._connection, self._cursor = connection, cursor

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)

    def executemany(self, sql, params):
        self._cursor.executemany(sql, params)
        meeting, index = self._connection.meeting, self._connection.index
        if meeting.on and sql.startswith("INSERT INTO key_window"):
            meeting.wrote[index].set()

    def execute(self, sql, params=()):
        meeting, index = self._connection.meeting, self._connection.index
        if not (meeting.on and sql.startswith("SELECT coalesce(sum(count)")):
            return self._cursor.execute(sql, params)
        meeting.wait(meeting.wrote, index)
        result = self._cursor.execute(sql, params)
        self._connection.has_read = True
        meeting.read[index].set()
        return result


def test_two_syncs_at_once_still_hold_a_small_limit_to_n_plus_p_minus_1(world, monkeypatch):
    """N = 3, below 20: each process syncs before every request it accepts.
    Two syncs that write their counts before either reads must not both
    miss the other's count (on PostgreSQL, read committed, they did: 5)."""
    n = 3
    created = world.owner.create_key("github", "small", rate=f"{n}/d")
    key = created.private_key.reveal()
    one, other = Verifier(world.store.engine), Verifier(world.store.engine)
    try:
        meeting = _SyncsMeeting(monkeypatch, one, other)
        accepted = _attempt(one, key) + _attempt(one, key) + _attempt(other, key)
        assert accepted == n  # one has synced once (its total: 1); each has one unsynced
        meeting.on = True
        results: list[bool] = []
        threads = [
            threading.Thread(target=lambda v=v: results.append(_attempt(v, key)))
            for v in (one, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        meeting.on = False
        # Both wrote before either read, and both read before either ended.
        assert meeting.met == [True] * 4
        accepted += sum(results)
        accepted += sum(_attempt(v, key) for v in (one, other, one, other))
        assert accepted <= n + 2 - 1
    finally:
        one.close()
        other.close()


_PROCESS = textwrap.dedent(
    """
    import sys
    from keydesk.errors import ForbiddenNetwork, RateLimited, Unauthorized, UnauthorizedReason
    from keydesk.verify import Verifier

    url, key, attempts = sys.argv[1], sys.stdin.readline().strip(), int(sys.argv[2])
    verifier = Verifier(url)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # go
    accepted = 0
    for _ in range(attempts):
        try:
            verifier.verify(key)
            accepted += 1
        except RateLimited:
            pass
    verifier.close()
    print(accepted)
    """
)


def test_two_verifier_processes_share_one_limit(world):
    n = 300
    created = world.owner.create_key("github", "processes", rate=f"{n}/d")
    url = world.store.engine.url.render_as_string(hide_password=False)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, url, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdin and process.stdout
        process.stdin.write(created.private_key.reveal() + "\n")  # never in argv
        process.stdin.flush()
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin
        process.stdin.write("go\n")
        process.stdin.close()
    accepted = []
    for process in processes:
        assert process.stdout
        accepted.append(int(process.stdout.read().strip()))
        assert process.wait(timeout=120) == 0
    assert n <= sum(accepted) <= 1.1 * n, accepted


def test_a_store_refusing_the_counts_leaves_each_process_exact_alone(world, monkeypatch, caplog):
    created = world.owner.create_key("github", "alone", rate="5/d")
    caplog.set_level(logging.INFO, logger="keydesk.verify")
    verifier = Verifier(world.store.engine)
    try:

        def refused(_slots):
            raise OSError("the store is unreachable")

        monkeypatch.setattr(verifier._limits, "_write", refused)
        key = created.private_key.reveal()
        assert sum(_attempt(verifier, key) for _ in range(9)) == 5
        assert "counting alone" in caplog.text
    finally:
        verifier.close()


def test_a_store_refusing_the_counts_is_told_once_retried_each_second_then_synced(
    world, monkeypatch, caplog
):
    """README: while the counts' writes fail, a process logs one line (not
    one per request), counts alone, tries again each second, and is back in
    sync (its count written, the others' read) once the store answers."""
    created = world.owner.create_key("github", "retried", quota="100/month")  # batches of 5
    public, key = created.key.public_key, created.private_key.reveal()
    second = world.owner.create_key("github", "also limited", quota="100/month")
    caplog.set_level(logging.INFO, logger="keydesk.verify")
    other = Verifier(world.store.engine)
    verifier = Verifier(world.store.engine)
    now = [time.time()]  # a month's window: the test never straddles one
    monkeypatch.setattr(verifier._limits, "_clock", lambda: now[0])
    write, tries = verifier._limits._write, []

    def refused(slots):
        tries.append(len(slots))
        raise OSError("the store is unreachable")

    monkeypatch.setattr(verifier._limits, "_write", refused)
    try:
        assert sum(_attempt(other, key) for _ in range(10)) == 10
        other.flush()  # another process's count, in the store
        assert sum(_attempt(verifier, key) for _ in range(40)) == 40
        assert len(tries) == 1  # once its first batch was due; then alone until a second passed
        now[0] += RETRY_SECONDS  # a retry, and another key's batch: still the one line
        assert sum(_attempt(verifier, second.private_key.reveal()) for _ in range(10)) == 10
        assert sum(_attempt(verifier, key) for _ in range(5)) == 5
        assert len(tries) == 3
        assert caplog.text.count("limit counts not shared") == 1
        assert world.owner.quota_used(public) == 10

        now[0] += RETRY_SECONDS
        monkeypatch.setattr(verifier._limits, "_write", write)  # the store answers again
        (quota,) = verifier.verify(key).limits
        assert world.owner.quota_used(public) == 55  # its 45 written as it synced
        assert quota.remaining == 100 - 56  # the other's 10 read, this request counted
        assert caplog.text.count("limit counts not shared") == 1
        assert caplog.text.count("limit counts shared again") == 1
    finally:
        verifier.close()
        other.close()


def test_a_key_without_limits_reports_none(world, keys):
    verifier = Verifier(world.store.engine)
    try:
        assert verifier.verify(keys["valid"]).limits == ()
    finally:
        verifier.close()


def test_counts_older_than_the_sync_age_reach_the_store_by_themselves(world, monkeypatch):
    import time

    import sqlalchemy as sa

    import keydesk.verify.limits as limits

    monkeypatch.setattr(limits, "SYNC_SECONDS", 0.0)  # every count is old at once
    created = world.owner.create_key("github", "aged", rate="1000/d")
    verifier = Verifier(world.store.engine)
    try:
        for _ in range(3):
            verifier.verify(created.private_key.reveal())
        deadline = time.monotonic() + 30
        total = 0
        while total < 2 and time.monotonic() < deadline:  # no flush: the background thread
            with world.store.engine.connect() as connection:
                total = connection.execute(sa.text("SELECT sum(count) FROM key_window")).scalar()
            total = total or 0
            time.sleep(0.05)
        assert total >= 2
    finally:
        verifier.close()


def test_a_limited_keys_answers_differ_only_in_their_counts(world):
    created = world.owner.create_key(
        "github", "counted", rate="5/d", quota="100/month", allow_from=["10.0.0.0/8"]
    )
    verifier = Verifier(world.store.engine)
    try:
        key = created.private_key.reveal()
        answers = [verifier.verify(key, "10.0.0.1") for _ in range(3)]
        assert [[s.remaining for s in a.limits] for a in answers] == [[4, 99], [3, 98], [2, 97]]
        for answer in answers[1:]:
            assert answer == dataclasses.replace(answers[0], limits=answer.limits)
        assert answers[2].allow_from == ("10.0.0.0/8",)
    finally:
        verifier.close()


def test_a_limited_key_answered_before_is_still_refused_from_elsewhere_and_when_revoked(world):
    created = world.owner.create_key(
        "github", "fenced", quota="100/month", allow_from=["10.0.0.0/8"]
    )
    verifier = Verifier(world.store.engine)
    try:
        key = created.private_key.reveal()
        for _ in range(3):
            verifier.verify(key, "10.0.0.1")
        with pytest.raises(ForbiddenNetwork):
            verifier.verify(key, "192.0.2.1")
        assert [s.remaining for s in verifier.verify(key, "10.0.0.1").limits] == [96]
        world.owner.revoke_key(created.key.public_key)
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(key, "10.0.0.1")
        assert refused.value.reason is UnauthorizedReason.REVOKED
        verifier.flush()
        assert world.owner.quota_used(created.key.public_key) == 4
    finally:
        verifier.close()
