"""KeyFooter at 60 and 80 columns: every key shown is whole, ^p, ? and ^q
always stay, as does the key the page's own advice names (keys that cannot
act now go first, then the screen's last keys), ⏎ Open fits beside ^q Quit
at 80; a dialog shows its own keys, not those of the screen behind it. Also what else must fit those
widths: the Audit tab's Label and the scan screen's hint."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Footer, Static
from textual.widgets._footer import FooterKey

from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.members import MembersScreen, RoleScreen
from keydesk.tui.screens.scan import ScanScreen
from keydesk.tui.widgets import AuditLog
from tests.tui.screenshots import SCREENS, demo_app, settle

WIDTHS = [(60, 20), (80, 24)]


def _footer(screen) -> dict[str, bool]:
    """Each key's description: whether it is whole on screen."""
    width = screen.app.size.width
    return {
        key.description: key.region.width > 0 and key.region.right <= width
        for key in screen.query_one(Footer).query(FooterKey)
    }


def _whole(screen) -> dict[str, bool]:
    keys = _footer(screen)
    assert all(keys.values()), keys
    assert screen.query_one(Footer).max_scroll_x == 0  # nothing cut off or scrolled away
    assert keys.get("palette") and keys.get("Help"), keys
    return keys


async def _members_on_bob(pilot) -> MembersScreen:
    await SCREENS["members"](pilot)
    screen = pilot.app.screen
    assert isinstance(screen, MembersScreen)
    await pilot.press("down")  # bob, an admin: every key applies
    await settle(pilot)
    return screen


async def _at_each_width(pilot):
    """Resized to each of WIDTHS in turn (one walk for both: a footer laid
    out again after a resize is the one a fresh start at that size shows,
    as the snapshot tests' walks rely on too)."""
    for size in reversed(WIDTHS):  # 80x24, where the app starts, first
        await pilot.resize_terminal(*size)
        await settle(pilot)
        yield size


@pytest.mark.parametrize("screen_name", ["integrations", "api-keys", "key-page"])
async def test_the_footer_keeps_palette_and_help_whole(demo_store, screen_name):
    app = demo_app(demo_store, screen_name)
    async with app.run_test(size=(80, 24)) as pilot:
        await SCREENS[screen_name](pilot)
        async for size in _at_each_width(pilot):
            keys = _whole(app.screen)
            assert keys.get("Quit"), (size, keys)  # on every screen, at every width
            if screen_name == "integrations" or (screen_name == "api-keys" and size[0] == 80):
                assert keys.get("Open"), keys  # ⏎ (at 60 the API Keys tab keeps / Filter)


async def test_the_members_footer_offers_every_change_and_the_role_dialog_its_own(demo_store):
    """One walk on Members (bob highlighted): every change of a member
    offered at 80 and 60 columns; then, at 60x20, the role dialog shows its own keys."""
    app = demo_app(demo_store, "members")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _members_on_bob(pilot)
        async for size in _at_each_width(pilot):
            keys = _whole(screen)
            assert {"Back", "Add", "Role", "Remove", "Quit"} <= keys.keys(), (size, keys)
            if size[0] == 80:  # at 60 the workspace's policy leaves first (? and ^p offer it)
                assert "Policy" in keys, (size, keys)
        assert app.size == (60, 20), app.size  # the role dialog at 60x20
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RoleScreen)
        keys = _footer(dialog)
        assert keys.keys() == {"Set role", "Cancel"} and all(keys.values()), keys
        roles = dialog.query_one("#roles")
        assert roles.max_scroll_y == 0  # every role in view, one line each
        await pilot.press("down", "enter")  # admin -> member: asked first
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        keys = _footer(app.screen)  # a confirmation names its yes, not only Cancel
        assert keys.keys() == {"Change role", "Cancel"} and all(keys.values()), keys


