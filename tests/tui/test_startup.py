"""Starting and stopping: the first frame comes before the store layer is
imported (#11), a store that cannot be opened is one line and an exit code,
and the demo leaves nothing behind however it ends (#9 item 14)."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from keydesk.errors import StoreUnavailable
from keydesk.keys import generate_key_pair
from keydesk.tui.app import KeydeskApp
from tests.conftest import copy_store_file
from tests.support.installed import program
from tests.support.tmux import Tmux
from tests.tui.screenshots import settle

STORE_LAYER = ("sqlalchemy", "sqlmodel", "argon2", "keydesk.service", "keydesk.store.engine")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | env,
        check=False,
    )


@pytest.fixture
def demo_url(demo_template, tmp_path) -> str:
    """A demo store's URL: a copy of the worker's (seeding one costs ~0.5 s)."""
    path = tmp_path / "demo.db"
    copy_store_file(demo_template, path)
    return f"sqlite:///{path}"


def test_the_interface_imports_no_store_layer_and_its_first_frame_comes_before(demo_url):
    """Importing keydesk.tui.app imports none of the store layer; the app
    is on screen, with a quiet "Opening …" line, while the worker that
    imports and opens the store is held; then the list fills."""
    result = _python(
        f"""
        import sys
        from keydesk.tui import app as tui
        print("loaded by the import:", [m for m in {STORE_LAYER!r} if m in sys.modules])
        import asyncio, threading

        gate = threading.Event()

        def connect():
            gate.wait(30)
            return tui._connect({demo_url!r}, "alice")

        async def main():
            app = tui.KeydeskApp(connect=connect, where="demo.db")
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                shown = str(app.screen.query_one("#empty-guide").render())
                print("loaded before the frame:", [m for m in {STORE_LAYER!r} if m in sys.modules])
                print("frame:", shown)
                gate.set()
                for _ in range(600):
                    await pilot.pause(0.05)
                    if app.screen.query_one("#integrations").row_count:
                        break
                print("rows:", app.screen.query_one("#integrations").row_count)

        asyncio.run(main())
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "loaded by the import: []"
    assert lines[1] == "loaded before the frame: []"
    assert lines[2] == "frame: Opening demo.db…"
    assert lines[3] == "rows: 4"


