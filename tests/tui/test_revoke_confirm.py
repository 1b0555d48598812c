"""The one-key revoke question: for a key in no rotation it offers to rotate
instead, and t in the question does it (the footer names it), at 60x20."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from keydesk.errors import StoreUnavailable
from keydesk.service import KeyService
from keydesk.tui.screens.choice import ChoiceScreen
from keydesk.tui.screens.confirm import ConfirmScreen, revoke_confirmation
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.widgets.footer import KeyFooter
from keydesk.views import utcnow
from tests.tui.screenshots import burst, notices_once, open_integration, settle, settle_long


async def test_t_in_the_revoke_question_rotates_the_key_instead(make_app, demo_store):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        assert key.is_active and not (key.replaces or key.replaced_by)
        await pilot.press("x")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.id == "revoke-confirm"
        said = " ".join(str(s.render()) for s in dialog.query(".dialog-line").results(Static))
        assert "Rotate it instead (t)" in said and "Cancel (esc), then" not in said
        shown = [
            k.description
            for k in dialog.query_one(KeyFooter).query(FooterKey)
            if k.region.width > 0 and k.region.right <= 60
        ]
        assert shown == ["Cancel", "Rotate instead", "Revoke"]
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen) and app.screen.id == "overlap-choice"
        await pilot.press("home", "down", "down", "enter")  # 24 hours of overlap
        await settle(pilot)
        assert isinstance(app.screen, KeyCreatedScreen)
    old = KeyService(demo_store, "alice").key(key.public_key)
    assert old.is_active and old.replaced_by and old.stop_scheduled()  # rotated, not revoked
    # Where t cannot rotate (a key found leaked, one just made, a draft's), nothing offers it.
    plain = revoke_confirmation(key, None, utcnow())
    assert "instead" not in " ".join(plain._lines) and plain._instead is None


async def test_a_revoke_the_store_refused_says_the_key_was_not_revoked(make_app, demo_store):
    """Answered, then refused by a locked store: the message alone ("the store
    is busy; try again") left it unclear whether the key still works."""
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()

        def busy(_public_key):
            raise StoreUnavailable("the store is busy (another process holds a lock on it)")

        app.service.revoke_key = busy
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        [said] = [n.message for n in app._notifications]
        assert said == "Not revoked: the store is busy (another process holds a lock on it)."
    assert KeyService(demo_store, "alice").key(key.public_key).is_active


async def test_a_revoke_the_store_keeps_waiting_says_so_at_once(make_app, demo_store):
    """Behind a lock held elsewhere a revoke waited ~5 s with nothing on
    screen: it says it is waiting, then what came of it."""
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        release = threading.Event()
        revoke_key = app.service.revoke_key

        def held(public_key):
            release.wait(10)  # the lock, until the notice is seen
            return revoke_key(public_key)

        app.service.revoke_key = held
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("r")
        waiting = f"Revoking {key.public_key}: waiting for the store…"
        said = await notices_once(pilot, bool)
        assert said == [waiting]
        release.set()
        said = await notices_once(pilot, lambda said: said[-1:] != [waiting])
        assert said[-1] == f"Revoked {key.public_key} ({key.label})."
    assert not KeyService(demo_store, "alice").key(key.public_key).is_active


async def test_text_typed_onto_a_row_never_answers_the_question_its_x_opened(make_app, demo_store):
    """'xpor' typed at once on a key's row (meant for a filter): the x asked
    "Revoke API key?" and its r revoked the key. A key that answers nothing
    is refused, with why, and the keys behind it are dropped; so is
    'dabcD' on the Disable question."""
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        assert key.is_active
        burst(app, "xpor")
        await settle_long(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.id == "revoke-confirm"
        said = [n.message for n in app._notifications]
        assert said[-1] == (
            "“p” was typed before this question was on screen: read it, then answer."
        )
        await pilot.press("p")  # once on screen: a key that answers nothing
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert said[-1] == (
            "“p” does not answer this question: r Revoke, t Rotate instead, esc Cancel."
        )
        await pilot.press("escape")
        await settle(pilot)
        burst(app, "dabcD")
        await settle_long(pilot)
        assert isinstance(app.screen, ConfirmScreen), app.screen
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.integration.is_configured
    assert KeyService(demo_store, "alice").key(key.public_key).is_active


@pytest.mark.parametrize("typed", ["te|enter", "tx|enter", "tg|enter"])
async def test_text_typed_after_t_never_reaches_the_page_behind_the_overlap_question(
    make_app, demo_store, typed
):
    """'test' Enter typed at once on a key's row: the question's Enter (a
    priority binding) answered it before the e had been handled, and e's
    binding was then found on the page behind: an edit form (x: a revoke
    question, g: a create form) opened under the new key's page. A key
    that answers nothing is refused, and Enter behind it is dropped."""
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        burst(app, typed)
        await settle_long(pilot)
        assert [type(s).__name__ for s in app.screen_stack[2:]] == [
            "IntegrationDetailScreen",
            "ChoiceScreen",
        ]
        said = [n.message for n in app._notifications]
        assert said[-1] == (
            f"“{typed[1]}” was typed before this question was on screen: read it, then answer."
        ), said
    assert not KeyService(demo_store, "alice").key(key.public_key).replaced_by


async def test_a_question_takes_no_answer_typed_before_it_was_on_screen(make_app, demo_store):
    """`it` Enter typed onto a key's row: t asked the overlap and the Enter
    typed with it answered, rotating the key unread. A confirmation counts
    once its words could be read; Escape typed ahead still cancels."""
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_integration(pilot, "github")
        key = app.screen.highlighted_key()
        burst(app, "it|enter")
        await settle_long(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        said = [n.message for n in app._notifications]
        assert said[-1] == (
            "“enter” was typed before this question was on screen: read it, then answer."
        ), said
        await pilot.press("escape")
        await settle(pilot)
        burst(app, "t|escape")
        await settle_long(pilot)
        assert not isinstance(app.screen, ChoiceScreen), "escape typed ahead cancels"
    assert not KeyService(demo_store, "alice").key(key.public_key).replaced_by
