"""Type-ahead (keydesk.tui.typeahead): keys sent in one burst, as a slow SSH
link delivers them, reach the screen and the field they were typed for."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.typeahead import AltKeysParser, as_typed
from tests.tui.screenshots import burst, open_integration, settle, settle_long


async def test_g_a_label_and_enter_in_one_burst_create_the_key(make_app):
    """From the list, and from a key's page, where g did nothing and the
    label's letters were the page's keys: "rotate-test" rotated the key
    (t, then Enter chose the overlap) (#21 walk)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "g|ci-burst|enter")
        await settle_long(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert app.screen._key.label == "ci-burst"
        await pilot.press("c", "d")  # Done: the tab, the new key highlighted
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyScreen) and page.key.label == "ci-burst"
        burst(app, "g|rotate-test|enter")
        await settle_long(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        assert app.screen._key.label == "rotate-test"
        assert app.calls.key(page.key.public_key).replaced_by is None  # not rotated


async def test_keys_typed_behind_a_refused_g_are_dropped(make_app):
    """`g` on a draft integration says why it cannot; the label and Enter
    typed with it were for the form it would have opened. They acted on the
    list: the label's `e` opened the draft's edit form, Enter saved it (#21
    walk: a draft saved as configured)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listing = app.screen
        draft = next(i for i in listing._integrations if i.status.value == "draft")
        listing.table.move_cursor(row=listing.table.get_row_index(str(draft.id)))
        burst(app, "g|edit-me|enter")
        await settle_long(pilot)
        assert app.screen is listing, app.screen  # no edit form, no Members page
        assert app.calls.integration(draft.id) == draft  # untouched


async def test_tab_in_a_burst_moves_field_by_field(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        burst(app, "a")
        await settle_long(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        burst(app, "stripe|tab|Stripe|tab|ca_123|tab|https://app.example.com/cb")
        await settle_long(pilot)
        values = [field.value for field in app.screen.query(Input)][:4]
        assert values == ["stripe", "Stripe", "ca_123", "https://app.example.com/cb"]


def _read(typed: str) -> list[tuple[str, str | None]]:
    """The keys the terminal driver's parser reads from `typed` arriving at once."""
    parser = AltKeysParser()
    keys = [*parser.feed(typed), *parser.feed("")]  # "": the input ends, ESC waits no more
    return [(key.key, key.character) for key in keys]


def test_escape_then_a_key_at_once_is_read_as_alt_and_that_key():
    """Textual read ESC `/` as `/` (the Escape lost): it is Alt+/ as ESC g is Alt+g."""
    assert _read("\x1b/gate") == [("alt+slash", "/"), *((c, c) for c in "gate")]
    assert _read("\x1bg") == [("alt+g", "g")]
    assert _read("\x1b3") == [("alt+3", "3")]  # Textual: `£` (Option+3 on a Mac)
    assert _read("\x1b\x1b") == [("escape", "\x1b"), ("escape", "\x1b")]


def test_escape_then_enter_tab_or_a_control_key_at_once_is_both_keys():
    """Textual read ESC Enter as Enter, ESC Tab as shift+Tab and ESC ^P as
    ^P: help stayed open, a form stayed, the palette opened over a dialog.
    ESC Backspace stays Alt+Backspace, which deletes a word."""
    assert _read("\x1b\r") == [("escape", "\x1b"), ("enter", "\r")]
    assert _read("\x1b\t") == [("escape", "\x1b"), ("tab", "\t")]
    assert _read("\x1b\x10") == [("escape", "\x1b"), ("ctrl+p", "\x10")]
    assert _read("\x1b\x7f") == [("ctrl+w", None)]
    assert _read("\x1b[A") == [("up", None)]


def test_an_alt_key_nothing_binds_is_escape_then_the_key():
    def nothing_bound(_key: str) -> bool:
        return False

    typed = as_typed(events.Key("alt+slash", "/"), nothing_bound)
    assert [(key.key, key.character) for key in typed] == [("escape", "\x1b"), ("slash", "/")]
    typed = as_typed(events.Key("alt+shift+g", "G"), nothing_bound)
    assert [(key.key, key.character) for key in typed] == [("escape", "\x1b"), ("G", "G")]
    bound = events.Key("alt+backspace", None)
    assert as_typed(bound, lambda key: key == "alt+backspace") == [bound]


async def test_bursts_on_an_integrations_page_reach_the_screen_they_were_typed_for(make_app):
    """One walk on github's page at 80x24, each burst after the last:
    - typed while keydesk starts, Enter reaches it as ^J (the terminal was
      not raw yet, so it turned CR into NL): `/github` and two of them open github;
    - tmux `send-keys Escape 1` in the revoke dialog left it open (Textual
      read ESC 1 as `¡`): the dialog closes and 1 shows the Overview tab;
    - tmux `send-keys Escape /gate` on a key's page: the driver reads Alt+/;
      Escape leaves the page, and `/gate` filters the API Keys tab;
    - `/` then `rot` at once: on the Overview tab the API Keys tab shows
      with `rot` in its filter (`t` did not open "Rotate API key?"); on the
      Audit tab its trail's filter takes it, the tab kept."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("slash", *"github", "ctrl+j", "ctrl+j"):
            character = {"slash": "/", "ctrl+j": "\n"}.get(key, key)
            app.post_message(events.Key(key, character))
        await settle_long(pilot)
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen), ("^J: github", detail)
        assert detail.integration.name == "github", "^J: github"

        await pilot.press("x")
        await settle(pilot)
        assert app.screen is not detail, "ESC 1: the revoke dialog"
        for key in _read("\x1b1"):
            app.post_message(events.Key(*key))
        await settle_long(pilot)
        assert app.screen is detail, "ESC 1: the dialog closed"
        assert detail.tabs.active == "overview", ("ESC 1: Overview", detail.tabs.active)

        await pilot.press("2")
        await settle(pilot)
        detail.table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen), "ESC /gate: a key's page"
        app.post_message(events.Key("alt+slash", "/"))
        burst(app, "gate")
        await settle_long(pilot)
        assert app.screen is detail, "ESC /gate: the page left"
        assert detail.key_filter.value == "gate", ("ESC /gate", detail.key_filter.value)

        for tab, box in (("3", "#audit-filter"), ("1", "#key-filter")):
            detail.key_filter.value = ""
            detail.table.focus()
            await pilot.press(tab)
            await settle(pilot)
            assert detail.tabs.active != "api-keys", ("/rot", tab)
            app.post_message(events.Key("slash", "/"))
            burst(app, "rot")
            await settle_long(pilot)
            filter_box = detail.query_one(box, Input)
            assert app.screen is detail and filter_box.has_focus, ("/rot: focus", tab)
            assert filter_box.value == "rot", ("/rot: value", tab, filter_box.value)
            assert detail.tabs.active == ("audit" if tab == "3" else "api-keys"), ("/rot", tab)


async def test_typing_past_a_fields_limit_then_tab_leaves_the_next_text_in_the_next_field(
    make_app,
):
    """`a`, 70 letters, Tab, `Stripe` in one burst: the refusal of the 65th
    letter put the cursor back in Name, and Stripe replaced it."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        burst(app, "a|" + "q" * 70 + "|tab|Stripe")
        await settle_long(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        values = [field.value for field in app.screen.query(Input)][:2]
        assert values == ["q" * 64, "Stripe"]


async def test_keys_typed_just_after_a_refused_key_are_dropped_too(make_app):
    """`g` refused on a draft, and `edge-prod` delivered a moment later by a
    slow link: its `e` opened the draft's edit form, the rest went into a
    field and its Enter saved the form. Keys typed within 0.3 s of a
    refusal are dropped (Escape and help aside); those typed after act."""
    from keydesk.tui.screens.integrations import IntegrationsScreen

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        listed = app.screen
        assert isinstance(listed, IntegrationsScreen)
        await pilot.press("slash", *"okta", "enter")  # the draft alone, highlighted
        await settle(pilot)
        assert listed.highlighted().name == "okta-sso"
        await pilot.press("g")  # a draft: refused
        await pilot.press(*"edge-prod", "enter")
        await settle(pilot)
        assert app.screen is listed, app.screen
        said = [n.message for n in app._notifications]
        assert len(said) == 1 and "draft" in said[0], said
        await pilot.pause(0.6)  # read, then typed
        await pilot.press("e")
        await settle(pilot)
        assert app.screen is not listed  # the edit form: e acts again


async def test_help_typed_just_after_a_refused_key_still_opens(make_app):
    """`?` at once behind a refused `g`: help is never one of the keys dropped."""
    from keydesk.tui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"okta", "enter")  # the draft alone, highlighted
        await settle(pilot)
        await pilot.press("g", "question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen), app.screen


async def test_home_typed_behind_the_escape_that_clears_a_filter_goes_to_the_whole_lists_top(
    make_app,
):
    """`/api` Enter, `j`, then Escape and Home at once: Home reached the list
    still filtered (the filter waits for typing to pause) and highlighted
    its first row, api-gateway-prod, where the whole list's is CI Runner."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        page = app.screen
        first = page.highlighted_key().label
        await pilot.press("slash", *"api", "enter", "j")
        await settle(pilot)
        assert page.highlighted_key().label != first
        burst(app, "escape|home")
        await settle_long(pilot)
        assert not page.key_filter.value and page.highlighted_key().label == first
