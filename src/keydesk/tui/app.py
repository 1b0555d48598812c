"""The keydesk Textual application: screens, and the flows they share.

The app paints its first frame before the store layer (SQLAlchemy, the
models) is imported: `run` hands it a way to open the store, which a worker
calls while the first screen shows a quiet "Opening …" line. On an
up-to-date SQLite store the same worker first reads the first screen's rows
bare (keydesk.store.queries on sqlite3), so they show before SQLAlchemy is imported;
a worker that needs the service meanwhile waits for the store. Screens
other than the list are imported when first shown: the first frame loads
only what it draws.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import RenderableType
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from keydesk.errors import KeydeskError, StoreUnavailable
from keydesk.ssh.gate import SCAN_REFUSED, RefusedOverSsh
from keydesk.store.queries import bare_sqlite_reads
from keydesk.tui import clipboard, heap
from keydesk.tui.calls import call_service, deliver
from keydesk.tui.commands import KeydeskCommands
from keydesk.tui.display import visible
from keydesk.tui.messages import IntegrationsChanged, KeysChanged
from keydesk.tui.screens.base import MIN_HEIGHT, MIN_WIDTH
from keydesk.tui.screens.confirm import (
    ConfirmScreen,
    revoke_confirmation,
    revoke_on_rotate_confirmation,
)
from keydesk.tui.screens.help import HelpScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.typeahead import KeyGate
from keydesk.views import (
    CreatedKey,
    FoundKey,
    IntegrationView,
    KeyView,
    RotatedKey,
    WorkspaceView,
    utcnow,
)

if TYPE_CHECKING:
    from keydesk.service import KeyService
    from keydesk.store.queries import Reads
    from keydesk.tui.screens.scan import Leak

Connect = Callable[[], "KeyService"]
# The account, its workspaces, and the first one's integrations.
FirstRows = tuple[str, list[WorkspaceView], list[IntegrationView]]
BareReads = Callable[[], AbstractContextManager["Reads | None"]]
STORE_WAIT_SECONDS = 120.0  # a worker started while the store opens waits this long
HANGUP_GRACE_SECONDS = 5.0  # after ctrl+q or a hang-up, the longest an exit may take
FIRST_DRAW_WAIT_SECONDS = 1.0  # the store waits this long at most for the first rows to show


class KeydeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "keydesk"
    COMMANDS = App.COMMANDS | {KeydeskCommands}
    BINDINGS = [
        Binding(
            "f1,question_mark", "help", "Help", key_display="?", id="app.help",
            tooltip="Every key of this screen (also F1)",
        ),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit", tooltip="Quit keydesk"),
    ]  # fmt: skip

    workspace: reactive[WorkspaceView | None] = reactive(None)
    ssh_session = False  # through an SSH key (`run`): the server's files are not the admin's
    startup_notice: str | None = None  # said once the first screen is up (`run`)

    def __init__(
        self,
        service: KeyService | None = None,
        *,
        connect: Connect | None = None,
        bare_reads: BareReads | None = None,
        where: str = "",
        handle_signals: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Give a ready `service`, or `connect` to open one in a worker once
        the first frame is on screen (`where` names the store meanwhile), and
        `bare_reads` to list what screens show before it is open
        (keydesk.store.queries.bare_sqlite_reads).
        `clock`: what "now" is for words like "expiring in 9 days" (pictures
        of the demo pin it)."""
        super().__init__()
        self.now = clock
        self._service = service
        self._connect = connect
        self._bare_reads = bare_reads
        self._store_opened = threading.Event()
        self._first_rows_drawn = threading.Event()
        self._leaving = False
        self._watchdog: threading.Timer | None = None
        self.actor: str | None = service.actor if service else None
        self._home: IntegrationsScreen | None = None
        self.where = where
        self._handle_signals = handle_signals
        self.startup_error: KeydeskError | None = None
        self._keys = KeyGate(self)

    @property
    def service(self) -> KeyService:
        if self._service is None and threading.get_ident() != self._thread_id:
            # A worker started while the store opens (the first rows, read
            # bare, can be opened at once) waits for it.
            self._store_opened.wait(STORE_WAIT_SECONDS)
        if self._service is None:
            raise StoreUnavailable(f"{self.where or 'the store'} is not open yet; try again")
        return self._service

    @property
    def ready(self) -> bool:
        return self._service is not None

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        # app.tcss shows only the "too small" line then. A class on the app,
        # changed only when the size crosses the line, restyles nothing else.
        self.set_class(width < MIN_WIDTH or height < MIN_HEIGHT, "-too-small")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._keys.holds(event):
            return  # it comes back once the screen has caught up (keydesk.tui.typeahead)
        await super().on_event(event)

    def on_mount(self) -> None:
        self._check_size(*self.size)
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for hangup in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(hangup, self.hang_up, hangup)
        self._home = IntegrationsScreen()
        self.push_screen(self._home)
        if self.startup_notice:
            self.notify(self.startup_notice, timeout=10, markup=False)
        ready, connect = self._service, self._connect
        if ready is not None:
            call_service(self, ready.workspaces, self._workspaces_loaded, group="workspaces")
        elif connect is not None:

            def open_and_read() -> tuple[KeyService, list[WorkspaceView]] | None:
                first = self._read_first_rows()
                if first is not None:
                    deliver(self, self._show_first_rows, first)
                    # Importing the store layer holds the GIL for ~150 ms in
                    # all: done while the rows are drawn, it delays them.
                    self._first_rows_drawn.wait(FIRST_DRAW_WAIT_SECONDS)
                if self._leaving:
                    return None  # the user quit first: nothing to open the store for
                service = connect()
                try:
                    return service, service.workspaces()  # one trip to the worker, not two
                except BaseException:
                    service.store.dispose()
                    raise

            call_service(
                self, open_and_read, self._opened, on_error=self._cannot_open, group="open"
            )

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

    def hang_up(self, signum: int) -> None:
        """The terminal went away (or we were asked to stop): leave the way
        ctrl+q does, so every clean-up runs. Restoring a terminal that is
        gone can block Textual's driver for ever (its output queue fills;
        seen in 1 of 6 hang-ups from tmux), which would leave keydesk
        running with no terminal, so the process ends after a grace period
        whatever happens."""
        self._end_within_grace(128 + signum)
        self.exit(return_code=128 + signum)

    def _end_within_grace(self, code: int) -> None:
        """Once: end the process `HANGUP_GRACE_SECONDS` from now, whatever
        still runs (a worker stuck on a store that stalls, or a driver)."""
        if self._watchdog is None:
            self._watchdog = threading.Timer(HANGUP_GRACE_SECONDS, _end_now, args=(code,))
            self._watchdog.daemon = True
            self._watchdog.start()

    def _workspaces(self) -> list[WorkspaceView]:
        return self.service.workspaces()  # in a worker: it waits for a store still opening

    def _show_first_rows(self, first: FirstRows) -> None:
        self.actor, workspaces, integrations = first
        if workspaces and self._home and not self._service:  # no workspace: the welcome waits
            self.workspace = workspaces[0]
            self._home.show(integrations)
        # Two refreshes: the table lays out its new rows on its own idle
        # turn, which may come after the first one.
        self.call_after_refresh(self.call_after_refresh, self._first_rows_drawn.set)

    def exit(
        self, result: None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        self._leaving = True
        self._first_rows_drawn.set()  # the store's worker waits for a paint that may not come
        if self._handle_signals:
            # The process is keydesk's (not a test's): Python's exit waits for
            # every worker thread, and one stuck on a stalled store would hold
            # it for ever after ctrl+q (seen with PostgreSQL stopped).
            self._end_within_grace(return_code)
        super().exit(result, return_code, message)

    def _opened(self, opened: tuple[KeyService, list[WorkspaceView]] | None) -> None:
        if opened is None:
            return
        self._service, workspaces = opened
        self.actor = self._service.actor
        self._store_opened.set()
        self.refresh_bindings()
        self._workspaces_loaded(workspaces)

    def _cannot_open(self, message: str) -> None:
        self.startup_error = KeydeskError(message)
        self._store_opened.set()  # waiting workers give up (the app is leaving)
        self.exit(return_code=1)

    def _workspaces_loaded(self, workspaces: list[WorkspaceView]) -> None:
        from keydesk.tui.screens.welcome import WelcomeScreen

        if workspaces:
            self.workspace = workspaces[0]
        else:
            self.push_screen(WelcomeScreen(), self._first_workspace)

    def _first_workspace(self, workspace: WorkspaceView | None) -> None:
        if workspace is not None:
            self.workspace = workspace
            self.add_integration()

    def watch_workspace(self, workspace: WorkspaceView | None) -> None:
        account = self.actor
        if account is None:
            return
        self.sub_title = visible(
            f"{account} · {workspace.role} · {workspace.name}" if workspace else account
        )

    # -- flows shared by screens and the command palette --------------------------

    def open_integration(
        self, integration: IntegrationView, tab: str = "api-keys", highlight: str | None = None
    ) -> None:
        from keydesk.tui.screens.integration_detail import IntegrationDetailScreen

        self.push_screen(IntegrationDetailScreen(integration, tab=tab, highlight=highlight))

    def generate_key(self, integration_id: int | None = None) -> None:
        """Form → one-time reveal → the key's API Keys tab, key highlighted."""
        from keydesk.tui.screens.create_key import CreateKeyScreen

        def created(result: CreatedKey | None) -> None:
            if result is None:
                return
            integration = form.chosen()
            self.push_screen(
                KeyCreatedScreen(result),
                lambda public_key: self._show_new_key(
                    result.key.integration_id, integration, public_key
                ),
            )

        form = CreateKeyScreen(integration_id)
        self.push_screen(form, created)

    def rotate_key(self, key: KeyView) -> None:
        """The one rotate flow (a key row, its page, the palette): how long
        the old key keeps working, then the replacement shown once, saying
        when the old key stops."""

        def rotated(rotation: RotatedKey) -> None:
            new = rotation.created.key
            self.push_screen(
                KeyCreatedScreen(rotation.created, rotation),
                lambda public_key: self._show_new_key(new.integration_id, None, public_key),
            )

        def rotate(overlap: timedelta) -> None:
            call_service(
                self,
                lambda: self.service.rotate_key(key.public_key, overlap),
                rotated,
                group="rotate",
            )

        def chosen(answer: tuple[timedelta] | None) -> None:
            if answer is None:
                return
            if answer[0]:
                rotate(answer[0])
                return
            self.push_screen(
                revoke_on_rotate_confirmation(key.label, key.public_key),
                lambda yes: rotate(timedelta(0)) if yes else None,
            )

        from keydesk.tui.screens.choice import overlap_question

        self.push_screen(overlap_question(key.label, key.public_key), chosen)

    def _show_new_key(
        self, integration_id: int, integration: IntegrationView | None, public_key: str | None
    ) -> None:
        """Done lands on the API Keys tab of the key's integration, whatever
        screen the flow started from (its list, the palette, another one's page)."""
        from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
        from keydesk.tui.screens.key_page import KeyScreen

        screen = self.screen
        if isinstance(screen, KeyScreen):  # rotated from a key's page: back to its list
            self.pop_screen()
            screen = self.screen
        if isinstance(screen, IntegrationDetailScreen) and screen.integration.id == integration_id:
            screen.show_key(public_key)
        elif integration is not None:
            self.open_integration(integration, highlight=public_key)
        else:
            call_service(
                self,
                lambda: self.service.integration(integration_id),
                lambda found: self.open_integration(found, highlight=public_key),
                group="integration",
            )

    def revoke_key(
        self,
        key: KeyView,
        on_revoked: Callable[[KeyView], object] | None = None,
        *,
        revoke: Callable[[], KeyView] | None = None,
    ) -> None:
        """The one revoke flow (a key row, the created page, the palette, a
        scan): the key read afresh, a confirmation that says what breaks,
        then the revoke (`revoke`: another service call doing it, e.g. one
        audited as leaked). A refusal (revoked meanwhile, elsewhere)
        refreshes what is shown."""
        revoke_now = revoke or (lambda: self.service.revoke_key(key.public_key))
        asked_on = self.screen

        def revoked(key: KeyView) -> None:
            self.notify(
                f"Revoked {key.public_key} ({visible(key.label)}).", title="keydesk", markup=False
            )
            if on_revoked is not None:
                on_revoked(key)
            self.screen.post_message(KeysChanged(key.integration_id, highlight=key.public_key))

        def refused(message: str) -> None:
            self.notify(visible(message), severity="error", title="keydesk", markup=False)
            self.screen.post_message(KeysChanged(key.integration_id, highlight=key.public_key))

        def confirmed(yes: bool | None) -> None:
            if yes:
                call_service(
                    self,
                    revoke_now,
                    revoked,
                    on_error=refused,
                    group="revoke",
                )

        def fresh(current: KeyView) -> None:
            if self.screen is not asked_on:
                # The user moved on while a slow store answered: the question
                # would land on another screen (or take an escape meant there).
                return
            if not current.is_active:
                refused(
                    f"{current.public_key} ({current.label}) is already {current.status}"
                    + (f" (by {current.revoked_by})" if current.revoked_by else "")
                )
                return
            self.push_screen(
                revoke_confirmation(current.label, current.public_key, current.integration),
                confirmed,
            )

        call_service(
            self, lambda: self.service.key(key.public_key), fresh, on_error=refused, group="revoke"
        )

    def add_integration(self) -> None:
        from keydesk.tui.screens.integration_form import IntegrationFormScreen

        if self.workspace is not None:
            self.push_screen(IntegrationFormScreen(self.workspace.name), self._integration_saved)

    def edit_integration(self, integration: IntegrationView) -> None:
        from keydesk.tui.screens.integration_form import IntegrationFormScreen

        self.push_screen(
            IntegrationFormScreen(integration.workspace, integration), self._integration_saved
        )

    def _integration_saved(self, integration: IntegrationView | None) -> None:
        if integration is not None:
            self.screen.post_message(IntegrationsChanged(select=integration.id))

    def configure_integration(self, integration: IntegrationView) -> None:
        missing = integration.missing_settings()
        if missing:  # asking "Configure?" would only lead to a refusal
            self.push_screen(
                ConfirmScreen(
                    f"{integration.name} cannot be configured yet",
                    [
                        f"Configuring needs its {missing}.",
                        "Edit settings (e) to fill it in: with “Configure now” ticked there, "
                        "saving configures the integration.",
                    ],
                    confirm="Edit settings",
                    confirm_key="e",
                    id="configure-missing",
                ),
                lambda edit: self.edit_integration(integration) if edit else None,
            )
            return
        self._change_integration(
            integration,
            ConfirmScreen(
                f"Configure {integration.name}?",
                ["Keys can then be generated for it, and its existing keys work again."],
                confirm="Configure",
            ),
            lambda integration_id: self.service.configure_integration(integration_id),
        )

    def disable_integration(self, integration: IntegrationView) -> None:
        self._change_integration(
            integration,
            ConfirmScreen(
                f"Disable {integration.name}?",
                [
                    f"Its {integration.active_keys} active key(s) stop working at once: every "
                    "request presenting them gets 401 Unauthorized until you configure it again.",
                    "No new keys can be generated while it is disabled.",
                ],
                confirm="Disable",
                destructive=True,
            ),
            lambda integration_id: self.service.disable_integration(integration_id),
        )

    def _change_integration(
        self,
        integration: IntegrationView,
        question: ConfirmScreen,
        change: Callable[[int], IntegrationView],
    ) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                call_service(
                    self,
                    lambda: change(integration.id),
                    lambda changed: self.screen.post_message(
                        IntegrationsChanged(select=changed.id)
                    ),
                    group="integration-change",
                )

        self.push_screen(question, confirmed)

    def switch_workspace(self) -> None:
        from keydesk.tui.screens.workspaces import WorkspaceScreen

        def chosen(workspace: WorkspaceView | None) -> None:
            if workspace is not None:
                while len(self.screen_stack) > 2:  # back to the integration list
                    self.pop_screen()
                self.workspace = workspace

        call_service(
            self,
            self._workspaces,
            lambda workspaces: self.push_screen(
                WorkspaceScreen(workspaces, self.workspace), chosen
            ),
            group="workspaces",
        )

    def show_members(self) -> None:
        from keydesk.tui.screens.members import MembersScreen

        if self.workspace is not None:
            self.push_screen(MembersScreen(self.workspace.name))

    def show_audit(self) -> None:
        from keydesk.tui.screens.audit import AuditScreen

        if self.workspace is not None:
            self.push_screen(AuditScreen(self.workspace.name))

    def refresh_workspace(self) -> None:
        """Read the account's workspaces again: its role in this one may have changed."""

        def reloaded(workspaces: list[WorkspaceView]) -> None:
            current = self.workspace
            self.workspace = next(
                (w for w in workspaces if current and w.id == current.id), current
            )

        call_service(self, self._workspaces, reloaded, group="workspaces")

    def left_workspace(self, name: str) -> None:
        """The account has left `name`: on to another of its workspaces, or to the welcome form."""
        while len(self.screen_stack) > 2:  # back to the integration list
            self.pop_screen()
        self.workspace = None
        self.notify(f"You left {visible(name)}.", title="keydesk", markup=False)
        call_service(self, self._workspaces, self._workspaces_loaded, group="workspaces")

    def scan_for_leaks(self) -> None:
        from keydesk.tui.screens.scan import ScanScreen

        if self.ssh_session:
            self.notify(SCAN_REFUSED, title="Scan", severity="error", markup=False)
        elif not isinstance(self.screen, ScanScreen):
            self.push_screen(ScanScreen())

    def scan_leaks(
        self,
        paths: list[str],
        *,
        on_file: Callable[[], object],
        on_skipped: Callable[[str, bool], object],
    ) -> Iterator[Leak]:
        """Runs in a worker: the keys found under `paths`, each with what the
        store says of it (`keydesk scan`'s lookups, once per key) and its
        integration when the account may see it. Notes on what could not be
        read go to `on_skipped(note, failed)`."""
        from keydesk.scan import Skipped, allowed_in, scan_paths  # key parsing loads argon2
        from keydesk.tui.screens.scan import Leak

        service = self.service
        if service.ssh_key is not None:
            raise RefusedOverSsh(SCAN_REFUSED)
        allowed = allowed_in(paths)[0]
        checked: dict[str, tuple[FoundKey, IntegrationView | None]] = {}
        try:
            for event in scan_paths(paths, on_file=on_file):
                if isinstance(event, Skipped):
                    on_skipped(str(event), event.failed)
                    continue
                if event.public_key in allowed:  # demo keys meant to be public
                    continue
                # Keyed by the whole key (in memory, for this scan only), as the CLI does.
                text = event.private_key.reveal()
                if text not in checked:
                    found = service.found_key(event.private_key)
                    checked[text] = (found, self._integration_of(found))
                yield Leak(event, *checked[text])
        finally:
            checked.clear()

    def _integration_of(self, found: FoundKey) -> IntegrationView | None:
        if found.key is None:
            return None
        try:
            return self.service.integration(found.key.integration_id)
        except KeydeskError:  # in a workspace the account is not a member of
            return None

    def copy_text(self, text: str, what: str) -> None:
        self.notify(clipboard.copy(self, text, what), title="Copied", markup=False)

    # -- the one-time reveal -------------------------------------------------------

    @property
    def secret_on_screen(self) -> bool:
        """A private key is on screen (maybe behind a dialog)."""
        return any(
            isinstance(screen, KeyCreatedScreen) and screen.holds_secret
            for screen in self.screen_stack
        )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """On the created page a message goes to its own line, where it
        covers neither key and clears itself; elsewhere it is a toast."""
        reveal = self.screen
        if isinstance(reveal, KeyCreatedScreen):
            reveal.note(message if not markup else Content.from_markup(message).plain, severity)
            return
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot" and self.secret_on_screen:
                continue  # a picture of the screen would hold the private key
            yield command

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Textual's Screenshot (palette, action): refused while a private
        key is on screen; otherwise written owner-only."""
        from platformdirs import user_downloads_path

        if self.secret_on_screen:
            self.notify(
                "No screenshots while a private key is on screen.", severity="warning", markup=False
            )
            return None
        saved = self.save_screenshot(filename, path or str(user_downloads_path()), time_format)
        self.notify(f"Saved screenshot to {saved}", title="Screenshot", markup=False)
        return saved

    def save_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str:
        if self.secret_on_screen:
            raise ScreenshotRefused("no screenshot while a private key is on screen")
        folder = Path(path or ".").expanduser()
        name = (
            filename or f"keydesk_{datetime.now().strftime(time_format or '%Y-%m-%dT%H_%M_%S')}.svg"
        )
        target = folder / name
        # Owner-only from the start: a screen shows workspace and key names.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(self.export_screenshot())
        return str(target)

    # -- leaving -------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        reveal = next(
            (s for s in self.screen_stack if isinstance(s, KeyCreatedScreen) and s.holds_secret),
            None,
        )
        if reveal is None:
            self.exit()
        elif self.screen is reveal:
            reveal.ask_to_leave(self.exit, quitting=True)
        else:
            self.bell()  # the leave dialog is open: only its answer may leave

    def close_store(self) -> None:
        if self._service is not None:
            self._service.store.dispose()


class ScreenshotRefused(KeydeskError):
    pass


def run(
    database_url: str,
    proven: str | None = None,
    ssh_key: str | None = None,
    *,
    mouse: bool = True,
    notice: str | None = None,
) -> int:
    """Run the interface on the store at `database_url` until the user quits,
    as the account the store proves (or `proven`, see keydesk.identity,
    through the SSH key `ssh_key`). The store is opened after the first frame.
    Without `mouse`, the terminal keeps the mouse (its own selection).
    `notice` is said on the first screen (a store just made, and where)."""
    app = KeydeskApp(
        connect=partial(_connect, database_url, proven, ssh_key),
        bare_reads=partial(bare_sqlite_reads, database_url, proven, ssh_key),
        where=_shown_url(database_url),
        handle_signals=True,
    )
    app.ssh_session = ssh_key is not None
    app.startup_notice = notice
    heap.keep_what_imports_made()
    try:
        app.run(mouse=mouse)
    finally:
        app.close_store()
    if app.startup_error is not None:
        raise app.startup_error
    return app.return_code or 0


def _connect(database_url: str, proven: str | None, ssh_key: str | None = None) -> KeyService:
    """Runs in a worker: the first import of the store layer happens here."""
    from keydesk.identity import acting_account
    from keydesk.service import KeyService
    from keydesk.store.engine import open_store

    store = open_store(database_url)
    try:
        return KeyService(store, acting_account(store, proven=proven), ssh_key=ssh_key)
    except BaseException:
        store.dispose()
        raise


def _end_now(code: int) -> None:
    """A hang-up's exit did not finish: run the exit hooks (a demo's
    throwaway folder goes with them), then end without waiting for Textual's
    threads. Committed work is safe: every write is its own transaction."""
    try:
        atexit._run_exitfuncs()
    finally:
        os._exit(code)


def _shown_url(url: str) -> str:
    """Where the store is, for the loading line (no password)."""
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return rest.removeprefix("/") if scheme.startswith("sqlite") else f"{scheme}://{rest}"
