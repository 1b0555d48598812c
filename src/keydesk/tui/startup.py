"""Opening the store after the first frame.

The app paints its first frame before the store layer (SQLAlchemy, the
models) is imported: `run` hands it a way to open the store, which a worker
calls while the first screen shows a quiet "Opening …" line. On an
up-to-date SQLite store the same worker first reads the first screen's rows
bare (keydesk.store.queries on sqlite3), so they show before SQLAlchemy is
imported; a worker that needs the service meanwhile waits for the store.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

import textual.constants
from textual.app import App
from textual.dom import DOMNode

from keydesk.errors import KeydeskError, StoreUnavailable
from keydesk.tui.calls import call_service, deliver
from keydesk.views import IntegrationView, WorkspaceView

if TYPE_CHECKING:
    from keydesk.service import KeyService
    from keydesk.store.queries import Reads

Connect = Callable[[], "KeyService"]
# The account, its workspaces, and the first one's integrations.
FirstRows = tuple[str, list[WorkspaceView], list[IntegrationView]]
BareReads = Callable[[], AbstractContextManager["Reads | None"]]
Opened = tuple["KeyService", list[WorkspaceView]]
STORE_WAIT_SECONDS = 120.0  # a worker started while the store opens waits this long
FIRST_DRAW_WAIT_SECONDS = 1.0  # the store waits this long at most for the first rows to show


class StoreOpening:
    """The app's one service: given ready, or opened in a worker once the
    first frame is on screen (`open`)."""

    def __init__(
        self,
        service: KeyService | None,
        *,
        connect: Connect | None,
        bare_reads: BareReads | None,
        where: str,
        on_ui_thread: Callable[[], bool],
    ) -> None:
        """`where` names the store until it is open; `bare_reads` lists
        what screens show before (keydesk.store.queries.bare_sqlite_reads)."""
        self._service = service
        self._connect = connect
        self._bare_reads = bare_reads
        self._where = where
        self._on_ui_thread = on_ui_thread
        self._opened = threading.Event()
        self._first_rows_drawn = threading.Event()
        self._leaving = False

    @property
    def service(self) -> KeyService:
        if self._service is None and not self._on_ui_thread():
            # A worker started while the store opens (the first rows, read
            # bare, can be opened at once) waits for it.
            self._opened.wait(STORE_WAIT_SECONDS)
        if self._service is None:
            raise StoreUnavailable(f"{self._where or 'the store'} is not open yet; try again")
        return self._service

    @property
    def ready(self) -> bool:
        return self._service is not None

    @contextmanager
    def reading(self) -> Iterator[Reads]:
        """In a worker: the list reads, from the service once the store is
        open; before, bare on an up-to-date SQLite store (the same queries,
        without waiting for SQLAlchemy), else once the store is open."""
        if self._service is None and self._bare_reads is not None:
            with self._bare_reads() as bare:
                if bare is not None:
                    yield bare
                    return
        with self.service.reading() as reads:
            yield reads

    def open(
        self,
        node: DOMNode,
        *,
        show_first_rows: Callable[[FirstRows], object],
        opened: Callable[[KeyService, list[WorkspaceView]], object],
        failed: Callable[[str], object],
    ) -> None:
        """In a worker: the first rows read bare (to `show_first_rows`, which
        calls `first_rows_drawn` once they are painted), then the store
        opened and its workspaces read (to `opened`), or why not (to `failed`)."""
        connect = self._connect
        if connect is None or self._service is not None:
            return

        def open_and_read() -> Opened | None:
            first = self._read_first_rows()
            if first is not None:
                deliver(node, show_first_rows, first)
                # Importing the store layer holds the GIL for ~150 ms in
                # all: done while the rows are drawn, it delays them.
                self._first_rows_drawn.wait(FIRST_DRAW_WAIT_SECONDS)
            if self._leaving:
                return None  # the user quit first: nothing to open the store for
            # An integration's page is the likeliest next: imported first (~60 ms
            # of CPU, no SQLAlchemy), it is ready long before the store layer
            # (~0.7 s), so its first opening does not import it on the event loop.
            _import_integration_page()
            service = connect()
            try:
                return service, service.workspaces()  # one trip to the worker, not two
            except BaseException:
                service.store.dispose()
                raise

        def done(result: Opened | None) -> None:
            if result is not None:
                self._service = result[0]
                self._opened.set()
                opened(*result)

        def cannot_open(message: str) -> None:
            self._opened.set()  # waiting workers give up (the app is leaving)
            failed(message)

        call_service(node, open_and_read, done, on_error=cannot_open, group="open")

    def _read_first_rows(self) -> FirstRows | None:
        """The first screen's rows, read bare before the store is opened."""
        if self._bare_reads is None:
            return None
        try:
            with self._bare_reads() as reads:
                if reads is None:
                    return None
                workspaces = reads.workspaces()
                first = reads.integrations(workspaces[0].name) if workspaces else []
                return reads.actor, workspaces, first
        except KeydeskError:
            return None  # opening the store the full way says what is wrong

    def first_rows_drawn(self) -> None:
        """The first rows are on screen: the store may be opened now."""
        self._first_rows_drawn.set()

    def leave(self) -> None:
        """The app is leaving: a store not yet opened will not be."""
        self._leaving = True
        self._first_rows_drawn.set()  # the store's worker waits for a paint that may not come

    def close(self) -> None:
        if self._service is not None:
            self._service.store.dispose()


def quiet_textual_logs(app: App[None]) -> None:
    """Textual's log file (TEXTUAL_LOG) and devtools console record every
    event, each key typed and each paste among them: a private key pasted
    into a box would be written there in clear. keydesk feeds neither, and
    says so on the terminal it hands back (this line stays under the app)."""
    app.devtools = None  # TEXTUAL=devtools: it would connect once the app runs
    if textual.constants.LOG_FILE is not None:
        textual.constants.LOG_FILE = None  # type: ignore[misc]  # Final there; read at each call
        print(
            "keydesk: TEXTUAL_LOG is ignored: Textual's log records every key typed and "
            "pasted, private keys too",
            file=sys.stderr,
        )


def _import_integration_page() -> None:
    import keydesk.tui.screens.integration_detail  # noqa: F401
