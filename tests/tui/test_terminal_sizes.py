"""Every size a terminal can be: one clear message below 60x20, a footer
that fits 80 columns, and long or wide stored text cut to its column (the
key on one line and the buttons in view from 60x20 up: test_key_created.py,
in the reveal's walk)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Input, Static
from textual.widgets._footer import FooterKey

from keydesk.service import KeyService
from keydesk.tui.screens.base import TOO_SMALL, TooSmall
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.widgets import FilterInput
from tests.support.tui_pages import go_to_integration
from tests.tui.screenshots import SCREENS, open_integration, settle


def _footer_keys(screen) -> dict[str, bool]:
    """Each footer key's description: whether it is whole on screen."""
    width = screen.app.size.width
    return {
        key.description: key.region.width > 0 and key.region.right <= width
        for key in screen.query_one(Footer).query(FooterKey)
    }


FOOTER_FITS = ["integrations", "api-keys", "integration-overview", "key-created", "create-key"]
TOO_SMALL_SHOWN = ["integrations", "key-created", "revoke-confirm"]


async def _keys(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


async def _create_key(pilot) -> None:
    await _keys(pilot, "escape")  # the revoke dialog's Cancel
    await SCREENS["create-key"](pilot)


# One walk through them all, each screen from the one before.
THROUGH = {
    "integrations": SCREENS["integrations"],
    "api-keys": lambda pilot: go_to_integration(pilot, "github"),
    "integration-overview": lambda pilot: _keys(pilot, "1"),
    "revoke-confirm": lambda pilot: _keys(pilot, "2", "x"),
    "create-key": _create_key,
    "key-created": lambda pilot: _keys(pilot, "enter"),
}
assert set(FOOTER_FITS + TOO_SMALL_SHOWN) <= set(THROUGH)


async def test_at_80_columns_the_footer_fits_and_below_60x20_one_clear_message(make_app):
    """One walk at 80x24 through the screens of FOOTER_FITS and
    TOO_SMALL_SHOWN: on each, the footer fits, then each shrink shows one
    clear message (the screen whole again at 80x24 after it)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for screen_name, step in THROUGH.items():
            await step(pilot)
            assert app.size == (80, 24), screen_name
            if screen_name in FOOTER_FITS:
                keys = _footer_keys(app.screen)
                assert keys.get("Quit") and keys.get("Help") and keys.get("palette"), (
                    screen_name,
                    keys,
                )
                assert all(keys.values()), (screen_name, keys)
                footer = app.screen.query_one(Footer)
                assert footer.max_scroll_x == 0, screen_name  # nothing cut off or scrolled away
            if screen_name in TOO_SMALL_SHOWN:
                await _one_clear_message_below_60x20(pilot, screen_name)


async def _one_clear_message_below_60x20(pilot, screen_name: str) -> None:
    app = pilot.app
    # One walk for every size: each shrink starts from the screen whole
    # again at 80x24 (the last lines check it is).
    for size in [(59, 20), (60, 19), (40, 15)]:
        await pilot.resize_terminal(*size)
        await settle(pilot)
        message = app.screen.query_one(TooSmall)
        assert message.display and message.region.height > 0, (screen_name, size)
        assert str(message.render()) == TOO_SMALL, (screen_name, size)
        shown = [w for w in app.screen.children if w.display and w is not message]
        assert shown == [], (screen_name, size)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not app.screen.query_one(TooSmall).display, (screen_name, size)
        assert app.screen.query_one(Footer).display, (screen_name, size)


async def test_long_and_wide_names_are_cut_to_their_column(make_app, demo_store):
    alice = KeyService(demo_store, "alice")
    long_name = "integration-" + "x" * 52  # 64 characters
    alice.add_integration(
        "acme", long_name, "Provider", client_id="c", redirect_uri="https://x.example/cb",
        configure=True,
    )  # fmt: skip
    cjk = "鍵" * 64  # 64 characters, 128 cells
    alice.create_key(long_name, cjk)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#integrations", DataTable)
        widths = {str(c.label): c.width for c in table.columns.values()}
        assert widths["Provider"] >= 8 and widths["Status"] >= 10  # the others keep room
        row = table.get_row_index(str(alice.integration(long_name).id))
        name = table.get_cell_at((row, 0))
        assert name.plain.endswith("…") and cell_len(name.plain) <= widths["Name"]

        screen = await go_to_integration(pilot, long_name)
        title = str(screen.title_bar.render())
        assert title.endswith("configured") and cell_len(title) <= 80
        keys = screen.query_one("#keys", DataTable)
        key_widths = {str(c.label): c.width for c in keys.columns.values()}
        label = keys.get_cell_at((0, 0))
        assert cell_len(label.plain) <= key_widths["Label"] and "…" in label.plain  # its end kept
        assert str(keys.get_cell_at((0, 1))).startswith("kdpk_")  # public key in full
        assert str(keys.get_cell_at((0, 2))) == "active"
        assert cjk in str(screen.query_one("#key-detail", Static).render())  # full text there


def _footer_offer(screen) -> dict[str, bool]:
    """Each footer key's description: whether it is enabled."""
    return {key.description: not key._disabled for key in screen.query_one(Footer).query(FooterKey)}


async def test_the_api_keys_columns_follow_the_width_and_the_footer_the_key(
    make_app, demo_store, monkeypatch
):
    """One walk on github's API Keys, resized. At 80 columns the tab shows
    Last used (what is left out is in the detail line); at 140 every column.
    At 100x30 Rotate and Revoke are offered for an active key, greyed for a
    revoked one: the footer is rebuilt when what it offers changes; a
    revoked key's detail line says when it was revoked, not the stop time
    its expiry would have had. Leaving, the closing page is not asked what
    its footer offers (_not_asked_while_closing)."""
    from datetime import UTC, datetime, timedelta

    service = KeyService(demo_store, "alice")
    made = service.create_key(
        "github", "gone-early", expires_at=datetime.now(UTC) + timedelta(days=60)
    )
    service.revoke_key(made.key.public_key)
    asked_while_closing = _asked_while_closing(monkeypatch)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await go_to_integration(pilot, "github")
        table = screen.query_one("#keys", DataTable)
        headings = [str(c.label) for c in table.columns.values()]
        assert headings == ["Label", "Public key", "Status", "Last used"], ("80x24", headings)
        # What is left out is in the highlighted key's detail line.
        detail = str(screen.query_one("#key-detail", Static).render())
        assert "created" in detail and "by bob" in detail, ("80x24", detail)
        await pilot.resize_terminal(140, 36)
        await settle(pilot)
        headings = [str(c.label) for c in table.columns.values()]
        assert headings == [
            "Label", "Public key", "Status", "Last used", "Created", "By", "Revoked",
        ], ("140x36", headings)  # fmt: skip

        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        keys = screen.table.matched
        states = {key.is_active for key in keys}
        assert states == {True, False}, "the demo's github has active and revoked keys"
        for row, key in enumerate(keys):
            screen.table.move_cursor(row=row)
            await settle(pilot)
            offer = _footer_offer(screen)
            assert offer["Revoke"] is key.is_active and offer["Rotate"] is key.is_active, key
            if key.label == "gone-early":
                line = str(screen.query_one("#key-detail", Static).render())
                assert "revoked" in line and "expires" not in line, ("revoked early", line)
        assert "gone-early" in [key.label for key in keys], "revoked early: listed"

        screen.refresh_bindings()
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, IntegrationDetailScreen), "closing: left"
    assert asked_while_closing == [], "closing: not asked"


