"""keydesk.tui.widgets.audit_log: a trail filter matching nothing is said
once, under the table as on every list (it was said above it too: 'No event
in the whole trail holds …' over 'No event matches … — esc clears')."""

from __future__ import annotations

from textual.widgets import Static

from keydesk.tui.widgets.audit_log import AuditLog
from tests.tui.screenshots import burst, open_tab, settle_long


async def test_a_trail_filter_matching_nothing_is_said_once(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await open_tab(pilot, "github", "3")
        log = detail.query_one(AuditLog)
        burst(app, "/zzqx")
        await settle_long(pilot)
        while not log.settled:
            await pilot.pause()
        assert log.events == []
        above = str(log.query_one("#audit-summary", Static).render())
        below = str(log.query_one("#audit-detail", Static).render())
        assert below == "No event matches “zzqx” — esc clears the filter."
        assert "zzqx" not in above and "No event" not in above
        assert above == "0 events: the whole trail searched"
