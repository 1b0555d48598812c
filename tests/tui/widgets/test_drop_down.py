"""DropDown: its list opens below the field, whole, above the footer, the
page scrolled to make room; cut to the room left (and scrolling) where
the page cannot scroll so far."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, OptionList, Static

from keydesk.tui.widgets import DropDown, KeyFooter
from tests.tui.screenshots import settle

EXPIRY = ["30 days", "90 days", "365 days", "never"]


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_the_expiry_list_opens_whole_below_its_field(make_app, size):
    """At 60x20 Textual moved it up over the field's label and value, and
    drew "never" over the footer ("esnever  enerate Key")."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("j", "g")  # the list's second integration: its create form
        await settle(pilot)
        await pilot.press(*"gw-k", "tab", "enter")
        await settle(pilot)
        form = app.screen
        field = form.query_one("#expiry", DropDown)
        choices = field.query_one(OptionList)
        footer = form.query_one(KeyFooter).region
        assert field.expanded and choices.region.height == len(EXPIRY)
        assert [str(choices.get_option_at_index(n).prompt) for n in range(4)] == EXPIRY
        assert field.region.bottom <= choices.region.y  # the field's value in view, above it
        assert choices.region.bottom <= footer.y
        label = next(w for w in form.query(".field-label") if str(w.render()) == "Expiry")
        assert form.query_one("#create-form").region.contains_region(label.region)
        await pilot.press("escape")
        await settle(pilot)
        assert not field.expanded and form.query_one("#label").value == "gw-k"


class _Bottom(App[None]):
    """A drop-down on the last line of a page that cannot scroll."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("\n" * 15)
            yield DropDown([(f"choice {n}", n) for n in range(8)], compact=True, allow_blank=False)
        yield Footer()


async def test_where_the_page_cannot_scroll_the_list_is_cut_and_scrolls():
    app = _Bottom()
    async with app.run_test(size=(40, 20)) as pilot:
        field = app.query_one(DropDown)
        field.focus()
        await pilot.press("enter")
        await pilot.pause()
        choices = field.query_one(OptionList)
        assert field.expanded and field.region.bottom <= choices.region.y
        assert choices.region.height == 2 and choices.region.bottom <= 19
        await pilot.press("end")
        await pilot.pause()
        assert choices.highlighted == 7 and choices.scroll_offset.y > 0
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("enter")  # opened again: the same room
        await pilot.pause()
        assert choices.region.bottom <= 19


async def test_j_and_k_move_in_the_open_list_as_in_every_list(make_app):
    """`Enter j j Enter` on Expiry kept "90 days": Textual's list searched
    for the letters instead."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        await pilot.press("tab", "enter")
        await settle(pilot)
        field = app.screen.query_one("#expiry", DropDown)
        assert field.expanded and field.value == 90
        await pilot.press("j", "j", "k", "enter")
        await settle(pilot)
        assert not field.expanded and field.value == 365
