"""A key's life in the TUI: expiry and scopes on the create form, status in
words, the rotation overlap, a key's page and the workspace key policy,
driven through Pilot; and the lifecycle scenario walked through the TUI."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

from textual.widgets import DataTable, Select, SelectionList, Sparkline, Static

from keydesk.errors import Unauthorized
from keydesk.keys import checksum
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.choice import ChoiceScreen
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.screens.members import MembersScreen
from keydesk.verify import Verifier
from keydesk.views import utcnow
from tests.support import scenarios as s
from tests.tui.screenshots import open_create_form, open_integration, settle


def live_app(store, account: str = "alice") -> KeydeskApp:
    """The app on the real clock (keys made now expire relative to now)."""
    return KeydeskApp(KeyService(store, account))


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _facts(page: KeyScreen) -> str:
    return "\n".join(f"{name}: {value}" for name, value in page.query_one("#key-facts").rows)


def _row_text(table: DataTable, row: int) -> str:
    return " ".join(str(cell) for cell in table.get_row_at(row))


async def test_status_words_a_keys_page_and_rotate_and_revoke_from_it(demo_store):
    """One walk on github's keys at 80x24. Status words mark expiring and
    rotating keys (and the list counts those that end); a key's page shows
    its usage, rotation and events, its hostile label literally, and Escape
    keeps its row; from its page the key is rotated, and the replacement,
    never used, is revoked."""
    alice = KeyService(demo_store, "alice")
    soon = alice.create_key("github", "short-lived", expires_at=utcnow() + timedelta(days=10))
    old = alice.create_key("github", "old-one", expires_at=utcnow() + timedelta(days=60))
    rotated = alice.rotate_key(old.key.public_key, timedelta(hours=24))
    hostile = "[red]x[/] [b]P"
    created = alice.create_key("github", hostile, expires_at=utcnow() + timedelta(days=30))
    private = created.private_key.reveal()
    body = private[:30] + ("A" if private[30] != "A" else "B") + private[31:-6]
    verifier = Verifier(demo_store.engine)
    try:
        for _ in range(3):
            verifier.verify(private)
        for _ in range(2):
            with contextlib.suppress(Unauthorized):
                verifier.verify(body + checksum(body))
        verifier.flush()
    finally:
        verifier.close()
    app = live_app(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        integrations = app.screen.query_one("#integrations", DataTable)
        listed = [_row_text(integrations, r) for r in range(integrations.row_count)]
        assert any("(2 expiring)" in row for row in listed), ("status: list", listed)
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen), "status: github"
        rows = {k.public_key: n for n, k in enumerate(detail.listed_keys())}
        table = detail.table
        expiring = _row_text(table, rows[soon.key.public_key])
        # At 80 columns the labels come first: the status in fewer words.
        assert "10 days left" in expiring, ("status: expiring", expiring)
        rotating = _row_text(table, rows[old.key.public_key])
        assert "rotating, 24h" in rotating, ("status: rotating", rotating)  # whole below
        table.move_cursor(row=rows[old.key.public_key])
        await settle(pilot)
        line = _text(detail, "#key-detail")
        assert rotated.created.key.public_key in line, ("status: line", line)
        assert "24 hours left" in line, ("status: line", line)

        table.move_cursor(row=rows[created.key.public_key])
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyScreen), "page: hostile key"
        facts = _facts(page)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "[red]x[/] [b]P" in svg, "page: the label literally, never styled"
        assert created.key.public_key in facts and "read:user repo read:org" in facts, facts
        assert "30 days left" in facts, facts
        counts = _text(page, "#usage-counts")
        assert "3 accepted in the last 24 hours" in counts, ("page: usage", counts)
        refused = "2 refused attempts with a wrong secret in the last hour"
        assert refused in counts, ("page: usage", counts)
        assert page.query_one("#usage-day", Sparkline).display, "page: sparkline"
        assert page.query_one("#usage-day-title").display, "page: sparkline's heading"
        events = page.query_one("#key-events").rows
        assert any("key.create" in line for _, line in events), ("page: events", events)
        assert page.check_action("rotate", ()) and page.check_action("revoke", ()), "page: t x"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail, "page: escape"
        kept = detail.highlighted_key().public_key
        assert kept == created.key.public_key, "page: escape keeps the row"

        before = detail.highlighted_key()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen), "rotate: t asks the overlap"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "rotate: created"
        assert _text(app.screen, "#created-title") == "Replacement API key created"
        await pilot.press("c", "d")
        await settle(pilot)
        assert app.screen is detail, "rotate: the key's page made way for its list"
        new = detail.highlighted_key()
        assert new.replaces == before.public_key, "rotate: the replacement highlighted"
        await pilot.press("enter")
        await settle(pilot)
        assert f"Replaces: {before.public_key}" in _facts(app.screen), "rotate: its page"
        # Never used: one line, not usage headings over nothing.
        assert _text(app.screen, "#usage-counts") == "Never used", "rotate: never used"
        for heading in ("#usage-day-title", "#usage-week-title"):
            assert not app.screen.query_one(heading).display, ("rotate: no heading", heading)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("tab", "enter")  # the destructive question starts on Cancel
        await settle(pilot)
    assert not KeyService(demo_store, "alice").key(new.public_key).is_active, "revoked"


async def test_create_form_offers_expiry_within_the_policy_and_scopes(demo_store):
    KeyService(demo_store, "alice").set_key_policy("acme", 60)
    app = live_app(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_create_form(pilot, "github")
        expiry = form.query_one("#expiry", Select)
        offered = [str(text) for text, _ in expiry._options]
        assert offered == ["30 days", "60 days (the maximum)"]  # no 90, 365 or never
        assert expiry.value == 60
        stops = (app.now() + timedelta(days=60)).astimezone().strftime("%Y-%m-%d")
        assert _text(form, "#expiry-date") == f"expires {stops}"
        expiry.value = 30
        await settle(pilot)
        assert (app.now() + timedelta(days=30)).astimezone().strftime("%Y-%m-%d") in _text(
            form, "#expiry-date"
        )
        scopes = form.query_one("#scopes", SelectionList)
        assert sorted(scopes.selected) == ["read:org", "read:user", "repo"]  # all by default
        scopes.deselect("read:org")
        await pilot.press(*"scoped")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
    (key,) = [k for k in KeyService(demo_store, "alice").keys("github") if k.label == "scoped"]
    assert key.scopes == ("read:user", "repo")
    assert key.lifetime_days == 30


async def test_create_form_shows_a_policy_refusal_on_one_line(demo_store):
    app = live_app(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("g")
        await settle(pilot)
        form = app.screen
        form.query_one("#expiry", Select).value = 0  # never (no policy when it opened)
        KeyService(demo_store, "alice").set_key_policy("acme", 30)  # an owner, elsewhere
        await pilot.press(*"no-expiry", "enter")
        await settle(pilot)
        assert app.screen is form
        error = _text(form, "#label-error")
        assert "must expire within 30 days" in error and "\n" not in error
        form.query_one("#scopes", SelectionList).deselect_all()
        await pilot.press("enter")
        await settle(pilot)
        assert _text(form, "#scopes-error") == "Choose at least one scope."


async def test_revoking_a_replacement_says_what_becomes_of_the_rotation(demo_store):
    """x on the page of a replacement just made says the old key still stops
    when the rotation set (nothing then works) and that K keeps it; not
    "Rotating? ... then revoke this one", which read as advice to revoke it."""
    from keydesk.tui.screens.confirm import ConfirmScreen, revoke_confirmation

    app = live_app(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        old = app.screen.highlighted_key()
        await pilot.press("t")
        await settle(pilot)  # answered once on screen
        await pilot.press("home", "down", "down", "enter")  # 24 hours of overlap
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
        await pilot.press("x")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.id == "revoke-confirm"
        said = " ".join(dialog._lines)
        assert f"This key replaced {old.public_key}, which still stops at" in said
        assert "24 hours left" in said and "leaves neither working then" in said
        assert f"K on {old.public_key}'s row keeps it" in said and "Rotating?" not in said
    alice = KeyService(demo_store, "alice")
    rotating = alice.key(old.public_key)
    said = " ".join(revoke_confirmation(rotating, None, utcnow())._lines)
    assert "being rotated out" in said and "Revoking it stops it now instead" in said
    plain = next(k for k in alice.keys("github") if k.is_active and not k.replaced_by)
    said = " ".join(revoke_confirmation(plain, None, utcnow(), rotate=lambda: None)._lines)
    assert "Rotate it instead (t)" in said  # t rotates (tests/tui/test_revoke_confirm.py)


async def test_a_viewer_sees_no_rotate_or_revoke_on_a_keys_page(demo_store):
    app = live_app(demo_store, "carol")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("enter")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, KeyScreen)
        assert page.check_action("rotate", ()) is False
        assert page.check_action("revoke", ()) is False
        key = page.key
        await pilot.press("x", "t")
        await settle(pilot)
        assert app.screen is page
        app.clear_notifications()
        await pilot.press("l")  # said "…can generate or revoke keys"
        await settle(pilot)
        assert [n.message for n in app._notifications] == [
            "You are a viewer in acme; only owners and admins set a key's limits. "
            "Ask an owner to change your role."
        ]
    assert KeyService(demo_store, "alice").key(key.public_key).is_active


async def test_owners_set_the_key_policy_on_members(demo_store):
    app = live_app(demo_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        members = app.screen
        assert isinstance(members, MembersScreen)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "down", "enter")  # none, 30, 90
        await settle(pilot)
        assert "must expire within 90 days" in _text(members, "#key-policy")
        assert app.workspace is not None and app.workspace.max_key_lifetime_days == 90
    alice = KeyService(demo_store, "alice")
    assert alice.workspace("acme").max_key_lifetime_days == 90
    assert alice.audit("acme", limit=1)[0].action == "workspace.policy"


async def test_only_owners_are_offered_the_key_policy(demo_store):
    app = live_app(demo_store, "bob")  # an admin in acme
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert app.screen.check_action("key_policy", ()) is False
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, MembersScreen)


async def test_the_lifecycle_scenario_through_the_tui(tmp_path):
    """tests/support/scenarios.py's steps through the screens; the store must end as
    the CLI's walk leaves it."""
    store = open_store(f"sqlite:///{tmp_path / 'tui.db'}", create=True)
    try:
        owner = KeyService(store, "alice")
        owner.create_workspace(s.WORKSPACE)
        owner.add_integration(
            s.WORKSPACE, s.INTEGRATION, "GitHub", client_id="Iv1.abc",
            redirect_uri="https://app.example.com/cb", scopes=" ".join(s.INTEGRATION_SCOPES),
            configure=True,
        )  # fmt: skip
        app = live_app(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await create_through_the_form(pilot, s.PROD_LABEL, s.PROD_LIFETIME_DAYS, s.PROD_SCOPES)
            detail = app.screen
            assert isinstance(detail, IntegrationDetailScreen)
            assert detail.highlighted_key().label == s.PROD_LABEL
            await pilot.press("t")  # 2. rotate, 24 hours of overlap
            await settle(pilot)
            choice = app.screen
            assert isinstance(choice, ChoiceScreen)
            await pilot.press("home", *["down"] * 2, "enter")  # now, 1 hour, 24 hours
            await settle(pilot)
            await pilot.press("c", "d")
            await settle(pilot)
            await pilot.press("escape")  # 3. the policy, on Members
            await settle(pilot)
            await pilot.press("m")
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            await pilot.press("home", "down", "enter")  # none, 30 days
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            await open_integration(pilot, s.INTEGRATION)
            # 4. no expiry is refused: the form does not even offer it now.
            await pilot.press("g")
            await settle(pilot)
            offered = [value for _, value in app.screen.query_one("#expiry", Select)._options]
            assert 0 not in offered and max(offered) == s.POLICY_DAYS
            await pilot.press("escape")
            await settle(pilot)
            await create_through_the_form(pilot, s.CI_LABEL, s.POLICY_DAYS, s.CI_SCOPES)
        summary = s.lifecycle_summary(store, "alice")
        assert summary == s.expected_lifecycle_summary(utcnow().date()), json.dumps(
            summary, indent=1
        )
    finally:
        store.dispose()


async def create_through_the_form(pilot, label: str, days: int, scopes: tuple[str, ...]) -> None:
    """g on the integration's page: name, expiry and scopes chosen, saved, copied, done."""
    app = pilot.app
    if not isinstance(app.screen, IntegrationDetailScreen):
        await open_integration(pilot, s.INTEGRATION)
    await pilot.press("g")
    await settle(pilot)
    form = app.screen
    assert isinstance(form, CreateKeyScreen)
    form.query_one("#expiry", Select).value = days
    chosen = form.query_one("#scopes", SelectionList)
    for scope in s.INTEGRATION_SCOPES:
        (chosen.select if scope in scopes else chosen.deselect)(scope)
    form.query_one("#label").focus()
    await pilot.press(*label, "enter")
    await settle(pilot)
    assert isinstance(app.screen, KeyCreatedScreen), _text(form, "#label-error")
    await pilot.press("c", "d")
    await settle(pilot)
