"""Roles that cannot be broken, on every backend (on PostgreSQL the
database enforces them too: tests/store/postgres/test_row_level_security.py)."""

from __future__ import annotations

import json

import pytest

from keydesk.errors import NotFound, PermissionDenied
from keydesk.verify import Verifier
from keydesk.views import Role


def roles(world) -> dict[str, str]:
    return {m.account: m.role.value for m in world.owner.members("acme").members}


def test_members_are_listed_owners_first(world):
    world.owner.add_member("acme", "vic", "viewer")
    world.owner.add_member("acme", "carol", "admin")
    listed = world.owner.members("acme")
    assert [(m.account, m.role) for m in listed.members] == [
        ("alice", Role.OWNER), ("carol", Role.ADMIN), ("vic", Role.VIEWER),
    ]  # fmt: skip
    assert listed.you == "alice" and listed.your_role is Role.OWNER
    assert all(m.since is not None for m in listed.members)


def test_an_admin_cannot_change_or_remove_an_owner(world):
    carol = world.as_account("carol", "admin")
    before = roles(world)
    with pytest.raises(PermissionDenied, match="only an owner can change an owner's role"):
        carol.set_member_role("acme", "alice", "viewer")
    with pytest.raises(PermissionDenied, match="only an owner can remove an owner"):
        carol.remove_member("acme", "alice")
    with pytest.raises(PermissionDenied, match="only an owner can make another account an owner"):
        carol.add_member("acme", "dave", "owner")
    with pytest.raises(PermissionDenied, match="only an owner can make another account an owner"):
        carol.set_member_role("acme", "carol", "owner")
    assert roles(world) == before  # a refused action changes nothing


def test_only_owners_make_and_unmake_owners(world):
    world.as_account("carol", "admin")
    world.owner.set_member_role("acme", "carol", "owner")
    carol = world.as_account("carol")
    carol.set_member_role("acme", "alice", "admin")  # one owner demotes another
    assert roles(world) == {"alice": "admin", "carol": "owner"}


def test_the_last_owner_cannot_leave_or_be_demoted(world):
    for attempt in (
        lambda: world.owner.remove_member("acme", "alice"),
        lambda: world.owner.set_member_role("acme", "alice", "admin"),
    ):
        with pytest.raises(
            PermissionDenied, match=r"last owner of acme .* another account an owner"
        ):
            attempt()
    assert roles(world) == {"alice": "owner"}
    world.owner.add_member("acme", "carol", "owner")
    world.owner.remove_member("acme", "alice")  # now she may leave
    assert roles_as(world, "carol") == {"carol": "owner"}


def roles_as(world, name: str) -> dict[str, str]:
    return {m.account: m.role.value for m in world.as_account(name).members("acme").members}


def test_anyone_may_leave_but_only_managers_remove_others(world):
    vic = world.as_account("vic", "viewer")
    world.as_account("val", "viewer")
    with pytest.raises(PermissionDenied, match="vic is a viewer in acme; only owners and admins"):
        vic.remove_member("acme", "val")
    with pytest.raises(PermissionDenied, match="only owners and admins"):
        vic.set_member_role("acme", "vic", "admin")
    vic.remove_member("acme", "vic")
    assert "vic" not in roles(world)


def test_strangers_and_unknown_members(world):
    with pytest.raises(NotFound, match="dave is not a member of acme"):
        world.owner.set_member_role("acme", "dave", "viewer")
    with pytest.raises(NotFound, match="dave is not a member"):
        world.owner.remove_member("acme", "dave")
    with pytest.raises(PermissionDenied, match="mallory is not a member"):
        world.as_account("mallory").members("acme")


def test_removing_a_member_keeps_their_keys_and_names_them_removed(world):
    carol = world.as_account("carol", "admin")
    created = carol.create_key("github", "carol's key")
    world.owner.remove_member("acme", "carol")
    (key,) = world.owner.keys("github")
    assert key.is_active and key.created_by == "carol" and key.creator_removed
    assert key.creator == "carol (removed)"
    assert Verifier(world.store.engine).verify(created.private_key).label == "carol's key"
    world.owner.add_member("acme", "carol", "viewer")  # back again: no longer "removed"
    assert world.owner.keys("github")[0].creator == "carol"


def test_member_changes_are_audited(world):
    world.owner.add_member("acme", "carol", "viewer")
    world.owner.set_member_role("acme", "carol", "admin")
    world.owner.remove_member("acme", "carol")
    events = [(e.action, e.target, e.label) for e in world.owner.audit("acme")][:3]
    assert events == [
        ("member.remove", "carol", "admin"),
        ("member.set", "carol", "admin"),
        ("member.add", "carol", "viewer"),
    ]


# -- the command line ------------------------------------------------------------


def test_member_commands(configured):
    assert (
        configured("member", "add", "--workspace", "acme", "--account", "bob", "--role", "admin")[0]
        == 0
    )
    code, out, _ = configured("member", "set-role", "--workspace", "acme", "--account", "bob",
                       "--role", "viewer", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["role"] == "viewer"
    code, out, _ = configured("member", "list", "--json")
    assert [(m["workspace"], m["account"], m["role"]) for m in json.loads(out)] == [
        ("acme", "alice", "owner"), ("acme", "bob", "viewer"),
    ]  # fmt: skip
    code, out, _ = configured("member", "list", "--workspace", "acme")
    assert out.splitlines()[0].split() == ["WORKSPACE", "ACCOUNT", "ROLE", "SINCE"]
    code, out, _ = configured("member", "remove", "--workspace", "acme", "--account", "bob")
    assert code == 0 and "the keys they created stay active" in out


@pytest.mark.parametrize(
    ("args", "actor", "needle"),
    [
        (("member", "remove", "--workspace", "acme", "--account", "alice"), "alice", "last owner"),
        (("member", "set-role", "--workspace", "acme", "--account", "alice", "--role", "admin"),
         "alice", "last owner"),
        (("member", "set-role", "--workspace", "acme", "--account", "alice", "--role", "viewer"),
         "carol", "only an owner"),
        (("member", "set-role", "--workspace", "acme", "--account", "nobody", "--role", "viewer"),
         "alice", "nobody is not a member of acme"),
        (("member", "list", "--workspace", "acme"), "mallory", "mallory is not a member"),
    ],
)  # fmt: skip
def test_member_refusals_are_one_line(configured, args, actor, needle):
    configured("member", "add", "--workspace", "acme", "--account", "carol", "--role", "admin")
    code, out, err = configured(*args, actor=actor)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_key_list_names_removed_creators(configured):
    configured("member", "add", "--workspace", "acme", "--account", "carol", "--role", "admin")
    configured("key", "create", "--integration", "github", "--label", "ci", actor="carol")
    configured("member", "remove", "--workspace", "acme", "--account", "carol")
    _, out, _ = configured("key", "list", "--integration", "github")
    assert "carol (removed)" in out
    _, out, _ = configured("key", "list", "--integration", "github", "--json")
    (key,) = json.loads(out)
    assert key["created_by"] == "carol" and key["created_by_removed"] is True
