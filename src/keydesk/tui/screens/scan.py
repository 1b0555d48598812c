"""Scan for leaked keys: a folder the admin names is scanned in a worker;
each private key found is listed as it comes, with what the store says of
it, and a live one can be revoked on the spot (the app's one revoke flow,
audited as leaked, with where it was found).

No private key is ever on screen: a finding shows where it is, a redacted
prefix (`Finding.redacted`, as `keydesk scan` prints) and its public key.
The screen keeps a private key only while it may still be revoked here (an
active key the account manages) and drops them all when it closes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from keydesk.errors import KeydeskError
from keydesk.tui.calls import deliver
from keydesk.tui.display import content, literal, sentence
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.confirm import leave_form
from keydesk.tui.screens.form import ask_before_quitting
from keydesk.tui.screens.scan_findings import STATUS_NOTES, UNPROVEN_NOTE, Leak, Row, Scan
from keydesk.tui.widgets import (
    Column,
    FilterInput,
    FittedTable,
    GuardedInput,
    Header,
    KeyFooter,
)
from keydesk.tui.widgets.filter_input import clear_filter_binding, clear_typed, no_match, typed_in
from keydesk.tui.widgets.key_table import shorter_status
from keydesk.views import counted

if TYPE_CHECKING:
    from keydesk.views import KeyView

LIVE = "active"
PATH_UNSCANNED = "The path you typed has not been scanned."
COLUMNS = [
    Column("where", "Where", 16, flexible_up_to=60),
    # In the API Keys tab's words, as few as fit ("rotating"; "repl. revoked"
    # where it steps to 14, from 80 columns); other-workspace is cut: the
    # detail line has each whole.
    Column("status", "Status", 10, steps=(14,)),
    Column("public", "Public key", 21, drop=1),
    Column("key", "Key", 10, drop=2),
]


class _Stopped(Exception):
    """Raised from the scanner's per-file hook once the scan is cancelled."""


