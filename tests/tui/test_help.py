"""The help screen (?): a refusal's reason in its brackets starts lower-case
("(no key here: …)"), names and keys as written; its dialog fits what the
terminal has room for."""

from __future__ import annotations

from keydesk.tui.screens.help import HelpScreen, in_brackets
from tests.tui.screenshots import open_integration, settle


def test_a_reason_in_brackets_starts_lower_case():
    assert in_brackets("No key here: nothing to rotate") == "no key here: nothing to rotate"
    assert in_brackets("This integration is a draft; configure it first.") == (
        "this integration is a draft; configure it first"
    )


def test_a_name_or_a_key_starting_a_reason_is_kept_as_written():
    assert in_brackets("Okta is a draft: configure it first (c)") == (
        "Okta is a draft: configure it first (c)"
    )
    assert in_brackets("K keeps a key whose replacement was revoked") == (
        "K keeps a key whose replacement was revoked"
    )


async def test_help_on_the_api_keys_tab_needs_no_scrolling_at_120x40(make_app):
    """Its dialog grows with the terminal: at 120x40 it scrolled in 16 rows
    though the screen had room for all 27. At 60x20 it scrolls, as it must,
    inside the dialog (its last line was below the dialog's edge)."""
    for size, whole in (((120, 40), True), ((60, 20), False)):
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await open_integration(pilot, "github")
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            body = app.screen.query_one("#dialog-body")
            assert (body.virtual_size.height <= body.size.height) is whole, (size, body.size)
            # all of it inside the dialog: scrolled to its end, the last line shows
            inside = app.screen.query_one("#dialog").content_region
            assert body.region.bottom <= inside.bottom, (size, body.region, inside)
