"""What every keydesk screen shares: the app as keydesk.tui.interface.Keydesk
(screens never import the app, the service or the store), and the one
message shown instead of a layout the terminal is too small for."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from time import time
from typing import Any, ClassVar, TypeVar, cast
from weakref import WeakKeyDictionary

from textual import events
from textual._time import get_time
from textual.actions import parse as parse_action
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.notifications import Notification
from textual.screen import ModalScreen, Screen, ScreenResultType
from textual.widget import MountError, Widget
from textual.widgets import Static

from keydesk.tui.interface import Keydesk
from keydesk.tui.widgets.filter_input import clear_typed

MIN_WIDTH, MIN_HEIGHT = 60, 20
TOO_SMALL = f"Terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}). Enlarge it, or ctrl+q to quit."
TOO_SMALL_CLASS = "-too-small"  # on the app while it is: app.tcss shows TOO_SMALL alone
# Actions that open a form: what is typed just after one refused was its text.
FORM_ACTIONS = frozenset({"generate", "add", "edit", "limits"})
# Keys safe to act on unread: backing out, quitting, asking for help.
SAFE_UNREAD = frozenset({"escape", "ctrl+q", "f1", "question_mark"})


def mark_too_small(app: App[Any], size: Size) -> None:
    """Class the app TOO_SMALL_CLASS while `size` is under MIN_WIDTH x
    MIN_HEIGHT. A class on the app, changed only when the size crosses the
    line, restyles nothing else."""
    small = size.width < MIN_WIDTH or size.height < MIN_HEIGHT
    if small == app.has_class(TOO_SMALL_CLASS):
        return
    if small:
        _focused_before.update({s: s.focused for s in app.screen_stack if s.focused is not None})
    app.set_class(small, TOO_SMALL_CLASS)
    if not small:
        app.call_after_refresh(_focus_again, app)


# Hidden under the "too small" line, a widget loses the focus, and nothing
# gave it back: j/k moved nothing, a form's typing went nowhere, and Enter
# acted on a row no longer highlighted.
_focused_before: WeakKeyDictionary[Screen[Any], Widget] = WeakKeyDictionary()


def _focus_again(app: App[Any]) -> None:
    """Each screen's focus as it was before the terminal was too small (a
    screen opened meanwhile: its own first choice, AUTO_FOCUS)."""
    for screen in app.screen_stack:
        widget = _focused_before.pop(screen, None)
        if screen.focused is not None:
            continue
        if widget is not None and widget.is_attached and widget.focusable:
            screen.set_focus(widget, scroll_visible=False)
        elif auto := screen.AUTO_FOCUS or app.AUTO_FOCUS:
            first = next((w for w in screen.query(auto) if w.focusable), None)
            if first is not None:
                screen.set_focus(first, scroll_visible=False)


class TooSmall(Static):
    """Shown alone while the terminal is under MIN_WIDTH x MIN_HEIGHT (app.tcss)."""

    def __init__(self) -> None:
        super().__init__(TOO_SMALL, classes="too-small", markup=False)


ScreenT = TypeVar("ScreenT", bound=Screen[Any])
CheckAction = Callable[[ScreenT, str, tuple[object, ...]], "bool | None"]


def _offers_once_composed(check: CheckAction[ScreenT]) -> CheckAction[ScreenT]:
    """A screen's `check_action`, which reads its widgets: asked while the
    screen is still being composed (a key typed as it opens, the store
    opening meanwhile and refreshing the footer), it offers nothing yet
    instead of failing on a widget not there (a traceback, seen in tmux)."""

    @wraps(check)
    def guarded(screen: ScreenT, action: str, parameters: tuple[object, ...]) -> bool | None:
        try:
            return check(screen, action, parameters)
        except NoMatches:
            return None

    return guarded


def _add_too_small(screen: Screen[Any]) -> None:
    with suppress(MountError):  # the app is closing before the screen opened
        screen.mount(TooSmall())
    _repaint_when_a_message_moves_the_page(screen)


def _repaint_when_a_message_moves_the_page(screen: Screen[Any]) -> None:
    """A message takes lines of its own above the footer, the page's lowest
    lines moving up (app.tcss: its rack is docked in the page). Textual lays
    the page out again but repaints only the message: on Scan, the line
    under the findings, moved up, was still drawn where the message now
    was. So the whole screen is repainted after a layout that follows a
    message shown or gone."""
    shown: list[object] = []

    def laid_out(_screen: Screen[Any]) -> None:
        with suppress(NoMatches):  # its own child: no walk of the page at every layout
            now = list(screen.get_child_by_id("textual-toastrack").children)
            if now != shown:
                shown[:] = now
                screen.refresh()

    screen.screen_layout_refresh_signal.subscribe(screen, laid_out)


class KeydeskScreen(Screen[ScreenResultType]):
    # Actions whose keys leave the footer first when it is too narrow for
    # all (after the dimmed ones; ? lists them still): keydesk.tui.widgets.footer.
    FOOTER_FIRST_TO_GO: ClassVar[tuple[str, ...]] = ()
    # The actions whose keys the page's own words name now ("e fills it in"):
    # the footer offers them, and keeps them, even where it does not otherwise.
    advised: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "check_action" in cls.__dict__:  # every screen's, as it is defined
            cls.check_action = _offers_once_composed(cls.__dict__["check_action"])  # type: ignore[method-assign,assignment]

    @property
    def keydesk(self) -> Keydesk:
        return cast(Keydesk, self.app)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened_at = time()  # when it was asked for (it mounts later)

    # These run besides each screen's own handlers (Textual calls every class's).
    def on_mount(self) -> None:
        _add_too_small(self)
        # A refusal about the screen it covers ("kdpk_… is revoked: it
        # cannot be rotated") stayed over the key page just opened.
        for message in list(self.app._notifications):  # Textual offers no public list
            if message.severity == "warning" and message.raised_at < self._opened_at:
                self.app._unnotify(message)

    def on_key(self, event: events.Key) -> None:
        """A key whose action the footer shows dimmed (not possible right
        now) says why, instead of doing nothing in silence. Textual checks
        bindings after this handler: say it only when no binding on the way
        from the focused widget up (a button's Enter) would act on the key."""
        dimmed: Binding | None = None
        hidden: Binding | None = None
        for node, bindings in self._modal_binding_chain:
            for binding in bindings.key_to_bindings.get(event.key, ()):
                namespace, action, parameters = parse_action(binding.action)
                target = {"app": self.app, "screen": self}.get(namespace, node)
                offered = target.check_action(action, parameters)
                if offered:
                    return  # it acts
                if offered is None and node is self and dimmed is None:
                    dimmed = binding
                if offered is False and node is self and hidden is None:
                    hidden = binding
        if dimmed is not None:
            why = self.why_not(dimmed.action) or f"{dimmed.description}: not possible here now"
            self.keydesk.refuse(why, form_key=dimmed.action in FORM_ACTIONS)
            event.stop()
        elif hidden is not None and (role_cannot := self.why_hidden(hidden.action)):
            self.keydesk.refuse(role_cannot, form_key=hidden.action in FORM_ACTIONS)
            event.stop()

    def action_back(self) -> None:
        """Escape (and q) on a list: a filter holding text is emptied first."""
        if not clear_typed(self):
            self.app.pop_screen()

    def why_not(self, action: str) -> str | None:
        """Why `action`, dimmed in the footer, cannot be done now (None: a
        general sentence). Screens whose actions depend on a row say which."""
        return None

    def why_hidden(self, action: str) -> str | None:
        """Why `action`, hidden from this account (its role), does nothing
        when its key is pressed (None: silence, as for keys of other tabs)."""
        return None

    # True once the screen is on its way out but still in front (its dismiss
    # waits for a frame to be drawn): keys typed behind the one that closed
    # it are for the screen below (keydesk.tui.typeahead waits for that).
    leaving = False

    # Hidden by another full screen (not a dialog over it), what a screen
    # shows may change meanwhile (a new key, a revoke from the command line):
    # `uncovered` runs when it is back in front.
    _covered = False

    def on_screen_suspend(self) -> None:
        self._covered = not self.app.screen.is_modal

    def on_screen_resume(self) -> None:
        if self._covered:
            self._covered = False
            self.uncovered()

    def uncovered(self) -> None:
        """Back in front after a full screen hid this one."""

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        """ctrl+q: a screen holding what quitting would lose (a form's typed
        text) asks, quitting with `quit_app` if told to, and says True."""
        return False


class KeydeskModal(ModalScreen[ScreenResultType]):
    """A dialog: it shows its own footer (a modal's keys are its own, not
    those of the screen behind it), and only its own messages: those about
    the screen behind (a revoke's, top right) covered the dialog's words at
    60x20. They come back, if not yet timed out, when it closes."""

    _behind: tuple[Notification, ...] = ()

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "app.help", "Help", show=False, id="dialog.help"),
    ]

    @property
    def keydesk(self) -> Keydesk:
        return cast(Keydesk, self.app)

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        """As KeydeskScreen's: a dialog holding a half-typed form asks."""
        return False

    _shown_at = math.inf  # when its first frame was drawn

    def answers(self) -> str | None:
        """The keys that answer this question, said when a stray key is
        refused (None: a dialog of fields, whose keys are their text)."""
        return None

    def refused_unseen(self, event: events.Key) -> bool:
        """A key typed before this question was on screen answers nothing
        (Escape, help and quit aside): a confirmation counts once its words
        could be read. `it` Enter typed onto a key's row rotated the key;
        `hello⏎See you` saved a setting (its S answered). Said, and the keys
        behind it dropped; True: refused."""
        if self.answers() is None or event.key in SAFE_UNREAD:
            return False
        if event.time >= self._shown_at:
            return False
        typed = event.character if event.is_printable else event.key
        self.keydesk.refuse(
            f"“{typed}” was typed before this question was on screen: read it, then answer"
        )
        return True

    def _drawn(self) -> None:
        # Drawn under the "too small" line it was not seen: it counts once
        # the terminal is large enough again and it is drawn there (on_resize).
        if not self.app.has_class(TOO_SMALL_CLASS):
            self._shown_at = get_time()  # Textual's clock, as Message.time's

    def on_resize(self) -> None:
        if self._shown_at == math.inf:
            self.call_after_refresh(self._drawn)

    def on_key(self, event: events.Key) -> None:
        """A printable key that answers nothing is refused, and the keys
        typed behind it are dropped: text typed ahead onto a key's row
        ("xpor", meant for a filter) opened Revoke with its x and answered
        it with its r. Textual checks bindings after this handler: a key
        bound anywhere on the way (r, ?, a list's j) acts."""
        answers = self.answers()
        if answers is None or not event.is_printable:
            return
        if any(event.key in b.key_to_bindings for _node, b in self._modal_binding_chain):
            return
        event.stop()
        event.prevent_default()
        self.keydesk.refuse(f"“{event.character}” does not answer this question: {answers}")

    def on_mount(self) -> None:
        _add_too_small(self)
        self.call_after_refresh(self._drawn)
        self._behind = tuple(self.app._notifications)  # Textual offers no public list
        self.app.clear_notifications()
        # Textual clears only the front screen's toasts: the one behind kept
        # its message drawn under the dialog's (two overlapped, 80x24).
        for screen in self.app.screen_stack:
            if screen is not self:
                screen.query("ToastRack > ToastHolder").remove()

    def on_unmount(self) -> None:
        for message in self._behind:
            if not message.has_expired:
                self.app.notify(
                    message.message,
                    title=message.title,
                    severity=message.severity,
                    timeout=message.time_left,
                    markup=message.markup,
                )
