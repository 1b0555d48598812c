"""The API Keys table's Status column: a warning is read in its cell, in
fewer words where the column is narrow (the detail line has them whole)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App, ComposeResult

from keydesk.tui.widgets import KeyTable, LoadedKeys
from keydesk.tui.widgets.key_table import shorter_status
from keydesk.views import KeyView

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _orphaned(label: str) -> KeyView:
    """Set to stop in 7 days by a rotation whose replacement was revoked."""
    return KeyView(
        id=1,
        public_key="kdsk_pub00001",
        label=label,
        integration_id=1,
        integration="github",
        created_at=NOW - timedelta(days=30),
        created_by="alice",
        revoked_at=None,
        revoked_by=None,
        expires_at=NOW + timedelta(days=7),
        last_used_at=NOW - timedelta(hours=1),
        replaced_by="kdpk_new00000000000000",
        replacement_revoked=True,
    )


class _Keys(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyTable(lambda: NOW, id="keys")


@pytest.mark.parametrize("label", ["deploy-bot", "api-gateway-production-frankfurt-eu"])
async def test_a_revoked_replacement_is_said_whole_in_the_status_cell_at_every_size(label):
    """At 80x24 the cell read "replacement r…": the one warning a status
    gives was cut, whole only in the line under the table."""
    key = _orphaned(label)
    assert key.status_words(NOW) == "replacement revoked, stops in 7 days"
    app = _Keys()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(KeyTable)
        table.load(LoadedKeys.of([key], NOW))
        table.filter("")
        for size in ((60, 20), (80, 24), (200, 40)):
            await pilot.resize_terminal(*size)
            for _ in range(3):  # the resize, the refit, the redrawn rows
                await pilot.pause()
            column = next(n for n, (c, _) in enumerate(table.fitted) if c.key == "status")
            status = table.get_cell_at((0, column)).plain.rstrip()
            assert "…" not in status, (size, status)
            assert status.startswith(("repl. revoked", "replacement revoked")), (size, status)
            if label == "deploy-bot":  # a label that needs the room: when, in the detail line
                assert status.endswith(("7d", "7 days", "left")), (size, status)
        assert status == "replacement revoked, stops in 7 days", "whole where there is room"


def test_a_revoked_replacement_in_fewer_words_says_the_most_that_fits():
    words = "replacement revoked, stops in 7 days"
    assert shorter_status(words, 30) == "repl. revoked, stops in 7 days"
    assert shorter_status(words, 20) == "repl. revoked, 7d"
    assert shorter_status(words, 22) == "repl. revoked, 7d left"
    assert shorter_status(words, 14) == "repl. revoked"
    minute = "replacement revoked, stops in less than a minute"
    assert shorter_status(minute, 18) == "repl. revoked, <1m"
