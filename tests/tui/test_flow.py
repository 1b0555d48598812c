"""The documented flow and its guard rails, driven through Pilot."""

from __future__ import annotations

import gc
import threading

import pytest
import sqlalchemy as sa
from textual.notifications import Notify
from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static
from textual.worker import Worker

from keydesk.errors import StoreUnavailable, Unauthorized, UnauthorizedReason
from keydesk.service import KeyService
from keydesk.store.models import ApiKey
from keydesk.store.queries import Reads
from keydesk.tui import typeahead
from keydesk.tui.app import KeydeskApp
from keydesk.tui.messages import IntegrationsChanged
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.verify import Verifier
from keydesk.views import default_expiry_days
from tests.support.tui_pages import go_to_create_form, go_to_integration
from tests.tui.screenshots import demo_clock, open_integration, past_refusal, settle


async def generate_on_github(pilot, label: str) -> None:
    """github's create form → name the key → Save & Generate."""
    await go_to_create_form(pilot, "github")
    await pilot.press(*label, "enter")
    await settle(pilot)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_documented_flow_end_to_end(make_app, demo_store):
    app = make_app()
    verifier = Verifier(demo_store.engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen)
        assert detail.query_one("#tabs").active == "api-keys"
        assert not detail.query_one("#generate", Button).disabled

        await pilot.click("#generate")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen)
        assert form.query_one("#integration", Select).value == detail.integration.id

        await pilot.press(*"payments-prod")
        await pilot.click("#save")
        await settle(pilot)
        created_screen = app.screen
        assert isinstance(created_screen, KeyCreatedScreen)
        shown = _text(created_screen, "#api-key-value")
        public = _text(created_screen, "#public-key-value")
        assert verifier.verify(shown).public_key == public
        assert "only time" in _text(created_screen, "#one-time-warning")

        await pilot.press("c")  # copy the API key (OSC 52; no desktop clipboard here)
        assert app.clipboard == shown
        await pilot.click("#done")
        await settle(pilot)

        assert app.screen is detail
        assert detail.query_one("#tabs").active == "api-keys"
        assert detail.highlighted_key().public_key == public
        assert app.clipboard == ""  # the local copy of the secret is dropped

        await pilot.press("x")  # revoke the highlighted row
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.focused.id == "cancel"
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is detail
        assert detail.highlighted_key().status == "revoked"

    with pytest.raises(Unauthorized) as error:
        verifier.verify(shown)
    assert error.value.reason is UnauthorizedReason.REVOKED
    verifier.close()


