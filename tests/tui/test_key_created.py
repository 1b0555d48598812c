"""The one-time reveal: the key never escapes in a picture,
is never lost by a stray key, and Done always lands where the key is."""

from __future__ import annotations

import stat

import pytest
from textual.notifications import Notify
from textual.widgets import Button, DataTable, OptionList, Select, Static
from textual.widgets._toast import Toast

from keydesk.service import KeyService
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screenshot_policy import ScreenshotRefused
from tests.support.tui_pages import go_to_create_form, go_to_integration
from tests.tui.screenshots import settle


async def generate_on_github(pilot, label: str) -> None:
    await go_to_create_form(pilot, "github")
    await pilot.press(*label, "enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, KeyCreatedScreen)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def _palette_titles(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*query)
    options = pilot.app.screen.query_one(OptionList)
    for _ in range(40):  # the palette searches after a short debounce
        await pilot.pause(0.05)
        if options.option_count:
            break
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    """Where Textual's Screenshot saves (platformdirs: ~/Downloads)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "Downloads"
    folder.mkdir()
    return folder


# -- 1. no picture of the key --------------------------------------------------------


async def test_screenshots_are_owner_only_and_none_while_a_private_key_is_on_screen(
    make_app, downloads
):
    """One walk at 100x30: on the list a screenshot is offered and saved
    owner-only; on the reveal none is offered, taken or saved, nor behind
    its leave dialog; then only an answer leaves it
    (_only_an_answer_leaves_the_reveal)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        offered = await _palette_titles(pilot, "screensh")
        assert any("Screenshot" in title for title in offered), ("elsewhere: offered", offered)
        await pilot.press("escape")
        await settle(pilot)
        app.action_screenshot()
        await settle(pilot)
        (saved,) = downloads.iterdir()
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600, "elsewhere: owner-only"
        assert "github" in saved.read_text(), "elsewhere: the list's picture"

        await generate_on_github(pilot, "picture")
        offered = await _palette_titles(pilot, "screensh")
        assert not any("Screenshot" in title for title in offered), ("reveal: offered", offered)
        await pilot.press("escape")
        await settle(pilot)

        app.action_screenshot()  # what a binding or a script would run
        app.deliver_screenshot()
        await settle(pilot)
        assert list(downloads.iterdir()) == [saved], "reveal: no picture saved"
        assert "No screenshots" in _text(app.screen, "#created-note"), "reveal: said why"
        with pytest.raises(ScreenshotRefused):
            app.save_screenshot(path=str(downloads))  # TEXTUAL_SCREENSHOT's way
        assert list(downloads.iterdir()) == [saved], "reveal: TEXTUAL_SCREENSHOT saves none"

        await pilot.press("escape")  # the leave dialog: the key is still behind it
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "leave dialog: asked"
        app.action_screenshot()
        await settle(pilot)
        assert list(downloads.iterdir()) == [saved], "leave dialog: no picture saved"
        await pilot.press("escape")  # Stay
        await settle(pilot)
        await _only_an_answer_leaves_the_reveal(pilot)
    assert app.return_code == 0 and not app.is_running


# -- 2. and 3. only an answer leaves ------------------------------------------------------


async def _only_an_answer_leaves_the_reveal(pilot) -> None:
    """ctrl+q on the reveal asks to quit (not to leave: Back's words);
    ctrl+q twice does not quit; only the dialog's answer (q) does."""
    app = pilot.app
    assert isinstance(app.screen, KeyCreatedScreen), ("ctrl+q: on the reveal", app.screen)
    await pilot.press("ctrl+q")
    await settle(pilot)
    assert _text(app.screen, "#dialog-title") == "Quit without the key?", "ctrl+q: its words"
    await pilot.press("escape")
    await settle(pilot)
    await pilot.press("escape")  # Back, not quit: the page's own words
    await settle(pilot)
    assert _text(app.screen, "#dialog-title") == "Leave without the key?", "escape: its words"
    await pilot.press("escape")  # Stay
    await settle(pilot)
    assert isinstance(app.screen, KeyCreatedScreen), "escape: stayed"

    await pilot.press("ctrl+q")
    await settle(pilot)
    await pilot.press("ctrl+q")
    await settle(pilot)
    assert app.is_running, "ctrl+q twice: still running"
    assert isinstance(app.screen, ConfirmScreen) and app.screen.id == "leave-confirm", (
        "ctrl+q twice: still asked"
    )
    await pilot.press("escape")  # Stay
    await settle(pilot)
    assert isinstance(app.screen, KeyCreatedScreen) and app.screen.holds_secret, "stayed"
    await pilot.press("ctrl+q")
    await settle(pilot)
    offered = {k: b.binding.description for k, b in app.screen.active_bindings.items()}
    assert offered["q"] == "Quit" and "d" not in offered, ("its own key, in its footer", offered)
    await pilot.press("q")  # the dialog's own answer: Quit
    await settle(pilot)


async def test_done_asks_before_a_copy_and_not_after(make_app):
    """One walk on github at 100x30, two keys made. Before a copy, Done asks
    (d and the button), Enter stays and one key confirms. The reveal says
    until when and what the key may do; after a copy, Done does not ask;
    back on the list, its active count is current (#9 item 10)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await generate_on_github(pilot, "done-asks")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "not copied: d asks"
        said = " ".join(str(line.render()) for line in app.screen.query(".dialog-line"))
        assert "not copied" in said, ("not copied", said)
        assert "Stay, then c copies it" in said, said  # c in the dialog copies nothing
        assert app.screen.focused.id == "cancel", "not copied: Enter stays"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "not copied: stayed"
        await pilot.click("#done")  # the button asks too
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "not copied: the button asks"
        await pilot.press("d")  # one keystroke confirms
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen), "not copied: d confirms"

        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"done-copied", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "copied: created"
        key = app.screen._key
        shown = _text(app.screen, "#created-for")
        assert key.expires_at is not None, "copied: expires"
        assert f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" in shown, shown
        assert "scopes: " + " ".join(key.scopes) in shown, shown
        await pilot.press("c", "d")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen), "copied: Done does not ask"
        await pilot.press("escape")
        await settle(pilot)
        table = app.screen.query_one("#integrations", DataTable)
        active = str(table.get_cell_at((0, 3)))
        assert active == "4", ("the list's count", active)  # github: 2 active, 2 made


async def test_done_clicked_twice_leaves_the_reveal_once(make_app):
    """Done waits for a frame without the key before it leaves; a second
    press meanwhile (two mouse clicks in one frame: no key gate holds
    them) must not pop the page below too: the key's tab stays in front,
    over the integration list."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await generate_on_github(pilot, "twice")
        await pilot.press("c")
        await settle(pilot)
        done = app.screen.query_one("#done", Button)
        done.press()
        done.press()
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen), app.screen_stack
        assert isinstance(app.screen_stack[-2], IntegrationsScreen), app.screen_stack


