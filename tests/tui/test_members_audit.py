"""The Members screen and the audit trail, driven through Pilot on the demo
store (acme: alice owner, bob admin, carol viewer)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from textual.widgets import DataTable, Input, Static
from textual.widgets._footer import FooterKey

from keydesk.service import KeyService
from keydesk.store.models import AuditEvent
from keydesk.tui.screens.audit import AuditScreen
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.members import AddMemberScreen, MembersScreen, RoleScreen
from keydesk.tui.screens.welcome import WelcomeScreen
from keydesk.tui.widgets import KeyFooter
from keydesk.tui.widgets.audit_log import PAGE, AuditLog
from keydesk.validation import shown_literally
from keydesk.views import utcnow
from tests.tui.screenshots import (
    burst,
    open_integration,
    open_tab,
    past_refusal,
    settle,
    settle_long,
)


def roles(store) -> dict[str, str]:
    return {m.account: m.role.value for m in KeyService(store, "alice").members("acme").members}


async def open_members(pilot) -> MembersScreen:
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, MembersScreen)
    return screen


async def highlight(pilot, screen: MembersScreen, account: str) -> None:
    screen.table.move_cursor(row=screen.table.get_row_index(account))
    await settle(pilot)


def note(screen) -> str:
    widget = screen.query_one("#members-note", Static)
    return str(widget.render()) if widget.display else ""


async def test_an_owner_filters_changes_adds_and_removes_members(make_app, demo_store):
    """One walk on the members list as alice (the last owner). `/car` typed
    as one burst: the filter gets `car` (`a` opened "Add a member" and `r`
    landed in its Account field); Escape clears, then leaves. A role changes
    only after confirming; the last owner cannot leave; adding refuses a bad
    account on the form; removing asks first and keeps the member's keys."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_members(pilot)
        burst(app, "/car")
        await settle_long(pilot)
        assert app.screen is screen and screen.member_filter.value == "car", "filter: burst"
        assert list(screen.table.rows) == ["carol"], "filter: car"
        await pilot.press("escape")
        await settle(pilot)
        assert screen.member_filter.value == "" and screen.table.has_focus, "filter: cleared"
        assert list(screen.table.rows) == ["alice", "bob", "carol"], "filter: cleared"
        await pilot.press("slash", "escape")  # an empty filter: Escape leaves
        await settle(pilot)
        assert app.screen is not screen, "filter: empty, escape leaves"

        await pilot.resize_terminal(100, 30)
        screen = await open_members(pilot)
        assert list(screen.table.rows) == ["alice", "bob", "carol"], "listed"
        await highlight(pilot, screen, "carol")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, RoleScreen), "role: e"
        await pilot.press("up", "up", "enter")  # viewer → admin
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "role: asks"
        assert roles(demo_store)["carol"] == "viewer", "role: nothing before the confirmation"
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is screen and roles(demo_store)["carol"] == "admin", "role: changed"
        assert screen.highlighted().account == "carol", "role: row kept"
        said = [n.message for n in app._notifications]
        assert "carol is now an admin." in said, ("role: said in a sentence", said)

        await highlight(pilot, screen, "alice")
        assert "alice is the last owner of acme and cannot leave" in note(screen), "last owner"
        assert screen.check_action("remove", ()) is False, "last owner: remove"
        assert screen.check_action("change_role", ()) is False, "last owner: change role"

        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, AddMemberScreen), "add: a"
        await pilot.press("t", "a", "b", "enter")
        form.query_one("#member-account", Input).value = "tab\there"
        await pilot.press("enter")  # viewer, the default
        await settle(pilot)
        error = form.query_one("#member-error", Static)
        assert app.screen is form and error.display, "add: refused on the form"
        assert "control or invisible character" in str(error.render()), "add: why"
        await pilot.resize_terminal(60, 20)  # the refusal's lines pushed the buttons off
        await settle(pilot)
        for part in ("#add", "#cancel", "#member-account"):
            widget = form.query_one(part)
            assert form.get_widget_at(*widget.region.center)[0] is widget, ("add: 60x20", part)
        dialog, label = form.query_one("#dialog").content_region, form.query_one("Label").region
        assert label.right <= dialog.right, ("add: the account's label whole", label, dialog)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)  # laid out again before the click: it aimed at the 60x20 place
        form.query_one("#member-account", Input).value = "dave"
        await pilot.click("#add")
        await settle(pilot)
        assert app.screen is screen and roles(demo_store)["dave"] == "viewer", "add: dave"
        assert screen.highlighted().account == "dave", "add: dave highlighted"

        await highlight(pilot, screen, "bob")
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "remove: asks"
        assert app.screen.focused.id == "cancel", "remove: a stray Enter removes no one"
        said = " ".join(str(line.render()) for line in app.screen.query(".dialog-line"))
        assert "“bob” will no longer see" in said, "remove: the name quoted"
        assert "The API keys “bob” created stay active" in said, "remove: the name quoted"
        await pilot.press("enter")
        await settle(pilot)
        assert "bob" in roles(demo_store), "remove: cancelled"
        await pilot.press("x")
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert "bob" not in roles(demo_store), "remove: confirmed"
        await pilot.press("escape")
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen), "remove: github"
        ci = next(k for k in detail.listed_keys() if k.label == "CI Runner")
        assert ci.is_active, "remove: bob's key kept"
        detail.table.move_cursor(row=detail.listed_keys().index(ci))
        await settle(pilot)
        shown = str(detail.query_one("#key-detail", Static).render())
        assert "by bob (removed)" in shown, ("remove: key's maker", shown)