def test_first_rows_before_the_store_layer_is_imported(demo_url):
    """On an up-to-date SQLite store the list's rows are read bare and shown
    while the store layer is still held back; a row opened meanwhile shows
    its keys once the store is open (its worker waits for it)."""
    result = _python(
        f"""
        import asyncio, sys, threading
        from functools import partial
        from keydesk.store.queries import bare_sqlite_reads
        from keydesk.tui import app as tui

        gate = threading.Event()

        def connect():
            gate.wait(30)
            return tui._connect({demo_url!r}, "alice")

        async def main():
            app = tui.KeydeskApp(
                connect=connect, bare_reads=partial(bare_sqlite_reads, {demo_url!r}, "alice")
            )
            async with app.run_test(size=(80, 24)) as pilot:
                table = app.screen.query_one("#integrations")
                for _ in range(600):
                    await pilot.pause(0.05)
                    if table.row_count:
                        break
                print("rows:", table.row_count, app.sub_title)
                print("loaded:", [m for m in {STORE_LAYER!r} if m in sys.modules])
                await pilot.press("enter")  # open the first integration before the store is
                await pilot.pause(0.2)
                gate.set()
                for _ in range(600):
                    await pilot.pause(0.05)
                    keys = app.screen.query("#keys")
                    if keys and keys.first().row_count:
                        break
                print("keys:", type(app.screen).__name__, keys.first().row_count > 0)

        asyncio.run(main())
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("rows: 4 alice")
    assert lines[1] == "loaded: []"
    assert lines[2] == "keys: IntegrationDetailScreen True"


async def test_keys_pressed_before_the_store_is_open_act_once_it_is(demo_url):
    """Rows read bare are on screen while the store opens, and a fast user
    acts on them: nothing is lost and nothing crashes. What needs the store
    reaches it from a worker, which waits for it."""
    from functools import partial

    from keydesk.store.queries import bare_sqlite_reads
    from keydesk.tui import app as tui
    from keydesk.tui.screens.confirm import ConfirmScreen
    from keydesk.tui.screens.create_key import CreateKeyScreen
    from keydesk.tui.screens.integration_detail import IntegrationDetailScreen

    gate = threading.Event()

    def connect():
        gate.wait(30)
        return tui._connect(demo_url, "alice")

    async def until(done) -> None:
        for _ in range(600):
            await pilot.pause(0.05)
            if done():
                return

    app = KeydeskApp(connect=connect, bare_reads=partial(bare_sqlite_reads, demo_url, "alice"))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(lambda: app.screen.query_one("#integrations").row_count)
            await pilot.press("g")  # the form opens at once
            assert isinstance(app.screen, CreateKeyScreen) and not app.ready
            await pilot.press("escape")
            await pilot.press("enter")  # an integration's keys are read bare too
            await until(
                lambda: (
                    isinstance(app.screen, IntegrationDetailScreen) and app.screen.table.row_count
                )
            )
            await pilot.press("x")  # revoke: the key is read afresh once the store is open
            await pilot.pause(0.2)
            assert isinstance(app.screen, IntegrationDetailScreen) and not app.ready
            gate.set()
            await until(lambda: isinstance(app.screen, ConfirmScreen))
            assert app.ready and app.screen.id == "revoke-confirm"
            await pilot.press("escape")  # (cancel)
            await pilot.press("3")  # the Audit tab
            await settle(pilot)
            assert app.screen.query_one("#audit DataTable", DataTable).row_count > 0
    finally:
        gate.set()


async def test_the_store_layer_loads_after_the_first_rows_are_drawn(demo_url, monkeypatch):
    """Importing SQLAlchemy in the store's worker holds the GIL for ~150 ms:
    it waits until the rows read bare are painted, not racing them."""
    from functools import partial

    from keydesk.store.queries import bare_sqlite_reads
    from keydesk.tui import app as tui
    from keydesk.tui.screens.integrations import IntegrationsScreen

    painted_rows: list[int] = []  # the list's rows at each paint of its screen
    paint = IntegrationsScreen._compositor_refresh

    def painting(screen: IntegrationsScreen) -> None:
        rows = screen.query_one("#integrations", DataTable).row_count
        if rows and not any(painted_rows):
            time.sleep(0.3)  # a slow paint: a worker not waiting for it would start meanwhile
        paint(screen)
        painted_rows.append(rows)

    monkeypatch.setattr(IntegrationsScreen, "_compositor_refresh", painting)
    seen_when_opening: list[int] = []

    def connect():
        seen_when_opening.append(max(painted_rows, default=0))
        return tui._connect(demo_url, "alice")

    app = KeydeskApp(connect=connect, bare_reads=partial(bare_sqlite_reads, demo_url, "alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.ready
    assert seen_when_opening == [4]


def test_quitting_as_the_first_rows_come_opens_no_store(sqlite_url, migrated):
    """ctrl+q (or a hang-up) before the first rows are painted: the store's
    worker, waiting for that paint, ends at once instead of importing and
    opening the store for a user who has left (and holding the exit up)."""

    result = _python(
        f"""
        from functools import partial
        from keydesk.store.queries import bare_sqlite_reads
        from keydesk.tui import app as tui

        connected = []

        show_first_rows = tui.KeydeskApp._show_first_rows

        def quit_at_once(self, first):
            self.exit()  # as ctrl+q pressed before they are painted
            show_first_rows(self, first)

        tui.KeydeskApp._show_first_rows = quit_at_once

        def connect():
            connected.append(True)
            return tui._connect({sqlite_url!r}, None)

        app = tui.KeydeskApp(
            connect=connect, bare_reads=partial(bare_sqlite_reads, {sqlite_url!r}, None)
        )
        app.run(headless=True, size=(80, 24))  # returns once every worker thread has ended
        print("connected:", connected)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "connected: []"


def test_what_the_imports_made_is_frozen_before_the_app_runs(sqlite_url, migrated, monkeypatch):
    """Full collections skip the ~38,000 objects the imports made (the one
    start-up would trigger as the first rows come costs 15-30 ms)."""
    import gc

    from keydesk.tui import app as tui

    frozen: list[int] = []
    monkeypatch.setattr(
        tui.KeydeskApp, "run", lambda self, mouse=True: frozen.append(gc.get_freeze_count())
    )
    try:
        tui.run(sqlite_url)
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 10_000


def test_a_hang_up_ends_the_process_even_when_the_exit_hangs():
    """Restoring a terminal that is gone can block Textual's driver for
    ever; after a hang-up keydesk ends anyway, running its exit hooks."""
    result = _python(
        """
        import asyncio, atexit, signal, time
        from keydesk.tui import app as tui

        tui.HANGUP_GRACE_SECONDS = 0.2
        atexit.register(print, "exit hooks ran", flush=True)

        async def main():
            app = tui.KeydeskApp()
            async with app.run_test(size=(80, 24)) as pilot:
                app.exit = lambda **_: None  # an exit that never finishes
                app.hang_up(signal.SIGHUP)
                time.sleep(30)  # the loop is stuck too
            print("not reached", flush=True)

        asyncio.run(main())
        """
    )
    assert result.returncode == 128 + signal.SIGHUP, result.stderr
    assert result.stdout.strip() == "exit hooks ran"


def test_quitting_ends_the_process_even_with_a_worker_stuck_on_the_store():
    """ctrl+q while a worker waits on a stalled store (PostgreSQL stopped:
    nothing bounds that wait): Python's exit would wait for the worker for
    ever; keydesk ends after the grace period, running its exit hooks."""
    result = _python(
        """
        import atexit, threading
        from keydesk.tui import app as tui
        from keydesk.tui.calls import call_service

        tui.HANGUP_GRACE_SECONDS = 0.2
        atexit.register(print, "exit hooks ran", flush=True)
        mount = tui.KeydeskApp.on_mount

        def on_mount(self):
            mount(self)
            stalled = threading.Event()
            call_service(self, lambda: stalled.wait(60), lambda _: None, group="stalled")
            self.set_timer(0.2, self.exit)  # ctrl+q

        tui.KeydeskApp.on_mount = on_mount
        tui.KeydeskApp(handle_signals=True).run(headless=True, size=(80, 24))
        print("not reached: the exit waited for the stalled worker", flush=True)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exit hooks ran"


async def test_a_store_that_cannot_be_opened_ends_the_app_with_its_message():
    def refuse():
        raise StoreUnavailable("the store is unavailable: disk I/O error")

    app = KeydeskApp(connect=refuse)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    assert app.return_code == 1
    assert app.startup_error is not None
    assert app.startup_error.message == "the store is unavailable: disk I/O error"


# -- the demo, as a user runs it -----------------------------------------------------


def _demo_in_a_terminal(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], list[bytes]]:
    """`keydesk demo` in an 80x24 pseudo-terminal, its own session (as a
    terminal window gives it); returns the process and what it has drawn."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "keydesk", "demo", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=os.environ | {"TMPDIR": str(tmp_path), "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    drawn: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            drawn.append(data)

    threading.Thread(target=read, daemon=True).start()
    return process, drawn


def _wait_for(condition, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


@pytest.mark.parametrize("hangup", [signal.SIGHUP, signal.SIGTERM])
def test_the_demo_cleans_up_when_its_terminal_goes_away(tmp_path, hangup):
    """SIGTERM says so in one line once the terminal is restored (it ended
    without a word); a hang-up has no terminal left to say it on."""
    process, drawn = _demo_in_a_terminal(tmp_path)
    try:
        _wait_for(lambda: b"google-workspace" in b"".join(drawn))
        (folder,) = tmp_path.glob("keydesk-demo-*")
        assert (folder / "demo.db").exists()
        process.send_signal(hangup)
        assert process.wait(timeout=60) == 128 + hangup
        if hangup == signal.SIGTERM:
            said = b"keydesk: stopped by SIGTERM"
            _wait_for(lambda: said in b"".join(drawn))
            out = b"".join(drawn)
            assert out.rindex(b"\x1b[?1049l") < out.index(said), "after the alternate screen"
            assert out.rstrip().endswith(said), out[-200:]
    finally:
        if process.poll() is None:
            process.kill()
    assert list(tmp_path.glob("keydesk-demo-*")) == []


def test_the_demo_refuses_a_store_of_yours(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keydesk", "demo", "--db", str(tmp_path / "mine.db")],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"TMPDIR": str(tmp_path)},
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "throwaway" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing made, nothing left


@pytest.mark.parametrize(
    ("code", "said"), [(128 + signal.SIGTERM, "keydesk: stopped by SIGTERM\n"), (0, ""), (129, "")]
)
def test_only_a_sigterm_is_said_on_leaving(capsys, code, said):
    from keydesk.tui.watchdog import say_why_stopped

    say_why_stopped(code)
    assert capsys.readouterr() == ("", said)


async def test_a_key_made_in_one_burst_while_the_store_opens_is_copied_and_left(demo_url):
    """Enter, g, a label, Enter, c, d sent as keydesk starts (the store still
    opening): the save waited for the store, and c d, not waiting for it,
    went to the form, so the reveal page stayed up uncopied (3 runs in 17
    in tmux). They wait for the work the Enter started."""
    from functools import partial

    from keydesk.store.queries import bare_sqlite_reads
    from keydesk.tui import app as tui
    from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
    from tests.tui.screenshots import burst

    gate = threading.Event()

    def connect():
        gate.wait(30)
        return tui._connect(demo_url, "alice")

    app = KeydeskApp(connect=connect, bare_reads=partial(bare_sqlite_reads, demo_url, "alice"))
    try:
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            for _ in range(600):
                await pilot.pause(0.05)
                if app.screen.query_one("#integrations").row_count:
                    break
            burst(app, "enter|g|from-the-start|enter|c|d")
            for _ in range(100):  # until Enter has started the save, which waits for the store
                await pilot.pause(0.05)
                if any(worker.group == "create" for worker in app.workers):
                    break
            await pilot.pause(0.3)  # what the keys behind it do meanwhile
            assert not app.ready  # all of it typed while the store opens
            gate.set()
            for _ in range(200):
                await pilot.pause(0.05)
                screen = app.screen
                if isinstance(screen, IntegrationDetailScreen) and any(
                    k.label == "from-the-start" for k in screen.listed_keys()
                ):
                    break
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, IntegrationDetailScreen), app.screen_stack
            assert screen.highlighted_key().label == "from-the-start"
    finally:
        gate.set()


def test_a_pasted_private_key_never_reaches_textuals_log(tmp_path):
    """TEXTUAL_LOG made Textual write every event to a file, a pasted key
    whole among them (found by an attack review): keydesk ignores it, and
    says so on the terminal it hands back."""
    program("tmux", "apt-get install -y tmux")
    log = tmp_path / "textual.log"
    private = generate_key_pair().private_key.reveal()
    command = f"TEXTUAL_LOG={log} {sys.executable} -m keydesk demo"
    terminal = Tmux(command, size=(100, 30))
    try:
        terminal.wait_for(lambda text: "github" in text, "the integration list")
        # On the list, a paste no widget takes goes up to the app: Textual logged it at each.
        subprocess.run([*terminal.base, "set-buffer", "-b", "key", private], check=True)
        subprocess.run([*terminal.base, "paste-buffer", "-p", "-b", "key", "-t", "e2e"], check=True)
        terminal.keys("/", "z", "z", "9")  # on screen once the paste before it was handled
        terminal.wait_for(lambda text: "zz9" in text, "the filter typed after the paste")
        terminal.keys("C-q")
        screen = terminal.wait_for(lambda text: "EXIT=" in text, "keydesk's exit")
        assert not log.exists() or private[:12] not in log.read_text()
        assert "TEXTUAL_LOG is ignored" in screen and "EXIT=0" in screen
    finally:
        terminal.close()