# -- 4. Done lands on the key, whatever the entry point -----------------------------------


async def _new_key_is_highlighted(app, label: str) -> None:
    screen = app.screen
    assert isinstance(screen, IntegrationDetailScreen), (label, screen)
    assert screen.integration.name == "github", label
    assert screen.tabs.active == "api-keys", label
    assert screen.highlighted_key().label == label, label
    assert screen.focused is screen.table, label


async def test_done_lands_on_the_key_from_the_list_the_palette_and_another_page(
    make_app, demo_store
):
    """One walk at 100x30, a key made from each entry point in turn: g on
    the integration list (Escape then goes back to the list), the palette's
    Generate API key, and generate from google-workspace's page; Done lands
    on the new key each time."""
    github = KeyService(demo_store, "alice").integration("github").id
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen), "list: first screen"
        await pilot.press("g")  # github is the highlighted row
        await settle(pilot)
        await pilot.press(*"from-list", "enter")
        await settle(pilot)
        await pilot.press("c", "d")
        await settle(pilot)
        await _new_key_is_highlighted(app, "from-list")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen), "list: Escape goes back to it"

        await _palette_titles(pilot, "Generate API key")
        await pilot.press("enter")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen), "palette: the form"
        form.query_one(Select).value = github
        await pilot.press(*"from-palette", "enter")
        await settle(pilot)
        await pilot.press("c", "d")
        await settle(pilot)
        await _new_key_is_highlighted(app, "from-palette")
        await pilot.press("escape")
        await settle(pilot)

        await go_to_integration(pilot, "google-workspace")
        app.generate_key(github)
        await settle(pilot)
        await pilot.press(*"elsewhere", "enter")
        await settle(pilot)
        await pilot.press("c", "d")
        await settle(pilot)
        await _new_key_is_highlighted(app, "elsewhere")


# -- 5. messages never cover a key, and go away ------------------------------------------


