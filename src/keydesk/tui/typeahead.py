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

What a key set off includes the store work it started: Enter on a form
saves in a worker, and only its result opens the next screen (the first
workspace made, then the Add integration form; an integration saved, then
its list read again). Keys typed behind it waited only for messages, so
they reached the old screen, or a list not yet filled, where `s` opened
Scan. They wait for that work too, up to WORK_LIMIT, also while the store
still opens (a key saved then waits for it: `g label Enter c d` typed as
keydesk started lost `c d` to the form before the reveal opened); a scan,
which runs until stopped and takes keys meanwhile, and the create form's
default rate, a hint that what is typed meanwhile overrides, excepted.
And while keydesk starts
nothing is in front yet (the welcome form waits for the store): every key
waits for the first screen, which `opened` says is up. A screen on its
way out (Done on the reveal page draws a frame without the key first) is
waited out too: `d d` there must not press Done twice.

Escape and the key typed right after it reach a terminal app as the bytes an
Alt key sends (ESC then the key): Escape then `/` came as `/` alone, the
Escape lost. keydesk binds no Alt key, so an Alt key nothing here binds is
read as the two keys typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from textual import events
from textual._time import get_time
from textual.message_pump import MessagePump
from textual.widgets import Input
from textual.worker import Worker

from keydesk.tui.paste import WholePasteParser  # Textual's parser: no public hook for ESC+key
from keydesk.tui.screens.base import SAFE_UNREAD, TOO_SMALL_CLASS

if TYPE_CHECKING:
    from textual.app import App

# Keys that move focus or act on what is focused, bound or not.
MOVING_KEYS = frozenset({"tab", "shift+tab", "enter", "escape"})
REFUSAL_GRACE = 0.3  # seconds after a form key's refusal in which keys are dropped (drop_held)
SETTLE_ROUNDS = 3  # a binding acts, a screen is pushed, it mounts and focuses
SETTLE_LIMIT = 1.0  # seconds: a busy screen never holds keys back for longer
WORK_LIMIT = 5.0  # seconds: store work a key started holds the keys behind it no longer
WORK_POLL = 0.01  # seconds between looks at that work (Worker.wait refuses one not started)
# Worker groups never waited for: a scan runs until stopped; the create
# form's default rate is a hint, and what is typed meanwhile stands.
UNAWAITED_WORK = frozenset({"scan", "default-rate"})


def as_typed(event: events.Key, bound: Callable[[str], bool]) -> list[events.Key]:
    """The keys a person typed, which `event` stands for.

    Enter typed while keydesk starts, before it takes the terminal over,
    reaches it as ^J: the terminal, not yet raw, turned its CR into NL. Here
    ^J means Enter, typed ahead or not (as a shell reads it).

    An Alt key that nothing `bound` takes is Escape then the key (see module)."""
    if event.key == "ctrl+j":
        return [events.Key("enter", "\r")]
    key = event.key.removeprefix("alt+")
    if key == event.key or not event.is_printable or bound(event.key):
        return [event]
    character = event.character or ""
    if key.startswith("shift+") and character.isupper():
        key = character  # `G` typed alone is the key "G", not "shift+g"
    return [events.Key("escape", "\x1b"), events.Key(key, character)]


# Control characters ESC joins as one key in Textual's reading, where no
# Alt key is meant: every one but ESC itself and DEL (ESC DEL is Alt+Backspace,
# which deletes a word, as in a shell).
ESCAPE_THEN = frozenset(chr(code) for code in range(0x20) if code != 0x1B)


