"""A notify run end to end through real receivers: each notice reaches each
channel once, across two runs and two processes at once (SQLite and
PostgreSQL); the webhook's signature checked by the receiver; a failed
delivery retried once the receiver is up; a dry run sends nothing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from keydesk.notify import Channels, Notifier, RunReport
from keydesk.notify.delivery import LEASE, _Leased
from keydesk.service.context import ServiceContext
from keydesk.views import utcnow
from tests.support.notify_receivers import webhook_receiver


def _context(world, actor: str = "alice") -> ServiceContext:
    return ServiceContext(world.store, actor, None)


def _expiring_keys(world, count: int) -> None:
    for n in range(count):
        world.owner.create_key("github", f"k{n}", expires_at=utcnow() + timedelta(days=2 + n))


def test_two_runs_claiming_at_once_claim_each_notice_once(world):
    """Both see every notice due; inserting its row is the claim, which one wins."""
    _expiring_keys(world, 3)
    Channels(_context(world)).add_webhook("acme", "https://hooks.example.com/keydesk")
    first, second = Notifier(_context(world)), Notifier(_context(world))
    now = utcnow()
    due_first, due_second = first.due(None, now), second.due(None, now)
    assert len(due_first) == len(due_second) == 3
    claimed = first.claim(due_first, now) + second.claim(due_second, now)
    assert sorted(notice.label for _id, notice in claimed) == ["k0", "k1", "k2"]
    assert first.due(None, now) == []


def test_two_runs_send_each_notice_once_with_a_signature_the_receiver_checks(world):
    _expiring_keys(world, 3)
    with webhook_receiver() as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        first = Notifier(_context(world)).run()
        assert (len(first.notices), first.sent, first.failures) == (3, 3, [])
        second = Notifier(_context(world)).run()
        assert (second.notices, second.sent, second.failures) == ([], 0, [])
    assert receiver.bad_signatures == 0
    assert sorted(r["label"] for r in receiver.received) == ["k0", "k1", "k2"]
    assert {r["_event"] for r in receiver.received} == {"expiry.3d", "expiry.14d"}


def test_a_wrong_secret_fails_the_receivers_check(world):
    _expiring_keys(world, 1)
    with webhook_receiver() as receiver:
        Channels(_context(world)).add_webhook("acme", receiver.url)
        receiver.secret = "not-the-signing-secret"
        report = Notifier(_context(world)).run()
    assert receiver.bad_signatures == 1 and receiver.received == []
    assert [f.error for f in report.failures] == ["the receiver answered 401"]


def test_a_failed_delivery_is_reported_and_retried_when_the_receiver_is_up(world):
    _expiring_keys(world, 1)
    with webhook_receiver(up=False) as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        down = Notifier(_context(world)).run()
        assert [n.label for n in down.notices] == ["k0"] and down.sent == 0
        assert "cannot reach the receiver" in down.failures[0].error
        (channel,) = Channels(_context(world)).listed()
        assert channel.failing == 1 and channel.last_error == down.failures[0].error
        retries = Notifier(_context(world)).run(dry_run=True).retries
        assert [(p.notice.label, p.channel) for p in retries] == [
            ("k0", f"webhook {channel.id} (http://127.0.0.1:{receiver.port})")
        ]
        receiver.start()
        up = Notifier(_context(world)).run()
        assert (up.notices, up.sent, up.failures) == ([], 1, [])
        assert Notifier(_context(world)).run().sent == 0
    assert [r["label"] for r in receiver.received] == ["k0"]
    assert Channels(_context(world)).listed()[0].failing == 0


def test_a_dry_run_sends_and_claims_nothing(world):
    _expiring_keys(world, 2)
    with webhook_receiver() as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        dry = Notifier(_context(world)).run(dry_run=True)
        assert sorted(n.label for n in dry.notices) == ["k0", "k1"] and dry.sent == 0
        assert receiver.received == []
        assert Notifier(_context(world)).run().sent == 2  # all still due
    assert len(receiver.received) == 2


def test_two_processes_at_once_send_each_notice_once(world):
    """Two `keydesk notify` processes started together on one store (on
    PostgreSQL: as two hosts would): each notice reaches the receiver once
    and is printed by one of them."""
    world.admit_keydesk_commands("owner")
    _expiring_keys(world, 6)
    with webhook_receiver() as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        url = world.store.engine.url.render_as_string(hide_password=False)
        env = os.environ | {"KEYDESK_DATABASE_URL": url}
        command = [sys.executable, "-m", "keydesk", "notify", "--json"]
        runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]  # fmt: skip
        outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    printed = [n["label"] for out, _err in outputs for n in json.loads(out)["notices"]]
    assert sorted(printed) == [f"k{n}" for n in range(6)]
    assert sorted(r["label"] for r in receiver.received) == [f"k{n}" for n in range(6)]
    assert receiver.bad_signatures == 0


def test_a_redirect_is_not_followed(world):
    """A signed POST is never replayed to another URL: a 3xx is a failed delivery."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    _expiring_keys(world, 1)
    with webhook_receiver() as receiver:

        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.send_response(307)
                self.send_header("Location", receiver.url)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        # Polled every 20 ms, not 0.5 s: shutdown() waits for the next poll.
        Thread(target=redirecting.serve_forever, args=(0.02,), daemon=True).start()
        try:
            url = f"http://127.0.0.1:{redirecting.server_address[1]}/hook"
            receiver.secret = Channels(_context(world)).add_webhook("acme", url).secret
            report = Notifier(_context(world)).run()
        finally:
            redirecting.shutdown()
            redirecting.server_close()
    assert [f.error for f in report.failures] == ["the receiver answered 307"]
    assert receiver.received == []


