"""SSH keys on the Members screen: adding a member whose SSH keys wait for
this workspace's approval says so, and an owner approves them behind a
confirmation naming their fingerprints (keydesk.service.ssh_approvals). And in an
SSH session the TUI scans no file of the server. Demo store: acme with
alice owner, bob admin, carol viewer."""

from __future__ import annotations

import pytest
from textual.notifications import Notify
from textual.widgets import Input

from keydesk.service import KeyService
from keydesk.ssh.gate import SCAN_REFUSED, RefusedOverSsh
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.members import AddMemberScreen
from keydesk.tui.screens.scan import ScanScreen
from tests.tui.test_members_audit import highlight, open_members, settle

BOB_KEY = "SHA256:" + "b" * 43
DAVE_KEY = "SHA256:" + "d" * 43


def let_in_elsewhere(store, account: str, fingerprint: str) -> None:
    """`account` owns workspace lab-ACCOUNT, where their key is approved (so
    it is a key of theirs keydesk knows), and nowhere else."""
    own = KeyService(store, account)
    own.create_workspace(f"lab-{account}")
    own.authorize_ssh_key(account, fingerprint, lambda: None, workspace=f"lab-{account}")


def notices(posted: list[object]) -> list[str]:
    return [m.notification.message for m in posted if isinstance(m, Notify)]


async def test_adding_a_member_with_ssh_keys_says_they_wait_here(make_app, demo_store):
    let_in_elsewhere(demo_store, "dave", DAVE_KEY)
    app = make_app()
    posted: list[object] = []
    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        await open_members(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, AddMemberScreen)
        form.query_one("#member-account", Input).value = "dave"
        await pilot.click("#add")
        await settle(pilot)
    [notice] = [m for m in notices(posted) if "SSH key" in m]
    assert f"dave already has 1 SSH key ({DAVE_KEY}) that cannot act in 'acme'" in notice
    assert f"keydesk ssh authorize --account dave --key {DAVE_KEY} --workspace acme" in notice


async def test_an_owner_approves_a_members_keys_after_a_confirmation_naming_them(
    make_app, demo_store
):
    let_in_elsewhere(demo_store, "bob", BOB_KEY)
    alice = KeyService(demo_store, "alice")
    assert alice.ssh_keys_awaiting("acme", "bob") == (BOB_KEY,)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_members(pilot)
        await highlight(pilot, screen, "bob")
        await pilot.press("s")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert BOB_KEY in confirm._lines
        assert alice.ssh_keys_awaiting("acme", "bob") == (BOB_KEY,)  # nothing before yes
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is screen
    assert alice.ssh_keys_awaiting("acme", "bob") == ()
    [event] = [e for e in alice.audit("acme") if e.action == "ssh.approve"]
    assert (event.actor, event.target, event.label) == ("alice", BOB_KEY, "bob")


async def test_only_owners_are_offered_the_approval(make_app, demo_store):
    let_in_elsewhere(demo_store, "carol", DAVE_KEY)
    app = make_app("bob")  # an admin
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_members(pilot)
        await highlight(pilot, screen, "carol")
        assert screen.check_action("approve_ssh", ()) is False
        await pilot.press("s")
        await settle(pilot)
        assert app.screen is screen
    assert KeyService(demo_store, "alice").ssh_keys_awaiting("acme", "carol") == (DAVE_KEY,)


async def test_in_an_ssh_session_the_tui_scans_no_file_of_the_server(demo_store):
    let_in_elsewhere(demo_store, "alice", BOB_KEY)
    alice = KeyService(demo_store, "alice")
    alice.approve_ssh_keys("acme", "alice", [BOB_KEY])
    app = KeydeskApp(KeyService(demo_store, "alice", ssh_key=BOB_KEY))
    app.ssh_session = True
    posted: list[object] = []
    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        await settle(pilot)
        app.scan_for_leaks()
        await settle(pilot)
        assert not isinstance(app.screen, ScanScreen)
    assert SCAN_REFUSED in notices(posted)
    # And the scanner itself refuses, whoever calls it.
    leaks = app.scan_leaks(["/"], on_file=lambda: None, on_skipped=lambda *_: None)
    with pytest.raises(RefusedOverSsh, match="scans only text you send"):
        next(leaks)
