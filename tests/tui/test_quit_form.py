"""ctrl+q on a form holding typed text asks once, as Escape does
(keydesk.tui.screens.confirm.leave_form), and quits if told to; ctrl+q on
that question quits at once. Half-way through a form, ctrl+q lost it
silently (#21 walk)."""

from __future__ import annotations

from functools import partial

from textual.widgets import Input, Static

from keydesk.store.queries import bare_sqlite_reads
from keydesk.tui import app as tui
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from keydesk.tui.screens.scan import ScanScreen
from keydesk.tui.screens.welcome import WelcomeScreen
from tests.tui.screenshots import NEWCOMER, open_create_form, open_key_page, settle, settle_long


async def _quit_asked(pilot, key: str = "ctrl+q") -> None:
    await pilot.press(key)
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, ConfirmScreen) and pilot.app.is_running, key
    title = str(dialog.query_one("#dialog-title", Static).render())
    assert title == ("Discard" if key == "escape" else "Quit and discard") + " what you typed?"


async def test_ctrl_q_on_a_half_typed_add_form_asks_and_twice_quits(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, IntegrationFormScreen)
        await pilot.press(*"gh2")
        await _quit_asked(pilot)
        await pilot.press("n")  # keep editing: nothing lost
        await settle(pilot)
        assert app.screen is form and form.query_one("#name", Input).value == "gh2"
        await _quit_asked(pilot)
        await pilot.press("ctrl+q")  # twice: quits at once
        await settle(pilot)
    assert app.return_code == 0 and not app.is_running


async def test_ctrl_q_on_a_half_typed_create_form_quits_when_told(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_create_form(pilot, "github")
        await pilot.press(*"ci")
        await _quit_asked(pilot)
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 0 and not app.is_running


async def test_ctrl_q_on_an_untouched_form_quits_at_once(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_create_form(pilot, "github")
        await pilot.press("ctrl+q")
        await settle(pilot)
    assert not app.is_running


async def test_ctrl_q_under_help_over_a_half_typed_form_asks(make_app):
    """Help (F1) open over the form: ctrl+q quit without asking (#21 walk)."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await open_create_form(pilot, "github")
        await pilot.press(*"ci", "f1")  # ? in the field types it
        await settle(pilot)
        assert app.screen.id == "help-screen"
        await _quit_asked(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.is_running and app.screen.id == "help-screen"


async def test_ctrl_q_on_the_first_runs_half_typed_workspace_name_asks(demo_store):
    """The welcome form quit with the name typed (#21 walk)."""
    url = f"sqlite:///{demo_store.file}"
    app = tui.KeydeskApp(
        connect=partial(tui._connect, url, NEWCOMER),
        bare_reads=partial(bare_sqlite_reads, url, NEWCOMER),
    )
    async with app.run_test(size=(60, 20)) as pilot:
        await settle_long(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press(*"acme")
        await _quit_asked(pilot)
        await pilot.press("q")
        await settle(pilot)
    assert not app.is_running


async def test_a_half_typed_dialog_form_asks_on_escape_and_ctrl_q(make_app, demo_store):
    """Members → a and a key's limits (l) are forms in dialogs: Escape
    discarded and ctrl+q quit with no question (#21 walk)."""
    from keydesk.service import KeyService
    from keydesk.tui.screens.key_limits import KeyLimitsScreen
    from keydesk.tui.screens.members import AddMemberScreen

    key = KeyService(demo_store, "alice").create_key("github", "limited", rate="5/s").key
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        members = app.screen
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, AddMemberScreen)
        await pilot.press(*"dave")
        for leave in ("escape", "ctrl+q"):
            await _quit_asked(pilot, leave)
            await pilot.press("n")
            await settle(pilot)
            assert app.screen is form and form.query_one(Input).value == "dave", leave
        await _quit_asked(pilot, "escape")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is members
        await pilot.press("escape")
        await open_key_page(pilot, "github", key.public_key)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, KeyLimitsScreen)
        await pilot.press("escape")  # nothing changed: closes at once
        await settle(pilot)
        assert not app.screen.is_modal
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("end", "0")
        await _quit_asked(pilot)
        await pilot.press("q")
        await settle(pilot)
    assert not app.is_running


async def test_a_scan_path_typed_and_not_scanned_asks_on_escape_and_ctrl_q(make_app, tmp_path):
    """The Scan screen's path edited, ctrl+q quit (and Escape left) without
    a word, where every form asks; untouched or once scanned, they do not."""
    from tests.tui.screenshots import wait_for_scan

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = app.screen
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("escape")  # untouched: leaves at once
        await settle(pilot)
        assert app.screen is home
        await pilot.press("s")
        await settle(pilot)
        scan = app.screen
        assert isinstance(scan, ScanScreen)
        path = scan.query_one("#scan-path", Input)
        await pilot.press("ctrl+u", "escape")  # emptied (as a refused paste leaves it): no loss
        await settle(pilot)
        assert app.screen is home
        await pilot.press("s")
        await settle(pilot)
        scan = app.screen
        path = scan.query_one("#scan-path", Input)
        await pilot.press("ctrl+u", *str(tmp_path))
        for leave in ("escape", "ctrl+q"):
            await _quit_asked(pilot, leave)
            said = [str(line.render()) for line in app.screen.query(".dialog-line").results(Static)]
            assert "The path you typed has not been scanned." in said, said  # not "this form"
            await pilot.press("n")
            await settle(pilot)
            assert app.screen is scan and path.value == str(tmp_path), leave
        await pilot.press("enter")  # scanned: nothing typed is lost by leaving
        await wait_for_scan(pilot, scan)
        await pilot.press("ctrl+q")
        await settle(pilot)
    assert app.return_code == 0 and not app.is_running
