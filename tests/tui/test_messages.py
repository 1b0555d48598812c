"""Messages (toasts) hide nothing: one at a time, the newest (the same
refusal thrice is shown once), compact, in lines of their own right above
the footer (the page makes room), never over the title, the tabs, the
rows or the highlighted key's line; and a new store's place is said in the
welcome page's text, not over it."""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import Button, DataTable, Static
from textual.widgets._toast import Toast

from keydesk.tui.screens.welcome import WelcomeScreen
from keydesk.tui.widgets import KeyFooter
from tests.support.fakes import seeded_key_pairs
from tests.support.installed import program
from tests.support.tmux import Tmux
from tests.tui.screenshots import (
    UNKNOWN_SEED,
    demo_app,
    key_life,
    open_integration,
    plant_leaks,
    settle,
    wait_for_scan,
)


async def _toasts(pilot) -> list[Toast]:
    """The toasts on screen, once laid out."""
    for _ in range(50):
        await pilot.pause()
        toasts = list(pilot.app.screen.query(Toast))
        if toasts and all(toast.region.height for toast in toasts):
            return toasts
    return []


def _covered(toast: Toast) -> list[str]:
    """What the toast is drawn over: every widget shown on its screen but
    the toast's own rack and holder (and the screen)."""
    screen = toast.screen
    own = {screen, *toast.ancestors_with_self, *toast.walk_children()}
    return [
        f"{type(widget).__name__}#{widget.id}"
        for widget, (region, _clip) in screen._compositor.visible_widgets.items()
        if widget not in own and region.overlaps(toast.region)
    ]


