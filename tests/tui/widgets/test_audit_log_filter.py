"""An audit trail's filter: `/` reaches the trail of the Audit tab wherever
focus is on the integration's page (on the tab bar it filtered the API Keys
tab's keys), and the line under the table follows what the filter leaves:
the highlighted event, or that none matches (it went on describing an event
the filter had hidden). The Members screen's and an integration's keys'
filters say so alike (keydesk.tui.widgets.no_match)."""

from __future__ import annotations

from textual.widgets import Static, Tabs

from keydesk.tui.screens.members import MembersScreen
from keydesk.tui.widgets.audit_log import AuditLog, summary
from keydesk.tui.widgets.filter_input import no_match
from tests.tui.screenshots import open_tab, settle, settle_long


def _line(widget, selector: str) -> str:
    return str(widget.query_one(selector, Static).render())


async def _filtered(pilot, log: AuditLog, text: str) -> None:
    while log._matching != text or not log.settled:  # the search runs once typing pauses
        await pilot.pause(0.05)
    await settle(pilot)


async def test_slash_from_the_tab_bar_filters_the_trail_and_the_line_follows(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_tab(pilot, "github", "3")
        log = detail.query_one(AuditLog)
        detail.query_one(Tabs).focus()
        await settle(pilot)
        await pilot.press("slash", *"xyz")
        await _filtered(pilot, log, "xyz")
        assert detail.query_one("#tabs").active == "audit" and not detail.key_filter.value
        assert log.filter_input.value == "xyz" and not log.events
        assert _line(log, "#audit-detail") == "No event matches “xyz” — esc clears the filter."
        await pilot.press(*["backspace"] * 3, *"local")
        await _filtered(pilot, log, "local")
        first = log.events[0]
        assert (first.action, first.key_label) == ("key.revoke", "Local Development")
        said = _line(log, "#audit-detail")
        assert "key.revoke" in said and "Local Development" in said
        await pilot.press("escape")  # cleared: every event, the line on the newest
        await _filtered(pilot, log, "")
        assert len(log.events) > 2 and log.events[0].action in _line(log, "#audit-detail")


async def test_a_members_filter_matching_nobody_says_so(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MembersScreen)
        await pilot.press("slash", *"zzz")
        await settle(pilot)
        assert not screen.table.row_count
        assert _line(screen, "#members-note") == "No member matches “zzz” — esc clears the filter."
        screen.table.focus()
        await pilot.press("escape")  # from the table too, as it says
        await settle(pilot)
        assert app.screen is screen and not screen.member_filter.value
        assert screen.table.row_count


async def test_a_keys_filter_matching_nothing_says_so_and_the_line_follows_it_back(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_tab(pilot, "github", "2")
        first = detail.highlighted_key()
        assert first is not None and first.label in _line(detail, "#key-detail")
        await pilot.press("slash", *"xyz")
        await settle(pilot)
        assert not detail.table.row_count
        assert _line(detail, "#key-detail") == "No key matches “xyz” — esc clears the filter."
        # Enter goes down to the (empty) table; Escape there still empties the
        # filter first, as the line says (it left the page, filter and all).
        await pilot.press("enter", "escape")
        await settle(pilot)
        assert app.screen is detail and not detail.key_filter.value
        key = detail.highlighted_key()  # rows back: the line on the highlighted key again
        assert key is not None and key.label in _line(detail, "#key-detail")
        assert "No key" not in _line(detail, "#key-detail")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not detail


def test_the_line_above_counts_one_event_as_one():
    """'1 events holding “rot”' after a filter found one rotation (walk of #21, 120x40)."""
    assert summary(1, False, False, "rot") == (
        "1 event holding “rot” (the whole trail searched), newest first"
    )
    assert summary(1, False, False, "") == "1 event, newest first"
    assert summary(2, True, False, "rot") == "2 events holding “rot” · searching on…"


async def test_the_line_under_the_workspace_trail_names_an_integration_once(make_app):
    """'… integration.disable · legacy-slack · legacy-slack': the event's target
    and the integration it happened in, the same name twice (walk of #21, 60x20)."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        app.show_audit()
        await settle(pilot)
        log = app.screen.query_one(AuditLog)
        first = log.events[0]
        assert (first.action, first.target) == ("integration.disable", "legacy-slack")
        said = _line(log, "#audit-detail")
        assert said.endswith("integration.disable · legacy-slack"), said


def test_a_long_filter_is_cut_where_it_is_quoted_back():
    """A 300-character paste in a filter filled the line under the keys and
    cut off 'esc clears the filter' (walk of #21, 80x24)."""
    said = no_match("key", "abcdefghij" * 30)
    assert said.endswith("…” — esc clears the filter.") and len(said) < 80
    assert no_match("key", "kdpk_4mc7JV1GESCx8X8F") == (
        "No key matches “kdpk_4mc7JV1GESCx8X8F” — esc clears the filter."
    )


async def test_a_changed_filter_never_shows_the_last_searchs_answer(make_app):
    """The search starts once typing pauses (FILTER_DELAY): until then the
    line said "0 events: the whole trail searched" of the filter before,
    under the new text."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        log = (await open_tab(pilot, "github", "3")).query_one(AuditLog)
        await pilot.press("slash", *"zzqx")
        await _filtered(pilot, log, "zzqx")
        assert _line(log, "#audit-summary") == "0 events: the whole trail searched"
        log.filter_input.value = "rot"
        log._filter_changed()  # as its Changed message does, before the search runs
        assert _line(log, "#audit-summary") == (
            "Searching the whole trail for events holding “rot”…"
        )
        assert _line(log, "#audit-detail") == ""  # not "No event matches “zzqx”"


async def test_a_filtered_trails_line_above_the_table_is_whole_at_60_columns(make_app):
    """One row cut it: "3 events holding “api-gateway” (the whole trail
    searched)," and no more."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        page = await open_tab(pilot, "github", "3")
        log = page.query_one(AuditLog)
        await pilot.press("slash", *"api-gateway")
        await _filtered(pilot, log, "api-gateway")
        line = log.query_one("#audit-summary", Static)
        assert _line(log, "#audit-summary").endswith("newest first")
        needed = line.get_content_height(app.size, app.size, line.content_region.width)
        assert needed <= line.content_region.height, (needed, line.content_region)


async def test_a_redraw_queued_by_a_read_ends_nothing_once_the_tab_is_gone(make_app):
    """`/key`, Escape (the trail read again), then Escape, Escape and q at
    once: the read's redraw, which Textual runs after the screen in front
    refreshes, ran once the Audit tab was gone and ended keydesk with a
    traceback (NoMatches, 6 runs in 10). The race, run in its bad order."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_tab(pilot, "github", "3")
        log = detail.query_one(AuditLog)
        await pilot.press("escape")
        await settle_long(pilot)
        assert app.screen is not detail and not log.is_attached
        log._drawn()  # what was queued before the page left


async def test_back_on_a_filtered_audit_tab_the_list_has_the_focus(make_app):
    """`3`, `/keep` Enter, `1`, `3`: the tab focused its first focus stop,
    the filter holding "keep", so `j` (and `1`, `?`) were typed into it."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_tab(pilot, "github", "3")
        log = detail.query_one(AuditLog)
        await pilot.press("slash", *"keep", "enter")
        await _filtered(pilot, log, "keep")
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert detail.focused is log.table, detail.focused
        await pilot.press("j")
        await settle(pilot)
        assert log.filter_input.value == "keep"
