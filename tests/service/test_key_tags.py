"""Key tags (KeyService.create_key(tags=…), edit_key_tags, key lists): kept,
shown, filtered on, refused in one line when malformed, audited once per
change on both backends (the same events PostgreSQL's triggers write)."""

from __future__ import annotations

import pytest

from keydesk.errors import InvalidInput, PermissionDenied
from keydesk.views.tags import Tag, parse_tag, parse_tags


def test_tags_are_kept_shown_and_filtered_on(world):
    prod = world.owner.create_key("github", "prod", tags=["env=prod", "Team=payments"]).key
    world.owner.create_key("github", "staging", tags=["env=staging"])
    assert prod.tags == (Tag("env", "prod"), Tag("team", "payments"))  # names fold to lower case
    with world.owner.reading() as reads:
        found = list(reads.keys("github", tags=parse_tags(["env=prod"])))
        both = list(reads.keys(workspace="acme", tags=parse_tags(["env=prod", "team=payments"])))
        none = list(reads.keys("github", tags=parse_tags(["env=prod", "team=web"])))
    assert [k.label for k in found] == [k.label for k in both] == ["prod"]
    assert none == []
    assert world.owner.key(prod.public_key).tags == prod.tags


def test_editing_tags_adds_changes_removes_each_audited_once(world):
    key = world.owner.create_key("github", "prod", tags=["env=prod", "team=payments"]).key
    edited = world.owner.edit_key_tags(
        key.public_key, add=["env=staging", "owner=bob"], remove=["team"]
    )
    assert edited.tags == (Tag("env", "staging"), Tag("owner", "bob"))
    again = world.owner.edit_key_tags(key.public_key, add=["owner=bob"])  # no change: no event
    assert again.tags == edited.tags
    events = [(e.action, e.label) for e in world.owner.audit(key=key.public_key)]
    assert events == [
        ("key.tag", "owner=bob"),
        ("key.tag", "env=staging"),
        ("key.untag", "team=payments"),
        ("key.tag", "team=payments"),
        ("key.tag", "env=prod"),
        ("key.create", "prod"),
    ]


def test_untagging_a_tag_the_key_lacks_changes_nothing(world):
    key = world.owner.create_key("github", "prod", tags=["env=prod"]).key
    with pytest.raises(InvalidInput, match=f"^key {key.public_key} has no tag 'team'; nothing"):
        world.owner.edit_key_tags(key.public_key, add=["x=1"], remove=["team"])
    with pytest.raises(InvalidInput, match="has no tag 'env=staging'"):
        world.owner.edit_key_tags(key.public_key, remove=["env=staging"])
    assert world.owner.key(key.public_key).tags == (Tag("env", "prod"),)


def test_only_owners_and_admins_tag_keys(world):
    key = world.owner.create_key("github", "prod").key
    viewer = world.as_account("vic", "viewer")
    with pytest.raises(PermissionDenied, match="only owners and admins may tag keys"):
        viewer.edit_key_tags(key.public_key, add=["env=prod"])
    assert viewer.key(key.public_key).tags == ()
    admin = world.as_account("bob", "admin")
    assert admin.edit_key_tags(key.public_key, add=["env=prod"]).tags == (Tag("env", "prod"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("env", "tag 'env': expected NAME=VALUE, e.g. env=prod"),
        ("=prod", "expected NAME=VALUE"),
        ("env=", "expected NAME=VALUE"),
        ("env=two words", "a value is 1-40 letters, digits"),
        ("env=\x1b[31m", "a value is 1-40 letters"),
        ("-env=prod", "tag name '-env': use 1-20 letters"),
        ("énv=prod", "tag name 'énv'"),
        ("e" * 21 + "=x", "tag name"),
        ("env=" + "x" * 41, "a value is 1-40"),
    ],
)
def test_malformed_tags_are_refused_in_one_line(text, message):
    with pytest.raises(InvalidInput) as refused:
        parse_tag(text)
    assert message in refused.value.message and "\n" not in refused.value.message
    assert "\x1b" not in refused.value.message


def test_a_malformed_tag_makes_no_key(world):
    with pytest.raises(InvalidInput):
        world.owner.create_key("github", "prod", tags=["env=prod", "bad tag"])
    assert world.owner.keys("github") == []


def test_at_most_twenty_tags(world):
    many = [f"t{n}=v" for n in range(21)]
    with pytest.raises(InvalidInput, match="at most 20 tags"):
        world.owner.create_key("github", "prod", tags=many)
    key = world.owner.create_key("github", "prod", tags=many[:20]).key
    with pytest.raises(InvalidInput, match="at most 20 tags; nothing was changed"):
        world.owner.edit_key_tags(key.public_key, add=["one=more"])


def test_a_tag_value_that_is_not_ascii_is_refused_in_one_line(world):
    """README: a value is ASCII only, so that no tag reads like another (`env=prød`)."""
    with pytest.raises(InvalidInput) as refused:
        world.owner.create_key("github", "prod", tags=["env=prød"])
    assert refused.value.message == (
        "tag 'env=prød': a value is 1-40 letters, digits or _ . : / @ + - (no spaces)"
    )
    assert world.owner.keys("github") == []
    key = world.owner.create_key("github", "prod", tags=["env=prod"]).key
    with pytest.raises(InvalidInput) as refused:
        world.owner.edit_key_tags(key.public_key, add=["env=prød"])
    assert refused.value.message.startswith("tag 'env=prød': a value is 1-40 letters")
    assert world.owner.key(key.public_key).tags == (Tag("env", "prod"),)
