"""The flow should feel obvious: focus where the work is,
screens that are never stale, forms that say what they need, a palette
that offers only what the account may do, and every key discoverable."""

from __future__ import annotations

from textual import events
from textual.notifications import Notify
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, OptionList, Select, Static
from textual.widgets._footer import FooterKey

from keydesk.service import KeyService
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.help import HelpScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.widgets import Pairs
from tests.support.tui_pages import go_to_integration
from tests.tui.screenshots import past_refusal, settle
from tests.tui.test_typeahead import burst


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


# -- 9. focus where the work is --------------------------------------------------------


async def test_focus_is_on_the_keys_and_github_is_never_stale(make_app, demo_store):
    """One walk on github at 100x30. Opening it focuses its keys, x acts on
    the row under the cursor at once, and the tabs give the table its focus
    back. A key made elsewhere is listed once the page is visible again, and
    the list's count with it. A refusal that reveals a stale row (revoked
    from the command line) refreshes it, without a pointless question."""
    app = make_app()
    posted = []
    async with app.run_test(size=(100, 30), message_hook=posted.append) as pilot:
        screen = await go_to_integration(pilot, "github")
        assert screen.focused is screen.table, "focus: the keys"
        first = screen.highlighted_key()
        await pilot.press("down")
        second = screen.highlighted_key()
        assert second != first, "focus: down moves"
        await pilot.press("x")  # acts on the row under the cursor, at once
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "focus: x asks"
        assert second.public_key in _text(app.screen, ".dialog-line"), "focus: x's row"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert screen.focused is not screen.table, "focus: Overview"
        await pilot.press("2")  # back on API Keys: the table again
        await settle(pilot)
        assert screen.focused is screen.table, "focus: API Keys again"

        KeyService(demo_store, "bob").create_key("github", "made-elsewhere")
        await pilot.press("e")  # another screen over it, then back
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        listed = [k.label for k in screen.listed_keys()]
        assert "made-elsewhere" in listed, ("fresh: the page", listed)
        await pilot.press("escape")
        await settle(pilot)
        table = app.screen.query_one("#integrations", DataTable)
        assert str(table.get_cell_at((0, 3))) == "3", "fresh: the list's count"

        screen = await go_to_integration(pilot, "github")
        key = screen.highlighted_key()
        assert key.is_active, "stale: an active key"
        KeyService(demo_store, "bob").revoke_key(key.public_key)  # from the command line
        notes = len(posted)
        await pilot.press("x")
        await settle(pilot)
        assert app.screen is screen, "stale: no pointless question"
        (message,) = [m.notification.message for m in posted[notes:] if isinstance(m, Notify)]
        assert "already revoked" in message and "bob" in message, ("stale", message)
        fresh = screen.highlighted_key()
        assert fresh.public_key == key.public_key, "stale: the same row"
        assert fresh.status == "revoked", ("stale: refreshed", fresh.status)
        row = screen.table.cursor_row
        assert str(screen.table.get_cell_at((row, 2))) == "revoked", "stale: its cell"


async def test_an_integration_with_no_keys_focuses_generate(make_app, demo_store):
    KeyService(demo_store, "alice").add_integration(
        "acme", "fresh", "GitHub", client_id="c", redirect_uri="https://x.example/cb",
        configure=True,
    )  # fmt: skip
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await go_to_integration(pilot, "fresh")
        assert app.screen.focused is app.screen.generate_button
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CreateKeyScreen)
        # Done lands on the table, not on the button the empty page focused:
        # j and k stayed dead there, and x revoked the top key, not the one
        # j had been pressed to reach (walk of #21, 80x24).
        for label in ("first", "second"):
            if label == "second":
                await pilot.press("g")
            await pilot.press(*label, "ctrl+s")
            await settle(pilot)
            await pilot.press("c", "d")
            await settle(pilot)
            detail = app.screen
            assert isinstance(detail, IntegrationDetailScreen)
            assert detail.focused is detail.table
        await pilot.press("j")
        assert (key := detail.highlighted_key()) is not None and key.label == "first"


# -- 10. never stale -------------------------------------------------------------------


# -- 11. forms say what they need ------------------------------------------------------


async def _add_form(pilot) -> IntegrationFormScreen:
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, IntegrationFormScreen)
    return form


async def test_a_new_integration_is_a_draft_until_its_settings_are_filled(make_app, demo_store):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        form = await _add_form(pilot)
        box = form.query_one("#configure", Checkbox)
        assert box.value is False
        assert "unticked: a draft, no keys yet" in str(box.label)  # what unticked means
        await pilot.press(
            *"gitlab", "tab", *"GitLab", "tab", *"gl-client", "tab", *"https://x.example/cb"
        )
        assert box.value is False  # as it was: filling the fields does not tick it
        await pilot.press("ctrl+s")  # saves a draft, no questions, and says so
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen)
        said = [n.message for n in app._notifications]
        assert said[-1] == "gitlab saved as a draft, no keys yet: c configures it."
    assert KeyService(demo_store, "alice").integration("gitlab").status == "draft"