async def test_the_footer_is_rebuilt_only_when_what_it_offers_changes(make_app, footer_rebuilds):
    """Textual's footer rebuilds itself, a widget per key, after every
    refresh_bindings; keydesk's only when its keys or their state change."""
    rebuilds = footer_rebuilds
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = len(rebuilds)
        for _ in range(10):
            app.screen.refresh_bindings()
        await settle(pilot)
        assert len(rebuilds) == before  # nothing changed: nothing rebuilt
        await pilot.resize_terminal(70, 24)  # not all fit: the last keys go, ^p, ? and ^q stay
        await settle(pilot)
        assert len(rebuilds) == before + 1
        offer = _footer_offer(app.screen)
        assert "palette" in offer and "Help" in offer and "Quit" in offer
        assert "Members" not in offer


class _Filters(App[None]):
    CSS = "Input { height: 1; width: 20; }"

    def compose(self) -> ComposeResult:
        yield FilterInput(id="filter", compact=True)
        yield Input(id="plain", compact=True)


async def test_a_filter_longer_than_its_box_scrolls_as_any_input_does(monkeypatch):
    """The filter box keeps the cursor in view as Textual's Input does,
    without asking for a layout of the screen at each keystroke."""
    layouts: list[bool] = []
    refresh = FilterInput.refresh

    def recorded(self, *regions, **flags):
        layouts.append(flags.get("layout", False))
        return refresh(self, *regions, **flags)

    monkeypatch.setattr(FilterInput, "refresh", recorded)
    app = _Filters()
    async with app.run_test(size=(40, 6)) as pilot:
        seen: dict[str, list[object]] = {}
        for name in ("filter", "plain"):
            box = app.query_one(f"#{name}", Input)
            box.focus()
            await pilot.pause()
            steps = [(*"abcdefghijklmnopqrstuvwxyz0123456789",), ("home",), ("end",)]
            steps.append(("backspace",) * 30)
            for keys in steps:
                await pilot.press(*keys)
                await pilot.pause()
                seen.setdefault(name, []).append(
                    (box.value, box.scroll_offset, box.cursor_screen_offset.x)
                )
        assert seen["filter"] == seen["plain"]
        assert seen["filter"][0][1].x > 0  # it did scroll
    assert layouts and not any(layouts)


