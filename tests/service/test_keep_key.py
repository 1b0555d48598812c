"""KeyService.keep_key: cancelling the stop a rotation set, when its
replacement was revoked (found leaked, say) and the old key must live on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keydesk.errors import NoScheduledStop, PermissionDenied
from keydesk.views import stop_time


def test_a_rotation_whose_replacement_was_revoked_says_so_and_can_be_kept(world):
    old = world.owner.create_key("github", "prod", expires_at=None).key
    new = world.owner.rotate_key(old.public_key, timedelta(hours=23)).created.key
    assert not world.owner.key(old.public_key).replacement_revoked
    world.owner.revoke_key(new.public_key, leaked_at="ci.log")

    rotating = world.owner.key(old.public_key)
    assert rotating.replacement_revoked and rotating.stop_is_orphaned()
    assert rotating.status_words().startswith("replacement revoked, stops in ")

    kept = world.owner.keep_key(old.public_key)
    assert kept.expires_at is None and kept.is_active  # it never stopped before the rotation
    assert kept.status_words() == "active"
    event = world.owner.audit(key=old.public_key)[0]
    assert (event.action, event.label) == ("key.keep", "no expiry")  # as PostgreSQL writes it


def test_keeping_restores_the_keys_own_lifetime(world):
    old = world.owner.create_key("github", "prod", expires_at=world_now() + timedelta(days=90)).key
    new = world.owner.rotate_key(old.public_key, timedelta(hours=1)).created.key
    world.owner.revoke_key(new.public_key)
    kept = world.owner.keep_key(old.public_key)
    assert kept.expires_at == old.created_at + timedelta(days=90)
    assert kept.status_words() == "active" and not kept.stop_scheduled()
    event = world.owner.audit(key=old.public_key)[0]
    assert event.label == f"stops {stop_time(old.created_at + timedelta(days=90))}"


def test_keeping_is_refused_with_no_stop_a_live_replacement_or_by_a_member(world):
    key = world.owner.create_key("github", "prod").key.public_key
    with pytest.raises(NoScheduledStop, match=f"^key {key} \\(prod\\) has no scheduled stop"):
        world.owner.keep_key(key)
    new = world.owner.rotate_key(key, timedelta(hours=1)).created.key.public_key
    # A rotation under way is not undone: only a revoked replacement's stop is kept.
    with pytest.raises(
        NoScheduledStop,
        match=f"^key {key} \\(prod\\) stops as its rotation planned: its replacement {new} works",
    ):
        world.owner.keep_key(key)
    world.owner.revoke_key(new)
    with pytest.raises(PermissionDenied, match="only owners and admins may keep keys"):
        world.as_account("bob", "member").keep_key(key)
    world.owner.keep_key(key)
    with pytest.raises(NoScheduledStop):  # kept once: nothing left to cancel
        world.owner.keep_key(key)


def world_now():
    from keydesk.views import utcnow

    return utcnow()
