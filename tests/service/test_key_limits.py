"""A key's limits and networks in the service, on both backends: set when
made (or from the workspace's default rate), carried by a rotation,
changed by admins with one `key.limits` event each (PostgreSQL's trigger
writes the same words), the default rate set by owners only; quota used
and sources read back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keydesk.errors import InvalidInput, PermissionDenied
from keydesk.verify import Verifier


def _events(service, public_key):
    return [(e.action, e.label) for e in service.audit(key=public_key, oldest_first=True)]


def test_limits_set_when_made_are_shown_and_audited(world):
    created = world.owner.create_key(
        "github", "limited", rate="600/min", quota="1_000_000/month",
        allow_from=["10.0.0.0/8", "2001:DB8::/32"],
    )  # fmt: skip
    limits = created.key.limits
    assert (limits.rate, limits.quota) == ("600/min", "1000000/month")
    assert limits.allow_from == ("10.0.0.0/8", "2001:db8::/32")
    assert world.owner.key(created.key.public_key).limits == limits
    assert ("key.limits", limits.note()) in _events(world.owner, created.key.public_key)
    assert limits.note() == "rate 600/min, quota 1000000/month, from 10.0.0.0/8 2001:db8::/32"


def test_a_key_made_without_limits_has_none_and_no_event(world):
    created = world.owner.create_key("github", "free")
    assert not created.key.limits.any
    assert [a for a, _ in _events(world.owner, created.key.public_key)] == ["key.create"]


def test_edit_changes_only_what_is_given_one_event_each(world):
    created = world.owner.create_key("github", "edited", rate="10/s", allow_from=["192.0.2.0/24"])
    public_key = created.key.public_key
    key = world.owner.edit_key_limits(public_key, quota="5/d")
    assert (key.limits.rate, key.limits.quota, key.limits.allow_from) == (
        "10/s", "5/d", ("192.0.2.0/24",),
    )  # fmt: skip
    key = world.owner.edit_key_limits(public_key, rate="none", allow_from=())
    assert (key.limits.rate, key.limits.quota, key.limits.allow_from) == (None, "5/d", ())
    world.owner.edit_key_limits(public_key, quota="5/d")  # no change: no event
    assert [
        label for action, label in _events(world.owner, public_key) if action == "key.limits"
    ] == [
        "rate 10/s, quota none, from 192.0.2.0/24",
        "rate 10/s, quota 5/d, from 192.0.2.0/24",
        "rate none, quota 5/d, from anywhere",
    ]


def test_a_rotation_carries_limits_and_networks(world):
    created = world.owner.create_key("github", "rotated", rate="5/h", allow_from=["2001:db8::/48"])
    rotated = world.owner.rotate_key(created.key.public_key, timedelta(hours=1))
    assert rotated.created.key.limits == created.key.limits


def test_a_rotation_carries_the_quota(world):
    """README: `key rotate` gives the replacement the old key's limits: its quota too."""
    created = world.owner.create_key("github", "metered", quota="1000/month")
    rotated = world.owner.rotate_key(created.key.public_key, timedelta(hours=1))
    assert rotated.created.key.limits.quota == "1000/month"
    assert world.owner.key(rotated.created.key.public_key).limits.quota == "1000/month"


def test_admins_edit_limits_members_may_not(world):
    created = world.owner.create_key("github", "guarded")
    admin = world.as_account("bob", "admin")
    assert admin.edit_key_limits(created.key.public_key, rate="1/s").limits.rate == "1/s"
    member = world.as_account("carol", "member")
    with pytest.raises(PermissionDenied):
        member.edit_key_limits(created.key.public_key, rate="100/s")
    assert world.owner.key(created.key.public_key).limits.rate == "1/s"


def test_the_default_rate_is_the_owners_and_new_keys_get_it(world):
    admin = world.as_account("bob", "admin")
    with pytest.raises(PermissionDenied, match="only owners"):
        admin.set_default_rate("acme", "100/min")
    assert world.owner.set_default_rate("acme", "100/min") == "100/min"
    assert world.owner.default_rate("acme") == "100/min"
    assert world.owner.create_key("github", "defaulted").key.limits.rate == "100/min"
    assert world.owner.create_key("github", "own", rate="5/s").key.limits.rate == "5/s"
    assert world.owner.create_key("github", "none", rate="none").key.limits.rate is None
    events = world.owner.audit("acme")
    assert ("workspace.policy", "default rate 100/min") in [(e.action, e.label) for e in events]
    assert world.owner.set_default_rate("acme", "none") is None


def test_a_default_rate_set_later_leaves_existing_keys_their_own_rate(world):
    """README: new keys get the workspace's default rate; keys that exist keep
    theirs (a key without a rate stays without one)."""
    unlimited = world.owner.create_key("github", "unlimited").key.public_key
    own = world.owner.create_key("github", "own", rate="5/s").key.public_key
    world.owner.set_default_rate("acme", "100/min")
    assert world.owner.key(unlimited).limits.rate is None
    assert world.owner.key(own).limits.rate == "5/s"
    assert world.owner.create_key("github", "new").key.limits.rate == "100/min"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "600 per minute", "--rate '600 per minute' is not a limit"),
        ("quota", "0/d", "N must be between 1"),
        ("allow_from", ["10.0.0.1/8"], "has host bits set; did you mean 10.0.0.0/8?"),
        ("allow_from", ["example.com"], "is not a network"),
    ],
)
def test_a_limit_refused_in_one_line_changes_nothing(world, field, value, message):
    created = world.owner.create_key("github", "unchanged", rate="1/s")
    with pytest.raises(InvalidInput, match=message) as refused:
        world.owner.edit_key_limits(created.key.public_key, **{field: value})
    assert "\n" not in refused.value.message
    assert world.owner.key(created.key.public_key).limits.rate == "1/s"


def test_quota_used_and_sources_are_read_back(world):
    created = world.owner.create_key("github", "counted", quota="10/month")
    verifier = Verifier(world.store.engine)
    try:
        for source in ("203.0.113.9", "203.0.113.9", "2001:db8::9"):
            verifier.verify(created.private_key.reveal(), source)
        verifier.flush()
    finally:
        verifier.close()
    public_key = created.key.public_key
    assert world.owner.quota_used(public_key) == 3
    sources = world.owner.key_sources(public_key, 0)
    assert [(s, n) for _hour, s, n in sources] == [("203.0.113.9", 2), ("2001:db8::9", 1)]
    assert world.as_account("vic", "viewer").quota_used(public_key) == 3  # members read them
