"""The keys every TUI user expects: j/k and Home/End in every list, q to
leave a screen as Escape does (and to quit from the integration list)."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from keydesk.tui.screens.audit import AuditScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.widgets import KeyFooter, ListOptions, ListTable, ScopeList
from tests.support.tui_pages import go_to_create_form, go_to_integration
from tests.tui.screenshots import settle


async def test_j_k_home_and_end_move_through_the_api_keys_and_number_keys_show_the_tabs(make_app):
    """One walk on github's page: j, k, home and end move through the API
    keys; x, t and space on a revoked row say why they do nothing; the
    number keys show the tabs from any tab, and k stays in the list; then
    q and `/gate` typed in its filter are text (_typed_in_a_filter_is_text)."""
    from textual.widgets import DataTable

    from keydesk.tui.screens.help import key_rows

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await go_to_integration(pilot, "github")
        table = app.screen.query_one("#keys", ListTable)
        assert table.row_count > 2 and table.cursor_row == 0
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0

        # A dimmed key says why it does nothing: x, t and space on a revoked
        # row (the footer dims them; space said only "Select: not possible here now").
        screen = app.screen
        for _ in range(table.row_count):
            if not screen.highlighted_key().is_active:
                break
            await pilot.press("j")
        key = screen.highlighted_key()
        assert not key.is_active
        for press, verb in (("x", "revoked again"), ("t", "rotated"), ("space", "selected")):
            app.clear_notifications()
            await pilot.press(press)
            await settle(pilot)
            assert app.screen is screen
            said = [n.message for n in app._notifications]
            assert said == [f"{key.public_key} is {key.status.value}: it cannot be {verb}."]

        await pilot.press("3")  # the Audit tab: its table has the focus
        await settle(pilot)
        audit = screen.query_one("#audit DataTable", DataTable)
        assert screen.tabs.active == "audit" and screen.focused is audit
        await pilot.press("j", "j", "k")
        assert screen.tabs.active == "audit" and audit.cursor_row == 1
        for key_, tab in (("2", "api-keys"), ("1", "overview"), ("3", "audit"), ("2", "api-keys")):
            await pilot.press(key_)
            await settle(pilot)
            assert screen.tabs.active == tab
        rows = dict(key_rows(screen))
        assert rows["1"].startswith("Overview tab") and rows["2"] == "API Keys tab"
        assert rows["3"].startswith("Audit tab")
        await _typed_in_a_filter_is_text(pilot)


async def _typed_in_a_filter_is_text(pilot) -> None:
    """On github's keys: q typed in a filter is text, not a way out;
    `/gate` typed in one burst on a tab of a few keys: the filter gets
    `gate`, and `g` does not open the create form."""
    app = pilot.app
    screen = app.screen
    assert isinstance(screen, IntegrationDetailScreen) and screen.tabs.active == "api-keys"
    await pilot.press("slash", "q")
    await settle(pilot)
    assert isinstance(app.screen, IntegrationDetailScreen), "q: still on github"
    assert app.screen.focused.value == "q", "q: in the filter"
    await pilot.press("escape")  # clears the filter, back on the keys
    await settle(pilot)
    assert app.screen is screen and not screen.key_filter.value, "q: cleared"

    assert screen.query_one("#keys", ListTable).row_count < 9, "gate: a short list"
    await pilot.press("slash", *"gate")
    await settle(pilot)
    assert app.screen is screen, "gate: g did not open the form"
    assert screen.key_filter.value == "gate", ("gate", screen.key_filter.value)


async def test_j_and_k_move_on_the_lists_and_q_leaves_members_and_the_audit_trail(make_app):
    """One walk from the integration list: j and k move on it; Members was a
    plain DataTable (j did nothing, and q did not leave): it moves with j, k,
    home and end, and q leaves it; q closes the audit trail too. Back on the
    list, g on a draft says why, and help says what the key counts are
    (_the_lists_refusal_and_help)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#integrations", ListTable)
        await pilot.press("j")
        assert table.cursor_row == 1, "list: j"
        await pilot.press("end", "k")
        assert table.cursor_row == table.row_count - 2, "list: end k"

        await pilot.press("m")
        await settle(pilot)
        members = app.screen
        table = members.query_one("#members", ListTable)
        assert table.row_count > 2 and table.cursor_row == 0, "members: opened"
        await pilot.press("j")
        assert table.cursor_row == 1, "members: j"
        await pilot.press("end", "k")
        assert table.cursor_row == table.row_count - 2, "members: end k"
        await pilot.press("home")
        assert table.cursor_row == 0, "members: home"
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen) and app.is_running, "members: q"

        app.show_audit()
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen), "audit: opened"
        await pilot.press("j", "end", "home", "q")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen), "audit: q closes it"
        await _the_lists_refusal_and_help(pilot)


