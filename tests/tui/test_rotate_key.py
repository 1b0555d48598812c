"""`t`: the rotation's question is a dialog centred like every other, at
60x20, 80x24 and 120x40; on a key a rotation is already replacing, `t` says
so at once (on its row and on its page) instead of asking first."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Footer, OptionList

from keydesk.service import KeyService
from keydesk.tui.screens.choice import ChoiceScreen
from keydesk.tui.screens.help import HelpScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.widgets import Pairs
from keydesk.views import utcnow
from tests.tui.screenshots import notices_once, open_integration, settle


def _margins(screen) -> tuple[int, int, int, int]:
    """Left, right, top and bottom space around the dialog, the modal's
    own footer (docked at the bottom) left out."""
    box = screen.query_one("#dialog").region
    width, height = screen.size
    below = height - screen.query_one(Footer).region.height - box.bottom
    return box.x, width - box.right, box.y, below


async def test_the_rotation_question_is_centred_at_every_size(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("t")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ChoiceScreen) and dialog.id == "overlap-choice"
        for size in ((120, 40), (80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            left, right, top, bottom = _margins(dialog)
            assert abs(left - right) <= 1 and abs(top - bottom) <= 1, (size, _margins(dialog))


async def test_t_on_a_key_being_replaced_says_so_at_once(make_app, demo_store):
    alice = KeyService(demo_store, "alice")
    old = alice.create_key("github", "rotating", expires_at=utcnow() + timedelta(days=60)).key
    new = alice.rotate_key(old.public_key, timedelta(hours=24)).created.key
    said = (
        f"{old.public_key} (rotating) is already being replaced by {new.public_key}: "
        f"rotate {new.public_key} instead, or revoke it first"
    )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        assert isinstance(detail, IntegrationDetailScreen)
        rows = [k.public_key for k in detail.listed_keys()]
        detail.table.move_cursor(row=rows.index(old.public_key))
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert app.screen is detail  # no question asked
        assert [n.message for n in app._notifications] == [said + "."]
        await pilot.press("enter")  # its page
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen)
        app.clear_notifications()
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, KeyScreen)
        assert [n.message for n in app._notifications] == [said + "."]
    assert KeyService(demo_store, "alice").key(new.public_key).replaced_by is None


async def test_the_rotation_question_and_its_help_keep_each_line_whole(make_app):
    """Each choice, and each key ? lists from it (the j k line among them),
    on one line from 60x20 up: wrapped at 60 columns, 8 keys took 13 lines."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_integration(pilot, "github")
        await pilot.press("t")
        await settle(pilot)
        choices = app.screen.query_one(OptionList)
        for size in ((120, 40), (80, 24), (60, 20)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert choices.virtual_size.height == choices.option_count, size
            await pilot.press("question_mark")
            await settle(pilot)
            help_screen = app.screen
            assert isinstance(help_screen, HelpScreen)
            assert "↑ ↓ j k PgUp PgDn" in dict(help_screen.query_one("#help-general", Pairs).rows)
            for pairs in help_screen.query(Pairs):
                assert pairs.size.height == len(pairs.rows), (size, pairs.id)
            await pilot.press("escape")
            await settle(pilot)


async def test_each_keys_page_names_the_other_key_of_its_rotation(make_app, demo_store):
    """The rotation's line on a key's page ended in a bare public key: the
    old key's page names its replacement and when it stops, the new key's
    the key it replaced."""
    alice = KeyService(demo_store, "alice")
    old = alice.create_key("github", "edge", expires_at=utcnow() + timedelta(days=60)).key
    new = alice.rotate_key(old.public_key, timedelta(hours=24)).created.key
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_integration(pilot, "github")
        detail = app.screen
        said = {}
        for key in (old, new):
            rows = [k.public_key for k in detail.listed_keys()]
            detail.table.move_cursor(row=rows.index(key.public_key))
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, KeyScreen)
            events = app.screen.query_one("#key-events", Pairs).rows
            said[key.label] = next(line for _, line in events if "key.rotate" in line)
            await pilot.press("escape")
            await settle(pilot)
    assert f"key.rotate · replacement {new.public_key} · old key stops " in said[old.label], said
    assert said[new.label].endswith(f"key.rotate · replaced {old.public_key}"), said


async def test_a_rotation_the_store_keeps_waiting_says_so_then_what_was_not_done(
    make_app, demo_store
):
    """Behind a lock held elsewhere a rotation said nothing while it waited,
    then only "the store is busy …; try again": as a revoke, it says it is
    waiting, and that the key was not rotated."""
    import threading

    from keydesk.errors import StoreUnavailable

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        release = threading.Event()

        def held(_public_key, _overlap):
            release.wait(10)  # the lock, until the notice is seen
            raise StoreUnavailable("the store is busy (another process holds a lock on it)")

        app.service.rotate_key = held
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("home", "down", "down", "enter")  # 24 hours of overlap
        said = await notices_once(pilot, bool)
        assert said == [f"Rotating {key.public_key}: waiting for the store…"]
        release.set()
        said = await notices_once(pilot, lambda said: said[-1].startswith("Not rotated"))
        assert said[-1] == "Not rotated: the store is busy (another process holds a lock on it)."
    assert not KeyService(demo_store, "alice").key(key.public_key).replaced_by


async def test_with_the_store_gone_rotate_and_revoke_say_what_they_did_not_do(make_app, demo_store):
    """The store deleted under keydesk: the page's re-read that followed said
    the bare error over "Not rotated: …" (one message at a time), and the
    revoke's first read said it bare: neither said whether the key still works."""
    from pathlib import Path

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        Path(demo_store.file or "").unlink()
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("home", "down", "enter")
        await app.workers.wait_for_complete()
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert len(said) == 1 and said[0].startswith("Not rotated: the store at "), said
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert len(said) == 1 and said[0].startswith("Not revoked: the store at "), said
