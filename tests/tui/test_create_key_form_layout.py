"""The create-key form opens at its top: its title and the Integration label
in view at 80x24, the name field focused and visible (#21 walk)."""

from __future__ import annotations

from textual.widgets import Input, Label

from keydesk.service import KeyService
from keydesk.tui.app import KeydeskApp
from tests.tui.screenshots import open_create_form


async def test_the_create_form_opens_at_its_top_with_the_name_field_focused(demo_store):
    app = KeydeskApp(KeyService(demo_store, "alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_create_form(pilot, "github")
        body = form.query_one("#create-form").region
        title = form.query_one(".form-title").region
        integration = next(w for w in form.query(Label) if str(w.render()) == "Integration").region
        name = form.query_one("#label", Input)
        assert form.focused is name
        for region in (title, integration, name.region):
            assert body.y <= region.y and region.bottom <= body.bottom
        await pilot.press(*"ci")
        assert name.value == "ci"
