"""The Scan screen: keys found in a folder, their status, revoking a
live one on the spot, cancelling, and never a private key on screen."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import col, select
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from keydesk.errors import Unauthorized
from keydesk.scan import scan_bytes
from keydesk.service import KeyService
from keydesk.store.models import AuditEvent
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.scan import ScanScreen
from keydesk.tui.screens.scan_findings import Leak
from keydesk.tui.widgets import KeyFooter
from keydesk.verify import Verifier
from keydesk.views import FoundKey
from tests.support.fakes import seeded_key_pairs
from tests.support.pg_team import acme_with_github
from tests.tui.screenshots import burst, plant_leaks, settle, wait_for_scan


def unknown_key() -> str:
    return seeded_key_pairs(5)().private_key.reveal()


async def open_scan(pilot) -> ScanScreen:
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ScanScreen)
    return screen


async def scan(pilot, screen: ScanScreen, path: str) -> None:
    screen.query_one("#scan-path", Input).value = path
    screen.query_one("#scan-path", Input).focus()
    await pilot.press("enter")
    await wait_for_scan(pilot, screen)


def statuses(screen: ScanScreen) -> dict[str, str]:
    return {row.location.rsplit("/", 1)[-1]: row.status for row in screen.rows}


async def highlight(pilot, screen: ScanScreen, status: str) -> None:
    index = next(i for i, row in enumerate(screen.rows) if row.status == status)
    screen.table.focus()
    screen.table.move_cursor(row=index)
    await settle(pilot)


def screen_text(app) -> str:
    return app.export_screenshot()


def dialog_lines(app) -> list[str]:
    return [str(line.render()) for line in app.screen.query(".dialog-line")]


async def test_found_keys_are_listed_with_their_status(make_app, tmp_path):
    keys = plant_leaks(tmp_path / "leaks")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        assert statuses(screen) == {
            "ci.log:3": "revoked",
            "app.env:2": "active",
            "notes.txt:1": "unknown",
        }
        assert screen.state == "done"
        progress = str(screen.query_one("#scan-progress", Static).render())
        assert "3 files read" in progress and "3 keys found, 1 live" in progress
        text = screen_text(app)
        assert "active" in text and "revoked" in text and "unknown" in text  # words, not colours
        await highlight(pilot, screen, "unknown")
        await pilot.press("x")  # said nothing
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert said == [
            "No key in this store has this public key: there is nothing to revoke here."
        ]
        for private_key in keys.values():
            assert private_key not in text
            assert private_key[-20:] not in text  # not even the secret's tail
        # Only the live key the account may revoke is still held.
        assert [row.status for row in screen.rows if row.private_key is not None] == ["active"]


async def test_a_live_key_is_revoked_on_the_spot_and_stops_working(make_app, demo_store, tmp_path):
    keys = plant_leaks(tmp_path / "leaks")
    verifier = Verifier(demo_store.engine)
    assert verifier.verify(keys["active"]).label == "api-gateway-prod"
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        await highlight(pilot, screen, "active")
        assert screen.check_action("revoke", ()) is True
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        dialog = screen_text(app)
        assert "401" in dialog and "api-gateway-prod" in dialog
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is screen
        assert statuses(screen)["app.env:2"] == "revoked"
        assert all(row.private_key is None for row in screen.rows)  # nothing left to revoke
        assert screen.check_action("revoke", ()) is None  # dimmed: no longer works
        app.clear_notifications()
        await pilot.press("x")  # says why, as the API Keys tab does
        await settle(pilot)
        [said] = [n.message for n in app._notifications]
        assert said.endswith(" is revoked: it cannot be revoked again."), said
    with pytest.raises(Unauthorized):
        Verifier(demo_store.engine).verify(keys["active"])
    with demo_store.session() as session:
        event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
        assert event.action == "key.revoke.leaked"
        # where it leaked (the service cuts a long label)
        assert event.label.startswith(f"found at {str(tmp_path)[:30]}")


async def test_a_key_of_another_workspace_than_the_one_open_names_its_workspace(make_app, tmp_path):
    """In globex, a scan finds acme's live key: its line and the revoke
    question say acme ("Integration: github" alone read as globex's)."""
    plant_leaks(tmp_path / "leaks")
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        await highlight(pilot, screen, "active")
        assert " in acme" not in str(screen.query_one("#scan-detail", Static).render())
        await pilot.press("x")
        await settle(pilot)
        assert "Integration: github" in dialog_lines(app)  # acme is open: not named
        await pilot.press("escape", "escape")
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.workspace.name == "globex"
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        await highlight(pilot, screen, "active")
        detail = str(screen.query_one("#scan-detail", Static).render())
        assert "“api-gateway-prod” of github in acme" in detail.replace("\n", " "), detail
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Integration: github (workspace acme)" in dialog_lines(app)


async def test_a_viewer_sees_no_revoke(make_app, tmp_path):
    plant_leaks(tmp_path / "leaks")
    app = make_app("carol")  # a viewer of acme
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        await highlight(pilot, screen, "active")
        assert screen.check_action("revoke", ()) is False
        assert "Revoke" not in screen_text(app)
        await pilot.press("x")
        await settle(pilot)
        assert app.screen is screen
        assert statuses(screen)["app.env:2"] == "active"
        assert all(row.private_key is None for row in screen.rows)


async def test_a_hostile_file_name_is_shown_literally(make_app, tmp_path):
    keys = plant_leaks(tmp_path / "leaks")
    hostile = "[bold red]x[blink]\x1b[2J.env"
    (tmp_path / "leaks" / hostile).write_text(keys["unknown"])
    app = make_app()
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        index = next(i for i, row in enumerate(screen.rows) if "bold" in row.location)
        screen.table.focus()
        screen.table.move_cursor(row=index)
        await settle(pilot)
        shown = "[bold red]x[blink]\\x1b[2J.env"
        assert shown in str(screen.query_one("#scan-detail", Static).render())
        cell = screen.table.get_row_at(index)[0]
        assert shown in cell.plain and not cell.spans  # Rich Text: no markup read
        assert "\x1b" not in app.export_screenshot()


async def test_an_escape_cancels_a_running_scan(make_app):
    """A scan stopped mid-way keeps what it found, and its walk is closed."""
    pair = next(scan_bytes(b"k=" + unknown_key().encode(), "big.log"))
    gate = threading.Event()
    closed = threading.Event()

    def endless(paths, *, on_file, on_skipped):
        try:
            yield Leak(pair, FoundKey(pair.public_key, None, secret_checked=True), None)
            while True:  # a huge tree: files keep coming until the screen says stop
                on_file()
                gate.wait(0.01)
        finally:
            closed.set()

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = ScanScreen(scan=endless)
        await app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#scan-path", Input).value = "."
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause()
            if screen.rows:
                break
        assert screen.scanning
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert closed.is_set()
        assert screen.state == "cancelled" and not screen.scanning
        assert [row.status for row in screen.rows] == ["unknown"]
        assert app.screen is screen  # the first Escape stops the scan, not the screen
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen


def footer_words(app) -> list[str]:
    return [key.description for key in app.screen.query_one(KeyFooter).query(FooterKey)]


async def test_the_footer_offers_back_not_cancel_once_a_scan_is_done(make_app, tmp_path):
    """The scan hands over its end while its worker still runs: a footer
    redrawn before the worker had quite ended said "esc Cancel scan" long
    after "Done: 453 files read · 0 keys found" (no key found, so nothing
    else redrew it). What the footer is told at that moment is Back."""
    for name in ("a.txt", "b.py"):
        (tmp_path / name).write_text("nothing secret here\n")
    offered: list[tuple[bool | None, bool | None, bool]] = []
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_scan(pilot)
        finished = screen._finished

        def finished_then_asked(state: str) -> None:
            finished(state)
            worker_running = screen._worker is not None and screen._worker.is_running
            offered.append(
                (screen.check_action("cancel", ()), screen.check_action("back", ()), worker_running)
            )

        screen._finished = finished_then_asked
        await scan(pilot, screen, str(tmp_path))
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert screen.state == "done"
        assert offered == [(False, True, True)], offered  # the worker was still running
        words = footer_words(app)
        assert "Back" in words and "Cancel scan" not in words, words


async def test_files_left_out_on_purpose_are_counted_as_the_command_line_counts_them(
    make_app, tmp_path
):
    """The TUI and `keydesk scan` run one pipeline and say what was left out
    in the same words: "3 binary files skipped"."""
    cache = tmp_path / "project" / "__pycache__"
    cache.mkdir(parents=True)
    for n in range(3):
        (cache / f"m{n}.pyc").write_bytes(b"\xa7\r\r\n\0\0\0\0code")
    (tmp_path / "project" / "main.py").write_text("print('hello')\n")
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "project"))
        progress = str(screen.query_one("#scan-progress", Static).render())
        assert progress.replace("\n", " ") == (
            "Done: 4 files read · 0 keys found, 0 live · 3 binary files skipped"
        )