async def test_private_key_is_held_by_no_object_after_done(demo_store):
    # A random key, not the demo's seeded one: another test in this process
    # made that same key, and Rich's and Textual's caches may still hold it.
    app = KeydeskApp(KeyService(demo_store, "alice"), clock=demo_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await generate_on_github(pilot, "gc-check")
        secret = _text(app.screen, "#api-key-value")
        marker = secret[22:]
        await pilot.press("c", "d")
        await settle(pilot)
        del secret
        gc.collect()
        # type(), never isinstance(): a lazy proxy (Django's staticfiles storage)
        # answers isinstance through __class__ and runs code while the heap is searched
        holders = [
            type(o).__name__
            for o in gc.get_objects()
            if issubclass(type(o), dict | list | tuple)
            and any(issubclass(type(v), str) and marker in v for v in _plain_items(o))
        ]
        assert holders == []


def _plain_items(o: dict | list | tuple) -> list:
    """The items by the base type's own methods, whatever a subclass overrides."""
    if issubclass(type(o), dict):
        return list(dict.values(o))
    return list.copy(o) if issubclass(type(o), list) else list(tuple.__iter__(o))


async def test_a_rotation_asks_its_overlap_and_only_an_answer_ends_a_key(make_app, demo_store):
    """One walk on github at 100x30. Its first key rotated: the overlap is
    asked, and the page says when the old key stops; Done lands on the
    replacement, listed beside the key it replaces. On that replacement:
    Cancel (or Escape) in the revoke modal revokes nothing; a rotation to
    now asks, and a stray Enter (on Cancel) keeps the key and makes no
    replacement; confirmed, a rotation with no overlap revokes the old key
    at once."""
    from datetime import date, timedelta

    from keydesk.tui.screens.choice import ChoiceScreen
    from keydesk.views import stop_time, utcnow

    alice = KeyService(demo_store, "alice")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await go_to_integration(pilot, "github")
        first = detail.highlighted_key()
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen), "overlap: asked"
        await pilot.press("enter")  # 24 hours, the default
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "overlap: the replacement shown"
        stored = alice.key(first.public_key)
        assert stored.is_active, "overlap: it keeps working during the overlap"
        assert stored.expires_at is not None, "overlap: it stops"
        stops_in = stored.expires_at - utcnow()
        assert abs(stops_in - timedelta(hours=24)) < timedelta(minutes=5), ("overlap", stops_in)
        said = _text(app.screen, "#rotation-next")
        assert (
            f"{first.public_key} ({first.label}) stops working at {stop_time(stored.expires_at)}"
            in said
        ), ("overlap: said", said)
        await pilot.press("c", "d")
        await settle(pilot)
        assert app.screen is detail, "overlap: Done"
        new = detail.highlighted_key()
        assert new.label == f"{first.label} ({date.today().isoformat()})", "overlap: its label"
        assert new.replaces == first.public_key, "overlap: replaces"
        rotating = next(k for k in detail.listed_keys() if k.public_key == first.public_key)
        assert rotating.replaced_by == new.public_key, "overlap: replaced by"

        key = detail.highlighted_key()
        assert key.is_active, "cancel: an active key"
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await pilot.click("#cancel")
        await settle(pilot)
        assert alice.key(key.public_key).is_active, "cancel: revokes nothing"

        old = detail.highlighted_key()
        assert old.public_key == key.public_key, "stray enter: the same key"
        keys_before = len(detail.listed_keys())
        await pilot.press("t")
        await settle(pilot)
        # 24 hours → 7 days → stays (the list wrapped to now), then up to now.
        await pilot.press("down", "down", *["up"] * 4, "enter")
        await settle(pilot)
        assert app.screen.id == "rotate-now-confirm", ("stray enter: asks", app.screen)
        said = " ".join(str(line.render()) for line in app.screen.query(".dialog-line"))
        assert "401 Unauthorized" in said, ("stray enter", said)
        await pilot.press("enter")  # the focused answer is Cancel
        await settle(pilot)
        assert app.screen is detail, "stray enter: back on github"
        kept = len(detail.listed_keys())
        assert kept == keys_before, ("stray enter: no replacement was made", kept)
        assert alice.key(old.public_key).is_active, "stray enter: the key kept"

        await pilot.press("t")
        await settle(pilot)
        await pilot.press("home", "enter")  # now
        await settle(pilot)
        assert app.screen.id == "rotate-now-confirm", "no overlap: a revoke is always asked"
        await pilot.click("#confirm")
        await settle(pilot)
        assert "was revoked" in _text(app.screen, "#rotation-next"), "no overlap: said"
    assert not alice.key(old.public_key).is_active, "no overlap: revoked at once"


