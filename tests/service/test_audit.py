"""Reading the audit trail: filters, pages of any size, JSON Lines."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from keydesk.errors import InvalidInput, PermissionDenied
from keydesk.service import KeyService
from keydesk.store.models import AuditEvent
from keydesk.views import utcnow


def add_events(world, count: int, *, at=None, workspace_id: int = 1) -> None:
    """`count` events written straight to the table (a trusted test, as the
    store's owner), all at the same moment unless `at` is given."""
    moment = at or utcnow()
    with world.store.engine.begin() as connection:
        connection.execute(
            sa.insert(AuditEvent),
            [
                {"workspace_id": workspace_id, "actor": "alice", "action": "note",
                 "target": f"event {n}", "at": moment}
                for n in range(count)
            ],
        )  # fmt: skip


def all_pages(service: KeyService, limit: int, **filters) -> list:
    events, last = [], None
    while page := service.audit(after=last, limit=limit, **filters):
        assert len(page) <= limit
        events += page
        last = page[-1]
    return events


@pytest.mark.parametrize("oldest_first", [False, True])
def test_pages_cover_the_trail_once_in_order_even_when_times_tie(world, oldest_first):
    before = len(world.owner.audit(limit=1000))
    add_events(world, 250)  # one timestamp: only the id orders them
    events = all_pages(world.owner, 40, oldest_first=oldest_first)
    keys = [(e.at, e.id) for e in events]
    assert len(events) == len(set(keys)) == before + 250
    assert keys == sorted(keys, reverse=not oldest_first)


def test_an_integrations_trail_holds_its_own_and_its_keys_events(world):
    key = world.owner.create_key("github", "prod")
    world.owner.revoke_key(key.key.public_key)
    world.owner.update_integration("gitlab", client_id="gl")
    events = world.owner.audit(integration="github")
    assert [e.action for e in events] == [
        "key.revoke", "key.create", "integration.configure", "integration.add",
    ]  # fmt: skip
    assert {e.integration for e in events} == {"github"}
    assert [e.action for e in world.owner.audit(key=key.key.public_key)] == [
        "key.revoke", "key.create",
    ]  # fmt: skip


def test_since_and_workspace_filters(world):
    add_events(world, 3, at=utcnow() - timedelta(days=30))
    recent = world.owner.audit(since=utcnow() - timedelta(days=7))
    assert recent and all(e.target != "event 0" for e in recent)
    assert len(world.owner.audit("acme", limit=1000)) == len(recent) + 3
    world.owner.create_workspace("beta")
    assert {e.workspace for e in world.owner.audit()} == {"acme", "beta"}
    assert {e.workspace for e in world.owner.audit("beta")} == {"beta"}


def test_only_members_read_a_trail(world):
    stranger = KeyService(world.store, "mallory")
    assert stranger.audit() == []
    with pytest.raises(PermissionDenied):
        stranger.audit("acme")
    viewer = world.as_account("vic", "viewer")
    assert viewer.audit("acme")  # viewers may read it
    with pytest.raises(InvalidInput):
        viewer.audit(limit=0)


# -- the command line ------------------------------------------------------------


@pytest.fixture
def cli(configured):
    """acme, github, and a key whose label looks like markup."""
    configured("key", "create", "--integration", "github", "--label", "[red]prod[/]")
    return configured


def test_json_lines_oldest_first_and_a_table_newest_first(cli):
    code, out, _ = cli("audit", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["action"] for e in events] == [
        "workspace.create", "integration.add", "integration.configure", "key.create",
    ]  # fmt: skip
    assert events[-1]["integration"] == "github" and events[-1]["label"] == "[red]prod[/]"
    assert set(events[0]) == {
        "id", "at", "workspace", "integration", "actor", "action", "target", "label", "related",
    }  # fmt: skip
    code, out, _ = cli("audit")
    lines = out.splitlines()
    assert lines[0].split() == ["WHEN", "WORKSPACE", "ACTOR", "ACTION", "TARGET", "LABEL"]
    assert (
        "key.create" in lines[1] and "[red]prod[/]" in lines[1] and "workspace.create" in lines[-1]
    )
    _, out, _ = cli("audit", "--json", "--limit", "2")
    assert [json.loads(line)["action"] for line in out.splitlines()] == [
        "integration.configure", "key.create",
    ]  # fmt: skip


def test_cli_filters(cli):
    _, out, _ = cli("key", "list", "--integration", "github", "--json")
    public = json.loads(out)[0]["public_key"]
    _, out, _ = cli("audit", "--key", public, "--json")
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["key.create"]
    _, out, _ = cli("audit", "--integration", "github", "--since", "1h", "--json")
    assert len(out.splitlines()) == 3
    _, out, _ = cli("audit", "--since", "2999-01-01", "--json")
    assert out == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("audit", "--since", "yesterday"), "neither a time ago"),
        (("audit", "--since", "7x"), "neither a time ago"),
        (("audit", "--workspace", "nope"), "no workspace named"),
        (("audit", "--key", "nope"), "not a public key"),
        (("audit", "--limit", "0"), "at least 1"),
    ],
)
def test_cli_refusals_are_one_line(cli, args, needle):
    code, out, err = cli(*args)
    assert code != 0 and out == "" and err.count("\n") == 1 and needle in err


def test_matching_searches_every_column_and_the_keys_label_in_any_case(world):
    """`matching` (the TUI's `/` on a trail): the whole trail, not a page;
    a key event carries its key's label though its own label says more."""
    key = world.owner.create_key("github", "Edge_100%")
    world.owner.rotate_key(key.key.public_key, timedelta(days=1), label="next")
    add_events(world, 300)  # more than a page, none of them matching
    kept = world.owner.audit(matching="edge_100%")
    assert [e.action for e in kept] == ["key.rotate", "key.create"]  # its own label: the stop
    assert {e.key_label for e in kept} == {"Edge_100%"}
    assert kept[0].label != "Edge_100%"
    assert world.owner.audit(matching="edge_1000") == []  # `_` and `%` are literal
    assert world.owner.audit(matching="Edgex100") == []
    assert {e.integration for e in world.owner.audit(matching="GITHUB")} == {"github"}
    assert len(all_pages(world.owner, 40, matching="event 1")) == 111  # 1, 10-19, 100-199
