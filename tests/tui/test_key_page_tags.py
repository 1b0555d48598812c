"""A key's tags under the API Keys table (the highlighted key in full) and on
its page (Enter on a key row), shown literally."""

from __future__ import annotations

from keydesk.service import KeyService
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_page import KeyScreen
from tests.tui.screenshots import open_integration, settle


async def test_the_key_line_and_the_keys_page_list_its_tags(make_app, demo_store):
    public = (
        KeyService(demo_store, "alice")
        .create_key("github", "tagged", tags=["env=prod", "team=payments"])
        .key.public_key
    )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen)
        detail.table.move_cursor(row=[k.public_key for k in detail.listed_keys()].index(public))
        await settle(pilot)
        line = str(detail.key_detail.render())
        assert line.startswith("tagged  (") and line.endswith(" · tags env=prod team=payments")
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyScreen)
        facts = dict(page.query_one("#key-facts").rows)
        assert facts["Tags"] == "env=prod team=payments"