async def test_the_configure_box_changes_only_by_hand_and_a_typed_ahead_space_ticks_it(
    make_app, demo_store
):
    """It ticked itself once client ID and redirect URI were filled, so the
    Space typed ahead to tick it unticked it: saved as a draft, silently."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        burst(app, "a|gh1|tab|GitHub|tab|cid|tab|https://a.example/cb|tab|read|tab")
        app.post_message(events.Key("space", " "))
        app.post_message(events.Key("ctrl+s", "\x13"))
        for _ in range(10):
            await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen)
        said = [n.message for n in app._notifications]
        assert said[-1] == "gh1 saved (configured)."
        assert KeyService(demo_store, "alice").integration("gh1").is_configured

        form = await _add_form(pilot)
        form.query_one("#configure", Checkbox).focus()
        await pilot.press("space", "ctrl+s")  # ticked by hand, with nothing filled in
        await settle(pilot)
        error = _text(form, "#add-error")
        assert "client id and redirect URI" in error and "untick" in error
        assert app.screen is form
        assert form.focused is form.query_one("#client-id")  # the fix typed goes there


async def test_a_refused_save_puts_the_cursor_in_the_field_at_fault(make_app):
    """ctrl+s from the ticked box, an http:// redirect URI refused: the
    focus stayed on the box, so the fix typed went nowhere, silently."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        form = await _add_form(pilot)
        await pilot.press(
            *"gl", "tab", *"GitLab", "tab", *"cid", "tab", *"http://x.example/cb", "tab"
        )
        form.query_one("#configure", Checkbox).focus()
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        assert _text(form, "#add-error").startswith("The redirect URI")
        assert form.focused is form.query_one("#redirect-uri")