async def _the_lists_refusal_and_help(pilot) -> None:
    """On the integration list: g on a draft says why; help explains the
    Active column's "1 (1 expiring)" (it said "exp", read as expired), which
    was explained nowhere on screen, and lists q with ctrl+q, which do the
    same here (two rows, "Quit keydesk (as ctrl+q)" and "Quit keydesk")."""
    from keydesk.tui.screens.help import HelpScreen
    from keydesk.views import EXPIRING_SOON

    app = pilot.app
    screen = app.screen
    assert isinstance(screen, IntegrationsScreen), ("list", screen)
    table = screen.query_one("#integrations", ListTable)
    await pilot.press("home")
    for _ in range(table.row_count):
        if screen.highlighted().name == "okta-sso":
            break
        await pilot.press("down")
    app.clear_notifications()
    await pilot.press("g")
    await settle(pilot)
    assert app.screen is screen, "g on a draft: stays"
    [said] = [n.message for n in app._notifications]
    assert said.startswith("okta-sso is a draft, no keys yet: configuring it needs"), said

    await pilot.press("question_mark")
    await settle(pilot)
    assert isinstance(app.screen, HelpScreen), "help"
    rows = dict(app.screen._rows)
    assert rows["q / ^q"] == "Quit keydesk" and "q" not in rows and "^q" not in rows, rows
    notes = dict(app.screen._notes)
    assert f"within {EXPIRING_SOON.days} days" in notes["Active"], ("help", notes)
    assert notes["Active"].endswith("4 (1 expiring)"), ("help", notes)
    assert "Keys that work" in notes["Active"], ("help", notes)


async def test_j_and_k_move_in_a_dialogs_choices_and_q_leaves_each_screen_as_escape_does(
    make_app,
):
    """One walk at 80x24. The rotation's overlap and the workspace switch:
    j/k move as in every list (they did nothing: 'j j Enter' chose the
    default 24 hours), and stop at the ends. q leaves each screen as Escape
    does (a key's page, then github's), and quits from the integration list."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_integration(pilot, "github")
        await pilot.press("t")  # the first row is active: its rotation asks the overlap
        await settle(pilot)
        choices = app.screen.query_one(ListOptions)
        start = choices.highlighted
        await pilot.press("j")
        assert choices.highlighted == start + 1, "overlap: j"
        await pilot.press("k", "k")
        assert choices.highlighted == start - 1, "overlap: k k"
        # Stopped at the ends: past '7 days' it wrapped to 'now: the old key
        # stops at once' (and past 'viewer' to 'owner').
        await pilot.press(*"j" * choices.option_count, "down")
        assert choices.highlighted == choices.option_count - 1, "overlap: stops at the end"
        await pilot.press(*"k" * choices.option_count, "up")
        assert choices.highlighted == 0, "overlap: stops at the top"
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("enter")  # the key's page
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen), "q: the key's page"
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen), "q: leaves the key's page"
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen), "q: leaves github's page"

        await pilot.press("w")
        await settle(pilot)
        footer = [key.description for key in app.screen.query_one(KeyFooter).query(FooterKey)]
        assert "Choose" in footer, ("switch: Enter in its footer", footer)
        hint = str(app.screen.query_one("#new-workspace").render())  # where another comes from
        assert hint == "To make another, run keydesk init --workspace NAME (you will own it)."
        switch = app.screen
        await pilot.press("q")  # as Escape, as ? says ("esc / q  Back")
        await settle(pilot)
        assert app.screen is not switch and isinstance(app.screen, IntegrationsScreen), "switch: q"
        assert app.workspace.name == "acme", "switch: q chose nothing"
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("j", "enter")
        await settle(pilot)
        assert app.workspace.name == "globex", "switch: j chose the next"
        assert isinstance(app.screen, IntegrationsScreen), "q: on the list"
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 0 and not app.is_running, "q: quits from the list"


async def test_ticked_and_unticked_scopes_differ_in_their_characters(make_app):
    """Under NO_COLOR a colour says nothing: the box's character must."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await go_to_create_form(pilot, "github")
        scopes = app.screen.query_one("#scopes", ScopeList)
        scopes.deselect_all()
        scopes.select(scopes.get_option_at_index(0).value)
        await settle(pilot)
        boxes = ["".join(s.text for s in scopes.render_line(y))[:3] for y in range(2)]
        assert boxes[0] != boxes[1] and "X" in boxes[0] and "X" not in boxes[1]


