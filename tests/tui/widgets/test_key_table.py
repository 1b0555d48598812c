"""KeyTable on its own: it holds a window of the matching keys, filters in
a worker, and tells its owner what changed through its messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from textual import on
from textual.app import App, ComposeResult
from textual.message import Message

from keydesk.tui.widgets import KeyTable, LoadedKeys
from keydesk.tui.widgets.key_table import WINDOW
from keydesk.views import KeyView

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _key(n: int, *, revoked: bool = False) -> KeyView:
    return KeyView(
        id=n,
        public_key=f"kdsk_pub{n:05d}",
        label=f"key {n}",
        integration_id=1,
        integration="github",
        created_at=NOW - timedelta(days=1),
        created_by="alice",
        revoked_at=NOW if revoked else None,
        revoked_by="alice" if revoked else None,
        expires_at=None,
        last_used_at=None,
    )


class _Owner(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.heard: list[Message] = []

    def compose(self) -> ComposeResult:
        yield KeyTable(lambda: NOW, id="keys")

    @on(KeyTable.KeyHighlighted)
    @on(KeyTable.KeySelected)
    @on(KeyTable.Filtered)
    def _heard(self, message: Message) -> None:
        self.heard.append(message)


async def _listing(pilot, keys) -> KeyTable:
    """The owner's table, `keys` loaded and listed with no filter."""
    table = pilot.app.query_one(KeyTable)
    table.load(LoadedKeys.of(keys, NOW))
    table.filter("")
    await pilot.pause()
    return table


async def test_a_load_shows_a_window_and_grows_it_as_the_cursor_nears_its_end():
    keys = [_key(n) for n in range(3 * WINDOW)] + [_key(999, revoked=True)]
    app = _Owner()
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _listing(pilot, keys)
        assert table.row_count == WINDOW and table.listed_keys() == keys[:WINDOW]
        assert table.summary() == f"{3 * WINDOW} active · 1 revoked or expired"
        assert any(isinstance(m, KeyTable.Filtered) for m in app.heard)
        table.move_cursor(row=WINDOW - 1)
        await pilot.pause()
        assert table.row_count == 2 * WINDOW  # the next window, before the end is reached
        highlighted = [m for m in app.heard if isinstance(m, KeyTable.KeyHighlighted)]
        assert highlighted[-1].key == keys[WINDOW - 1]
        table.focus()
        await pilot.press("enter")  # left to the owner's binding (the footer's ⏎ Open)
        await pilot.pause()
        assert not [m for m in app.heard if isinstance(m, KeyTable.KeySelected)]
        table.move_cursor(row=0)  # scrolled to the top: row 0 is under the heading
        await pilot.pause()
        await pilot.click(table, offset=(2, 1))  # a click on the highlighted row opens it
        await pilot.pause()
        selected = [m for m in app.heard if isinstance(m, KeyTable.KeySelected)]
        assert [m.key for m in selected] == [keys[0]]


async def test_the_filter_scans_in_a_worker_and_drops_a_scan_for_older_text():
    keys = [_key(n) for n in range(30)]
    app = _Owner()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(KeyTable)
        table.load(LoadedKeys.of(keys, NOW))
        table.filter("key 1")
        table.stop_filtering()  # newer text is on its way: this scan's rows never show
        await pilot.pause(0.2)
        assert table.row_count == 0
        table.filter("key 2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [k.label for k in table.listed_keys()] == [
            "key 2",
            *(f"key 2{n}" for n in range(10)),
        ]
        assert table.summary() == "30 active · 0 revoked or expired · 11 match the filter"
        table.filter("key 29")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.summary() == "30 active · 0 revoked or expired · 1 matches the filter"


def test_the_filter_finds_keys_by_tag():
    from dataclasses import replace

    from keydesk.views.tags import Tag

    tagged = replace(_key(1), tags=(Tag("env", "staging"), Tag("team", "pay")))
    loaded = LoadedKeys.of([tagged, _key(2)], NOW)
    assert loaded.matches(tagged.public_key, "env=staging")
    assert not loaded.matches(_key(2).public_key, "env=staging")


async def test_at_120_columns_labels_and_statuses_show_whole_where_they_fit():
    """A 29-cell label and "active, unused for 60 days" were cut at 120x40
    while By held "alice" in 12 cells: the columns its rows do not need
    give way, and the table uses the whole width."""
    keys = [
        replace(_key(1), label="api-gateway-prod (2026-10-21)"),
        replace(_key(2), label="partner-sandbox", expires_at=NOW + timedelta(days=10)),
        replace(_key(3), label="CI Runner", created_at=NOW - timedelta(days=60)),
        _key(4, revoked=True),
    ]
    app = _Owner()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _listing(pilot, keys)
        shown = [c.key for c, _ in table.fitted]
        for row, key in enumerate(keys):
            assert table.get_cell_at((row, shown.index("label"))).plain == key.label
            status = table.get_cell_at((row, shown.index("status"))).plain
            assert status == key.status_words(NOW), status
        # The whole width but the screen's margins and a scrollbar's room.
        assert sum(width + 2 for _, width in table.fitted) == 120 - 4


async def test_at_80_columns_a_label_takes_the_room_of_a_last_used_column_all_dashes():
    """No key used yet: Last used holds "—" in 16 cells; it narrows to its
    heading and "CI Runner (2026-12)" (19) shows whole, not "CI Ru…6-12)"."""
    soon = NOW + timedelta(days=10)  # "expiring in 10 days": the status keeps its 19 cells
    keys = [replace(_key(n), label=f"CI Runner (2026-1{n})", expires_at=soon) for n in range(3)]
    app = _Owner()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _listing(pilot, keys)
        shown = [c.key for c, _ in table.fitted]
        assert shown == ["label", "public", "status", "used"]
        for row, key in enumerate(keys):
            assert table.get_cell_at((row, shown.index("label"))).plain == key.label
            assert table.get_cell_at((row, shown.index("used"))) == "—"


async def test_a_disabled_integrations_active_key_reads_refused_and_dim_at_any_width():
    """It read 'active' (bold) under the page's 'Disabled: its keys are
    refused' banner; cut, it still says refused."""
    from keydesk.views import REFUSED_WHILE_DISABLED

    keys = [replace(_key(n, revoked=n == 2), integration_disabled=True) for n in (1, 2)]
    for width, said in ((120, REFUSED_WHILE_DISABLED), (60, "refused")):
        app = _Owner()
        async with app.run_test(size=(width, 24)) as pilot:
            table = await _listing(pilot, keys)
            column = [c.key for c, _ in table.fitted].index("status")
            status = table.get_cell_at((0, column))
            assert status.plain.startswith(said), (width, status.plain)
            assert "dim" in str(status.style) and "bold" not in str(status.style), status.style
            assert table.get_cell_at((1, column)).plain == "revoked"
            assert table.summary().startswith("1 refused while disabled · 1 revoked")


async def test_the_highlighted_key_stays_highlighted_as_the_filter_changes_and_clears():
    """After /api, Down to api-gateway-prod, Escape emptied the filter and the
    highlight jumped back to the first row (a second walk)."""
    keys = [replace(_key(n), label=f"svc-{n}") for n in range(6)]
    app = _Owner()
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _listing(pilot, keys)
        table.filter("svc-4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.highlighted_key().label == "svc-4"
        table.filter("")
        await pilot.pause()
        assert table.highlighted_key().label == "svc-4", "cleared: it stays"
        table.move_cursor(row=1)
        table.filter("svc")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.highlighted_key().label == "svc-1", "narrowed: it stays"
