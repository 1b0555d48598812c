"""The floor for bench/tui.py: a bare Textual app over the same store, read
with raw sqlite3. Not keydesk; what a careful minimal app costs.

    python bench/tui_floor.py --db PATH_OR_SQLITE_URL

The same walk as keydesk: a list of integrations (Header, filter Input,
DataTable, Footer; `/` filters, Enter opens), then an integration's keys with
the same columns, read with the same query as keydesk's key list. All rows are
read in a thread; the table holds a window of the matching rows (a DataTable
pays for every row it holds, so a careful app adds a page at a time as the
cursor nears the end), and the filter runs over every row in memory, after
the typed character is on screen, and redraws only when the window changed.
`/` filters, Escape goes back, Ctrl+Q quits.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input

WINDOW = 60  # rows in the table at a time: more than a screenful; more on scrolling

INTEGRATIONS_SQL = """
SELECT i.id, i.name, i.provider, i.status, i.created_at,
       (SELECT count(*) FROM api_key k WHERE k.integration_id = i.id AND k.revoked_at IS NULL)
FROM integration i ORDER BY i.name
"""
KEYS_SQL = """
SELECT k.id, k.public_key, k.label, k.integration_id, i.name, k.created_at, c.name,
       k.revoked_at, r.name, k.expires_at, k.last_used_at
FROM api_key k
JOIN integration i ON i.id = k.integration_id
JOIN account c ON c.id = k.created_by
LEFT JOIN account r ON r.id = k.revoked_by
WHERE k.integration_id = ?
ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC
"""

CSS = """
#filter { margin: 0 1; }
DataTable { height: 1fr; margin: 0 1; }
"""


def when(text: str | None) -> str:
    if not text:
        return "—"
    return datetime.fromisoformat(text).replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def status(row) -> str:
    if row[7] is not None:
        return "revoked"
    if row[9] is not None and row[9] <= datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"):
        return "expired"
    return "active"


class KeysScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("slash", "filter", "Filter", key_display="/"),
    ]

    def __init__(self, path: str, integration_id: int) -> None:
        super().__init__()
        self.path = path
        self.integration_id = integration_id
        self.rows: list[tuple] = []
        self.haystacks: list[str] = []
        self.matched: list[tuple] = []
        self.shown: list[tuple] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Filter keys  ( / )", id="filter", compact=True)
        yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Label", "Public key", "Status", "Created", "By", "Last used", "Revoked"):
            table.add_column(label)
        table.focus()
        self.load()

    @work(thread=True)
    def load(self) -> None:
        with sqlite3.connect(self.path) as connection:
            rows = connection.execute(KEYS_SQL, (self.integration_id,)).fetchall()
        self.app.call_from_thread(self.loaded, rows)
        haystacks = [f"{r[2]} {r[1]} {status(r)} {r[6]}".lower() for r in rows]
        self.app.call_from_thread(setattr, self, "haystacks", haystacks)

    @on(Input.Changed, "#filter")
    def changed(self) -> None:
        # Let the typed character reach the screen before the table changes.
        self.call_after_refresh(self.filtered)

    def filtered(self) -> None:
        needle = self.query_one("#filter", Input).value.strip().lower()
        rows = self.rows
        if needle and len(self.haystacks) == len(rows):
            rows = [r for r, hay in zip(rows, self.haystacks, strict=True) if needle in hay]
        self.show(rows)

    def loaded(self, rows: list[tuple]) -> None:
        self.rows = rows
        self.show(rows)

    def show(self, matched: list[tuple]) -> None:
        """The first WINDOW of `matched` in the table (more as the cursor
        nears the end); nothing redrawn when those rows are already shown."""
        self.matched = matched
        if matched[: len(self.shown)] == self.shown and self.shown:
            return
        table = self.query_one(DataTable)
        table.clear()
        self.shown = []
        self.more()

    def more(self) -> None:
        start = len(self.shown)
        page = self.matched[start : start + WINDOW]
        self.query_one(DataTable).add_rows(
            (r[2], r[1], status(r), when(r[5]), r[6], when(r[10]), when(r[7]) if r[7] else "")
            for r in page
        )
        self.shown.extend(page)

    @on(DataTable.RowHighlighted, "#keys")
    def near_end(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= len(self.shown) - 10 and len(self.shown) < len(self.matched):
            self.more()

    def action_filter(self) -> None:
        self.query_one("#filter").focus()

    @on(Input.Submitted, "#filter")
    def submitted(self) -> None:
        self.query_one(DataTable).focus()


class ListScreen(Screen[None]):
    BINDINGS = [Binding("slash", "filter", "Filter", key_display="/")]

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.rows: list[tuple] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Filter integrations  ( / )", id="filter")
        yield DataTable(id="integrations", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Name", "Provider", "Status", "Active keys", "Created"):
            table.add_column(label)
        table.focus()
        self.load()

    @work(thread=True)
    def load(self) -> None:
        with sqlite3.connect(self.path) as connection:
            rows = connection.execute(INTEGRATIONS_SQL).fetchall()
        self.app.call_from_thread(self.loaded, rows)

    def loaded(self, rows: list[tuple]) -> None:
        self.rows = rows
        self.show("")

    def show(self, needle: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            if needle in f"{row[1]} {row[2]} {row[3]}".lower():
                table.add_row(row[1], row[2], row[3], str(row[5]), when(row[4]), key=str(row[0]))

    @on(Input.Changed, "#filter")
    def filtered(self, event: Input.Changed) -> None:
        self.show(event.value.strip().lower())

    @on(Input.Submitted, "#filter")
    def submitted(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected)
    def open(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(KeysScreen(self.path, int(event.row_key.value)))

    def action_filter(self) -> None:
        self.query_one("#filter").focus()


class FloorApp(App[None]):
    CSS = CSS
    TITLE = "floor"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def on_mount(self) -> None:
        self.push_screen(ListScreen(self.path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    args, _ = parser.parse_known_args(argv)  # ignores --account and the like
    path = args.db.removeprefix("sqlite:///")
    FloorApp(path).run()


if __name__ == "__main__":
    main()