async def test_what_an_admin_may_not_do_is_not_offered_and_says_why(make_app, demo_store):
    app = make_app("bob")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_members(pilot)
        await highlight(pilot, screen, "alice")
        assert "alice is an owner; only an owner can remove an owner." in note(screen)
        assert screen.check_action("remove", ()) is False
        assert screen.check_action("change_role", ()) is False
        await pilot.press("x", "e")
        await settle(pilot)
        assert app.screen is screen and roles(demo_store)["alice"] == "owner"
        await highlight(pilot, screen, "carol")
        assert note(screen) == "" and screen.check_action("remove", ()) is True
        await pilot.press("e")
        await settle(pilot)
        offered = [o.id for o in app.screen.query_one("#roles").options]
        assert offered == ["admin", "member", "viewer"]  # not owner


def footer_keys(app) -> list[str]:
    return [key.key for key in app.screen.query_one(KeyFooter).query(FooterKey)]


async def test_a_viewer_is_not_offered_member_changes_and_told_why_on_their_keys(make_app):
    """As on the integrations' pages: what a viewer may never do is not in
    the footer, and its key says why in the integrations' words (it said only
    "Add: not possible here now")."""
    app = make_app("carol")
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_members(pilot)
        await highlight(pilot, screen, "alice")
        shown = footer_keys(app)
        assert not {"a", "e", "x"} & set(shown), shown
        for key in ("a", "e", "x"):
            app.clear_notifications()
            await pilot.press(key)
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert app.screen is screen, key
            assert said == [
                "You are a viewer in acme; only owners and admins manage members "
                "(you may leave: x on your own row). Ask an owner to change your role."
            ], (key, said)
            await past_refusal(pilot)
        app.clear_notifications()
        await pilot.press("p")
        await settle(pilot)
        assert [n.message for n in app._notifications] == [
            "Only an owner of acme may set the key policy."  # every refusal a sentence
        ]
        await highlight(pilot, screen, "carol")
        offered = {k.key: k.description for k in app.screen.query_one(KeyFooter).query(FooterKey)}
        assert offered.get("x") == "Leave", offered  # leaving is hers, and said so (was "Remove")


async def test_a_viewer_sees_members_and_may_leave(make_app, demo_store):
    app = make_app("carol")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_members(pilot)
        assert "You are a viewer in acme" in note(screen)
        assert screen.check_action("add", ()) is False
        assert screen.check_action("change_role", ()) is False
        await highlight(pilot, screen, "alice")
        assert screen.check_action("remove", ()) is False
        await highlight(pilot, screen, "carol")
        await pilot.press("x")
        await settle(pilot)
        assert "Leave acme?" in str(app.screen.query_one("#dialog-title", Static).render())
        await pilot.click("#confirm")
        await settle(pilot)
        assert "carol" not in roles(demo_store)
        assert isinstance(app.screen, WelcomeScreen)  # carol has no workspace left
        assert app.workspace is None