async def test_the_created_page_asks_before_leaving_and_revokes_its_key(make_app, demo_store):
    """One walk on github at 100x30: ctrl+q and escape on the created page
    ask first (Stay the default), and a confirmed leave lands on github's
    page; then a second key revoked from its created page."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await generate_on_github(pilot, "escape-check")
        created = app.screen
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "quit asks first"
        assert app.is_running, "quit: still running"
        await pilot.press("escape")  # Stay
        await settle(pilot)
        assert app.screen is created, "quit: stayed"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen), "escape asks first"
        assert app.screen.focused.id == "cancel", "escape: Stay is the default"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is created, "escape: Enter stays"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationDetailScreen), "escape: confirmed, left"

        await pilot.press("g")
        await settle(pilot)
        await pilot.press(*"oops", "enter")
        await settle(pilot)
        public = _text(app.screen, "#public-key-value")
        await pilot.click("#revoke")
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        page = app.screen
        assert "revoked" in _text(page, "#api-key-value"), "revoke: said on the page"
        # It now tells of a revoked key: no one-time warning, no copy offer.
        assert _text(page, "#created-title") == "API key revoked", "revoke: its title"
        assert not page.query_one("#one-time-warning").display, "revoke: no warning"
        assert not page.query_one("#copy-key").display, "revoke: no copy button"
        offered = [b.binding.action for b in page.active_bindings.values() if b.enabled]
        assert "copy_key" not in offered and "copy_public" in offered, ("revoke", offered)
        await pilot.press("c")  # says why, rather than nothing
        await settle(pilot)
        assert _text(page, "#created-note").startswith("Revoked: nothing to copy"), "revoke: c"
        await pilot.press("d")
        await settle(pilot)
    assert KeyService(demo_store, "alice").key(public).status == "revoked"


async def test_store_errors_and_bad_labels_show_inline_and_keep_the_text(make_app, demo_store):
    """One walk on github's create form. A store error is shown, not
    raised, the name kept. The service's message for a bad label is shown
    beside it; the refused name stays, the cursor at its end: ` 2` makes
    `CI Runner 2`, not `2`; and Enter pressed again while the key is being
    made (a double submit) makes one key."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        before = len(KeyService(demo_store, "alice").keys("github"))
        await go_to_create_form(pilot, "github")

        def unavailable(*_args, **_kwargs):
            raise StoreUnavailable(
                "the store is busy (another process holds a lock on it); try again"
            )

        app.service.create_key = unavailable
        await pilot.press(*"prod-2", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CreateKeyScreen), "store error: still on the form"
        assert "busy" in _text(app.screen, "#label-error"), "store error: shown"
        assert app.screen.query_one("#label", Input).value == "prod-2", "store error: kept"
        del app.service.create_key  # the store answers again
        await pilot.press(*["backspace"] * len("prod-2"))

        await pilot.press("enter")
        await settle(pilot)
        assert "required" in _text(app.screen, "#label-error"), "empty: required"
        await pilot.press(*"CI Runner", "enter")  # taken by an active key
        await settle(pilot)
        assert isinstance(app.screen, CreateKeyScreen), "taken: still on the form"
        assert "already exists" in _text(app.screen, "#label-error"), "taken: said"
        assert app.screen.query_one("#label", Input).value == "CI Runner", "taken: kept"
        await pilot.press(*" 2", "enter", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen), "typing adds to the refused name"
        assert app.screen._key.label == "CI Runner 2"
    assert len(KeyService(demo_store, "alice").keys("github")) == before + 1, "one key"


async def test_stored_markup_and_escapes_render_literally_in_rows_and_notifications(
    make_app, demo_store
):
    """One walk on github at 120x30: labels holding markup and escapes are
    shown as written in its rows and its picture; an error naming one is
    notified as written, markup off."""
    service = KeyService(demo_store, "alice")
    service.create_key("github", "[bold red]x[/]")
    service.create_key("github", "[bold red]dup[/]")
    evil = service.create_key("github", "placeholder").key
    with demo_store.engine.begin() as connection:  # as if written by an older tool
        connection.execute(
            sa.update(ApiKey).where(ApiKey.id == evil.id).values(label="\x1b[2J\x1b[31mred")
        )
    app = make_app()
    posted = []
    async with app.run_test(size=(120, 30), message_hook=posted.append) as pilot:
        await go_to_integration(pilot, "github")
        table = app.screen.query_one("#keys", DataTable)
        labels = [str(table.get_cell_at((row, 0))) for row in range(table.row_count)]
        assert "[bold red]x[/]" in labels, ("rows", labels)
        assert "\\x1b[2J\\x1b[31mred" in labels, ("rows", labels)
        svg = app.export_screenshot()
        assert "[bold&#160;red]x[/]" in svg or "[bold red]x[/]" in svg, "picture"
        assert "\x1b" not in svg, "picture"

        def refuse(*_args, **_kwargs):
            raise StoreUnavailable("label '[bold red]dup[/]' and \x1b[2J")

        notes = len(posted)
        app.service.integration = refuse
        app.screen.post_message(IntegrationsChanged())
        await settle(pilot)
        (notification,) = [m.notification for m in posted[notes:] if isinstance(m, Notify)]
        assert notification.message == "label '[bold red]dup[/]' and \\x1b[2J.", "notified"
        assert notification.markup is False, "notified: markup off"


