"""The integration list's Active column says in words how many of an
integration's active keys stop soon: "4 (1 expiring)", not "4 · 1 ends"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keydesk.tui.screens.integrations import IntegrationsScreen, key_counts
from keydesk.views import utcnow
from tests.tui.screenshots import settle


def _active_cells(screen: IntegrationsScreen) -> dict[str, str]:
    table = screen.table
    column = next(n for n, (c, _) in enumerate(table.fitted) if c.key == "keys")
    return {
        str(table.get_cell_at((row, 0))).strip(): str(table.get_cell_at((row, column))).strip()
        for row in range(table.row_count)
    }


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (140, 36)])
async def test_keys_expiring_soon_are_counted_in_words(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        soon = utcnow() + timedelta(days=3)
        app.service.create_key("github", "partner-sandbox", expires_at=soon)
        screen = app.screen
        assert isinstance(screen, IntegrationsScreen)
        screen.action_refresh()
        await settle(pilot)
        active = app.service.integration("github").active_keys
        cells = _active_cells(screen)
        assert cells["github"] == f"{active} (1 expiring)", cells
        assert cells["okta-sso"] == "0", cells


def test_a_narrow_column_says_it_in_fewer_words_never_in_a_riddle():
    assert key_counts(12, 3, 20) == "12 (3 expiring)"
    assert key_counts(12, 3, 14) == "12, 3 expiring"
    assert key_counts(12, 3, 13) == "12 (3 ending)"
    assert key_counts(12, 3, 10) == "12 (3 ends)"
    assert key_counts(12, 0, 10) == "12"


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_a_disabled_integrations_active_keys_are_counted_as_refused(make_app, size):
    """legacy-slack's one active key read "1" under Active, as if it worked;
    its Overview said "Active keys 1" under "Status disabled"."""
    from keydesk.tui.screens.integration_words import overview_rows

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        cells = _active_cells(app.screen)
        assert cells["legacy-slack"] == "1 refused", cells
        assert cells["okta-sso"] == "0", cells
        slack = app.service.integration("legacy-slack")
        rows = dict(overview_rows(slack))
        assert rows["Active keys"] == "1 (refused while it is disabled)", rows