async def test_a_message_never_covers_the_highlighted_keys_line(make_app):
    from textual.widgets._toast import Toast

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await go_to_integration(pilot, "github")
        app.notify("Revoked kdpk_AAAAAAAAAAAAAAAA (api-gateway-prod)", markup=False)
        for _ in range(20):
            await pilot.pause(0.05)
            toasts = list(app.screen.query(Toast))
            if toasts and toasts[0].region.height:
                break
        detail = app.screen.query_one("#key-detail").region
        assert toasts and all(not toast.region.overlaps(detail) for toast in toasts)


def test_no_screen_binds_a_key_its_lists_move_with():
    """A screen's key that a list also takes never reaches the screen while
    the list has focus (k for the API Keys tab moved up in the Audit table)."""
    import importlib
    import pkgutil

    from textual.screen import Screen

    import keydesk.tui.screens as screens

    list_keys = {key for binding in ListTable.BINDINGS for key in binding.key.split(",")}
    for module in pkgutil.iter_modules(screens.__path__):
        importlib.import_module(f"{screens.__name__}.{module.name}")
    seen, clashes = 0, {}
    pending: list[type] = [Screen]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.startswith("keydesk.tui"):
            seen += 1
            keys = {k for b in cls.BINDINGS for k in b.key.split(",")}  # type: ignore[union-attr]
            if keys & list_keys:
                clashes[cls.__name__] = keys & list_keys
    assert seen > 10 and clashes == {}


def _escape_says(screen) -> str:
    """What the footer names Escape's action (esc is Escape's key display)."""
    return next(
        key.description
        for key in screen.query_one(KeyFooter).query(FooterKey)
        if key.key == "escape"
    )


async def test_the_footer_names_what_escape_does_while_a_filter_or_a_selection_holds(make_app):
    """After `/`, a filter and Enter the footer said "esc Back" while Escape
    emptied the filter, and with keys selected it unselected them: the
    footer says "Clear filter" and "Unselect" then, on each screen with a
    filter, and "Back" once there is nothing to clear."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await go_to_integration(pilot, "github")
        detail = app.screen
        assert _escape_says(detail) == "Back", "keys: nothing typed"
        await pilot.press("slash", *"ci", "enter")
        await settle(pilot)
        assert _escape_says(detail) == "Clear filter", "keys: filtered, Enter"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail and detail.key_filter.value == "", "keys: escape cleared"
        assert _escape_says(detail) == "Back", "keys: cleared"
        await pilot.press("space")
        await settle(pilot)
        assert detail.table.selected and _escape_says(detail) == "Unselect", "keys: selected"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail and not detail.table.selected, "keys: escape unselected"
        assert _escape_says(detail) == "Back", "keys: unselected"
        await pilot.press("escape", "m")
        await settle(pilot)
        for what, screen in (("members", app.screen), ("audit", None)):
            if screen is None:
                await pilot.press("escape")
                app.show_audit()
                await settle(pilot)
                screen = app.screen
                assert isinstance(screen, AuditScreen)
            await pilot.press("slash", *"bob", "enter")
            await settle(pilot)
            assert _escape_says(screen) == "Clear filter", (what, "filtered, Enter")
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen and _escape_says(screen) == "Back", (what, "cleared")


async def test_the_overview_footer_offers_the_keys_its_line_names(make_app):
    """The Overview says "e edit settings  ·  d disable": its footer offers
    e and d there (they were hidden: the line named keys the footer did not)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await go_to_integration(pilot, "github")
        await pilot.press("1")
        await settle(pilot)
        offered = {key.key for key in app.screen.query_one(KeyFooter).query(FooterKey)}
        assert {"e", "d"} <= offered, offered
        await pilot.press("2")
        await settle(pilot)
        offered = {key.key for key in app.screen.query_one(KeyFooter).query(FooterKey)}
        assert not {"e", "d"} & offered, offered  # the API Keys tab's own keys there


async def test_moving_in_a_list_with_no_row_does_nothing(make_app):
    """k or End on an empty list (a new store's, a filter matching nothing)
    ended keydesk with a traceback: Textual highlighted row -1, keyed None."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzz", "enter")
        await settle(pilot)
        screen = app.screen
        for key in ("k", "end", "up", "j", "home", "down", "pagedown", "pageup"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen and app.is_running, key
