"""A key that does not act says why, the same on the integration's page, on
the key's page and in ?: a revoked key in a disabled integration said only
"Revoke: not possible here now" on its page, and `l` there said nothing."""

from __future__ import annotations

from keydesk.service import KeyService
from keydesk.tui.screens.help import HelpScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_page import KeyScreen
from tests.tui.screenshots import open_integration, past_refusal, settle


async def _said(pilot, *keys: str) -> list[str]:
    """What each key, pressed alone, says."""
    app, said = pilot.app, []
    for key in keys:
        app.clear_notifications()
        screen = app.screen
        await pilot.press(key)
        await settle(pilot)
        assert app.screen is screen
        said += [n.message for n in app._notifications]
        await past_refusal(pilot)
    assert all(words.endswith(".") for words in said), said  # each a sentence
    return [words.removesuffix(".") for words in said]


async def test_a_revoked_key_in_a_disabled_integration_says_why_everywhere(make_app, demo_store):
    alice = KeyService(demo_store, "alice")
    [key] = alice.keys("legacy-slack")  # the demo disabled it with this key active
    alice.revoke_key(key.public_key)
    revoked = f"{key.public_key} is revoked"
    app = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_integration(pilot, "legacy-slack")
        assert isinstance(app.screen, IntegrationDetailScreen)
        assert await _said(pilot, "x", "t", "space") == [
            f"{revoked}: it cannot be revoked again",
            f"{revoked}: it cannot be rotated",
            f"{revoked}: it cannot be selected",
        ]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen)
        assert await _said(pilot, "x", "t", "l", "K") == [
            f"{revoked}: it cannot be revoked again",
            f"{revoked}: it cannot be rotated",
            f"{revoked}: its limits cannot be changed",
            f"K keeps a key whose replacement was revoked; {key.public_key} has none: "
            "nothing to keep",
        ]
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = dict(app.screen._rows)
        assert rows["x"].endswith(f"({revoked}: it cannot be revoked again)")
        assert rows["t"].endswith(f"({revoked}: it cannot be rotated)")


async def test_rotate_on_an_active_key_of_a_disabled_integration_says_how_to_reenable(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_integration(pilot, "legacy-slack")
        assert await _said(pilot, "t") == [
            "legacy-slack is disabled: its keys are refused, no new ones made; c configures it again"
        ]
        await pilot.press("enter")
        await settle(pilot)
        assert await _said(pilot, "t") == [
            "legacy-slack is disabled: its keys are refused, no new ones made; esc, then c configures it again"
        ]


async def test_key_actions_on_an_empty_key_list_say_why_there_is_no_key(make_app, demo_store):
    """x, t and space with no key listed said "No key here: nothing to
    revoke": whether there is none yet (and g makes one) or the filter hides
    them all (and esc clears it) is what the user needs to know."""
    KeyService(demo_store, "alice").add_integration(
        "acme", "stripe", "Stripe", "ca_1", "https://app.example.com/cb", configure=True
    )
    app = make_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await open_integration(pilot, "stripe")
        assert isinstance(app.screen, IntegrationDetailScreen)
        assert await _said(pilot, "x", "t", "space") == [
            "No key to revoke: stripe has none yet; g generates one",
            "No key to rotate: stripe has none yet; g generates one",
            "No key to select: stripe has none yet; g generates one",
        ]
        await pilot.press("escape")
        await settle(pilot)
        await open_integration(pilot, "github")
        await pilot.press("slash", *"nothing-like-it", "enter")
        await settle(pilot)
        assert await _said(pilot, "x") == [
            "No key to revoke: none matches “nothing-like-it” — esc clears the filter"
        ]


async def test_an_empty_integration_list_says_there_is_nothing_to_act_on(demo_store):
    """A new workspace's list: `e` said "Edit: not possible here now" and
    `d` nothing at all; under a filter matching nothing, the filter is why."""
    from keydesk.tui.app import KeydeskApp

    KeyService(demo_store, "dave").create_workspace("lab")
    app = KeydeskApp(KeyService(demo_store, "dave"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        assert await _said(pilot, "g", "e", "c", "d") == ["No integration here: add one (a)"] * 4
        KeyService(demo_store, "dave").add_integration(
            "lab", "github", "GitHub", client_id="c", redirect_uri="https://x.example/cb"
        )
    app = KeydeskApp(KeyService(demo_store, "dave"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzz", "enter")  # the filter keeps its text, the list has focus
        await settle(pilot)
        said = await _said(pilot, "e", "d")
        assert said == ["No integration matches the filter (esc clears it)"] * 2, said


async def test_with_the_store_gone_a_page_says_it_could_not_read_instead_of_loading(
    make_app, demo_store
):
    """The store deleted, then github's page opened: "Loading keys…" stayed
    for good and x, t said github had no key; Members spun for good and a,
    e, x said "not possible here now". Each says what could not be read."""
    from pathlib import Path

    from keydesk.tui.screens.members import MembersScreen

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        Path(demo_store.file or "").unlink()
        await open_integration(pilot, "github")
        await app.workers.wait_for_complete()
        await settle(pilot)
        summary = str(app.screen.summary.render())
        assert summary.startswith("The keys could not be read: the store at "), summary
        said = await _said(pilot, "x", "t")
        assert all(s.startswith("No key to ") and "could not be read" in s for s in said), said
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await settle(pilot)
        members = app.screen
        assert isinstance(members, MembersScreen) and not members.table.loading
        note = str(members.note.render())
        assert note.startswith("The members could not be read: the store at "), note
        said = await _said(pilot, "a", "e", "x")
        assert all(s.startswith("The members could not be read") for s in said), said
        assert not str(members.query_one("#key-policy").render())  # not read either
