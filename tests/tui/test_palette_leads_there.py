"""The command palette answers "revoke", "rotate" and "help" wherever it is
opened: on the integration list they said "No matches found". Revoke and
rotate lead to the keys' rows (the highlighted integration's API Keys),
help opens the screen's keys; keydesk's own commands come first."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from keydesk.tui.screens.help import HelpScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from tests.tui.screenshots import settle


async def _search(pilot, query: str) -> list[str]:
    app = pilot.app
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*query)
    options = app.screen.query_one(OptionList)
    for _ in range(50):  # the palette searches after a short debounce
        await pilot.pause(0.05)
        prompts = [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]
        if prompts and not any("Searching" in p for p in prompts):
            return prompts
    return prompts


@pytest.mark.parametrize(
    ("query", "first", "says"),
    [
        ("revoke", "Revoke an API key of github…", "x on a key's row revokes it"),
        ("rotate", "Rotate an API key of github…", "t on a key's row rotates it"),
    ],
)
async def test_revoke_and_rotate_on_the_list_open_the_highlighted_integrations_keys(
    make_app, query, first, says
):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen)
        prompts = await _search(pilot, query)
        assert prompts and prompts[0].startswith(first), prompts
        assert says in prompts[0], prompts
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, IntegrationDetailScreen) and page.integration.name == "github"
        assert page.tabs.active == "api-keys"


async def test_help_in_the_palette_lists_the_keys_of_the_screen_behind_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        prompts = await _search(pilot, "help")
        assert prompts and prompts[0].startswith("Help: keys and what they do"), prompts
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert isinstance(app.screen_stack[-2], IntegrationsScreen)


async def test_a_query_a_word_starts_with_lists_no_scattered_matches(make_app):
    """ "gen" is Generate: every "Go to integration" (g…e…n) under it was noise.
    Where no word starts with the query, scattered letters still match."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        prompts = await _search(pilot, "gen")
        assert prompts[0].startswith("Generate API key"), prompts
        assert not any(p.startswith("Go to integration") for p in prompts), prompts
        await pilot.press("escape")
        await settle(pilot)
        prompts = await _search(pilot, "gtgh")  # Go To… GitHub
        assert any(p.startswith("Go to integration github") for p in prompts), prompts


async def test_revoke_and_rotate_are_offered_only_for_an_integration_with_keys_to_act_on(
    make_app,
):
    """A draft with no keys (okta-sso) was offered both, leading to an empty
    tab; a disabled one (legacy-slack) issues no replacement: revoke only."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        offered = {}
        for name in ("okta-sso", "legacy-slack"):
            await settle(pilot)
            await pilot.press("slash", *name, "enter")
            await settle(pilot)
            assert app.screen.highlighted().name == name
            offered[name] = [
                p.split("…")[0] for p in await _search(pilot, "an API key of") if "…" in p
            ]
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("escape")  # the filter emptied
        assert offered == {
            "okta-sso": [],
            "legacy-slack": ["Revoke an API key of legacy-slack"],
        }, offered


async def _generated_for(pilot) -> object:
    """The palette's Generate, run: the integration its form preselects."""
    from textual.widgets import Select

    from keydesk.tui.screens.create_key import CreateKeyScreen

    prompts = await _search(pilot, "generate")
    assert prompts and prompts[0].startswith("Generate API key"), prompts
    await pilot.press("enter")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, CreateKeyScreen)
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    return form.query_one("#integration", Select).value


async def test_generate_in_the_palette_preselects_the_integration_g_would(make_app):
    """`g` on the list made a key for the highlighted integration, and on a
    key's page for its integration; the palette's Generate there asked to
    "Choose an integration"."""
    from tests.tui.screenshots import open_integration

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        highlighted = app.screen.highlighted()
        assert highlighted.can_issue_keys
        assert await _generated_for(pilot) == highlighted.id, "the list"
        await pilot.press("escape")
        await settle(pilot)
        await open_integration(pilot, "github")
        await pilot.press("enter")  # the highlighted key's page
        await settle(pilot)
        github = app.screen.integration
        assert await _generated_for(pilot) == github.id, "a key's page"