async def test_first_run_guides_to_a_workspace_and_an_integration(tmp_path):
    from keydesk.store.engine import open_store
    from keydesk.tui.app import KeydeskApp
    from keydesk.tui.screens.integration_form import IntegrationFormScreen

    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    app = KeydeskApp(KeyService(store, "newbie"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*"acme", "enter")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationFormScreen)
        assert app.workspace.name == "acme" and app.workspace.can_manage
        await pilot.press(*"github")
        for field, value in (("#provider", "GitHub"), ("#client-id", "Iv1.x"),
                             ("#redirect-uri", "https://x.example/cb")):  # fmt: skip
            app.screen.query_one(field, Input).value = value
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, IntegrationsScreen)
        assert app.screen.highlighted().name == "github"
    store.dispose()


async def test_filter_and_workspace_switch(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"okta")
        await settle(pilot)
        table = app.screen.query_one("#integrations", DataTable)
        assert table.row_count == 1
        await pilot.press("escape")
        assert table.row_count == 4
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.workspace.name == "globex"
        assert table.row_count == 1


async def test_thousands_of_keys_stay_responsive_and_findable(make_app, demo_store):
    from keydesk.store.models import utcnow
    from keydesk.tui.widgets.key_table import MAX_ROWS, WINDOW

    with demo_store.engine.begin() as connection:
        integration_id = KeyService(demo_store, "alice").integration("github").id
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": integration_id, "public_key": f"kdpk_bulk{n:012d}", "label": f"bulk {n}",
                 "secret_hash": "$argon2id$placeholder", "created_at": utcnow(), "created_by": 1}
                for n in range(5000)
            ],
        )  # fmt: skip
    app = make_app()
    workers = []
    async with app.run_test(size=(100, 30), message_hook=workers.append) as pilot:
        await go_to_integration(pilot, "github")
        table = app.screen.query_one("#keys", DataTable)
        # The table holds a window of the rows (a table of thousands would stall) ...
        assert table.row_count == WINDOW
        summary = _text(app.screen, "#keys-summary")
        assert "5,002 active" in summary and "2 revoked" in summary
        await pilot.press("ctrl+end")  # ... and grows it as the cursor nears its end
        await settle(pilot)
        assert WINDOW < table.row_count <= MAX_ROWS
        await pilot.press("slash", *"bulk 4321")  # the filter searches all of them
        await settle(pilot)
        assert [str(table.get_cell_at((r, 0))) for r in range(table.row_count)] == ["bulk 4321"]
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # and it can be revoked from there
    # Every worker has a fixed description: none is built from repr() of its
    # arguments (100,000 keys: a 30 MB string on the UI thread).
    descriptions = {m.worker.description for m in workers if isinstance(m, Worker.StateChanged)}
    assert descriptions and all(len(d) < 40 for d in descriptions), descriptions


