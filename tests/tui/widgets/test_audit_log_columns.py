"""The audit trail's columns: which ones show depends on the width, not on
the rows a filter leaves (README: Key and Actor out at 80 columns, Detail
at 60; the action whole)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Static

from keydesk.service import KeyService
from keydesk.tui.widgets import AuditLog
from tests.support.tui_pages import go_to_integration
from tests.tui.screenshots import audit_tab, settle


async def _github_trail(pilot) -> AuditLog:
    """github's Audit tab, its first page read."""
    await go_to_integration(pilot, "github")
    await audit_tab(pilot)
    log = pilot.app.screen.query_one(AuditLog)
    await _settled(pilot, log)
    return log


async def _settled(pilot, log: AuditLog) -> list[tuple[str, int]]:
    for _ in range(200):
        await pilot.pause()
        if log.settled and log.filter_input.value.strip() == log._matching:
            break
    await settle(pilot)
    return [(column.key, width) for column, width in log.table.fitted]


async def test_a_filter_keeps_the_audit_columns_at_80_columns(make_app):
    """`/local` left only key events: Actor came in and the table jumped."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_integration(pilot, "github")
        await audit_tab(pilot)
        log = app.screen.query_one(AuditLog)
        before = await _settled(pilot, log)
        await pilot.press("slash", *"local", "enter")
        after = await _settled(pilot, log)
        assert {e.action for e in log.events} <= {"key.create", "key.revoke"}, log.events
        assert [key for key, _ in after] == [key for key, _ in before], (before, after)
        assert [key for key, _ in after] == ["at", "action", "about", "detail"]


async def test_the_action_is_whole_at_60_columns(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        log = await _github_trail(pilot)
        actions = [log.table.get_row_at(n)[1].plain for n in range(log.table.row_count)]
        assert "integration.configure" in actions, actions


@pytest.mark.parametrize(
    "label",
    ["api-gateway-prod", "payments-gateway-eu-west-1-production-canary-release-2026-12-bl"],
)
async def test_a_rotations_line_is_whole_under_the_table_at_60_columns(make_app, demo_store, label):
    """The line under the table says what the columns cut or leave out; at
    60 columns a rotation's (its time, actor, keys, label and the old key's
    stop) took three rows and its third was cut off mid-sentence; with a
    long label, four, the replacement's public key cut off."""
    alice = KeyService(demo_store, "alice")
    if label != "api-gateway-prod":
        alice.create_key("github", label)
    [old] = [k for k in alice.keys("github") if k.label == label]
    alice.rotate_key(old.public_key, timedelta(hours=24))
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        log = await _github_trail(pilot)
        assert log.events[0].action == "key.rotate"
        line = log.query_one("#audit-detail", Static)
        assert "replacement kdpk_" in str(line.render())
        width = line.content_region.width
        needed = line.get_content_height(app.size, app.size, width)
        assert needed <= line.content_region.height, (needed, line.content_region)
