"""The API Keys table's Label column: labels that differ only at their ends
still differ when cut (the ellipsis goes in the middle), at 80 and 60
columns, and what a user typed is shown literally."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult

from keydesk.tui.widgets import KeyTable, LoadedKeys
from keydesk.views import KeyView

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
# Longer than the Label column at 80 and 60 columns even with the room
# the short status ("active") leaves it.
LABELS = [
    "api-gateway-production-frankfurt-eu",
    "api-gateway-production-frankfurt-us",
    "[bold]gateway[/bold] \x1b[31m-eu",
]


def _key(n: int, label: str) -> KeyView:
    return KeyView(
        id=n,
        public_key=f"kdsk_pub{n:05d}",
        label=label,
        integration_id=1,
        integration="github",
        created_at=NOW,
        created_by="alice",
        revoked_at=None,
        revoked_by=None,
        expires_at=None,
        last_used_at=None,
    )


class _Keys(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyTable(lambda: NOW, id="keys")


async def test_labels_differing_at_their_ends_differ_when_cut_at_80_and_60_columns():
    app = _Keys()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(KeyTable)
        table.load(LoadedKeys.of([_key(n, label) for n, label in enumerate(LABELS)], NOW))
        table.filter("")
        for size in ((80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            width = next(w for c, w in table.fitted if c.key == "label")
            cells = [table.get_cell_at((row, 0)) for row in range(len(LABELS))]
            eu, us, marked = (cell.plain for cell in cells)
            assert width < len(LABELS[0]), size  # the labels are cut here
            assert eu != us and eu.endswith("-eu") and us.endswith("-us"), (size, eu, us)
            assert eu.startswith("api-") and "…" in eu
            assert all(cell.cell_len <= width for cell in cells)
            # Markup and escapes stay text: no style was made from them.
            assert marked.startswith("[bol") and marked.endswith("-eu") and not cells[2].spans


async def test_a_rotated_pair_keeps_its_date_at_60_columns():
    """The replacement's date is what tells a rotated pair apart: it read
    "stri…2-06)" beside "stri…-prod" at 60 columns (#21 walk); wider, the
    date stays whole ("api-…(2026-10-21)" at 80)."""
    app = _Keys()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(KeyTable)
        pair = ["stripe-production (2026-12-06)", "stripe-production"]
        table.load(LoadedKeys.of([_key(n, label) for n, label in enumerate(pair)], NOW))
        table.filter("")
        await pilot.pause()
        new, old = (table.get_cell_at((row, 0)).plain for row in range(2))
        assert new.startswith("stripe") and new.endswith("-12-06)"), new
        assert old == "stripe-production", old


async def test_a_rotating_keys_status_says_rotating_and_its_time_left_when_cut():
    """ "rotating -> k…" at 60 and 80 columns said neither (#21 walk); the
    replacement's public key is in the detail line."""
    from dataclasses import replace
    from datetime import timedelta

    app = _Keys()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(KeyTable)
        old = replace(
            _key(0, "stripe-production"),
            replaced_by="kdpk_new00000000000000",
            expires_at=NOW + timedelta(days=7),
        )
        table.load(LoadedKeys.of([old], NOW))
        table.filter("")
        for size in ((60, 20), (80, 24), (200, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            column = next(n for n, (c, _) in enumerate(table.fitted) if c.key == "status")
            status = table.get_cell_at((0, column)).plain.rstrip()
            wide = "rotating -> kdpk_new00000000000000 (7 days left)"
            assert status in ("rotating, 7d", "rotating, 7 days left", wide), (size, status)
        assert status == wide, "whole where there is room"
