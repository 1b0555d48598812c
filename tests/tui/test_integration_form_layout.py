"""The Add integration form opens at its top: its title in view and the Name
field focused, at 60x20 and 80x24, on a first run (after the welcome form)
and from the list's `a` (#21 walk: at 60x20 it opened scrolled down)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from keydesk.tui.screens.integration_form import IntegrationFormScreen
from tests.tui.screenshots import burst, demo_app, settle, settle_long


def _at_its_top(form: object) -> None:
    assert isinstance(form, IntegrationFormScreen)
    body = form.query_one("#add-form").region
    title = form.query_one(".form-title").region
    name = form.query_one("#name", Input)
    assert form.focused is name
    for region in (title, name.region):
        assert body.y <= region.y and region.bottom <= body.bottom


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_the_add_form_opens_at_its_top_on_a_first_run(demo_store, size):
    app = demo_app(demo_store, "first-run")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        burst(app, "initech|enter")
        await settle_long(pilot)
        _at_its_top(app.screen)


async def test_the_add_form_opens_at_its_top_from_the_list(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        _at_its_top(app.screen)
        await pilot.press(*"gh")
        assert app.screen.query_one("#name", Input).value == "gh"


async def test_a_refusal_below_the_fold_is_scrolled_into_view(make_app):
    """At 60x20 the form's error line is under its checkbox, off screen:
    ctrl+s with an http:// redirect URI seemed to do nothing."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        burst(app, "n2|tab|P|tab|cid|tab|http://x")
        await settle_long(pilot)
        await pilot.press("ctrl+s")
        await settle_long(pilot)
        form = app.screen
        body, error = form.query_one("#add-form").region, form.query_one("#add-error").region
        assert "https://" in str(form.query_one("#add-error").render())
        assert error.height and body.y <= error.y and error.bottom <= body.bottom