class AltKeysParser(WholePasteParser):
    """Reads ESC followed by a key as Alt and that key for every key. Textual
    marks only letters and digits: ESC `/` came as `/`, the Escape lost.
    A paste is read whole (WholePasteParser)."""

    def _sequence_to_key_events(self, sequence: str, alt: bool = False) -> Iterable[events.Key]:
        if len(sequence) == 2 and sequence[0] == "\x1b" and sequence[1].isdigit():
            # Textual reads ESC and a digit as the sign Option+digit types on a
            # Mac (ESC 3 as `£`, for WezTerm): it is Alt and the digit here.
            yield events.Key(f"alt+{sequence[1]}", sequence[1])
            return
        if len(sequence) == 2 and sequence[0] == "\x1b" and sequence[1] in ESCAPE_THEN:
            # Escape then Enter, Tab or ^P, typed quickly or joined by a slow
            # link: Textual read one key (ESC CR as Enter), the Escape lost.
            yield events.Key("escape", "\x1b")
            yield from super()._sequence_to_key_events(sequence[1], alt=False)
            return
        for event in super()._sequence_to_key_events(sequence, alt):
            if alt and event.is_printable and not event.key.startswith("alt+"):
                event = events.Key(f"alt+{event.key}", event.character)
            yield event


def read_alt_keys() -> None:
    """The terminal's keys are read with AltKeysParser from now on. Textual's
    driver takes the parser its module names: there is no other way in."""
    from textual.drivers import linux_driver

    linux_driver.XTermParser = AltKeysParser  # type: ignore[attr-defined]


