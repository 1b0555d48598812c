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
        assert {"Select", "Revoke"} <= set(_footer(detail)) and "Rotate" not in _footer(detail)
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
