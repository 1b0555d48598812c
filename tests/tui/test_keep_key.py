"""A rotation whose replacement was revoked: the API Keys row and the key's
page say so, and K keeps the old key (its stop cancelled) after a
confirmation that says what it does."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Static
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from keydesk.service import KeyService
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.widgets import KeyFooter
from keydesk.views import utcnow
from tests.tui.screenshots import open_integration, settle


def _orphaned_rotation(store) -> str:
    """prod rotated with a day's overlap, its replacement then found leaked."""
    alice = KeyService(store, "alice")
    old = alice.create_key("github", "keep-me", expires_at=utcnow() + timedelta(days=60)).key
    new = alice.rotate_key(old.public_key, timedelta(hours=24)).created.key
    alice.revoke_key(new.public_key, leaked_at="ci.log")
    return old.public_key


def _footer_keys(screen) -> list[str]:
    return [
        b.binding.action for b in screen.active_bindings.values() if b.enabled and b.binding.show
    ]


async def _highlight(pilot, public_key: str) -> IntegrationDetailScreen:
    await open_integration(pilot, "github")
    detail = pilot.app.screen
    assert isinstance(detail, IntegrationDetailScreen)
    row = [k.public_key for k in detail.listed_keys()].index(public_key)
    detail.table.move_cursor(row=row)
    await settle(pilot)
    return detail


async def test_the_row_says_the_replacement_is_gone_and_k_keeps_the_key(demo_store):
    old = _orphaned_rotation(demo_store)
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await _highlight(pilot, old)
        line = str(detail.query_one("#key-detail", Static).render())
        assert "replacement revoked, stops in 24 hours" in line
        assert "keep" in _footer_keys(detail)
        shown = {key.key for key in detail.query_one(KeyFooter).query(FooterKey)}
        assert "K" in shown, shown  # drawn at 80 columns: the status names it
        await pilot.press("K")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.id == "keep-confirm"
        said = " ".join(str(s.render()) for s in dialog.query(".dialog-line"))
        assert "was revoked" in said and "cancels that stop" in said and "audited" in said
        assert _footer_keys(dialog) == ["cancel", "confirm"]  # k Keep key beside esc Cancel
        await pilot.press("enter")  # focus starts on Keep key: nothing is lost by keeping
        await settle(pilot)
        assert app.screen is detail
    kept = KeyService(demo_store, "alice").key(old)
    assert kept.expires_at is not None and kept.expires_at - utcnow() > timedelta(days=59)
    assert KeyService(demo_store, "alice").audit(key=old)[0].action == "key.keep"


async def test_a_message_about_the_screen_behind_never_covers_the_keep_dialog(demo_store):
    """At 60x20 the dialog spans the screen: a message raised before it (top
    right) covered its words. It waits, and comes back when the dialog closes."""
    old = _orphaned_rotation(demo_store)
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(60, 20), notifications=True) as pilot:
        detail = await _highlight(pilot, old)
        app.notify("Revoked kdpk_replacement (leaked).", timeout=60)
        await settle(pilot)
        assert detail.query(Toast)
        await pilot.press("K")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and not dialog.query(Toast)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail
        assert [str(toast.render()) for toast in detail.query(Toast)] == [
            "Revoked kdpk_replacement (leaked)."
        ]


async def test_the_keys_page_offers_keep_and_escape_cancels(demo_store):
    old = _orphaned_rotation(demo_store)
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _highlight(pilot, old)
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyScreen)
        facts = dict(page.query_one("#key-facts").rows)
        assert facts["Status"].startswith("replacement revoked, stops in ")
        assert facts["Replaced by"].endswith("(revoked: K keeps this key)")
        await pilot.press("K")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is page
        assert KeyService(demo_store, "alice").key(old).stop_is_orphaned()  # nothing changed
        await pilot.press("K")
        await settle(pilot)  # answered once on screen
        await pilot.press("k")  # the footer's k Keep key
        await settle(pilot)
        assert app.screen is page
        assert page.key.status_words(app.now()) == "active"
        facts = dict(page.query_one("#key-facts").rows)
        assert facts["Replaced by"].endswith(" (revoked)")  # kept: the revocation still said
        assert "keep" not in _footer_keys(page)  # nothing left to keep


async def test_keep_is_not_offered_to_a_member_or_on_a_plain_key(demo_store):
    old = _orphaned_rotation(demo_store)
    KeyService(demo_store, "alice").add_member("acme", "bob", "member")
    app = KeydeskApp(KeyService(demo_store, "bob"))
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await _highlight(pilot, old)
        assert "keep" not in _footer_keys(detail)
        detail.table.move_cursor(row=len(detail.listed_keys()) - 1)
        await settle(pilot)
        assert "keep" not in _footer_keys(detail)


async def test_at_120_columns_the_status_column_shows_the_words_whole(demo_store):
    """It was cut to "replacement revoke…" with room to spare: By and Created
    give way to it (the detail line still has them)."""
    old = _orphaned_rotation(demo_store)
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(120, 40)) as pilot:
        detail = await _highlight(pilot, old)
        table = detail.table
        # Created gives way; By, narrowed to its names, has room again.
        assert [c.key for c, _ in table.fitted] == ["label", "public", "status", "used", "by"]
        cell = table.get_cell_at((table.cursor_row, 2))
        assert str(cell).startswith("replacement revoked, stops in 24 hours")
        assert "…" not in str(cell)