class ScanScreen(KeydeskScreen[None]):
    AUTO_FOCUS = "#scan-path"
    HELP_NOTES = STATUS_NOTES
    BINDINGS: ClassVar[list[BindingType]] = [
        clear_filter_binding("scan", "finding"),  # before Escape's others: a filter empties first
        Binding("escape", "cancel", "Cancel scan", id="scan.cancel",
                tooltip="Stop the scan (what was found stays listed)"),
        Binding("escape,q", "back", "Back", key_display="esc", id="scan.back",
                tooltip="Leave the scan"),
        Binding("x", "revoke", "Revoke", id="scan.revoke",
                tooltip="Revoke the highlighted live key, audited as leaked"),
        # As on every list, `/` filters what is listed; e edits the path.
        Binding("slash", "filter", "Filter", key_display="/", id="scan.filter",
                tooltip="Filter the findings: where, status or public key"),
        Binding("e", "focus_path", "Path", id="scan.path",
                tooltip="Name another folder or file to scan (Enter scans)"),
    ]  # fmt: skip
    PROGRESS_SECONDS: ClassVar[float] = 0.2

    def __init__(self, scan: Scan) -> None:
        """`scan`: what finds keys and looks them up (`KeydeskApp.scan_leaks`)."""
        super().__init__(id="scan-screen")
        self._scan = scan
        self._rows: dict[str, Row] = {}
        self._worker: Worker[None] | None = None
        self._timer: Timer | None = None
        self._files_read = 0  # written by the worker, read by the timer
        self._unreadable = 0
        self._left_out = ""  # "188 binary files skipped", as `keydesk scan` says it
        self._state = ""
        self._path_scanned = _shown_folder(os.getcwd())  # or the one first shown

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Scan for leaked keys", id="scan-title")
        yield GuardedInput(  # never holds a private key or an escape sequence
            value=self._path_scanned,
            what="the path",
            placeholder="A folder or file to scan (~ works); Enter scans",
            id="scan-path",
            compact=True,
        )
        yield Static(
            # Whole at 80 columns; at 60 it wraps (app.tcss: up to two lines).
            content("Enter scans it and everything under it; each key found is looked up."),
            id="scan-progress",
        )
        yield FilterInput(  # shown by `/`
            placeholder="Filter findings: where, status or public key  ( / )",
            id="scan-filter",
            compact=True,
        )
        yield FittedTable(COLUMNS, redraw=self._redraw, id="scan-findings")
        yield Static(id="scan-detail")
        yield Static(content(UNPROVEN_NOTE), id="scan-note")
        yield KeyFooter()

    @property
    def table(self) -> FittedTable:
        return self.query_one("#scan-findings", FittedTable)

    @property
    def rows(self) -> list[Row]:
        return list(self._rows.values())

    @property
    def scanning(self) -> bool:
        """From the screen's own state, not the worker's: the worker hands
        over its last result (`_finished`) while still running, and a
        footer refreshed then kept "esc Cancel scan" after the scan was done."""
        return self._state == "scanning"

    @property
    def state(self) -> str:
        """'' before a scan, then scanning, done, cancelled or failed."""
        return self._state

    def on_mount(self) -> None:
        self.query_one("#scan-note").display = False
        self.query_one("#scan-filter").display = False

    def _redraw(self) -> None:
        needle = self._needle()
        for key, row in self._rows.items():
            if _shown(row, needle):
                self.table.add_row(*self._cells(row), key=key)

    # -- filtering ------------------------------------------------------------------

    def _needle(self) -> str:
        return self.query_one("#scan-filter", FilterInput).value.strip()

    def action_filter(self) -> None:
        box = self.query_one("#scan-filter", FilterInput)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        clear_typed(self)

    @on(Input.Changed, "#scan-filter")
    def _filter_changed(self) -> None:
        if not self._rows:
            return  # nothing listed to filter (its first Changed comes as it mounts)
        self.table.clear()
        self._redraw()
        row = self._highlighted()
        if row is not None:
            self._show_detail(row)
        else:  # every finding hidden: say so, not the last one's line
            said = no_match("finding", self._needle())
            self.query_one("#scan-detail", Static).update(content(said))
        self.refresh_bindings()

    @on(Input.Submitted, "#scan-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    # -- scanning -------------------------------------------------------------------

    @on(GuardedInput.Refused, "#scan-path")
    def _path_refused(self, event: GuardedInput.Refused) -> None:
        self._say(sentence(event.message), error=True)

    @on(Input.Submitted, "#scan-path")
    def _path_given(self, event: Input.Submitted) -> None:
        event.stop()
        path = os.path.expanduser(event.value.strip())
        self._path_scanned = event.value  # tried: Escape need not ask about it
        if not path:
            self._say("Name a folder or file to scan.", error=True)
        elif not os.path.exists(path):
            self._say(f"No such folder or file: {path}", error=True)
        else:
            self.start(path)

    def start(self, path: str) -> None:
        if self.scanning:
            return
        self._forget()
        self._rows = {}
        self.table.clear()
        self.query_one("#scan-detail", Static).update("")  # the last scan's finding stayed
        self._files_read = self._unreadable = 0
        self._left_out = ""
        self._state = "scanning"
        self.query_one("#scan-note").display = False
        self._worker = self.run_worker(
            lambda: self._run(self._scan, path),
            thread=True,
            group="scan",
            exclusive=True,
            exit_on_error=False,
            description="keydesk scan",
        )
        self._timer = self.set_interval(self.PROGRESS_SECONDS, self._show_progress)
        self._show_progress()
        # The findings have the keys from now: `x` typed with Enter went
        # into the path when the scan was still running (it is not waited for).
        self.table.focus()
        self.refresh_bindings()

    def _run(self, scan: Scan, path: str) -> None:
        """In the worker thread: find, look up, hand each key to the screen."""
        worker = get_current_worker()

        def opened() -> None:
            if worker.is_cancelled:
                raise _Stopped
            self._files_read += 1

        def skipped(failed: bool, left_out: str) -> None:
            self._unreadable += failed
            self._left_out = left_out

        leaks = scan([path], on_file=opened, on_skipped=skipped)
        try:
            for leak in leaks:
                if worker.is_cancelled:
                    return
                deliver(self, self._add, leak)
        except _Stopped:
            return
        except KeydeskError as error:
            deliver(self, self._failed, error.message)
            return
        except Exception as error:  # the screen must survive anything the store throws
            deliver(self, self._failed, f"unexpected error ({type(error).__name__})")
            return
        finally:
            close = getattr(leaks, "close", None)  # stops the walk (and any git) at once
            if close is not None:
                close()
        deliver(self, self._finished, "done")

    def _add(self, leak: Leak) -> None:
        finding = leak.finding
        row = Row(
            finding.location,
            finding.redacted,
            finding.public_key,
            leak.found,
            leak.integration,
            None,
        )
        if row.revoke_offer():  # the only rows that need the key again
            row.private_key = finding.private_key
        key = str(len(self._rows))
        self._rows[key] = row
        if _shown(row, self._needle()):
            self.table.add_row(*self._cells(row), key=key)
        if not leak.found.secret_checked and leak.found.key is not None:
            self.query_one("#scan-note").display = True
        if len(self._rows) == 1:
            self._show_detail(row)
            self.refresh_bindings()

    def _finished(self, state: str) -> None:
        self._state = state
        if self._timer is not None:
            self._timer.stop()
        self._show_progress()
        if self._rows and state == "done":
            self._highlight_first_live()
        elif not self._rows:  # nothing to act on: the next path is typed at once
            self.query_one("#scan-path", Input).focus()
        self.refresh_bindings()

    @on(Worker.StateChanged)
    def _worker_ended(self, event: Worker.StateChanged) -> None:
        """A worker that ends without a word (an error outside the walk)
        does not leave the screen scanning."""
        if event.worker is self._worker and event.state is WorkerState.ERROR and self.scanning:
            self._failed("the scan stopped on an unexpected error")

    def _highlight_first_live(self) -> None:
        """The cursor on the first key that still works: what to act on first."""
        live = next((key for key, row in self._rows.items() if row.found.may_work), None)
        if live is not None and live in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(live))

    def _failed(self, message: str) -> None:
        self._finished("failed")
        self._say(message, error=True)

    def _show_progress(self) -> None:
        found = len(self._rows)
        live = sum(row.found.may_work for row in self._rows.values())
        counts = (
            f"{counted(self._files_read, 'file')} read · {counted(found, 'key')} found, {live} live"
        )
        if self._unreadable:
            counts += f" · {self._unreadable} could not be read"
        if self._left_out:
            counts += f" · {self._left_out}"
        prefix = {
            "scanning": "Scanning… ",
            "done": "Done: ",
            "cancelled": "Cancelled: ",
            "failed": "Stopped: ",
        }.get(self._state, "")
        self._say(prefix + counts)

    def _say(self, text: str, *, error: bool = False) -> None:
        line = self.query_one("#scan-progress", Static)
        line.update(content(text))
        line.set_class(error, "-error")

    def action_cancel(self) -> None:
        if self._worker is not None and self.scanning:
            self._worker.cancel()
            self._finished("cancelled")

    def action_back(self) -> None:
        leave_form(self, self._path_typed(), unsaved=PATH_UNSCANNED)

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        return ask_before_quitting(self, False, self._path_typed, quit_app, unsaved=PATH_UNSCANNED)

    def _path_typed(self) -> bool:
        """A path typed and not yet tried: leaving asks first, as a form does
        (an emptied field holds nothing to lose: a refused paste emptied it)."""
        typed = self.query_one("#scan-path", Input).value
        return bool(typed.strip()) and typed != self._path_scanned

    def action_focus_path(self) -> None:
        self.query_one("#scan-path", Input).focus()

    # -- what a row shows -------------------------------------------------------------

    def _cells(self, row: Row) -> list[object]:
        key, status = row.found.key, row.status
        if key is not None:  # "active" alone hid a rotation under way
            width = next(width for column, width in self.table.fitted if column.key == "status")
            status = shorter_status(key.status_words(self.keydesk.now()), width)
        values = {
            "where": row.location,
            "status": status,
            "public": row.public_key,
            "key": row.redacted,
        }
        live = row.found.may_work
        return [
            literal(values[column.key], style="bold" if live and column.key == "status" else "")
            for column, _ in self.table.fitted
        ]

    def _highlighted(self) -> Row | None:
        table = self.table
        if not table.row_count or table.cursor_row < 0:  # none found, or none matches
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows.get(key or "")

    @on(DataTable.RowHighlighted, "#scan-findings")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._rows.get((event.row_key and event.row_key.value) or "")  # None: no row
        if row is not None:
            self._show_detail(row)
        self.refresh_bindings()

    def _show_detail(self, row: Row) -> None:
        shown = self.keydesk.workspace
        text = row.detail(self.keydesk.now(), shown.name if shown is not None else None)
        self.query_one("#scan-detail", Static).update(content(text))

    # -- revoking -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.scanning
        if action == "back":
            return not self.scanning
        if action in ("revoke", "filter", "focus_path") and isinstance(self.focused, Input):
            return False  # their keys are text in the path or the filter: not offered
        if action == "revoke":
            row = self._highlighted()
            return False if row is None else row.revoke_offer()
        if action == "filter":
            return True if self._rows else None
        if action == "clear_filter":
            return bool(typed_in(self))
        return True

    def why_not(self, action: str) -> str | None:
        """A dimmed Revoke says why, in the API Keys tab's words."""
        if action == "filter":
            return "Nothing found to filter: e names a folder, Enter scans it"
        row = self._highlighted()
        if action != "revoke" or row is None:
            return None
        return row.why_not_revoked(self.keydesk.now())

    def why_hidden(self, action: str) -> str | None:
        return self.why_not(action)  # x on an unknown row said nothing

    def action_revoke(self) -> None:
        row = self._highlighted()
        if row is None or row.private_key is None or row.found.key is None:
            return
        private_key, location = row.private_key, row.location
        keydesk = self.keydesk
        keydesk.revoke_key(
            row.found.key,
            self._revoked,
            revoke=lambda: keydesk.calls.revoke_found_key(private_key, location),
        )

    def _revoked(self, key: KeyView) -> None:
        """Every row of that key now says revoked, and lets its key go."""
        for row_key, row in self._rows.items():
            if row.public_key == key.public_key and row.found.key is not None:
                row.found = replace(row.found, key=key)
                row.private_key = None
                if row_key not in self.table.rows:
                    continue  # filtered out: drawn as it is now when shown again
                for (column, _), cell in zip(self.table.fitted, self._cells(row), strict=True):
                    self.table.update_cell(row_key, column.key, cell)
        current = self._highlighted()
        if current is not None:
            self._show_detail(current)
        self._show_progress()
        self.refresh_bindings()

    # -- forgetting -------------------------------------------------------------------

    def _forget(self) -> None:
        for row in self._rows.values():
            row.private_key = None

    def on_unmount(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        if self._timer is not None:
            self._timer.stop()
        self._forget()
        self._rows = {}


def _shown(row: Row, needle: str) -> bool:
    """Whether the filter's text (`needle`) lets `row` be listed."""
    text = f"{row.location} {row.status} {row.public_key}".lower()
    return not needle or needle.lower() in text


def _shown_folder(path: str) -> str:
    """`path` with the home folder as `~` (the input expands it back)."""
    home = os.path.expanduser("~")
    if home not in ("~", "/") and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home) :]
    return path