def _asked_while_closing(monkeypatch) -> list[str]:
    """What a closing integration page is asked: leaving a screen, a footer
    rebuild still pending must not ask it (check_action queries widgets the
    closing screen has already removed: a traceback, seen in 4 of 8
    key-burst runs)."""
    asked_while_closing: list[str] = []
    check = IntegrationDetailScreen.check_action

    def watched(self, action, parameters):
        if self._pruning:
            asked_while_closing.append(action)
        return check(self, action, parameters)

    monkeypatch.setattr(IntegrationDetailScreen, "check_action", watched)
    return asked_while_closing


async def test_a_screen_still_opening_offers_nothing_yet_instead_of_failing(make_app):
    """A key typed as a page opens (or the store opening meanwhile, which
    refreshes the footer) asks the page what it offers before its widgets
    exist: it offers nothing yet (it was a NoMatches traceback in tmux)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        integration = app.screen.highlighted()
        app.open_integration(integration)  # not awaited: the page is not composed yet
        page = app.screen
        assert isinstance(page, IntegrationDetailScreen) and not page.query("#tabs")
        assert page.check_action("revoke", ()) is None
        await settle(pilot)
        assert page.check_action("generate", ()) is True


async def test_a_resize_keeps_the_integration_list_on_the_row_it_was_on(make_app):
    """Resized while an integration's page was open, the list came back with
    its first row highlighted, and g then made a key for that one instead."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listed = app.screen
        await pilot.press("end", "enter")  # okta-sso, the last row
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen)
        opened = app.screen.integration.name
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is listed and listed.highlighted().name == opened
        await pilot.resize_terminal(60, 20)  # and on the list itself
        await settle(pilot)
        assert listed.highlighted().name == opened


async def test_below_60x20_no_key_acts_and_a_question_counts_once_it_can_be_read(
    make_app, demo_store
):
    """Under the "too small" line `x` then `r` revoked a key no one saw (a
    question drawn there counted as on screen). Below 60x20 every key but
    ctrl+q is dropped; a question on screen before the shrink takes its
    answer once the terminal is large enough again; one first drawn under
    the line counts only from when it is drawn in full."""
    app = make_app()
    alice = KeyService(demo_store, "alice")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        table = app.screen.focused
        for shrunk in [(59, 20), (80, 19)]:
            await pilot.resize_terminal(*shrunk)
            await settle(pilot)
            for typed in ["x", "r", "t", "enter", "d", "D"]:
                await _keys(pilot, typed)
            assert isinstance(app.screen, IntegrationDetailScreen), shrunk
            await pilot.resize_terminal(80, 24)
            await settle(pilot)
            # Hidden, the table lost the focus, and j/k moved nothing: given back.
            assert app.screen.focused is table, (shrunk, app.screen.focused)
        await _keys(pilot, "x")
        assert app.screen.id == "revoke-confirm"
        await pilot.resize_terminal(59, 20)
        await settle(pilot)
        await _keys(pilot, "r")
        assert alice.key(key.public_key).is_active
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await _keys(pilot, "r")
        assert not alice.key(key.public_key).is_active

        await _keys(pilot, "g")
        await _keys(pilot, *"un")
        await pilot.resize_terminal(59, 24)
        await settle(pilot)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await _keys(pilot, *"seen")  # into the name field still: not lost
        assert app.screen.query_one("#label", Input).value == "unseen"
        await _keys(pilot, "enter")
        assert isinstance(app.screen, KeyCreatedScreen)
        await pilot.resize_terminal(59, 20)
        await settle(pilot)
        await _keys(pilot, "ctrl+q")  # quits even here: it asks, under the line
        assert app.screen.id == "leave-confirm"
        typed_unseen = events.Key("q", "q")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        app.post_message(typed_unseen)
        await settle(pilot)
        assert app.screen.id == "leave-confirm"
        said = [n.message for n in app._notifications]
        assert said[-1] == "“q” was typed before this question was on screen: read it, then answer."
        await _keys(pilot, "q")
    assert app.return_code is not None  # the answer read on screen quits
