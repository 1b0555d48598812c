"""Type-ahead: keys typed faster than the screen changes reach what they
were typed for, in order.

Textual hands each key to the widget focused when the app reads it, and a
key's binding (Tab moving focus, `g` opening a form) acts a few message
turns later. Over a slow SSH link keys arrive in bursts: `g`, a label and
Enter went to the list before the form opened, and `a\\tb` put both values
in one field. So after a key that may move focus or change the screen, the
keys behind it wait until the app and the screen in front have handled
everything it set off, then go on one by one. Plain typing into a field
never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from textual import events
from textual.widgets import Input

if TYPE_CHECKING:
    from textual.app import App

# Keys that move focus or act on what is focused, bound or not.
MOVING_KEYS = frozenset({"tab", "shift+tab", "enter", "escape"})
SETTLE_ROUNDS = 3  # a binding acts, a screen is pushed, it mounts and focuses
SETTLE_LIMIT = 1.0  # seconds: a busy screen never holds keys back for longer


def as_typed(event: events.Key) -> events.Key:
    """Enter typed while keydesk starts, before it takes the terminal over,
    reaches it as ^J: the terminal, not yet raw, turned its CR into NL. Here
    ^J means Enter, typed ahead or not (as a shell reads it)."""
    return events.Key("enter", "\r") if event.key == "ctrl+j" else event


class KeyGate:
    """Holds keys behind one that may change focus or screen (see module)."""

    def __init__(self, app: App[Any]) -> None:
        self._app = app
        self._held: list[events.Key] = []
        self._replaying: events.Key | None = None
        self._settling = False
        self._task: asyncio.Task[None] | None = None

    def holds(self, event: events.Key) -> bool:
        """True when `event` must wait (it is kept, and comes back later);
        False when the app handles it now."""
        if event is self._replaying:
            self._replaying = None
        elif self._settling or self._held or self._replaying is not None:
            self._held.append(event)
            return True
        if self._may_move(event):
            self._settling = True
            self._task = asyncio.create_task(self._release_once_settled())
        return False

    def _may_move(self, event: events.Key) -> bool:
        if event.key in MOVING_KEYS:
            return True
        app = self._app
        if isinstance(app.focused, Input) and event.is_printable:
            return False  # text for the field: a binding of the same key does not fire
        if event.key in app._bindings.key_to_bindings:
            return True
        return any(
            event.key in bindings.key_to_bindings
            for _n, bindings in app.screen._modal_binding_chain
        )

    async def _release_once_settled(self) -> None:
        # Never keep keys because a screen is slow, or gone: they go on anyway.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._settle(), SETTLE_LIMIT)
        self._settling = False
        self._replay_next()

    async def _settle(self) -> None:
        """Until the app and the screen in front have handled every message
        queued so far, a few times over (each turn may queue more)."""
        for _ in range(SETTLE_ROUNDS):
            app = self._app
            waits = []
            for node in (app, *app.screen.walk_children(with_self=True)):
                done = asyncio.Event()
                if node.call_later(done.set):
                    waits.append(done.wait())
            await asyncio.gather(*waits)

    def _replay_next(self) -> None:
        """The oldest held key goes to the app again; `holds` lets it pass,
        and the one after it follows once it is handled."""
        if not self._held or self._settling:
            return
        event = self._held.pop(0)
        again = events.Key(event.key, event.character)
        self._replaying = again
        self._app.post_message(again)
        self._app.call_later(self._replay_next)  # once `again` is handled