async def test_the_filter_can_be_typed_while_a_big_integration_loads(
    make_app, demo_store, monkeypatch
):
    import threading

    from keydesk.store.models import utcnow
    from keydesk.tui.screens.integration_detail import FIRST_PAGE

    alice = KeyService(demo_store, "alice")
    github = alice.integration("github")
    with demo_store.engine.begin() as connection:
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": github.id, "public_key": f"kdpk_load{n:012d}", "label": f"load {n}",
                 "secret_hash": "$argon2id$placeholder", "created_at": utcnow(), "created_by": 1}
                for n in range(300)
            ],
        )  # fmt: skip
    app = make_app()
    rest = threading.Event()
    read = Reads.keys

    def held(self, integration, **options):  # the first page, then the rest when let go
        for n, key in enumerate(read(self, integration, **options)):
            if n == FIRST_PAGE + 1:
                rest.wait(60)
            yield key

    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(Reads, "keys", held)
        app.open_integration(github)
        for _ in range(600):
            await pilot.pause(0.05)
            screen = app.screen
            if isinstance(screen, IntegrationDetailScreen) and screen.table.row_count:
                break
        table = screen.table
        assert table.row_count == FIRST_PAGE and screen.key_filter.display
        await pilot.press("slash")
        await pilot.pause(0.2)
        await pilot.press(*"load 42")
        await pilot.pause(0.5)
        assert screen.key_filter.value == "load 42"
        assert table.row_count == FIRST_PAGE  # not emptied by a filter over half a list
        rest.set()
        await settle(pilot)
        assert [str(table.get_cell_at((r, 0))) for r in range(table.row_count)] == ["load 42"]


async def test_a_draft_can_be_completed_and_configured_from_its_page(make_app):
    """The palette goes to the draft; Generate is gated there, with a
    reason, until its settings are completed and it is configured."""
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await _palette(pilot, "Go to integration okta")
        assert isinstance(app.screen, IntegrationDetailScreen)
        assert app.screen.integration.name == "okta-sso"
        detail = app.screen
        assert detail.query_one("#generate", Button).disabled
        assert "draft" in _text(detail, "#keys-gate")
        await pilot.press("g")
        await settle(pilot)
        assert app.screen is detail, "g does nothing on a draft"
        await past_refusal(pilot)  # e typed on purpose, not in g's wake
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#name", Input).disabled  # names are not edited here
        form.query_one("#redirect-uri", Input).value = "http://evil.example/cb"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "https://" in _text(form, "#add-error")
        form.query_one("#redirect-uri", Input).value = "https://api.acme.example/oauth/okta"
        # The box was unticked as the form opened (the draft lacked a redirect
        # URI) and stays so until the user ticks it.
        assert not form.query_one("#configure", Checkbox).value
        form.query_one("#configure", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is detail
        assert detail.integration.is_configured
        assert not detail.query_one("#generate", Button).disabled


async def test_the_palette_and_the_integration_picker_show_stored_names_literally(
    make_app, demo_store
):
    """One walk at 120x30: the palette offers a draft named in markup as
    written, then the create form's integration picker a configured one."""
    from textual.command import CommandPalette

    alice = KeyService(demo_store, "alice")
    alice.add_integration("acme", "[red]evil[/]", "[b]Prov[/b]")
    alice.add_integration(
        "acme", "[red]x[/]", "[b]P[/b]", client_id="c", redirect_uri="https://x.example/cb",
        configure=True,
    )  # fmt: skip
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        shown = await _palette_options(pilot, "evil")
        assert isinstance(app.screen, CommandPalette), "palette"
        assert any(
            "Go to integration [red]evil[/]" in text and "[b]Prov[/b]" in text for text in shown
        ), ("palette", shown)
        await pilot.press("escape")
        await settle(pilot)

        app.generate_key()
        await settle(pilot)
        select = app.screen.query_one("#integration", Select)
        select.focus()
        await pilot.press("enter")  # open the list
        await settle(pilot)
        svg = app.export_screenshot()
        assert "[red]x[/]&#160;([b]P[/b])" in svg or "[red]x[/] ([b]P[/b])" in svg, "picker"


async def _palette_options(pilot, query: str) -> list[str]:
    """Open the palette, type `query`, and return what it offers."""
    from textual.widgets import OptionList

    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*query)
    options = pilot.app.screen.query_one(OptionList)
    for _ in range(50):  # the palette searches after a short debounce
        if options.option_count and "No matches" not in str(options.get_option_at_index(0).prompt):
            break
        await pilot.pause(0.05)
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


async def _palette(pilot, query: str) -> None:
    """Run the palette's best match for `query`."""
    await _palette_options(pilot, query)
    await pilot.press("enter")
    await settle(pilot)


