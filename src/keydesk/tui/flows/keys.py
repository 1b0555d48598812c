"""A key's flows, one of each wherever they start (a key row, its page, the
palette, a scan): generate, rotate, keep and revoke. A new key is shown once,
then Done lands on the API Keys tab of its integration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.app import App

from keydesk.tui.calls import call_service
from keydesk.tui.display import visible
from keydesk.tui.flows.integrations import IntegrationFlows
from keydesk.tui.messages import KeysChanged
from keydesk.tui.screens.confirm import (
    keep_confirmation,
    revoke_confirmation,
    revoke_on_rotate_confirmation,
)
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.store_calls import StoreCalls
from keydesk.views import (
    CreatedKey,
    IntegrationView,
    KeyView,
    RotatedKey,
    counted,
    stop_time,
    utcnow,
)
from keydesk.views.revocations import BulkRevocation

if TYPE_CHECKING:
    from keydesk.tui.interface import Keydesk


WAITING_NOTICE_SECONDS = 0.5  # a revoke or rotation still not done by then is said to wait
T = TypeVar("T")


class KeyFlows:
    def __init__(
        self,
        app: App[Any],
        calls: StoreCalls,
        integrations: IntegrationFlows,
        refuse: Callable[..., None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`refuse`: the app's (Keydesk.refuse); `clock`: the app's "now",
        for the time a key has left."""
        self._app = app
        self._refuse = refuse
        self._calls = calls
        self._integrations = integrations
        self._now = clock

    def generate(self, integration_id: int | None = None) -> None:
        """Form → one-time reveal → the key's API Keys tab, key highlighted."""
        from keydesk.tui.screens.create_key import CreateKeyScreen

        def created(result: CreatedKey | None) -> None:
            if result is None:
                return
            integration = form.chosen()
            self._app.push_screen(
                KeyCreatedScreen(result),
                lambda public_key: self._show_new_key(
                    result.key.integration_id, integration, public_key
                ),
            )

        form = CreateKeyScreen(integration_id)
        self._app.push_screen(form, created)

    def rotate(self, key: KeyView) -> None:
        """How long the old key keeps working, then the replacement shown
        once, saying when the old key stops."""
        from keydesk.tui.screens.choice import overlap_question

        app = self._app
        if (being_replaced := _why_not_rotated(key)) is not None:
            # Said at once, as a revoked row's refusal is: not after the
            # overlap question, where the store would refuse it anyway.
            self._refused(key, being_replaced)
            return

        def rotated(rotation: RotatedKey) -> None:
            new = rotation.created.key
            app.push_screen(
                KeyCreatedScreen(rotation.created, rotation),
                lambda public_key: self._show_new_key(new.integration_id, None, public_key),
            )

        def rotate(overlap: timedelta) -> None:
            work = partial(self._calls.rotate_key, key.public_key, overlap)
            refused = partial(self._refused, key)
            self._answered(key, work, rotated, refused, ("Rotating", "Not rotated"), "rotate")

        def chosen(answer: tuple[timedelta] | None) -> None:
            if answer is None:
                return
            if answer[0]:
                rotate(answer[0])
                return
            app.push_screen(
                revoke_on_rotate_confirmation(key.label, key.public_key),
                lambda yes: rotate(timedelta(0)) if yes else None,
            )

        app.push_screen(overlap_question(key.label, key.public_key), chosen)

    def _show_new_key(
        self, integration_id: int, integration: IntegrationView | None, public_key: str | None
    ) -> None:
        """Done lands on the API Keys tab of the key's integration, whatever
        screen the flow started from (its list, the palette, another one's page)."""
        from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
        from keydesk.tui.screens.key_page import KeyScreen

        app = self._app
        screen = app.screen
        if isinstance(screen, KeyScreen):  # rotated from a key's page: back to its list
            app.pop_screen()
            screen = app.screen
        if isinstance(screen, IntegrationDetailScreen) and screen.integration.id == integration_id:
            screen.show_key(public_key)
        elif integration is not None:
            self._integrations.open(integration, highlight=public_key)
        else:
            call_service(
                app,
                lambda: self._calls.integration(integration_id),
                lambda found: self._integrations.open(found, highlight=public_key),
                group="integration",
            )

    def revoke(
        self,
        key: KeyView,
        on_revoked: Callable[[KeyView], object] | None = None,
        *,
        revoke: Callable[[], KeyView] | None = None,
    ) -> None:
        """The key read afresh, a confirmation that says what breaks, then
        the revoke (`revoke`: another store call doing it, e.g. one audited
        as leaked). A refusal (revoked meanwhile, elsewhere) refreshes what
        is shown."""
        app = self._app
        revoke_now = revoke or (lambda: self._calls.revoke_key(key.public_key))
        asked_on = app.screen
        refused = partial(self._refused, key)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._revoke_answered(key, revoke_now, on_revoked, refused)

        # t in the question rotates instead where that is what the user is
        # after: not for a key found leaked (`revoke`: its own audited call),
        # nor for one just made (its reveal page: no service uses it yet).
        rotatable = revoke is None and not isinstance(asked_on, KeyCreatedScreen)

        def read() -> tuple[KeyView, KeyView | None, bool, str]:
            current = self._calls.key(key.public_key)
            # A replacement's question says what becomes of the key it replaced.
            replaced = self._calls.key(current.replaces) if current.replaces else None
            integration = self._calls.integration(current.integration_id)
            can_rotate = rotatable and integration.can_issue_keys
            return current, replaced, can_rotate, integration.workspace

        def fresh(keys: tuple[KeyView, KeyView | None, bool, str]) -> None:
            current, replaced, can_rotate, workspace = keys
            if app.screen is not asked_on:
                # The user moved on while a slow store answered: the question
                # would land on another screen (or take an escape meant there).
                return
            if not current.is_active:
                refused(
                    f"{current.public_key} ({current.label}) is already {current.status}"
                    + (f" (by {current.revoked_by})" if current.revoked_by else "")
                )
                return
            rotate = partial(self.rotate, current) if can_rotate else None
            elsewhere = _unless_open(app, workspace)  # a key found by a scan, say
            question = revoke_confirmation(
                current, replaced, self._now(), rotate, workspace=elsewhere
            )
            app.push_screen(question, confirmed)

        def not_read(message: str) -> None:  # a store gone or locked: what it stopped
            refused(f"Not revoked: {message}")

        call_service(app, read, fresh, on_error=not_read, group="revoke")

    def revoke_many(self, keys: list[KeyView], on_revoked: Callable[[], object]) -> None:
        """Keys selected together: one confirmation (how many, a sample,
        what breaks), then one transaction; keys no longer active by then
        are left as they are, and said so."""
        from keydesk.tui.screens.revoke_many import revoke_many_confirmation

        app = self._app
        integrations = {key.integration_id for key in keys}

        def revoked(done: BulkRevocation) -> None:
            left = len(done.skipped)
            app.notify(
                f"Revoked {counted(len(done.revoked), 'key')}."
                + (f" {counted(left, 'key')} no longer active, left as it was." if left else ""),
                title="keydesk",
                markup=False,
            )
            on_revoked()
            for integration in integrations:
                app.screen.post_message(KeysChanged(integration))

        def confirmed(yes: bool | None) -> None:
            if yes:
                public_keys = [key.public_key for key in keys]
                note = f"{counted(len(keys), 'key')} selected in the TUI"
                call_service(
                    app, lambda: self._calls.revoke_keys(public_keys, note), revoked,
                    group="revoke",
                )  # fmt: skip

        # What becomes of the keys chosen replacements replaced: read now, off
        # the event loop, as the one-key question reads its old key.
        chosen = {key.public_key for key in keys}
        olds = [k.replaces for k in keys if k.replaces and k.replaces not in chosen]
        asked_on = app.screen

        def ask(replaced: list[KeyView]) -> None:
            if app.screen is asked_on:  # not if the user moved on meanwhile
                app.push_screen(revoke_many_confirmation(keys, replaced, self._now()), confirmed)

        if not olds:
            ask([])
            return
        call_service(app, lambda: [self._calls.key(old) for old in olds], ask, group="revoke")

    def keep(self, key: KeyView, on_kept: Callable[[KeyView], object] | None = None) -> None:
        """A confirmation that says what keeping does, then the stop a
        rotation set is cancelled (its replacement was revoked)."""
        app = self._app

        def kept(current: KeyView) -> None:
            until = (
                f"until {stop_time(current.expires_at)}" if current.expires_at else "with no expiry"
            )
            app.notify(
                f"Kept {current.public_key} ({visible(current.label)}): it keeps working {until}.",
                title="keydesk",
                markup=False,
            )
            if on_kept is not None:
                on_kept(current)
            app.screen.post_message(
                KeysChanged(current.integration_id, highlight=current.public_key)
            )

        def confirmed(yes: bool | None) -> None:
            if yes:
                keep_now = partial(self._calls.keep_key, key.public_key)
                refused = partial(self._refused, key)
                call_service(app, keep_now, kept, on_error=refused, group="keep")

        app.push_screen(keep_confirmation(key, self._now()), confirmed)

    def _revoke_answered(
        self,
        key: KeyView,
        revoke_now: Callable[[], KeyView],
        on_revoked: Callable[[KeyView], object] | None,
        refused: Callable[[str], None],
    ) -> None:
        """The revoke the user said yes to. A failure says "Not revoked"
        first: "the store is busy; try again" alone left it unclear whether
        the key still works."""
        done = partial(self._revoked, on_revoked)
        self._answered(key, revoke_now, done, refused, ("Revoking", "Not revoked"), "revoke")

    def _answered(
        self,
        key: KeyView,
        work: Callable[[], T],
        done: Callable[[T], object],
        refused: Callable[[str], None],
        words: tuple[str, str],
        group: str,
    ) -> None:
        """A change to `key` the user said yes to (a revoke, a rotation). A
        store that keeps it waiting (a lock held elsewhere) is said at once,
        ("Revoking kdpk_…: waiting for the store…"; ~5 s went by with
        nothing on screen), and a failure says first what was not done."""
        app = self._app
        doing, not_done = words
        waiting = app.set_timer(
            WAITING_NOTICE_SECONDS,
            lambda: app.notify(
                f"{doing} {key.public_key}: waiting for the store…", markup=False, timeout=10
            ),
        )

        def succeeded(result: T) -> None:
            waiting.stop()
            done(result)

        def failed(message: str) -> None:
            waiting.stop()
            refused(f"{not_done}: {message}")

        call_service(app, work, succeeded, on_error=failed, group=group)

    def _revoked(self, on_revoked: Callable[[KeyView], object] | None, key: KeyView) -> None:
        self._app.notify(
            f"Revoked {key.public_key} ({visible(key.label)}).", title="keydesk", markup=False
        )
        if on_revoked is not None:
            on_revoked(key)
        self._app.screen.post_message(KeysChanged(key.integration_id, highlight=key.public_key))

    def _refused(self, key: KeyView, message: str) -> None:
        self._refuse(visible(message), severity="error")
        self._app.screen.post_message(KeysChanged(key.integration_id, highlight=key.public_key))


def _unless_open(app: App[Any], workspace: str) -> str | None:
    """`workspace`, unless it is the one open (then the question need not name it)."""
    shown = cast("Keydesk", app).workspace
    return None if shown is not None and shown.name == workspace else workspace


def _why_not_rotated(key: KeyView) -> str | None:
    """Why `key` cannot be rotated again, as the store would say it: a
    rotation already made its replacement and set it to stop (its status
    reads "rotating -> ..."). None: it may be rotated."""
    if key.is_active and key.stop_scheduled() and not key.replacement_revoked:
        new = key.replaced_by
        return (
            f"{key.public_key} ({key.label}) is already being replaced by {new}: "
            f"rotate {new} instead, or revoke it first"
        )
    return None
