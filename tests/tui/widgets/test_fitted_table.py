"""FittedTable: the columns chosen for the screen's width, and its owner
asked to draw the rows again, at once, when a resize changes them."""

from __future__ import annotations

from textual.app import App, ComposeResult

from keydesk.tui.widgets import AuditLog, Column, FittedTable, fit
from keydesk.tui.widgets.audit_log import COLUMNS as AUDIT_COLUMNS
from keydesk.tui.widgets.key_table import KEY_COLUMNS
from tests.tui.screenshots import audit_tab, open_tab, settle

COLUMNS = [
    Column("name", "Name", 10, flexible_up_to=30),
    Column("status", "Status", 10),
    Column("created", "Created", 10, drop=1),
    Column("by", "By", 10, drop=2),
]


def test_the_least_needed_column_goes_first_and_the_flexible_one_takes_what_is_left():
    assert [(c.key, w) for c, w in fit(COLUMNS, 100)] == [
        ("name", 30),
        ("status", 10),
        ("created", 10),
        ("by", 10),
    ]
    # 40 cells inside the table's chrome; 4 columns need 48 with their padding,
    # 3 need 36: "by" (drop 2) goes first and the name takes the 4 left.
    assert [(c.key, w) for c, w in fit(COLUMNS, 44)] == [
        ("name", 14),
        ("status", 10),
        ("created", 10),
    ]
    assert [c.key for c, _ in fit(COLUMNS, 20)] == ["name", "status"]  # never dropped


def test_a_column_steps_wider_once_the_flexible_one_is_comfortable():
    """The space left goes to the flexible column up to its comfortable
    width, then to the widest step of a column that it allows whole, then to
    the flexible column again; which columns show is decided as before."""
    columns = [
        Column("name", "Name", 10, flexible_up_to=30, comfortable=14),
        Column("status", "Status", 10, steps=(14, 20)),
        *COLUMNS[2:],
    ]
    by_width = {w: [n for _, n in fit(columns, w)] for w in (52, 56, 59, 62, 66, 100)}
    assert by_width[52] == [10, 10, 10, 10]  # 48 needed of 48: nothing left
    assert by_width[56] == [14, 10, 10, 10]  # the name's comfortable first
    assert by_width[59] == [17, 10, 10, 10]  # 3 more: too few for a step
    assert by_width[62] == [16, 14, 10, 10]  # 4 of 10 to the 14 step, the rest to the name
    assert by_width[66] == [14, 20, 10, 10]
    assert by_width[100] == [30, 20, 10, 10]
    assert [c.key for c, _ in fit(columns, 44)] == ["name", "status", "created"]


def test_the_key_status_widens_only_where_the_terminal_has_room():
    """The 60, 80, 120 and 140 column layouts are as they were (labels such
    as api-gateway-prod and api-gateway-staging told apart); wider, the status
    words show whole."""
    widths = {w: {c.key: n for c, n in fit(KEY_COLUMNS, w)} for w in (60, 80, 120, 140, 150, 160)}
    # At 60 and 80 the label comes before the status's first step: a
    # rotated pair read "stri…2-06)" (#21 walk).
    assert widths[60] == {"label": 15, "public": 21, "status": 14}
    assert widths[80] == {"label": 17, "public": 21, "status": 14, "used": 16}
    assert (widths[120]["label"], widths[120]["status"], len(widths[120])) == (20, 19, 6)
    assert (widths[140]["label"], widths[140]["status"], len(widths[140])) == (22, 19, 7)
    assert (widths[150]["label"], widths[150]["status"]) == (24, 27)  # active, unused for 999 days
    assert (widths[160]["label"], widths[160]["status"]) == (21, 40)  # replacement revoked, stops…


def test_the_status_words_shown_take_the_room_of_created_by_and_revoked():
    """At 120 columns "replacement revoked, stops in 23 hours" (38 cells)
    was cut to "replacement revoke…" though By and Created (both in the
    detail line) could give way; Last used never does, so 60 and 80 columns
    stay as they are, and words no step holds whole (51) change nothing."""

    def widths(width: int, wanted: int) -> dict[str, int]:
        return {c.key: n for c, n in fit(KEY_COLUMNS, width, {"status": wanted})}

    for width in (60, 80):
        assert widths(width, 38) == widths(width, 22) == widths(width, 0)
    assert widths(120, 38) == {"label": 31, "public": 21, "status": 40, "used": 16}
    assert widths(120, 27) == {
        "label": 26, "public": 21, "status": 27, "used": 16, "created": 16,
    }  # fmt: skip
    assert widths(120, 19) == widths(120, 0) == widths(120, 51)  # as before
    assert widths(140, 38)["status"] == 40 and "created" in widths(140, 38)