async def test_one_compact_message_clear_of_the_keys_it_is_about(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("r")  # Revoke, in the question
        await settle(pilot)
        detail = app.screen
        table, line = detail.query_one(DataTable).region, detail.query_one("#key-detail").region
        [toast] = await _toasts(pilot)
        assert str(toast.render()).startswith("Revoked kdpk_")
        assert not toast.region.overlaps(table) and not toast.region.overlaps(line)
        assert _covered(toast) == []
        [done] = list(app._notifications)
        assert done.timeout == app.NOTIFICATION_TIMEOUT
        await pilot.press("x", "x", "x")  # the row just revoked: refused, and said once
        await settle(pilot)
        [toast] = await _toasts(pilot)
        assert "cannot be revoked again" in str(toast.render())
        assert not toast.region.overlaps(table) and not toast.region.overlaps(line)
        [refused] = list(app._notifications)
        assert refused.timeout == app.NOTIFICATION_TIMEOUT
        app.notify("the store is busy (another process holds a lock on it)", severity="error")
        await settle(pilot)
        [failed] = list(app._notifications)  # a revoke that failed stays long enough to be seen
        assert failed.timeout > app.NOTIFICATION_TIMEOUT


async def test_a_new_stores_place_is_said_in_the_welcome_page(demo_store):
    app = demo_app(demo_store, "first-run")
    notice = "Created your store at /home/newcomer/.local/share/keydesk/keydesk.db."
    app.startup_notice = notice
    async with app.run_test(size=(60, 20), notifications=True) as pilot:
        await settle(pilot)
        welcome = app.screen
        assert isinstance(welcome, WelcomeScreen)
        assert str(welcome.query_one("#welcome-store", Static).render()) == notice
        assert not list(app._notifications)
        button = welcome.query_one("#create", Button).region  # the form is whole at 60x20
        assert button.height and button.bottom <= 19


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_a_long_refusal_takes_few_lines_and_covers_nothing(make_app, size):
    """A viewer's g on the list and x on a key are refused with a 110-character
    reason: at Textual's half width it took 5 lines at 80 columns and 8 at
    60, over the rows; now at most 3, in lines the page gives up for it."""
    app = make_app("carol")
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("end", "g")  # the list's last row: the one looked at
        [toast] = await _toasts(pilot)
        assert str(toast.render()).startswith("You are a viewer in acme")
        assert toast.region.height <= 3 and _covered(toast) == []
        await open_integration(pilot, "github")
        await pilot.press("x")
        [toast] = await _toasts(pilot)
        assert str(toast.render()).startswith("You are a viewer in acme")
        assert toast.region.height <= 3 and _covered(toast) == []


async def _revoke(pilot) -> None:
    await open_integration(pilot, "github")
    await pilot.press("x")
    await settle(pilot)
    await pilot.press("r")


async def _rotate_a_key_being_rotated(pilot) -> None:
    key_life(pilot.app)  # api-gateway-prod, rotated a day ago, still in its overlap
    await open_integration(pilot, "github")
    detail = pilot.app.screen
    row = next(n for n, k in enumerate(detail.listed_keys()) if k.label == "api-gateway-prod")
    detail.table.move_cursor(row=row)
    await settle(pilot)
    await pilot.press("t")


async def _demote_yourself(pilot) -> None:
    await pilot.press("m")
    await settle(pilot)
    await pilot.press("e")  # alice, the last owner: refused


async def _revoke_an_unknown_finding(pilot) -> None:
    """x on a scan's unknown key: refused over the line under the findings."""
    from textual.widgets import Input

    with tempfile.TemporaryDirectory() as folder:
        plant_leaks(Path(folder) / "leaks")
        await pilot.press("s")
        await settle(pilot)
        scan = pilot.app.screen
        scan.query_one("#scan-path", Input).value = str(Path(folder) / "leaks")
        await pilot.press("enter")
        await wait_for_scan(pilot, scan)
    scan.table.focus()
    scan.table.move_cursor(row=next(n for n, r in enumerate(scan.rows) if r.status == "unknown"))
    await settle(pilot)
    await pilot.press("x")


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
@pytest.mark.parametrize(
    "walk", [_revoke, _rotate_a_key_being_rotated, _demote_yourself, _revoke_an_unknown_finding]
)
async def test_a_message_covers_no_title_tab_row_or_footer(make_app, size, walk):
    """At 60x20 and 80x24 a revoke's message was drawn over the title, a
    refused rotation's (3 lines) over the title and the tab row, a refused
    demotion's (2 lines) over "Members of acme"."""
    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        await walk(pilot)
        await settle(pilot)
        [toast] = await _toasts(pilot)
        assert _covered(toast) == [], str(toast.render())
        footer = app.screen.query_one(KeyFooter).region
        assert toast.region.bottom == footer.y  # right above it: read with the keys


@pytest.mark.parametrize("columns", [60, 80, 120])
async def test_a_message_as_wide_as_the_screen_shows_every_word(make_app, columns):
    """Textual's rack kept room for a scrollbar it sized no height for: a
    message that filled a line lost its last line (at 80 columns, the
    78-character refusal of a draft integration ended "redirect URI)")."""
    words = " ".join(f"w{index}" for index in range(100))
    app = make_app()
    async with app.run_test(size=(columns, 24), notifications=True) as pilot:
        await settle(pilot)
        for length in range(columns - 8, columns + 2):
            message = words[:length].rstrip()
            app.clear_notifications()
            app.notify(message)
            [toast] = await _toasts(pilot)
            shown = app.screen._compositor.full_map[toast]
            lines = toast.render_lines(Region(0, 0, toast.region.width, toast.region.height))
            assert shown.clip.contains_region(shown.region), length
            shown_words = " ".join(line.text.strip("▌ ") for line in lines).split()
            assert shown_words == message.split(), length


async def test_a_refusal_does_not_follow_onto_the_next_screen(make_app):
    """t on a revoked row, then Enter: "kdpk_… is revoked: it cannot be
    rotated" stayed over the key page just opened, about another key."""
    from keydesk.tui.screens.key_page import KeyScreen
    from tests.support.tui_pages import go_to_integration

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        page = await go_to_integration(pilot, "github")
        while page.highlighted_key().is_active:
            await pilot.press("j")
        await pilot.press("t")
        await settle(pilot)
        assert [n.severity for n in app._notifications] == ["warning"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen)
        assert not list(app._notifications)


def test_in_a_real_terminal_the_line_a_message_moves_up_is_drawn_again(tmp_path):
    """Scan at 80x24, x on an unknown finding: Textual moved the line under
    the findings up for the message, yet repainted only the message, so the
    terminal showed "  /▌ No key in this store…" and the line nowhere.
    Pilot's picture is the compositor's, so only a real terminal shows it."""
    program("tmux", "apt-get install -y tmux")
    unknown = seeded_key_pairs(UNKNOWN_SEED)().private_key.reveal()
    (tmp_path / "leak").mkdir()
    (tmp_path / "leak" / ".env").write_text(f"KEY={unknown}\n")
    command = f"cd {shlex.quote(str(tmp_path))} && {shlex.quote(sys.executable)} -m keydesk demo"
    terminal = Tmux(command, size=(80, 24))
    try:
        terminal.wait_for(lambda text: "github" in text, "the integration list")
        terminal.keys("s")
        terminal.wait_for(lambda text: "Scan for leaked keys" in text, "the Scan screen")
        terminal.keys("C-u")
        terminal.keys("-l", "leak")  # under the working folder: the line under the table is one row
        terminal.keys("Enter")
        terminal.wait_for(lambda text: "· unknown" in text, "the finding's line")
        terminal.keys("x")
        screen = terminal.wait_for(lambda text: "No key in this store" in text, "the refusal")
        time.sleep(0.5)  # a repaint that would come late
        lines = terminal.screen().splitlines()
        said = next(n for n, line in enumerate(lines) if "No key in this store" in line)
        assert lines[said].lstrip().startswith("▌"), screen
        assert lines[said - 1].rstrip().endswith("· unknown"), screen  # right above it
    finally:
        terminal.close()


async def test_a_dialog_takes_the_message_of_the_screen_behind_off_it(make_app):
    """A refusal on the API Keys tab, then x: the dialog's own refusal was
    drawn over the first message, still on the screen behind it."""
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        page = app.screen
        await pilot.press("K")  # nothing to keep: refused
        assert await _toasts(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert app.screen is not page
        assert not list(page.query("ToastRack > ToastHolder")), "behind the dialog"
