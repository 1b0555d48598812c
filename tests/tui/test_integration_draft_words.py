"""What keydesk says of a draft integration is true of the one at hand: its
missing settings are named only when some are missing, the key that goes on
is the one that does (c configures a complete draft, e fills in the rest),
and configuring promises keys working again only to a disabled integration
that has some."""

from __future__ import annotations

from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from keydesk.service import KeyService
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.widgets import KeyFooter
from tests.support.tui_pages import go_to_integration
from tests.tui.screenshots import past_refusal, settle

OKTA_ADVICE = "configuring it needs its redirect URI; e fills it in"


def _dialog_words(dialog: ConfirmScreen) -> str:
    return " ".join(str(line.render()) for line in dialog.query(".dialog-line").results(Static))


def _gate(page: IntegrationDetailScreen) -> str:
    return str(page.gate.render())


async def test_a_complete_draft_is_told_to_press_c_and_configuring_it_promises_no_old_keys(
    make_app, demo_store
):
    """Add integration, every field filled, at 60x20: it said "configure it"
    on saving, "configure it (client id and redirect URI) first" on its API
    Keys tab (both were given) and "its existing keys work again" when asked
    to configure (it has none)."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        fields = ["stripe", "Stripe", "ca_123", "https://app.example.com/cb", "read write"]
        for n, text in enumerate(fields):
            await pilot.press(*(["tab"] if n else []), *text)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen)
        said = [n.message for n in app._notifications]
        assert said[-1] == "stripe saved as a draft, no keys yet: c configures it.", said

        page = await go_to_integration(pilot, "stripe")
        gate = _gate(page)
        assert "client id" not in gate and "redirect URI" not in gate, gate
        assert "c configures it" in gate, gate

        await pilot.press("c")  # from the API Keys tab, as the gate says
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        words = _dialog_words(dialog)
        assert words == "Keys can then be generated for it.", words
        await pilot.press("enter")
        await settle(pilot)
        assert KeyService(demo_store, "alice").integration("stripe").is_configured


async def test_a_draft_missing_a_setting_names_only_that_one(make_app):
    """okta-sso has a client id, no redirect URI: saving its form (as it
    opened, or changed) and its API Keys tab name the redirect URI alone,
    and e as the way on."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        page = await go_to_integration(pilot, "okta-sso")
        gate = _gate(page)
        assert "redirect URI" in gate and "client id" not in gate and "e fills it in" in gate, gate
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        said = [n.message for n in app._notifications]
        unchanged = f"okta-sso: nothing changed; still a draft, no keys yet: {OKTA_ADVICE}."
        assert said[-1] == unchanged, said
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#scopes", Input).value = "openid"
        await pilot.press("ctrl+s")
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert said[-1] == f"okta-sso saved as a draft, no keys yet: {OKTA_ADVICE}.", said


async def test_configuring_a_disabled_integration_counts_the_keys_that_work_again(make_app):
    """legacy-slack is disabled with one active key: that one works again."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        page = await go_to_integration(pilot, "legacy-slack")
        assert page.integration.active_keys == 1
        assert "c configures it again" in _gate(page)
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        words = _dialog_words(dialog)
        assert words == ("Keys can be generated for it again, and its 1 active key works again."), (
            words
        )


async def test_a_drafts_advice_is_worded_once_wherever_it_is_given(make_app):
    """The list's g, the API Keys tab's line, its g and t, and ? gave three
    wordings ("This integration is a draft; configure it first (it needs
    its redirect URI)", "A draft (no keys yet): configuring needs its
    redirect URI; e fills it in", "okta-sso is a draft: no new key can be
    made; configure it first (c)", where c refuses): one now."""
    from keydesk.tui.screens.help import HelpScreen

    said = f"okta-sso is a draft, no keys yet: {OKTA_ADVICE}"
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        list_ = app.screen
        list_.table.move_cursor(row=[i.name for i in list_._integrations].index("okta-sso"))
        for where, keys in (("list", ("g",)), ("page", ("enter", "g", "t"))):
            for key in keys:
                app.clear_notifications()
                await pilot.press(key)
                await settle(pilot)
                if key != "enter":
                    assert [n.message for n in app._notifications] == [said + "."], (where, key)
                    await past_refusal(pilot)
        page = app.screen
        assert isinstance(page, IntegrationDetailScreen)
        assert _gate(page) == f"A draft, no keys yet: {OKTA_ADVICE}.", "the API Keys tab's line"
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert dict(app.screen._rows)["g"].endswith(f"({said})"), "help"


async def test_the_list_offers_the_key_a_rows_advice_names(make_app):
    """On the list, `g` on okta-sso says "e fills it in": the footer offers
    e there (and c on the disabled legacy-slack), and neither on github."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntegrationsScreen)
        names = [i.name for i in screen._integrations]
        offered = {}
        for name in ("okta-sso", "legacy-slack", "github"):
            screen.table.move_cursor(row=names.index(name))
            await settle(pilot)
            offered[name] = {k.key for k in screen.query_one(KeyFooter).query(FooterKey)}
        assert "e" in offered["okta-sso"], offered
        assert "c" in offered["legacy-slack"], offered
        assert not {"e", "c"} & offered["github"], offered