async def test_the_audit_tab_leaves_label_readable_and_nothing_to_scroll(demo_store):
    """One app resized to each of WIDTHS."""
    app = demo_app(demo_store, "integration-audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await SCREENS["integration-audit"](pilot)
        log = app.screen.query_one(AuditLog)
        table = log.query_one(DataTable)
        async for size in _at_each_width(pilot):
            widths = {str(c.label): c.width for c in table.columns.values()}
            # At 60 columns the action stays whole and the label is cut in the middle
            # (its end kept): 12 cells still tell api-ga…rod-eu from api-ga…rod-us.
            readable = 16 if size[0] >= 80 else 12
            assert widths["About"] >= readable, (size, widths)
            assert "When" in widths and "Action" in widths, (size, widths)
            assert table.max_scroll_x == 0, (size, widths)  # → has nothing to scroll
            detail = str(log.query_one("#audit-detail", Static).render())
            newest = log.events[0]
            assert newest.target in detail, (size, detail)
            assert (newest.label or "") in detail, (size, detail)


async def test_the_scan_hint_is_whole(demo_store):
    """One scan screen resized to each of WIDTHS."""
    app = demo_app(demo_store, "integrations")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.scan_for_leaks()
        await settle(pilot)
        assert isinstance(app.screen, ScanScreen)
        async for size in _at_each_width(pilot):
            hint = app.screen.query_one("#scan-progress", Static)
            text = str(hint.render())
            assert text.endswith("each key found is looked up."), (size, text)
            width = hint.content_region.width or 1
            lines = len(text) // width + (1 if len(text) % width else 0)
            assert hint.region.height >= lines, (size, hint.region, lines)


async def test_a_choice_dialog_names_enter_in_its_footer(demo_store):
    app = demo_app(demo_store, "overlap-choice")
    async with app.run_test(size=(60, 20)) as pilot:
        await SCREENS["overlap-choice"](pilot)
        keys = _footer(app.screen)
        assert keys.keys() == {"Choose", "Cancel"} and all(keys.values()), keys


async def test_quit_stays_on_every_tab_of_an_integration_at_60_columns(demo_store):
    """At 60x20 the API Keys tab's footer had no ^q while its Audit tab's had."""
    app = demo_app(demo_store, "api-keys")
    async with app.run_test(size=(60, 20)) as pilot:
        await SCREENS["api-keys"](pilot)
        for tab in ("2", "3", "1"):  # API Keys, Audit, Overview
            await pilot.press(tab)
            await settle(pilot)
            assert _whole(app.screen).get("Quit"), tab


async def test_a_draft_offers_the_key_its_advice_names_and_not_the_dimmed_ones(demo_store):
    """okta-sso, a draft with no keys: its API Keys tab says "e fills it in";
    the footer offered t Rotate and x Revoke (nothing to act on) but not e,
    and at 60 columns kept t and x while g and ^q were gone."""
    app = demo_app(demo_store, "integrations")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"okta", "enter", "enter")
        await settle(pilot)
        assert "e fills it in" in str(app.screen.query_one("#keys-gate", Static).render())
        async for size in _at_each_width(pilot):
            keys = _whole(app.screen)
            assert {"Back", "Filter", "Edit", "Quit"} <= keys.keys(), (size, keys)
            dimmed = {
                key.description
                for key in app.screen.query_one(Footer).query(FooterKey)
                if key.disabled
            }
            if size[0] == 60:  # what cannot act now went first
                assert not dimmed, keys
        await pilot.press("e")
        await settle(pilot)
        assert type(app.screen).__name__ == "IntegrationFormScreen"


async def test_a_question_answered_leaves_the_footer_current(make_app):
    """`d D` disabled github, yet the footer kept `d Disable` (its rebuild
    was queued on the dialog, which closed first) and `d` then said
    nothing; `c` on a configured integration said nothing too. (`D` typed
    in the same burst as `d` no longer answers: the question was unseen.)"""
    from tests.support.tui_pages import go_to_integration
    from tests.tui.screenshots import burst, settle_long

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        page = await go_to_integration(pilot, "github", "overview")
        app.clear_notifications()
        await pilot.press("c")
        await settle(pilot)
        assert [n.message for n in app._notifications] == [
            "github is configured already: d disables it."
        ]
        await pilot.press("d")
        await settle(pilot)
        burst(app, "D")
        await settle_long(pilot)
        assert page.integration.status == "disabled"
        offered = [key.description for key in page.query(FooterKey)]
        assert "Configure" in offered and "Disable" not in offered, offered
        app.clear_notifications()
        await pilot.press("d")
        await settle(pilot)
        assert [n.message for n in app._notifications] == [
            "github is disabled already: c configures it again."
        ]


def _help_key(screen) -> str:
    return next(
        key.key_display for key in screen.query_one(Footer).query(FooterKey)
        if key.description == "Help"
    )  # fmt: skip


async def test_help_is_offered_on_f1_while_a_field_takes_the_typing(make_app):
    """The footer said `? Help` on forms and Scan, where `?` is typed into
    the focused field (it replaced Scan's path); F1 asks there."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert _help_key(app.screen) == "?"
        await pilot.press("g")  # the create form, its label field focused
        await settle(pilot)
        assert _help_key(app.screen) == "f1"
        await pilot.press("f1")
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpScreen"