async def test_a_draft_says_why_it_refuses_and_what_is_missing_and_edits_save_all_or_nothing(
    make_app, demo_store
):
    """One walk at 100x30. On okta-sso (a client id, no redirect URI), its
    refused keys say why and help says the same
    (_refused_keys_on_a_draft_say_why_and_help_says_the_same); c says what
    is missing and e there opens its settings, the fields bordered and the
    focused one standing out. The edit form saves all or nothing (#8 item
    15: settings and configure in one call; clearing is a change), there
    and on github's."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await go_to_integration(pilot, "okta-sso")
        await _refused_keys_on_a_draft_say_why_and_help_says_the_same(pilot)
        await pilot.press("escape")  # closes help
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen), "configure: asks"
        lines = " ".join(str(line.render()) for line in dialog.query(".dialog-line"))
        assert "redirect URI" in lines and "client id" not in lines, ("configure", lines)
        await pilot.press("e")  # Edit settings, in one key
        await settle(pilot)
        assert isinstance(app.screen, IntegrationFormScreen), "configure: e edits"
        assert app.screen.focused.id == "redirect-uri", "configure: in the missing field"
        # The fields have borders, and the focused one stands out.
        form = app.screen
        focused = form.focused
        assert isinstance(focused, Input) and focused.id == "redirect-uri", "borders"
        assert focused.border_title == "Redirect URI", "borders: its title"
        others = [f for f in form.query(Input) if f is not focused]
        assert {f.styles.border_top[0] for f in others} == {"round"}, "borders"
        assert focused.styles.border_top[0] == "heavy", "borders: focused"  # not a colour only

        form.query_one("#scopes", Input).value = "openid groups"
        box = form.query_one("#configure", Checkbox)
        box.focus()
        await pilot.press("space")  # configure, though the redirect URI is missing
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form, "all or nothing: refused"
        saved = KeyService(demo_store, "alice").integration("okta-sso").scopes
        assert saved == "", ("all or nothing: nothing saved", saved)

        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")  # discard the unsaved scopes (it asks)
        await settle(pilot)
        await pilot.press("escape")
        await go_to_integration(pilot, "github")
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        form.query_one("#client-id", Input).value = ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form, "clearing: refused"
        assert "keys depend on its client id" in _text(form, "#add-error"), "clearing: why"
    assert KeyService(demo_store, "alice").integration("github").client_id


async def _refused_keys_on_a_draft_say_why_and_help_says_the_same(pilot) -> None:
    """g, t and x on a draft with no keys said "New key: not possible here
    now"; each says why (a draft: what configuring it needs; no key yet:
    nothing to revoke), and ? gives the same reason instead of "not available"."""
    app = pilot.app
    screen = app.screen
    assert isinstance(screen, IntegrationDetailScreen), ("refused: okta-sso", screen)
    await pilot.press("2")  # the API Keys tab: empty
    await settle(pilot)
    draft = "okta-sso is a draft, no keys yet: configuring it needs its redirect URI; e fills it in"
    for press, why in (
        ("g", draft),
        ("t", draft),
        ("x", "No key to revoke: okta-sso has none yet"),
    ):
        app.clear_notifications()
        await pilot.press(press)
        await settle(pilot)
        assert app.screen is screen, ("refused", press)
        said = [n.message for n in app._notifications]
        assert said == [why + "."], ("refused", press, said)
        await past_refusal(pilot)
    await pilot.press("question_mark")
    await settle(pilot)
    assert isinstance(app.screen, HelpScreen), "refused: help"
    said = dict(app.screen._rows)
    assert said["g"].endswith(f"({draft})"), ("help", said["g"])
    assert said["x"].endswith("(no key to revoke: okta-sso has none yet)"), (
        "help",
        said["x"],
    )  # an aside


async def test_choose_an_integration_shows_under_the_picker_and_goes(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.generate_key()  # two integrations can take keys: nothing preselected
        await settle(pilot)
        form = app.screen
        await pilot.press(*"prod", "enter")
        await settle(pilot)
        assert _text(form, "#integration-error") == "Choose an integration."
        assert not form.query_one("#label-error").display
        select = form.query_one("#integration", Select)
        select.value = next(value for _prompt, value in select._options if value != Select.NULL)
        await settle(pilot)
        assert not form.query_one("#integration-error").display


# -- 12. the palette offers what the account may do -----------------------------------


async def _palette(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*query)
    options = pilot.app.screen.query_one(OptionList)
    for _ in range(40):
        await pilot.pause(0.05)
        if options.option_count:
            break
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


async def test_a_viewer_is_not_offered_generate_and_its_refused_keys_say_why(make_app):
    """One walk as carol, a viewer: Generate is offered neither on the list
    nor on github's page, where its button says why it is off; g, t and x
    (hidden from a viewer; pressing one said nothing) each say that the
    role cannot, and x opens no revoke."""
    app = make_app("carol")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        offered = await _palette(pilot, "Generate API")
        assert not any(o.startswith("Generate API key") for o in offered), ("list", offered)
        await pilot.press("escape")
        await settle(pilot)
        [scan] = [o for o in await _palette(pilot, "Scan for leaked") if o.startswith("Scan")]
        assert "see which still work" in scan and "revoke" not in scan, scan  # it cannot
        await pilot.press("escape")
        await settle(pilot)
        app.clear_notifications()
        await pilot.press("a")  # Add integration: hidden, and said why (it said nothing)
        await settle(pilot)
        await past_refusal(pilot)
        [said] = [n.message for n in app._notifications]
        assert said == (
            "You are a viewer in acme; only owners and admins add integrations. "
            "Ask an owner to change your role."
        ), said
        screen = await go_to_integration(pilot, "github")
        # The generate button says why it is off.
        assert app.screen.query_one("#generate", Button).disabled, "github: button off"
        assert "viewer" in _text(app.screen, "#keys-gate"), "github: why"
        offered = await _palette(pilot, "Generate API")
        assert not any(o.startswith("Generate API key") for o in offered), ("github", offered)
        await pilot.press("escape")
        await settle(pilot)
        for press in ("g", "t", "x"):
            app.clear_notifications()
            await pilot.press(press)
            await settle(pilot)
            assert app.screen is screen, (press, "no form, no dialog")  # no revoke for viewers
            [said] = [n.message for n in app._notifications]
            done = {"g": "generate keys", "t": "rotate keys", "x": "revoke keys"}[press]
            assert said == (
                f"You are a viewer in acme; only owners and admins {done}. "
                "Ask an owner to change your role."
            ), (press, said)
            await past_refusal(pilot)


async def test_an_admin_is_offered_generate_only_where_it_works_and_help_lists_keys(make_app):
    """One walk: Generate is offered on github, not on a draft; then, on
    github's page, ? and f1 (_help_lists_every_key_of_the_screen)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await go_to_integration(pilot, "okta-sso")  # a draft
        offered = await _palette(pilot, "Generate API")
        assert not any(o.startswith("Generate API key") for o in offered), offered
        await pilot.press("escape")
        await pilot.press("escape")
        await go_to_integration(pilot, "github")
        offered = await _palette(pilot, "Generate API")
        assert any(o.startswith("Generate API key") for o in offered), offered
        await pilot.press("escape")
        await settle(pilot)
        await _help_lists_every_key_of_the_screen(pilot)


# -- 13. every key discoverable ---------------------------------------------------------


