"""Several keys revoked together on the API Keys tab: space marks rows
(visibly, counted above the table), esc unselects, x asks once (how many,
which, what breaks) and revokes them in one go; at 60x20."""

from __future__ import annotations

from textual.widgets import Button, Static
from textual.widgets._footer import FooterKey

from keydesk.service import KeyService
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.widgets.footer import KeyFooter
from keydesk.views import stop_time, utcnow
from tests.tui.screenshots import open_integration, settle


def _text(widget: Static) -> str:
    return str(widget.render())


def _footer(screen) -> list[str]:
    """The footer's keys whole on screen (at 60 columns some leave)."""
    width = screen.app.size.width
    return [
        key.description
        for key in screen.query_one(KeyFooter).query(FooterKey)
        if key.region.width > 0 and key.region.right <= width
    ]


async def test_space_selects_rows_and_x_revokes_them_together(make_app, demo_store):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen)
        table = detail.table
        active = [k for k in detail.listed_keys() if k.is_active]
        assert len(active) >= 2 and detail.listed_keys()[:2] == active[:2]  # active first
        assert "Select" not in _footer(detail)  # ? lists space; the footer once selecting

        table.move_cursor(row=detail.listed_keys().index(active[0]))
        top = table.region.y
        await pilot.press("space", "down", "space")
        await settle(pilot)
        # At 60 columns space, just pressed, leaves first for ^q (? lists it).
        assert {"Unselect", "Revoke", "Quit"} <= set(_footer(detail))
        assert "Rotate" not in _footer(detail)
        assert table.region.y == top  # the counts stay on one line: fewer words at 60
        chosen = [active[0].public_key, detail.listed_keys()[table.cursor_row].public_key]
        assert list(table.selected) == chosen
        assert "2 selected" in _text(detail.summary)
        marked = [str(table.get_cell_at((n, 0))) for n in range(len(detail.listed_keys()))]
        assert sum(cell.startswith("✓ ") for cell in marked) == 2

        await pilot.press("escape")  # esc unselects first, and stays
        await settle(pilot)
        assert app.screen is detail and not table.selected
        assert "selected" not in _text(detail.summary)

        table.move_cursor(row=detail.listed_keys().index(active[0]))
        await pilot.press("space", "down", "space", "x")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.id == "revoke-many-confirm"
        said = " ".join(_text(s) for s in dialog.query(".dialog-line"))
        assert _text(dialog.query_one("#dialog-title", Static)) == "Revoke 2 API keys?"
        assert all(public in said for public in chosen) and "401 Unauthorized" in said
        assert app.focused is dialog.query_one("#cancel", Button)  # a stray Enter is harmless
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert app.screen is detail and not table.selected

    alice = KeyService(demo_store, "alice")
    assert [alice.key(public).status.value for public in chosen] == ["revoked", "revoked"]
    batch = alice.audit("acme", limit=1)[0]
    assert (batch.action, batch.label) == ("key.revoke.batch", "2 keys revoked")


async def test_revoking_a_replacement_among_many_warns_the_old_key_still_stops(
    make_app, demo_store
):
    """Space on a rotation's new key, then x: the question says when the old
    key, looked up, still stops (then neither works) and that K keeps it, as
    the one-key question does, or, revoked meanwhile, that it no longer
    works; a key being rotated out stops now."""
    from keydesk.tui.screens.key_created import KeyCreatedScreen
    from keydesk.tui.screens.revoke_many import revoke_many_confirmation

    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        old = detail.highlighted_key()
        await pilot.press("t")
        await settle(pilot)  # answered once on screen
        await pilot.press("home", "down", "down", "enter")  # 24 hours of overlap
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        await pilot.press("escape")
        await settle(pilot)  # answered once on screen
        await pilot.press("d")  # d: done, the secret not copied
        await settle(pilot)
        assert app.screen is detail
        keys = detail.listed_keys()
        new = next(k for k in keys if k.replaces == old.public_key)
        detail.table.move_cursor(row=keys.index(new))
        await pilot.press("space", "x")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.id == "revoke-many-confirm"
        said = " ".join(_text(s) for s in dialog.query(".dialog-line"))
        stops = stop_time(KeyService(demo_store, "alice").key(old.public_key).expires_at)
        assert (
            f"One of these replaced a key in a rotation: {old.public_key} still stops at {stops} ("
            in said
        )  # looked up, not assumed; one replacement chosen: "One of these"
        assert "neither works" in said and "K on the old key's row keeps it" in said
        await pilot.press("escape")
        await settle(pilot)
        rotating = KeyService(demo_store, "alice").key(old.public_key)
        KeyService(demo_store, "alice").revoke_key(old.public_key)  # elsewhere, meanwhile
        await pilot.press("x")  # the replacement is still selected
        await settle(pilot)
        said = " ".join(_text(s) for s in app.screen.query(".dialog-line"))
        assert f"replaced {old.public_key}, which no longer works" in said
        assert "still stops" not in said
        await pilot.press("escape")
    alice = KeyService(demo_store, "alice")
    said = " ".join(revoke_many_confirmation([rotating], [], utcnow())._lines)
    assert f"Being rotated out: {old.public_key}" in said and "stops it now" in said
    plain = [k for k in alice.keys("github") if k.is_active and not (k.replaced_by or k.replaces)]
    said = " ".join(revoke_many_confirmation(plain, [], utcnow())._lines)
    assert "rotation" not in said