async def test_palette_generates_and_revokes_on_an_integration_page(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await go_to_integration(pilot, "github")
        detail = app.screen
        await _palette(pilot, "Generate API key")
        assert isinstance(app.screen, CreateKeyScreen)
        assert app.screen.query_one("#integration", Select).value == detail.integration.id
        await pilot.press("escape")
        await settle(pilot)
        await _palette(pilot, "Revoke API key CI Runner")
        assert isinstance(app.screen, ConfirmScreen)
        assert "CI Runner" in _text(app.screen, ".dialog-line")


async def test_a_key_saved_before_the_form_has_its_list_is_made_for_the_integration_it_was_opened_for(
    demo_store, monkeypatch
):
    """A fast typist (or a store still opening): g, a label and ctrl+s
    before the form's integration list is read still make the key, for the
    integration the form was opened for."""
    from keydesk.tui.app import KeydeskApp
    from keydesk.tui.screens.key_created import KeyCreatedScreen

    app = KeydeskApp(KeyService(demo_store, "alice"))  # on the real clock: expiry from now
    held = threading.Event()
    read = Reads.integrations

    def slow(self, workspace=None):
        held.wait(30)
        return read(self, workspace)

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            github = app.service.integration("github")
            monkeypatch.setattr(Reads, "integrations", slow)
            app.generate_key(github.id)
            await pilot.pause()
            await pilot.press(*"fast-one", "ctrl+s")
            for _ in range(600):
                await pilot.pause(0.05)
                if isinstance(app.screen, KeyCreatedScreen):
                    break
            errors = [str(w.render()) for w in app.screen.query(".field-error")]
            assert isinstance(app.screen, KeyCreatedScreen), errors
            made = {k.label: k for k in app.service.keys("github")}["fast-one"]
            # With the form's default expiry, not the first choice the list offers.
            assert made.expires_at is not None
            days = round((made.expires_at - made.created_at).total_seconds() / 86400)
            assert days == default_expiry_days(github.max_key_lifetime_days) == 90
    finally:
        held.set()


async def test_a_revoke_answered_after_the_user_left_asks_nothing(make_app, monkeypatch):
    """x reads the key afresh before asking; on a slow store the user may
    leave first (escape): the question is not put over another screen, where
    it (or a key meant there) would act on a key no longer in view."""
    # Escape waits behind x's store work until that is done or WORK_LIMIT
    # (5 s) passes: here it never is done before the user leaves, so the test
    # sat out the whole limit. A shorter one lets Escape through the same way.
    monkeypatch.setattr(typeahead, "WORK_LIMIT", 0.5)
    app = make_app()
    held = threading.Event()
    read = KeyService.key

    def slow(self, public_key):
        held.wait(30)
        return read(self, public_key)

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await go_to_integration(pilot, "github")
            monkeypatch.setattr(KeyService, "key", slow)
            await pilot.press("x")
            await pilot.press("escape")  # back to the list before the store answers
            for _ in range(500):  # (settle would wait for the held worker)
                if isinstance(app.screen, IntegrationsScreen):
                    break
                await pilot.pause(0.01)
            assert isinstance(app.screen, IntegrationsScreen)
            held.set()
            await settle(pilot)
            assert isinstance(app.screen, IntegrationsScreen)
            assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)
    finally:
        held.set()


async def test_the_first_screen_says_where_a_new_store_was_made(make_app):
    app = make_app()
    notice = "Created your store at /home/alice/.local/share/keydesk/keydesk.db"
    app.startup_notice = notice
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert [n.message for n in app._notifications] == [notice]


async def test_a_store_gone_as_the_create_form_opens_is_said_once_on_its_line(make_app, demo_store):
    """The store deleted under keydesk: the form's list stayed "Loading
    integrations…" under a toast saying why; now its own line says so."""
    from pathlib import Path

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        Path(demo_store.file or "").unlink()
        await pilot.press("g")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CreateKeyScreen)
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert form.query_one("#integration", Select).prompt == "Integrations could not be read"
        said = _text(form, "#integration-error")
        assert "deleted" in said and said.endswith("."), said
        assert not app._notifications, [n.message for n in app._notifications]