async def _help_lists_every_key_of_the_screen(pilot) -> None:
    """On github's page (the admin's walk goes on to it): help lists every
    key of the screen, and a dialog shows its own keys, not the screen's
    behind it."""
    app = pilot.app
    assert isinstance(app.screen, IntegrationDetailScreen), ("help: on github", app.screen)
    await pilot.press("x")
    await settle(pilot)
    dialog = app.screen
    assert isinstance(dialog, ConfirmScreen), "help: x asks"
    keys = [key.description for key in dialog.query_one(Footer).query(FooterKey)]
    # its own answers: r is the dialog's Revoke, t its Rotate instead
    assert keys == ["Cancel", "Rotate instead", "Revoke"], ("help: the dialog's keys", keys)
    assert not {"New key", "Rotate", "Filter"} & set(keys), ("help: not the screen's", keys)
    await pilot.press("escape")  # Cancel
    await settle(pilot)
    assert isinstance(app.screen, IntegrationDetailScreen), "help: Cancel"
    await pilot.press("question_mark")
    await settle(pilot)
    help_screen = app.screen
    assert isinstance(help_screen, HelpScreen), "help: ?"
    text = "\n".join(f"{keys} {what}" for keys, what in help_screen.query_one(Pairs).rows)
    for key, what in [
        ("/", "Filter keys"), ("r", "Read the keys"), ("p", "Copy the public key"),
        ("e", "Edit the OAuth settings"), ("x", "Revoke"), ("t", "Rotate"),
        ("^q", "Quit"), ("1", "Overview"), ("2", "API Keys tab"), ("3", "Audit"),
    ]:  # fmt: skip
        assert any(line.lstrip().startswith(key) and what in line for line in text.splitlines()), (
            key,
            what,
            text,
        )
    await pilot.press("escape")
    await settle(pilot)
    assert isinstance(app.screen, IntegrationDetailScreen), "help: escape closes it"
    await pilot.press("f1")
    await settle(pilot)
    assert isinstance(app.screen, HelpScreen), "help: f1"
    assert any(k.description == "Close" for k in app.screen.query(FooterKey)), "help: f1 Close"


async def _settled_palette(pilot, query: str) -> list[str]:
    """The palette's list once it stops changing (providers answer in turn)."""
    offered = await _palette(pilot, query)
    for _ in range(20):
        await pilot.pause(0.05)
        again = await _current_palette(pilot)
        if again == offered:
            break
        offered = again
    return offered


async def _current_palette(pilot) -> list[str]:
    options = pilot.app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


async def test_the_palette_puts_keydesks_commands_first_and_the_best_match_on_top(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        offered = await _settled_palette(pilot, "gen")
        assert offered[0].startswith("Generate API key")
        await pilot.press("escape")
        await settle(pilot)
        offered = await _settled_palette(pilot, "")
        assert offered[0].startswith("Generate API key")
        builtin = next(n for n, title in enumerate(offered) if title.startswith(("Quit", "Keys")))
        assert builtin > next(n for n, title in enumerate(offered) if "Audit trail" in title)


async def test_a_viewers_edit_configure_and_disable_say_the_role(make_app):
    """e and d on the list, e, c and d on the Overview: hidden from a viewer,
    and pressing one said nothing, where g and a said why."""
    app = make_app("carol")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        expected = (
            "You are a viewer in acme; only owners and admins edit, configure or "
            "disable integrations. Ask an owner to change your role."
        )
        for press in ("e", "d"):
            app.clear_notifications()
            await pilot.press(press)
            await settle(pilot)
            assert isinstance(app.screen, IntegrationsScreen)
            assert [n.message for n in app._notifications] == [expected], press
            await past_refusal(pilot)
        page = await go_to_integration(pilot, "github", "overview")
        for press in ("e", "c", "d"):
            app.clear_notifications()
            await pilot.press(press)
            await settle(pilot)
            assert app.screen is page
            assert [n.message for n in app._notifications] == [expected], press
            await past_refusal(pilot)


async def test_shift_tab_and_tab_in_a_form_stop_only_on_fields_and_buttons(make_app):
    """The form's scrolling body was a focus stop: Shift+Tab from Name
    landed on it, typing there went nowhere, and ctrl+s saved unchanged."""
    from textual.containers import VerticalScroll

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for opens in ("a", "g"):
            await pilot.press(opens)
            await settle(pilot)
            form = app.screen
            for _ in range(12):
                await pilot.press("shift+tab")
                assert not isinstance(form.focused, VerticalScroll), (opens, form.focused)
            await pilot.press("escape")
            await settle(pilot)
            while app.screen is not form and not isinstance(app.screen, IntegrationsScreen):
                await pilot.press("y")  # discard, if it asks
                await settle(pilot)
            assert isinstance(app.screen, IntegrationsScreen), (opens, app.screen)
