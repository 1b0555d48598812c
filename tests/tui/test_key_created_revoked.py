"""The reveal page once its key is revoked (x, made by mistake): it tells
of a revoked key, offers no second revoke and speaks of no expiry."""

from __future__ import annotations

from textual.widgets import Static

from keydesk.tui.screens.choice import ChoiceScreen
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.key_created import REVOKED_NOTE, KeyCreatedScreen
from tests.support.tui_pages import go_to_create_form, go_to_integration
from tests.tui.screenshots import settle


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _offered(screen) -> list[str]:
    return [b.binding.action for b in screen.active_bindings.values() if b.enabled]


async def _revoke_here(pilot) -> KeyCreatedScreen:
    page = pilot.app.screen
    assert isinstance(page, KeyCreatedScreen)
    await pilot.press("x")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmScreen)
    await pilot.click("#confirm")
    await settle(pilot)
    assert pilot.app.screen is page
    return page


async def test_a_revoked_key_page_offers_no_revoke_and_no_expiry(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await go_to_create_form(pilot, "github")
        await pilot.press(*"oops", "enter")
        await settle(pilot)
        assert "expires " in _text(app.screen, "#created-for")
        page = await _revoke_here(pilot)
        facts = _text(page, "#created-for")
        assert "expires" not in facts and "never expires" not in facts, facts
        assert f"revoked {page._key.revoked_at:%Y-%m-%d %H:%M} UTC" in facts, facts
        assert not page.query_one("#revoke").display, "no Revoke button"
        assert "revoke" not in _offered(page), "no x in the footer"
        for press in ("c", "x"):  # not offered, and pressed anyway: why
            page.note("", "information")
            await pilot.press(press)
            await settle(pilot)
            note = page.query_one("#created-note", Static)
            assert _text(page, "#created-note") == REVOKED_NOTE, press
            assert note.display and note.region.height > 0, (press, note.region)


async def test_a_revoked_replacement_says_how_the_old_key_is_kept_not_to_deploy_it(make_app):
    """Rotated, then the replacement revoked on its reveal page: "Deploy this
    key before then" no longer holds; the old key still stops, K keeps it."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await go_to_integration(pilot, "github")
        old = next(k for k in detail.listed_keys() if k.is_active)
        detail.table.move_cursor(row=detail.listed_keys().index(old))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("enter")  # the overlap offered first
        await settle(pilot)
        assert "Deploy this key" in _text(app.screen, "#rotation-next")
        page = await _revoke_here(pilot)
        said = _text(page, "#rotation-next")
        assert "Deploy" not in said and old.public_key in said, said
        assert "still stops working at" in said and "K on its row keeps it" in said, said
        assert not page.query_one("#rotation-advice").display