class KeyGate:
    """Holds keys behind one that may change focus or screen, and every key
    until the first screen is up (see module)."""

    def __init__(self, app: App[Any]) -> None:
        self._app = app
        self._held: list[events.Key] = []
        self._replaying: events.Key | None = None
        self._starting = True
        self._settling = False
        self._in_flight = False  # a key handed on, not yet handled all the way up
        self._refused_at = -math.inf  # when a key was last refused (drop_held)
        self._task: asyncio.Task[None] | None = None
        self._draining: asyncio.Task[None] | None = None

    def holds(self, event: events.Key, after: Sequence[events.Key] = ()) -> bool:
        """True when `event` must wait (it is kept, and comes back later);
        False when the app handles it now. Keys `after` it (typed with it)
        always wait for it."""
        replayed = event is self._replaying
        if replayed:
            self._replaying = None
        elif self._starting and self._quits(event):
            return False  # nothing is on screen yet for the keys before it to reach
        elif (
            self._starting
            or self._settling
            or self._in_flight
            or self._held
            or self._replaying is not None
        ):
            self._held.extend((event, *after))
            return True
        if event.time - self._refused_at < REFUSAL_GRACE and event.key not in SAFE_UNREAD:
            if replayed:  # those typed later go on
                self._app.call_later(self._replay_next)
            return True  # typed for what a refused key would have opened (drop_held)
        if self._app.has_class(TOO_SMALL_CLASS) and not self._quits(event):
            self._held.clear()  # nothing can be read: `x`, `r` revoked a key no one saw
            return True
        refused_unseen = getattr(self._app.screen, "refused_unseen", None)
        if refused_unseen is not None and refused_unseen(event):
            return True  # typed before the question in front was on screen: said; `after` dropped
        if after or self._may_move(event):
            self._held.extend(after)
            self._settle_then_replay()
        if self._text(event):  # the field alone takes it, in the order typed: no wait
            if replayed:
                self._app.call_later(self._replay_next)
            return False
        self._in_flight = True
        self._draining = asyncio.create_task(self._drain())
        return False

    def opened(self) -> None:
        """The first screen is up: the keys typed while keydesk started go to
        it once it has settled (and what it started loading is in)."""
        if self._starting:
            self._starting = False
            self._settle_then_replay()

    def drop_held(self, *, form_key: bool = False) -> None:
        """The key in front was refused: the keys typed behind it were for
        what it would have opened, and are dropped, not acted on here. For a
        key that opens a form, so are those typed within REFUSAL_GRACE of
        it, which a slow link delivers a moment later (`g` refused on a
        draft, then `edge-prod`: its `e` opened the edit form, the rest went
        into a field, and its Enter saved the form)."""
        self._held.clear()
        if form_key:
            self._refused_at = get_time()

    def bound(self, key: str) -> bool:
        """A binding of the app, the screen in front or the focused widget
        (and its parents) takes `key`."""
        app = self._app
        if key in app._bindings.key_to_bindings:
            return True
        return any(
            key in bindings.key_to_bindings for _n, bindings in app.screen._modal_binding_chain
        )

    def _quits(self, event: events.Key) -> bool:
        bindings = self._app._bindings.key_to_bindings.get(event.key, [])
        return any(binding.priority for binding in bindings)  # ctrl+q: a stuck store is left

    def _may_move(self, event: events.Key) -> bool:
        if event.key in MOVING_KEYS:
            return True
        if self._text(event):
            return False  # a binding of the same key does not fire
        return self.bound(event.key)

    def _text(self, event: events.Key) -> bool:
        """Text for the focused field, which consumes it: it goes up to no binding."""
        return isinstance(self._app.focused, Input) and event.is_printable

    def _settle_then_replay(self) -> None:
        """Called before the app handles the key: work running now is not its."""
        self._settling = True
        running = set(self._app.workers)
        self._task = asyncio.create_task(self._release_once_settled(running))

    async def _release_once_settled(self, running: set[Worker[Any]]) -> None:
        # Never keep keys because a screen is slow, or gone: they go on anyway.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._settle_with_work(running), WORK_LIMIT)
        self._settling = False
        self._replay_next()

    async def _settle_with_work(self, running: set[Worker[Any]]) -> None:
        """Settled, then the work started since waited for, and so on: each
        result may open a screen, which may load in turn."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settle(), SETTLE_LIMIT)
            started = [
                worker
                for worker in self._app.workers
                if worker not in running and worker.group not in UNAWAITED_WORK
            ]
            if not started:
                return
            running.update(started)
            while not all(_done(worker) for worker in started):
                await asyncio.sleep(WORK_POLL)

    async def _settle(self) -> None:
        """Until the app and the screen in front have handled every message
        queued so far, a few times over (each turn may queue more); and a
        screen still in front but `leaving` is gone (the keys are for the
        one below: Done then `d` on the reveal page)."""
        app = self._app
        while True:
            for _ in range(SETTLE_ROUNDS):
                nodes = (app, *app.screen.walk_children(with_self=True))
                await asyncio.gather(*(_turn(node) for node in nodes))
            leaving = app.screen
            if not getattr(leaving, "leaving", False):
                return
            while app.screen is leaving:
                await asyncio.sleep(WORK_POLL)

    async def _drain(self) -> None:
        """Once the key handed on now has been handled all the way: by the
        app, which hands it to the focused widget, then by that widget and
        each of its parents up to the app again, where its binding is
        looked up. The next key waits for that: a rotation's overlap
        question took `t e` Enter typed at once, and its Enter (a priority
        binding, acted on as the app reads it) answered the question before
        `e` had bubbled up, whose binding was then found on the page under
        it: an edit form opened behind the new key's page."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._handled(), SETTLE_LIMIT)
        self._in_flight = False
        self._replay_next()

    async def _handled(self) -> None:
        app = self._app
        await _turn(app)
        target = app.focused or app.screen  # where the app handed the key
        for node in target.ancestors_with_self:
            await _turn(node)

    def _replay_next(self) -> None:
        """The oldest held key goes to the app again; `holds` lets it pass,
        and the one after it follows once it is handled (`_drain`)."""
        if not self._held or self._settling or self._starting or self._in_flight:
            return
        event = self._held.pop(0)
        again = events.Key(event.key, event.character)
        again.time = event.time  # when it was typed: a question takes no answer typed unseen
        self._replaying = again
        self._app.post_message(again)


async def _turn(node: MessagePump) -> None:
    """Until `node` has handled every message queued to it so far."""
    done = asyncio.Event()
    if node.call_later(done.set):
        await done.wait()


def _done(worker: Worker[Any]) -> bool:
    """Finished, or cancelled: it delivers nothing then (keydesk.tui.calls),
    and one cancelled before it started (an exclusive group's newer call
    replaced it) stays PENDING for ever."""
    return worker.is_finished or worker.is_cancelled
