"""The keydesk Textual application: it composes the screens and routes to
the flows they share.

The app paints its first frame before the store layer is imported (opening
the store: keydesk.tui.startup). Screens other than the list are imported
when first shown: the first frame loads only what it draws. Screens see the
app only as keydesk.tui.interface.Keydesk, and reach the service only
through its `calls` (keydesk.tui.store_calls).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from rich.console import RenderableType
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.notifications import Notify, SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from keydesk.errors import KeydeskError
from keydesk.ssh.gate import SCAN_REFUSED, RefusedOverSsh
from keydesk.store.queries import bare_sqlite_reads
from keydesk.store.urls import shown_url
from keydesk.tui import clipboard, heap
from keydesk.tui.calls import call_service, notify_error
from keydesk.tui.commands import KeydeskCommands, KeydeskPalette
from keydesk.tui.display import ended, visible
from keydesk.tui.flows.integrations import IntegrationFlows
from keydesk.tui.flows.keys import KeyFlows
from keydesk.tui.flows.workspaces import WorkspaceFlows
from keydesk.tui.interface import Keydesk
from keydesk.tui.screens.base import KeydeskModal, KeydeskScreen, mark_too_small
from keydesk.tui.screens.help import HelpScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screenshot_policy import ScreenshotPolicy
from keydesk.tui.startup import BareReads, Connect, FirstRows, StoreOpening, quiet_textual_logs
from keydesk.tui.store_calls import StoreCalls
from keydesk.tui.typeahead import KeyGate, as_typed, read_alt_keys
from keydesk.tui.watchdog import ExitWatchdog, say_why_stopped
from keydesk.views import FoundKey, IntegrationView, KeyView, WorkspaceView, utcnow

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey
    from keydesk.service import KeyService
    from keydesk.store.queries import Reads
    from keydesk.tui.screens.scan_findings import Leak

__all__ = ["KeydeskApp", "run"]
HANGUP_GRACE_SECONDS = 5.0  # after ctrl+q or a hang-up, the longest an exit may take


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
        self._opening = StoreOpening(
            service,
            connect=connect,
            bare_reads=bare_reads,
            where=where,
            on_ui_thread=lambda: threading.get_ident() == self._thread_id,
        )
        self._calls = StoreCalls(lambda: self.service)
        self._integration_flows = IntegrationFlows(self, self._calls)
        self._key_flows = KeyFlows(self, self._calls, self._integration_flows, self.refuse, clock)
        self._workspace_flows = WorkspaceFlows(
            self,
            self._calls,
            current=lambda: self.workspace,
            show=self._show_workspace,
            made_first=self.add_integration,
        )
        self._screenshots = ScreenshotPolicy(self)
        self._watchdog = ExitWatchdog(HANGUP_GRACE_SECONDS)
        self.actor: str | None = service.actor if service else None
        self._home: IntegrationsScreen | None = None
        self.where = where
        self._handle_signals = handle_signals
        self.startup_error: KeydeskError | None = None
        self._keys = KeyGate(self)

    @property
    def service(self) -> KeyService:
        """In a worker, it waits for a store still opening."""
        return self._opening.service

    @property
    def ready(self) -> bool:
        return self._opening.ready

    @property
    def calls(self) -> StoreCalls:
        return self._calls

    def reading(self) -> AbstractContextManager[Reads]:
        return self._opening.reading()

    def on_resize(self, event: events.Resize) -> None:
        mark_too_small(self, event.size)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            event, *after = as_typed(event, self._keys.bound)
            if self._keys.holds(event, after):
                return  # it comes back once the screen has caught up (keydesk.tui.typeahead)
        await super().on_event(event)

    def on_mount(self) -> None:
        mark_too_small(self, self.size)
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for hangup in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(hangup, self.hang_up, hangup)
        self._home = IntegrationsScreen()
        self.push_screen(self._home)
        if self.ready:
            call_service(
                self, self._calls.workspaces, self._loaded, on_error=self._unread,
                group="workspaces",
            )  # fmt: skip
        else:
            self._opening.open(
                self,
                show_first_rows=self._show_first_rows,
                opened=self._opened,
                failed=self._cannot_open,
            )

    def _show_first_rows(self, first: FirstRows) -> None:
        self.actor, workspaces, integrations = first
        if workspaces and self._home and not self.ready:  # no workspace: the welcome waits
            self.workspace = workspaces[0]
            self._home.show(integrations)
            self._keys.opened()  # the list is up: keys typed meanwhile go to it
        # Two refreshes: the table lays out its new rows on its own idle
        # turn, which may come after the first one.
        self.call_after_refresh(self.call_after_refresh, self._opening.first_rows_drawn)

    def _opened(self, service: KeyService, workspaces: list[WorkspaceView]) -> None:
        self.actor = service.actor
        self.refresh_bindings()
        self._loaded(workspaces)

    def _loaded(self, workspaces: list[WorkspaceView]) -> None:
        """A new store's place (`startup_notice`) is said once, with the
        first screen: in the welcome page's text, where a message would
        cover what a first-time user must read; elsewhere, a message."""
        notice, self.startup_notice = self.startup_notice, None
        if notice and workspaces:
            self.notify(notice, timeout=10, markup=False)
        self._workspace_flows.loaded(workspaces, notice)
        self._keys.opened()  # the welcome form or the list: what keys typed meanwhile reach

    def _unread(self, message: str) -> None:
        notify_error(self, message)
        self._keys.opened()  # the list, empty, is all there is

    def _cannot_open(self, message: str) -> None:
        self.startup_error = KeydeskError(message)
        self.exit(return_code=1)

    # -- leaving -------------------------------------------------------------------------

    def hang_up(self, signum: int) -> None:
        """The terminal went away (or we were asked to stop): leave the way
        ctrl+q does, so every clean-up runs, and end the process after a
        grace period whatever happens (keydesk.tui.watchdog)."""
        self._watchdog.arm(128 + signum)
        self.exit(return_code=128 + signum)

    def exit(
        self, result: None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        self._opening.leave()
        if self._handle_signals:
            # The process is keydesk's (not a test's): Python's exit would
            # wait for a worker stuck on a stalled store for ever.
            self._watchdog.arm(return_code)
        super().exit(result, return_code, message)

    async def action_quit(self) -> None:
        reveal = next(
            (s for s in self.screen_stack if isinstance(s, KeyCreatedScreen) and s.holds_secret),
            None,
        )
        if reveal is None:
            # A half-typed form asks, a dialog's (Members → a) or a full
            # screen's, even under a dialog (?, the palette); ctrl+q on its
            # own question quits.
            if self.screen.id != "discard-confirm":
                for screen in reversed(self.screen_stack):
                    if isinstance(
                        screen, KeydeskScreen | KeydeskModal
                    ) and screen.asked_before_quitting(self.exit):
                        return
                    if not screen.is_modal:
                        break
            self.exit()
        elif self.screen is reveal:
            reveal.ask_to_leave(self.exit, quitting=True)
        else:
            self.bell()  # the leave dialog is open: only its answer may leave

    def close_store(self) -> None:
        self._opening.close()

    # -- workspaces (keydesk.tui.flows.workspaces) ----------------------------------------

    def _show_workspace(self, workspace: WorkspaceView | None) -> None:
        self.workspace = workspace

    def watch_workspace(self, workspace: WorkspaceView | None) -> None:
        account = self.actor
        if account is None:
            return
        self.sub_title = visible(
            f"{account} · {workspace.role} · {workspace.name}" if workspace else account
        )

    def switch_workspace(self) -> None:
        self._workspace_flows.switch()

    def refresh_workspace(self) -> None:
        self._workspace_flows.refresh()

    def left_workspace(self, name: str) -> None:
        self._workspace_flows.left(name)

    def show_members(self) -> None:
        self._workspace_flows.members()

    def show_audit(self) -> None:
        self._workspace_flows.audit()

    def action_command_palette(self) -> None:
        """ctrl+p: Textual's palette, but Enter waits for the search (KeydeskPalette)."""
        if self.use_command_palette and not isinstance(self.screen, KeydeskPalette):
            self.push_screen(KeydeskPalette(id="--command-palette"))

    # -- integrations and keys (keydesk.tui.flows) --------------------------------------

    def open_integration(
        self, integration: IntegrationView, tab: str = "api-keys", highlight: str | None = None
    ) -> None:
        self._integration_flows.open(integration, tab, highlight)

    def add_integration(self) -> None:
        if self.workspace is not None:
            self._integration_flows.add(self.workspace.name)

    def edit_integration(self, integration: IntegrationView) -> None:
        self._integration_flows.edit(integration)

    def configure_integration(self, integration: IntegrationView) -> None:
        self._integration_flows.configure(integration)

    def disable_integration(self, integration: IntegrationView) -> None:
        self._integration_flows.disable(integration)

    def generate_key(self, integration_id: int | None = None) -> None:
        self._key_flows.generate(integration_id)

    def rotate_key(self, key: KeyView) -> None:
        self._key_flows.rotate(key)

    def revoke_key(
        self,
        key: KeyView,
        on_revoked: Callable[[KeyView], object] | None = None,
        *,
        revoke: Callable[[], KeyView] | None = None,
    ) -> None:
        self._key_flows.revoke(key, on_revoked, revoke=revoke)

    def revoke_keys(self, keys: list[KeyView], on_revoked: Callable[[], object]) -> None:
        self._key_flows.revoke_many(keys, on_revoked)

    def keep_key(self, key: KeyView, on_kept: Callable[[KeyView], object] | None = None) -> None:
        self._key_flows.keep(key, on_kept)

    # -- scanning --------------------------------------------------------------------------

    def scan_for_leaks(self) -> None:
        from keydesk.tui.screens.scan import ScanScreen

        if self.ssh_session:
            self.notify(SCAN_REFUSED, title="Scan", severity="error", markup=False)
        elif not isinstance(self.screen, ScanScreen):
            self.push_screen(ScanScreen(self.scan_leaks))

    def scan_leaks(
        self,
        paths: list[str],
        *,
        on_file: Callable[[], object],
        on_skipped: Callable[[bool, str], object],
    ) -> Iterator[Leak]:
        """Runs in a worker: the keys found under `paths`, each with what the
        store says of it (`keydesk scan`'s lookups, once per key) and its
        integration when the account may see it. Each thing not scanned
        calls `on_skipped(failed, left_out)`: whether it should have been
        read, and what was left out on purpose so far, counted in the words
        `keydesk scan` ends with ("188 binary files skipped")."""
        from contextlib import closing

        from keydesk.scan import ScanRequest, SkipCount, Skipped, run_scan  # loads argon2
        from keydesk.tui.screens.scan_findings import Leak

        service = self.service
        if service.ssh_key is not None:
            raise RefusedOverSsh(SCAN_REFUSED)

        def look_up(key: PrivateKey) -> tuple[FoundKey, IntegrationView | None]:
            found = service.found_key(key)
            return found, self._integration_of(found)

        skips = SkipCount()
        # The pipeline `keydesk scan` runs too; closing it stops the walk at once.
        with closing(run_scan(ScanRequest(tuple(paths)), look_up, on_file=on_file)) as events:
            for event in events:
                if isinstance(event, Skipped):
                    skips.counted(event)
                    on_skipped(event.failed, str(skips))
                else:
                    yield Leak(event.finding, *event.verdict)

    def _integration_of(self, found: FoundKey) -> IntegrationView | None:
        if found.key is None:
            return None
        try:
            return self.service.integration(found.key.integration_id)
        except KeydeskError:  # in a workspace the account is not a member of
            return None

    def copy_text(self, text: str, what: str) -> None:
        self.notify(clipboard.copy(self, text, what), title="Copied", markup=False)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # -- the one-time reveal -------------------------------------------------------------

    def refuse(
        self, message: str, *, severity: SeverityLevel = "warning", form_key: bool = False
    ) -> None:
        # `g`, a label and Enter on a draft: the label's `e` opened the
        # integration's edit form, and Enter saved it.
        self._keys.drop_held(form_key=form_key)
        # One form for every refusal, whichever screen's words: a sentence.
        self.notify(ended(message), severity=severity, markup=False)

    _sent = ""  # the last message notified, until Textual has it in _notifications

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
        shown = [old.message for old in self._notifications] + [self._sent]  # sent: not in yet
        if any(old.endswith(f": {message}") for old in shown):
            return  # said already with what it stopped ("Not rotated: …"): the page's re-read
        title = "" if title == self.TITLE else title  # no news in its own window; a line less
        if severity == "error" and timeout is None:  # a revoke that failed must not pass unseen
            timeout = 3 * self.NOTIFICATION_TIMEOUT
        # Never cut: a message may end in the command to run (an SSH key's
        # approval); toasts take lines of their own above the footer, as few
        # as their words need (app.tcss).
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        self._sent = message

    def on_notify(self, event: Notify) -> None:
        """One message at a time, the newest: stacked, they reached down over
        the key table's Status column (the revoked row's), and `x` pressed
        thrice on a revoked row showed its refusal thrice. Runs before
        Textual's own handler adds the new one."""
        self._sent = ""  # in _notifications from now on
        for old in list(self._notifications):
            self._unnotify(old, refresh=False)
        # Textual would remove the toasts but not their holders, each of
        # which kept a line, pushing the new one down over the table.
        if self.screen_stack:
            self.screen.query("ToastRack > ToastHolder").remove()

    # Textual's Screenshot, as keydesk.tui.screenshot_policy allows it.
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        return self._screenshots.offered(super().get_system_commands(screen))

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        return self._screenshots.deliver(filename, path, time_format)

    def save_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str:
        return self._screenshots.save(filename, path, time_format)


# Screens see the app as keydesk.tui.interface.Keydesk: mypy checks it stays one.
_AS_SCREENS_SEE_IT: type[Keydesk] = KeydeskApp


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
        where=shown_url(database_url),
        handle_signals=True,
    )
    app.ssh_session, app.startup_notice = ssh_key is not None, notice
    quiet_textual_logs(app)
    heap.keep_what_imports_made()
    read_alt_keys()
    try:
        app.run(mouse=mouse)
    finally:
        app.close_store()
    say_why_stopped(app.return_code or 0)  # the terminal is back: the line stays on it
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
