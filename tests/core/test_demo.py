"""The demo's sample store: one consistent story, as every screenshot shows it."""

from __future__ import annotations

from keydesk.demo import seed_demo
from keydesk.service import KeyService
from keydesk.store.engine import open_store


def test_the_demos_trail_tells_what_its_keys_pages_tell(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}", create=True)
    try:
        seed_demo(store)
        alice = KeyService(store, "alice")
        keys = {key.public_key: key for i in alice.integrations("acme") for key in alice.keys(i.id)}
        events = alice.audit("acme")
        told = 0
        for event in events:
            key = keys.get(event.target)
            if key is None:
                continue
            told += 1
            if event.action == "key.create":
                assert event.at == key.created_at, key.label
            elif event.action.startswith("key.revoke"):
                assert event.at == key.revoked_at, key.label
        assert told >= len(keys)
        disabled = next(e for e in events if e.action == "integration.disable")
        made = [e.at for e in events if e.integration == disabled.integration and e.target in keys]
        assert made and all(at < disabled.at for at in made)  # disabled after its keys were made
    finally:
        store.dispose()


def test_the_demos_integrations_and_members_are_dated_by_their_events(tmp_path):
    """github's Overview said created 09:00 and updated a month later; its
    trail, integration.add at 09:06 and configure at 09:07."""
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}", create=True)
    try:
        seed_demo(store)
        alice = KeyService(store, "alice")
        events = alice.audit("acme", oldest_first=True)
        for integration in alice.integrations("acme"):
            own = [e for e in events if e.action.startswith("integration.")]
            own = [e for e in own if e.integration == integration.name]
            assert own[0].action == "integration.add", integration.name
            assert integration.created_at == own[0].at, integration.name
            assert integration.updated_at == own[-1].at, integration.name
        added = {e.target: e.at for e in events if e.action == "member.add"}
        made = next(e.at for e in events if e.action == "workspace.create")
        for member in alice.members("acme").members:
            assert member.since == added.get(member.account, made), member.account
    finally:
        store.dispose()