async def test_keys_are_dropped_when_the_screen_closes(make_app, tmp_path):
    plant_leaks(tmp_path / "leaks")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        rows = screen.rows
        assert any(row.private_key is not None for row in rows)
        await pilot.press("escape")
        await settle(pilot)
        assert all(row.private_key is None for row in rows)
        assert screen.rows == []


async def test_allow_listed_keys_are_left_out(make_app, tmp_path):
    keys = plant_leaks(tmp_path / "leaks")
    unknown_public = "kdpk_" + keys["unknown"][5:21]
    (tmp_path / "leaks" / ".keydesk-scan-allow").write_text(f"{unknown_public}  # demo\n")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        assert sorted(statuses(screen).values()) == ["active", "revoked"]


async def test_the_path_is_the_current_folder_until_one_is_typed_and_tilde_is_home(
    make_app, tmp_path, monkeypatch
):
    """README: the scan asks for a folder or file, the current folder by
    default; `~` works."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text(f"old key: {unknown_key()}\n")
    plant_leaks(tmp_path / "home" / "leaks")
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        path = screen.query_one("#scan-path", Input)
        assert path.value == str(tmp_path / "work")
        assert path.has_focus
        await pilot.press("enter")  # as it was offered
        await wait_for_scan(pilot, screen)
        assert statuses(screen) == {"notes.txt:1": "unknown"}
        await scan(pilot, screen, "~/leaks")
        assert statuses(screen) == {
            "ci.log:3": "revoked",
            "app.env:2": "active",
            "notes.txt:1": "unknown",
        }


async def test_a_missing_folder_is_one_line_and_escape_then_leaves(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        screen.query_one("#scan-path", Input).value = str(tmp_path / "nowhere")
        await pilot.press("enter")
        await settle(pilot)
        assert "No such folder or file" in str(screen.query_one("#scan-progress").render())
        assert screen.state == ""
        await pilot.press("escape")  # what was typed was tried: nothing to ask
        await settle(pilot)
        assert not isinstance(app.screen, ScanScreen | ConfirmScreen), app.screen


async def test_the_palette_offers_the_scan(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"scan for leaked", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ScanScreen)
        assert app.screen.query_one("#scan-path", Input).value  # the current folder


@pytest.mark.postgres
async def test_on_postgresql_a_key_matched_by_public_key_is_not_offered_for_revoking(
    team, tmp_path
):
    """An admin's role cannot read hashes: keys are matched by public key
    (said on screen), one in a workspace the admin is not in is told apart,
    and none is revoked on that match alone: a forgery (the public key, any
    secret) would revoke the real key (#19 item 7)."""
    alice = acme_with_github(team)
    alice.add_member("acme", team.role("carol"), "admin")
    live = alice.create_key("github", "prod").private_key.reveal()
    bob = team.service_as("bob")
    bob.create_workspace("globex")
    bob.add_integration(
        "globex", "stripe", "Stripe", client_id="ca_1",
        redirect_uri="https://globex.example/cb", configure=True,
    )  # fmt: skip
    elsewhere = bob.create_key("stripe", "billing").private_key.reveal()
    (tmp_path / "a.env").write_text(live)
    (tmp_path / "b.env").write_text(elsewhere)

    app = KeydeskApp(team.service_as("carol"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path))
        assert statuses(screen) == {"a.env:1": "active", "b.env:1": "other-workspace"}
        assert screen.query_one("#scan-note").display
        assert "matched by public key" in str(screen.query_one("#scan-detail").render())
        assert "not revoked here" in str(screen.query_one("#scan-note").render())
        await highlight(pilot, screen, "active")
        await pilot.press("x")
        await settle(pilot)
        assert app.screen is screen  # no confirmation: nothing to confirm
        assert statuses(screen)["a.env:1"] == "active"
    check = Verifier(team.store_as("verifier").engine)
    try:
        assert check.verify(live).public_key == "kdpk_" + live[5:21]
    finally:
        check.close()


async def test_a_rotating_key_found_says_so_in_its_row_and_line(make_app, demo_store, tmp_path):
    """Its status cell said only "active": it says "rotating" as the API
    Keys tab does (in as few words as fit), and the line under the table
    what the key's pages say: it is rotating, to which key, and how long."""
    keys = plant_leaks(tmp_path / "leaks")
    alice = KeyService(demo_store, "alice")
    found = Verifier(demo_store.engine).verify(keys["active"])
    new = alice.rotate_key(found.public_key, timedelta(hours=24)).created.key
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        await highlight(pilot, screen, "active")
        detail = str(screen.query_one("#scan-detail", Static).render()).replace("\n", " ")
        assert f"rotating -> {new.public_key}" in detail, detail
        cells = [str(cell) for cell in screen.table.get_row_at(screen.table.cursor_row)]
        assert any(cell.startswith("rotating") for cell in cells), cells  # as on API Keys


async def test_slash_filters_the_findings_and_e_names_another_path(make_app, tmp_path):
    """As on every list, `/` filters what is listed (it went to the path);
    a filter hiding every finding says so; Escape empties it, then leaves."""
    plant_leaks(tmp_path / "leaks")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_scan(pilot)
        assert not screen.check_action("filter", ())  # nothing found yet
        await scan(pilot, screen, str(tmp_path / "leaks"))
        await pilot.press("slash", *"revoked", "enter")
        await settle(pilot)
        assert screen.table.row_count == 1
        assert screen._highlighted().status == "revoked"
        await pilot.press("slash", *"-nothing", "enter")
        await settle(pilot)
        detail = str(screen.query_one("#scan-detail", Static).render()).replace("\n", " ")
        assert screen.table.row_count == 0 and "No finding matches" in detail, detail
        await pilot.press("escape")  # the filter first
        await settle(pilot)
        assert app.screen is screen and screen.table.row_count == 3
        await pilot.press("e")
        await settle(pilot)
        assert screen.query_one("#scan-path", Input).has_focus


async def test_while_a_field_has_the_focus_the_footer_offers_no_letter_it_would_type(make_app):
    """Scan opens in its path: `/`, `e` and `x` type there, so the footer
    offered keys that did nothing but add to the path."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_scan(pilot)
        assert screen.query_one("#scan-path", Input).has_focus
        offered = {key.key for key in screen.query_one(KeyFooter).query(FooterKey)}
        assert not {"slash", "e", "x"} & offered, offered


def test_the_status_column_holds_repl_revoked_from_80_columns_and_60_keeps_the_public_key():
    """At 120 columns "repl. rev…" was cut beside a 62-cell Where column."""
    from keydesk.tui.screens.scan import COLUMNS
    from keydesk.tui.widgets import fit

    for width, status in ((60, 10), (80, 14), (120, 14)):
        widths = {column.key: cells for column, cells in fit(COLUMNS, width)}
        assert widths["status"] == status and "public" in widths, (width, widths)
        assert widths["status"] >= len("repl. revoked") or width == 60


async def test_the_path_never_holds_a_private_key_or_an_escape_sequence(make_app, demo_store):
    """A key pasted into the path stayed in the box, whole, and "No such
    folder or file" repeated it; a pasted `\\e[2J` cleared the terminal."""
    from textual import events

    from keydesk.tui.widgets.guarded_input import KEY_CLEARED

    private_key = KeyService(demo_store, "alice").create_key("github", "pasted")
    secret = private_key.private_key.reveal()
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        path = screen.query_one("#scan-path", Input)
        path.value = ""
        path.focus()
        app.post_message(events.Paste(secret))  # as the terminal driver does
        await settle(pilot)
        progress = str(screen.query_one("#scan-progress").render())
        assert path.value == "" and progress == KEY_CLEARED
        assert secret[-24:] not in app.export_screenshot()  # the secret part
        app.post_message(events.Paste("\x1b[2Jevil"))
        await settle(pilot)
        progress = str(screen.query_one("#scan-progress").render())
        assert path.value == "" and "escape sequence" in progress and progress.endswith(".")


async def test_a_new_scan_finding_nothing_leaves_no_finding_of_the_last_one(make_app, tmp_path):
    """The line under the table still described the last scan's key after a
    scan of a clean folder (its table empty)."""
    plant_leaks(tmp_path / "leaks")
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "readme.txt").write_text("nothing here\n")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_scan(pilot)
        await scan(pilot, screen, str(tmp_path / "leaks"))
        detail = screen.query_one("#scan-detail", Static)
        assert str(detail.render()).strip()
        await scan(pilot, screen, str(tmp_path / "clean"))
        assert screen.rows == [] and not str(detail.render()).strip()


async def test_help_says_what_each_status_of_a_finding_means(make_app):
    """`unknown` was nowhere explained."""
    from keydesk.tui.screens.help import HelpScreen
    from keydesk.tui.widgets.pairs import Pairs

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_scan(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        notes = dict(app.screen.query_one("#help-notes", Pairs).rows)
        assert notes["unknown"].startswith("No key in this store has its public key"), notes


async def test_a_key_typed_with_the_paths_enter_goes_to_the_findings(make_app, tmp_path):
    """`/path` Enter x typed at once: x went into the path now and then (the
    scan, which the keys behind Enter do not wait for, was still running)."""
    plant_leaks(tmp_path / "leaks")
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_scan(pilot)
        path = screen.query_one("#scan-path", Input)
        path.value = ""
        burst(app, f"{tmp_path / 'leaks'}|enter|x")
        await wait_for_scan(pilot, screen)
        assert path.value == str(tmp_path / "leaks"), path.value
        assert screen.table.has_focus


async def test_moving_in_the_findings_before_any_does_nothing(make_app):
    """Tab then PageDown before a scan ended keydesk with a traceback."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_scan(pilot)
        screen.table.focus()
        for key in ("pagedown", "pageup", "end", "k"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen and app.is_running, key