async def test_the_palette_opens_members_and_the_audit_trail(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for query, screen_type in (("members of", MembersScreen), ("audit trail", AuditScreen)):
            await pilot.press("ctrl+p")
            await settle(pilot)
            await pilot.press(*query)
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, screen_type)
            await pilot.press("escape")
            await settle(pilot)


async def test_an_integrations_audit_tab_reads_again_and_filters_its_own_trail(make_app):
    """One walk on github's Audit tab: its own and its keys' events; seen
    once, then a key generated from the same page: back on Audit, its
    key.create is there (it kept the page read before); at 80x24, `/local` in
    one burst gives its events about Local Development, the tab kept (it
    jumped to API Keys and filtered keys)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await open_tab(pilot, "github", "3")
        assert detail.query_one("#tabs").active == "audit", "own: 3 opens Audit"
        log = detail.query_one(AuditLog)
        actions = [e.action for e in log.events]
        assert actions.count("key.create") == 4 and "integration.add" in actions, actions
        assert {e.integration for e in log.events} == {"github"}, "own: github's only"

        before = [e.action for e in log.events].count("key.create")
        await pilot.press("2")
        burst(app, "g|fresh-trail|enter")
        await settle_long(pilot)
        await pilot.press("c", "d", "3")
        await settle_long(pilot)
        while not log.settled:
            await pilot.pause()
        assert app.screen is detail, "read again: back on the page"
        assert detail.query_one("#tabs").active == "audit", "read again: on Audit"
        after = [e.action for e in log.events].count("key.create")
        assert after == before + 1, ("read again: the new key.create", before, after)

        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        burst(app, "/local")
        await settle_long(pilot)
        while not log.settled:
            await pilot.pause()
        assert detail.query_one("#tabs").active == "audit", "/local: the tab kept"
        assert not detail.key_filter.value, "/local: keys not filtered"
        assert [(e.action, e.key_label) for e in log.events] == [
            ("key.revoke", "Local Development"), ("key.create", "Local Development"),
        ], "/local: its events"  # fmt: skip
        said = str(log.query_one("#audit-summary", Static).render())
        assert said == "2 events holding “local” (the whole trail searched), newest first", said
        await pilot.press("escape")
        await settle(pilot)
        while not log.settled:
            await pilot.pause()
        assert len(log.events) > 2 and log.table.has_focus, "/local: escape clears"


async def open_trail(pilot) -> AuditLog:
    """The workspace's audit trail (the palette's "Audit trail of …")."""
    await settle(pilot)
    pilot.app.show_audit()
    await settle(pilot)
    return pilot.app.screen.query_one(AuditLog)


def add_events(store, count: int, target: str = "event") -> None:
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(AuditEvent),
            [
                {"workspace_id": 1, "actor": "alice", "action": "note",
                 "target": f"{target} {n}", "at": utcnow()}
                for n in range(count)
            ],
        )  # fmt: skip


async def test_a_trail_of_100000_events_is_read_a_page_at_a_time(make_app, demo_store):
    add_events(demo_store, 100_000)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        log = await open_trail(pilot)
        table = log.query_one(DataTable)
        assert table.row_count == PAGE  # the first page only
        assert "more load as you scroll" in str(log.query_one("#audit-summary", Static).render())
        await pilot.press("ctrl+end")  # to the last row shown: the next page is read
        await settle(pilot)
        assert table.row_count == 2 * PAGE
        ids = [e.id for e in log.events]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


async def test_stored_text_in_the_trail_is_shown_literally(make_app, demo_store):
    add_events(demo_store, 1, target="[bold red]x[/] \x1b[2J and more text to cut")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        log = await open_trail(pilot)
        target = log.query_one(DataTable).get_row_at(0)[3]  # About
        whole = shown_literally("[bold red]x[/] \x1b[2J and more text to cut 0")
        head, tail = target.plain.split("…")  # cut in its column, its end kept
        assert whole.startswith(head) and whole.endswith(tail)
        assert not target.spans and "\x1b" not in target.plain
        assert whole in str(log.query_one("#audit-detail", Static).render())  # whole below


async def test_slash_filters_the_workspace_trail_beyond_the_page_read(make_app, demo_store):
    add_events(demo_store, PAGE + 10)  # the demo's events are past the first page
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        log = await open_trail(pilot)
        burst(app, "/slack")
        await settle_long(pilot)
        while not log.settled:
            await pilot.pause()
        assert isinstance(app.screen, AuditScreen) and log.filter_input.value == "slack"
        assert {e.integration for e in log.events} == {"legacy-slack"}
        assert "integration.disable" in {e.action for e in log.events}


async def test_audit_rows_name_the_key_or_integration_and_say_the_rest_apart(make_app, demo_store):
    """About: the key's label (its end kept when cut), else the name; Detail:
    what the event says besides; actions whole at every width. One app: the
    workspace trail at 80x24, then github's Audit tab at 60x20."""
    for region in ("eu", "us"):  # 19 cells: cut at 60 columns, each its own end
        KeyService(demo_store, "alice").create_key("github", f"api-gateway-prod-{region}")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        log = await open_trail(pilot)
        while not log.settled:
            await pilot.pause()
        table = log.table
        columns = [c.key for c, _ in table.fitted]
        assert columns == ["at", "action", "about", "detail"], ("80x24", columns)
        rows = {table.get_row_at(n)[1].plain: table.get_row_at(n) for n in range(table.row_count)}
        about = rows["integration.configure"][2].plain
        assert about in ("github", "google-workspace"), ("80x24: configure", about)
        detail = rows["member.add"][3].plain
        assert detail in ("admin", "viewer", "owner"), ("80x24: member.add", detail)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.resize_terminal(60, 20)
        log = (await open_tab(pilot, "github", "3")).query_one(AuditLog)
        while not log.settled:
            await pilot.pause()
        rows = [log.table.get_row_at(n) for n in range(log.table.row_count)]
        # The action whole, as the README says ("integra…nfigure" had room to spare);
        # About gives way, its end kept: labels differing at their end still differ.
        assert "integration.configure" in {row[1].plain for row in rows}, "60x20: whole"
        about = [row[2].plain for row in rows]
        assert about[:2] == ["api-ga…rod-us", "api-ga…rod-eu"], ("60x20", about[:2])
        assert len(set(about)) == len({e.key_label or e.target for e in log.events}), "60x20"