def test_a_run_killed_while_sending_leaves_a_lease_that_expires(world):
    """Claimed and leased, then the run died: no other run sends it while the
    lease holds; once it has run out, the next run does."""
    _expiring_keys(world, 1)
    with webhook_receiver() as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        dead = Notifier(_context(world))
        dead.claim(dead.due(None, utcnow()), utcnow())  # ... and no send
        assert Notifier(_context(world)).run().sent == 0
        with world.store.engine.begin() as connection:
            connection.execute(sa.text("UPDATE notify_delivery SET lease_until = :past"),
                               {"past": utcnow() - timedelta(seconds=1)})  # fmt: skip
        assert Notifier(_context(world)).run().sent == 1
    assert [r["label"] for r in receiver.received] == ["k0"]


def test_two_runs_claiming_in_opposite_orders_at_once_neither_fails(world):
    """Each claims in one order whatever order it was given (on PostgreSQL
    opposite orders, each waiting on the other's insert, would deadlock)."""
    from concurrent.futures import ThreadPoolExecutor

    from keydesk.store.engine import open_store

    _expiring_keys(world, 8)
    url = world.store.engine.url.render_as_string(hide_password=False)
    stores = [open_store(url) for _ in range(2)]
    try:
        runs = [Notifier(ServiceContext(store, "alice", None)) for store in stores]
        now = utcnow()
        due = runs[0].due(None, now)
        with ThreadPoolExecutor(2) as pool:
            claims = list(pool.map(lambda run, notices: run.claim(notices, now), runs,
                                   [due, due[::-1]]))  # fmt: skip
    finally:
        for store in stores:
            store.dispose()
    assert sorted(n.label for claimed in claims for _id, n in claimed) == [
        f"k{n}" for n in range(8)
    ]


def test_a_delivery_whose_lease_another_run_took_is_not_sent_again(world):
    """A run slower than its lease (thousands of deliveries) renews each one
    before sending it, only if it still holds it: one another run took meanwhile
    is that run's to send."""
    _expiring_keys(world, 1)
    with webhook_receiver() as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        slow, now = Notifier(_context(world)), utcnow()
        ((notice_id, _notice),) = slow.claim(slow.due(None, now), now)
        with world.store.engine.begin() as connection:  # its lease ran out ...
            connection.execute(sa.text("UPDATE notify_delivery SET lease_until = :past"),
                               {"past": utcnow() - timedelta(seconds=1)})  # fmt: skip
        assert Notifier(_context(world)).run().sent == 1  # ... and another run sent it
        (channel,) = Channels(_context(world)).listed()
        late = RunReport()
        slow._deliver(_Leased(notice_id, channel.id, now + LEASE), late)  # where slow had got to
    assert late.sent == 0 and len(receiver.received) == 1


def test_each_notice_is_told_before_any_send_so_a_killed_run_loses_no_line(world):
    """stdout is the channel of a workspace with none configured: a run killed
    in a slow send (or a timer's stop) must already have printed its lines,
    which no later run prints again."""
    _expiring_keys(world, 2)
    Channels(_context(world)).add_webhook("acme", "https://hooks.example.com/keydesk")
    told: list[str] = []

    def killed(_channel, _notice, _notice_id) -> None:
        raise KeyboardInterrupt  # SIGINT; SIGTERM or SIGKILL print nothing more either

    with pytest.raises(KeyboardInterrupt):
        Notifier(_context(world), killed).run(tell=lambda n: told.append(n.label))
    assert sorted(told) == ["k0", "k1"]
    assert Notifier(_context(world)).run(dry_run=True).notices == []


def test_a_receiver_that_does_not_answer_costs_a_run_one_timeout_not_one_per_notice(
    world, monkeypatch
):
    """After a channel's receiver timed out or could not be reached, a run
    tries none of its other deliveries (each would wait out the timeout too,
    and hold up every other channel's); each is reported and kept."""
    import socket

    from keydesk.notify import senders

    monkeypatch.setattr(senders, "SEND_TIMEOUT_SECONDS", 0.3)
    _expiring_keys(world, 3)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        Channels(_context(world)).add_webhook("acme", url)
        report = Notifier(_context(world)).run()
        silent.setblocking(False)
        connections = []
        with contextlib.suppress(BlockingIOError):
            while True:
                connections.append(silent.accept()[0])
        for connection in connections:
            connection.close()
    assert len(connections) == 1 and report.sent == 0
    assert [f.notice.label for f in report.failures] == ["k0", "k1", "k2"]
    assert "not tried" in report.failures[-1].error
    assert Channels(_context(world)).listed()[0].failing == 3
    assert len(Notifier(_context(world)).run(dry_run=True).retries) == 3


def test_a_host_whose_clock_runs_ahead_does_not_take_a_lease_still_held(world, monkeypatch):
    """Two hosts on one PostgreSQL store: leases are the database's clock,
    so a host 10 minutes ahead does not see another's 5-minute lease as run
    out (and send its delivery a second time)."""
    if world.store.backend != "postgresql":
        pytest.skip("two hosts share a store on PostgreSQL; SQLite's clock is its one host's")
    from keydesk.notify import delivery

    _expiring_keys(world, 1)
    with webhook_receiver() as receiver:
        receiver.secret = Channels(_context(world)).add_webhook("acme", receiver.url).secret
        busy = Notifier(_context(world))
        busy.claim(busy.due(None, utcnow()), utcnow())  # ... and sending it now
        monkeypatch.setattr(delivery, "utcnow", lambda: utcnow() + timedelta(minutes=10))
        assert Notifier(_context(world)).run().sent == 0
    assert receiver.received == []