def test_a_column_wider_than_its_rows_need_gives_the_rest_to_one_they_cut():
    """At 120 columns a 29-cell label and a rotating key's status were cut
    (20 and 19 cells) while By held "alice" in 12: the whole width is used,
    By gives way to the label, whose text then shows whole."""
    rows = {"label": 29, "status": 46, "by": 5}
    assert [(c.key, n) for c, n in fit(KEY_COLUMNS, 120, rows)] == [
        ("label", 29), ("public", 21), ("status", 24), ("used", 16), ("created", 16),
    ]  # fmt: skip
    for width in (60, 80, 120, 140):
        used = sum(n + 2 for _, n in fit(KEY_COLUMNS, width, rows))
        assert used == width - 4  # the margins and the scrollbar's room, no more
    # Short text all round: the room it leaves shows a column left out.
    assert {c.key: n for c, n in fit(KEY_COLUMNS, 120, {"label": 19, "status": 7, "by": 5})} == {
        "label": 19, "public": 21, "status": 9, "used": 16, "created": 16, "by": 5, "revoked": 16,
    }  # fmt: skip
    # A label shorter than its column lends its room to a cut status.
    assert {c.key: n for c, n in fit(KEY_COLUMNS, 80, {"label": 9, "status": 22})} == {
        "label": 9, "public": 21, "status": 22, "used": 16,
    }  # fmt: skip


class _Owner(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.redrawn: list[int] = []  # rows in the table then

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, redraw=self._redraw, id="list")

    def _redraw(self) -> None:
        table = self.query_one(FittedTable)
        self.redrawn.append(table.row_count)
        for n in range(5):
            table.add_row(*(f"{column.key}{n}" for column, _ in table.fitted))


async def test_a_resize_that_changes_the_columns_has_the_owner_redraw_at_once():
    app = _Owner()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(FittedTable)
        assert [c.key for c, _ in table.fitted] == ["name", "status", "created", "by"]
        assert app.redrawn == []  # the first fit comes before any row
        for n in range(5):
            table.add_row(*(f"{c.key}{n}" for c, _ in table.fitted))
        table.move_cursor(row=3)
        await pilot.resize_terminal(30, 20)
        await pilot.pause()
        assert [c.key for c, _ in table.fitted] == ["name", "status"]
        assert app.redrawn == [0]  # the table empty
        assert table.row_count == 5 and list(table.columns) == ["name", "status"]
        assert table.cursor_row == 3  # back on its row (Scan's went to the first)
        await pilot.resize_terminal(30, 24)  # the same columns: nothing to redraw
        await pilot.pause()
        assert app.redrawn == [0]


def test_a_column_whose_text_is_shorter_than_its_heading_lends_the_rest():
    """At 80 columns Last used held "—" for every key in 16 cells while the
    label was cut to 12; an audit trail's Action holds "key.rotate" in 21
    while Detail is cut, and Key (in the line under the table) gives way
    to a Detail still cut."""
    keys = {c.key: n for c, n in fit(KEY_COLUMNS, 80, {"label": 19, "status": 7, "used": 1})}
    assert keys == {"label": 19, "public": 21, "status": 14, "used": 14}
    trail = {"at": 16, "actor": 5, "action": 10, "about": 9, "key": 21, "detail": 34}
    assert {c.key: n for c, n in fit(AUDIT_COLUMNS, 120, trail)}["detail"] >= 34
    trail["action"] = 21  # integration.configure: Key gives way
    assert {c.key: n for c, n in fit(AUDIT_COLUMNS, 120, trail)} == {
        "at": 16, "actor": 8, "action": 21, "about": 24, "detail": 37,
    }  # fmt: skip


async def test_a_rotations_detail_shows_whole_on_the_audit_tab_at_120_columns(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        detail = await open_tab(pilot, "github", "2")
        await pilot.press("t")  # rotate: the overlap choice, the new key, leave it
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        while app.screen is not detail:
            await pilot.press("d")
            await settle(pilot)
        await audit_tab(pilot)
        table = detail.query_one(AuditLog).table
        column = [c.key for c, _ in table.fitted].index("detail")
        said = str(table.get_row_at(0)[column])
        assert said.startswith("old key stops ") and "…" not in said
        line = str(detail.query_one("#audit-detail").render()).replace("\n", " ")
        assert " · replacement kdpk_" in line, line  # not a bare public key at its end


def test_the_audit_action_is_whole_at_every_width_and_the_label_from_80_columns():
    """As the README says: the action whole ("integration.configure", not
    "integra…nfigure"); at 60 columns About gives way ("api-ga…taging", its
    end kept), from 80 it has its 19 ("api-gateway-staging")."""
    wants = {"at": 16, "actor": 5, "action": 21, "about": 19, "key": 21, "detail": 1}
    for screen in (60, 80, 120):
        widths = {c.key: w for c, w in fit(AUDIT_COLUMNS, screen, wants)}
        assert widths["action"] == 21, (screen, widths)
        assert widths["about"] >= (13 if screen == 60 else 19), (screen, widths)


def test_the_audit_columns_shown_depend_on_the_width_not_the_rows():
    """At 80 columns Actor is out; a filter's short rows (key.create) left
    room for it, and it came in: the table jumped (#21 walk)."""
    every = {"at": 16, "actor": 5, "action": 21, "about": 19, "key": 21, "detail": 1}
    local = {"at": 16, "actor": 5, "action": 10, "about": 17, "key": 21, "detail": 1}
    for screen in (60, 80, 100):
        shown = [[c.key for c, _ in fit(AUDIT_COLUMNS, screen, w)] for w in (every, local)]
        assert shown[0] == shown[1], (screen, shown)
    assert [c.key for c, _ in fit(AUDIT_COLUMNS, 80, local)] == ["at", "action", "about", "detail"]