async def test_at_every_size_the_key_and_buttons_are_in_view_and_messages_cover_no_key(
    make_app, monkeypatch
):
    """One walk started at 60x20. After a rotation, when the old key stops
    and what to do is all in view, without scrolling (#21 walk: cut after
    'before then;'). Then on a new key's reveal, at 60x20, 80x24, 120x40
    and 140x36 (the terminal resized between them): the whole key and every
    button are in view; where one line cannot hold the key, it wraps inside
    its box, and a mouse selection of it gives the key with nothing between
    its parts; at 60x20 and 80x24 the copy messages cover no key and go
    away by themselves."""
    # The note's timer starts only once the test has looked at the note: a
    # short time then, not a wall-clock wait (a slow machine could otherwise
    # clear it before the look).
    held = []
    set_timer = KeyCreatedScreen.set_timer

    def held_timer(self, *args, **kwargs):
        held.append(set_timer(self, *args, pause=True, **kwargs))
        return held[-1]

    monkeypatch.setattr(KeyCreatedScreen, "set_timer", held_timer)
    monkeypatch.setattr(KeyCreatedScreen, "NOTE_SECONDS", 0.05)
    app = make_app()
    posted = []
    async with app.run_test(size=(60, 20), message_hook=posted.append) as pilot:
        await go_to_integration(pilot, "github")
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("enter")  # 24 hours, the default
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyCreatedScreen), ("rotation note", page)
        note = page.query_one("#rotation-next", Static)
        assert "stops working at" in str(note.render()), "rotation note: said"
        assert note.region.height > 0 and note.region.bottom <= app.size.height - 1, (
            "rotation note: whole at 60x20"
        )
        assert page.query_one("#created").max_scroll_y == 0, "rotation note: no scrolling"
        await pilot.press("c", "d")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen), "rotation: Done"
        held.clear()

        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"whole", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeyCreatedScreen), "reveal"
        private_key = screen._created.private_key.reveal()
        for size in [(60, 20), (80, 24), (120, 40), (140, 36)]:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            _the_key_and_every_button_are_in_view(screen, size)
            if size in [(60, 20), (80, 24)]:
                await _messages_cover_no_key_and_time_out(pilot, posted, held, size)
            lines = ["".join(s.text for s in strip) for strip in screen._compositor.render_strips()]
            first = next(n for n, line in enumerate(lines) if "kdsk_" in line)
            assert (lines[first].strip() + lines[first + 1].strip()).startswith(private_key), (
                "whole key",
                size,
            )
            await pilot.click("#api-key-value", times=3)  # selects the whole value
            await settle(pilot)
            assert screen.get_selected_text() == private_key, ("one line selected", size)


def _visible(widget, size: tuple[int, int]) -> bool:
    """On screen, whole, above the footer line."""
    region = widget.region
    width, height = size
    return (
        region.width > 0 and region.x >= 0 and region.right <= width and region.bottom <= height - 1
    )


def _the_key_and_every_button_are_in_view(screen, size) -> None:
    """On one line from 75 columns (71 characters and the page's margins),
    else on two; every button in view, nothing scrolled."""
    key = screen.query_one("#api-key-value", Static)
    one_line = size[0] >= 75
    assert key.region.height == (1 if one_line else 2) and _visible(key, size), ("key", size)
    shown = str(key.render())
    assert shown.startswith("kdsk_") and len(shown.strip()) == 71, ("key", size)
    for button in ("#copy-key", "#copy-public", "#revoke", "#done"):
        assert _visible(screen.query_one(button), size), (button, size)
    assert screen.query_one("#created").scroll_y == 0, ("not scrolled", size)


async def _messages_cover_no_key_and_time_out(pilot, posted, held, size) -> None:
    app = pilot.app
    posted.clear()
    await pilot.press("c", "p", "c")
    screen = app.screen
    assert not [m for m in posted if isinstance(m, Notify)], ("messages: no toast", size)
    assert not list(app.query(Toast)), ("messages: no toast", size)
    note = screen.query_one("#created-note")
    assert "API key" in str(note.render()), ("messages: the note", size)
    for value in ("#api-key-value", "#public-key-value"):
        assert not note.region.overlaps(screen.query_one(value).region), (value, size)
    for timer in held:
        timer.resume()
    for _ in range(200):  # it clears itself (no keypress needed)
        if not str(note.render()).strip():
            break
        await pilot.pause(0.05)
    assert not str(note.render()).strip(), ("messages: cleared by themselves", size)


async def test_ctrl_c_on_the_selected_key_copies_it_as_c_does(make_app, monkeypatch):
    """A mouse selection of the key and ctrl+c: the key goes to the terminal's
    clipboard and to the desktop's where there is one, is said copied, and
    Done leaves without asking (as after `c`)."""
    import pyperclip

    desktop: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", desktop.append)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_integration(pilot, "github")
        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"selected", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, KeyCreatedScreen)
        private_key = screen._created.private_key.reveal()
        await pilot.click("#api-key-value", times=3)
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert app.clipboard == private_key and desktop == [private_key]
        assert _text(screen, "#created-note").startswith("API key copied to the clipboard")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen)