def test_each_role_says_something_of_its_own():
    from keydesk.tui.screens.members import ROLE_MEANING

    assert len(set(ROLE_MEANING.values())) == len(ROLE_MEANING)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_a_long_account_name_leaves_role_and_since_in_view(make_app, demo_store, size):
    """A 64-character account took the whole width: at 60 columns only
    Account showed, at 80 Since was cut to "Sin"."""
    long_name = "svc-" + "payments-eu-west-" * 3 + "runner-9"
    assert len(long_name) == 63
    KeyService(demo_store, "alice").add_member("acme", long_name, "viewer")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_members(pilot)
        table = screen.table
        widths = {column.key: width for column, width in table.fitted}
        assert widths["role"] >= len("viewer") and widths["since"] >= len("2026-09-01 09:01")
        used = sum(width + 2 for width in widths.values())
        assert used <= size[0] - 2, (widths, size)  # no column pushed out of view
        await highlight(pilot, screen, long_name)
        cell = table.get_row_at(table.cursor_row)[0]
        assert "…" in str(cell) and str(cell).endswith("runner-9")  # its end kept


async def test_enter_in_an_empty_account_says_it_is_required_and_stays(make_app):
    """Enter moved on to Role, saying nothing, and what was typed next was lost."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await open_members(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, AddMemberScreen)
        await pilot.press("enter", *"dave")
        await settle(pilot)
        assert str(form.query_one("#member-error", Static).render()) == (
            "The account name is required."
        )
        assert form.query_one("#member-account", Input).value == "dave"


async def test_the_role_question_refuses_a_key_that_answers_nothing(make_app, demo_store):
    """`o` in the role dialog did nothing without a word, where every other
    question says why, and `o` Enter typed at once then set the role."""
    app = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await open_members(pilot)
        await highlight(pilot, screen, "carol")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, RoleScreen)
        burst(app, "o|up|enter")
        await settle_long(pilot)
        assert isinstance(app.screen, RoleScreen), "the keys behind o were dropped"
        said = [n.message for n in app._notifications]
        assert said[-1] == (
            "“o” does not answer this question: ⏎ sets the highlighted role, esc cancels."
        ), said
    assert roles(demo_store)["carol"] == "viewer"
