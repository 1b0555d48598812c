"""Revoking many keys at once (KeyService.matching_keys, revoke_keys) on
both backends: what a selection matches, one transaction, one event per key
and one for the batch, and every revoked key refused on its next
verification, in this process and by `keydesk serve` in another."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from keydesk.errors import Unauthorized, UnauthorizedReason
from keydesk.service import KeyService
from keydesk.verify import Verifier
from keydesk.views import utcnow
from keydesk.views.revocations import KeySelection
from keydesk.views.tags import parse_tags
from tests.support.servers import keydesk_serve


def _selection(*tags: str, **filters) -> KeySelection:
    return KeySelection(parse_tags(tags), **filters)


def test_filters_combine_and_match_only_active_keys_the_actor_may_revoke(world):
    owner = world.owner
    bob = world.as_account("bob", "admin")
    staging = owner.create_key("github", "s1", tags=["env=staging"]).key
    by_bob = bob.create_key("github", "s2", tags=["env=staging"]).key
    owner.create_key("github", "p1", tags=["env=prod"])
    gone = owner.create_key("github", "s3", tags=["env=staging"]).key
    owner.revoke_key(gone.public_key)
    expired = owner.create_key(
        "github", "s4", tags=["env=staging"], expires_at=utcnow() + timedelta(seconds=1)
    ).key

    def labels(selection: KeySelection, service: KeyService = owner) -> set[str]:
        return {k.label for k in service.matching_keys(selection)}

    with world.store.engine.begin() as connection:  # expired since
        connection.execute(
            sa.text("UPDATE api_key SET expires_at = :past WHERE public_key = :key"),
            {"past": utcnow() - timedelta(hours=1), "key": expired.public_key},
        )
    assert labels(_selection("env=staging")) == {"s1", "s2"}
    assert labels(_selection("env=staging", created_by="bob")) == {by_bob.label}
    assert labels(_selection(created_by="alice", integration="github")) == {"s1", "p1"}
    assert labels(_selection(unused_for=timedelta(days=1))) == set()
    assert labels(_selection("env=staging"), world.as_account("vic", "viewer")) == set()
    assert staging.label in labels(_selection("env=staging", workspace="acme"))


def test_revoking_many_is_one_transaction_audited_per_key_and_once_for_the_batch(world):
    keys = [world.owner.create_key("github", f"k{n}", tags=["env=ci"]).key for n in range(4)]
    world.owner.revoke_key(keys[0].public_key)  # revoked meanwhile: skipped
    done = world.owner.revoke_keys([k.public_key for k in keys], note="tag env=ci")
    assert done.revoked == tuple(k.public_key for k in keys[1:])
    assert done.skipped == (keys[0].public_key,)
    events = world.owner.audit("acme", limit=4)
    batch, *each = [(e.action, e.integration, e.target, e.label) for e in events]
    assert batch == ("key.revoke.batch", "github", "tag env=ci", "3 keys revoked")
    assert sorted(each) == sorted(("key.revoke", "github", k.public_key, k.label) for k in keys[1:])
    assert all(world.owner.key(k.public_key).revoked_by == "alice" for k in keys[1:])


def _second_workspace(world) -> int:
    """beta, also owned by alice, with a configured integration gitlab: its id."""
    world.owner.create_workspace("beta")
    return world.owner.add_integration(
        "beta", "gitlab", "GitLab", client_id="Iv1.b",
        redirect_uri="https://app.example.com/cb", configure=True,
    ).id  # fmt: skip


def test_workspace_narrows_the_match_to_that_workspace(world):
    """README: `--workspace` only narrows: matching keys elsewhere are not matched."""
    gitlab = _second_workspace(world)
    acme = world.owner.create_key("github", "a1", tags=["env=staging"]).key
    beta = world.owner.create_key(gitlab, "b1", tags=["env=staging"]).key
    matched = world.owner.matching_keys(_selection("env=staging", workspace="beta"))
    assert [k.public_key for k in matched] == [beta.public_key]
    everywhere = world.owner.matching_keys(_selection("env=staging"))
    assert {k.public_key for k in everywhere} == {acme.public_key, beta.public_key}


def test_a_key_expired_between_the_match_and_the_revoke_is_skipped(world):
    """README: a key expired since the question is left as it is and counted."""
    keys = [world.owner.create_key("github", f"k{n}", tags=["env=ci"]).key for n in range(3)]
    matched = [k.public_key for k in world.owner.matching_keys(_selection("env=ci"))]
    assert sorted(matched) == sorted(k.public_key for k in keys)
    with world.store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE api_key SET expires_at = :past WHERE public_key = :key"),
            {"past": utcnow() - timedelta(minutes=1), "key": keys[1].public_key},
        )
    done = world.owner.revoke_keys(matched, note="tag env=ci")
    assert done.skipped == (keys[1].public_key,)
    assert sorted(done.revoked) == sorted([keys[0].public_key, keys[2].public_key])
    expired = world.owner.key(keys[1].public_key)
    assert (expired.status, expired.revoked_by) == ("expired", None)
    (batch,) = [e for e in world.owner.audit("acme") if e.action == "key.revoke.batch"]
    assert batch.label == "2 keys revoked"


def test_revoking_keys_of_two_workspaces_writes_one_batch_event_in_each(world):
    """README: each workspace has one `key.revoke.batch` naming what was asked
    and counting its own keys (on PostgreSQL the database counts them)."""
    gitlab = _second_workspace(world)
    keys = [world.owner.create_key("github", f"a{n}").key for n in range(2)]
    keys.append(world.owner.create_key(gitlab, "b0").key)
    done = world.owner.revoke_keys([k.public_key for k in keys], note="tag env=ci")
    assert len(done.revoked) == 3
    batches = sorted(
        (e.workspace, e.integration, e.target, e.label)
        for workspace in ("acme", "beta")
        for e in world.owner.audit(workspace)
        if e.action == "key.revoke.batch"
    )
    assert batches == [
        ("acme", "github", "tag env=ci", "2 keys revoked"),
        ("beta", "gitlab", "tag env=ci", "1 key revoked"),
    ]


def test_a_revocation_that_fails_midway_revokes_nothing(world, monkeypatch):
    """The batch's event is written last (on PostgreSQL by the database,
    which refuses a note with a control character): refused there, every
    key stays active."""
    import keydesk.store.bulk_revoke as bulk

    keys = [world.owner.create_key("github", f"k{n}").key.public_key for n in range(3)]
    if world.store.backend == "postgresql":
        monkeypatch.setattr(bulk, "_clipped", lambda note: "\x01")
    else:
        monkeypatch.setattr(bulk, "_events", _fail)  # made once the keys are revoked
    with pytest.raises(Exception):  # noqa: B017 (whatever it is, nothing stays)
        world.owner.revoke_keys(keys, note="x")
    assert all(world.owner.key(k).is_active for k in keys)


def _fail(*_args: object) -> None:
    raise RuntimeError("the disk went away")


def test_every_revoked_key_is_refused_next_here_and_by_another_process(store_url, world, tmp_path):
    world.admit_keydesk_commands()
    made = [world.owner.create_key("github", f"s{n}", tags=["env=staging"]) for n in range(3)]
    kept = world.owner.create_key("github", "prod", tags=["env=prod"])
    verifier = Verifier(world.store.engine)
    with keydesk_serve(store_url, log=tmp_path / "serve.log") as url:

        def answer(created) -> int:
            headers = {"Authorization": f"Bearer {created.private_key.reveal()}"}
            return httpx.get(f"{url}/v1/verify", headers=headers).status_code

        for created in [*made, kept]:
            verifier.verify(created.private_key.reveal())
            assert answer(created) == answer(created) == 200  # the second one cached
        matched = world.owner.matching_keys(_selection("env=staging"))
        done = world.owner.revoke_keys([k.public_key for k in matched], note="tag env=staging")
        assert len(done.revoked) == 3
        for created in made:
            assert answer(created) == 401
            try:
                verifier.verify(created.private_key.reveal())
                raise AssertionError("a revoked key verified")
            except Unauthorized as refused:
                assert refused.reason == UnauthorizedReason.REVOKED
        assert answer(kept) == 200
        assert verifier.verify(kept.private_key.reveal()).public_key == kept.key.public_key
    verifier.close()
