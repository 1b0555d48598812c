"""On PostgreSQL only a workspace's owners see and change its notification
channels, notices and deliveries (revision 0009), for keydesk and for SQL
typed by hand; the trail records a channel's creation as the database's
event; an owner's notify run works under those rules and claims once.

The cast: alice owns acme, carol is an admin there; `verifier` is keydesk
serve's role. One team (a database and its roles) for the module."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg import errors

from keydesk.identity import acting_account
from keydesk.notify import Channels, Notifier
from keydesk.service.context import ServiceContext
from keydesk.views import utcnow
from tests.support.notify_receivers import webhook_receiver
from tests.support.pg_team import Team, acme_with_github

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def acme(team_pool):
    with team_pool.team() as team:
        alice = acme_with_github(team)
        alice.add_member("acme", team.role("carol"), "admin")
        alice.create_key("github", "prod", expires_at=utcnow() + timedelta(days=2))
        yield team


def _context(team: Team, who: str) -> ServiceContext:
    store = team.store_as(who)
    return ServiceContext(store, acting_account(store), None)


def test_owners_alone_see_and_change_channels(acme):
    with webhook_receiver() as receiver:
        added = Channels(_context(acme, "alice")).add_webhook("acme", receiver.url)
        receiver.secret = added.secret
        assert acme.sql("alice", "SELECT secret FROM notify_channel") == [(added.secret,)]
        assert acme.sql("carol", "SELECT * FROM notify_channel") == []  # an admin: no rows
        with pytest.raises(errors.InsufficientPrivilege):
            acme.sql("verifier", "SELECT * FROM notify_channel")
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            acme.sql(
                "carol",
                "INSERT INTO notify_channel (workspace_id, kind, target, created_by, created_at)"
                " SELECT id, 'webhook', 'https://evil.example/x', session_user, now() FROM workspace",
            )
        assert acme.rowcount("carol", "DELETE FROM notify_channel") == 0
        assert Channels(_context(acme, "carol")).listed() == []  # owns no workspace
        events = acme.sql("alice", "SELECT actor, action, target, label FROM audit_event"
                                   " WHERE action LIKE 'notify.%%'")  # fmt: skip
        assert events == [(acme.role("alice"), "notify.add", receiver.url.rsplit("/", 1)[0],
                           "webhook")]  # fmt: skip

        report = Notifier(_context(acme, "alice")).run()
        assert ([n.label for n in report.notices], report.sent, report.failures) == (
            ["prod"],
            1,
            [],
        )
        assert [r["label"] for r in receiver.received] == ["prod"]
        assert acme.sql("carol", "SELECT * FROM notify_notice") == []
        assert acme.sql("carol", "SELECT * FROM notify_delivery") == []

        Channels(_context(acme, "alice")).remove(receiver.url)  # its deliveries go with it
        assert acme.sql("alice", "SELECT count(*) FROM notify_delivery") == [(0,)]
        assert acme.sql("alice", "SELECT action FROM audit_event ORDER BY id DESC LIMIT 1") == [
            ("notify.remove",)
        ]


def test_an_admin_cannot_claim_or_mark_a_notice(acme):
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        acme.sql(
            "carol",
            "INSERT INTO notify_notice (workspace_id, api_key_id, kind, occasion, body, created_at)"
            " SELECT i.workspace_id, k.id, 'key.leaked', 'x', '{}', now()"
            " FROM api_key k JOIN integration i ON i.id = k.integration_id",
        )
    assert acme.rowcount("carol", "UPDATE notify_delivery SET sent_at = now()") == 0
    with pytest.raises(psycopg.Error):
        acme.sql("alice", "INSERT INTO notify_notice (id, workspace_id, api_key_id, kind,"
                          " occasion, body, created_at) VALUES (1, 1, 1, 'k', 'o', '{}', now())")  # fmt: skip
