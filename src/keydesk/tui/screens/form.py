"""A form that asks before what was typed in it is lost: Escape, its Cancel
button and ctrl+q all go through `leave_form`'s one question, whether the
form is a full screen (FormScreen) or a dialog (DialogForm: Members → a, a
key's limits), which quit and discarded without asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.containers import VerticalScroll
from textual.screen import Screen, ScreenResultType
from textual.widgets import Button

from keydesk.tui.screens.base import KeydeskModal, KeydeskScreen
from keydesk.tui.screens.confirm import UNSAVED_FORM, leave_form


class FormScroll(VerticalScroll, can_focus=False):
    """A form's scrolling body: it follows the focused field and is no focus
    stop itself (Shift+Tab from a form's first field stopped on it, where
    what was typed went nowhere, and ctrl+s saved the form unchanged)."""


def _cancel(form: Screen[Any], busy: bool, typed: Callable[[], bool]) -> None:
    if not busy:
        leave_form(form, typed())


def ask_before_quitting(
    form: Screen[Any],
    busy: bool,
    typed: Callable[[], bool],
    quit_app: Callable[[], object],
    unsaved: str = UNSAVED_FORM,
) -> bool:
    """ctrl+q on a screen holding typed text (a form, the welcome page's
    name, the scan's path): `leave_form`'s question, quitting if told to;
    True when it asked (the screen's `asked_before_quitting`)."""
    if busy or not typed():
        return False
    leave_form(form, True, quit_app=quit_app, unsaved=unsaved)
    return True


class FormScreen(KeydeskScreen[ScreenResultType]):
    """Subclasses say what counts as typed (`_typed`) and set `_busy` while a
    save runs (nothing is left or asked then: the save decides)."""

    _busy: bool = False

    def _typed(self) -> bool:
        raise NotImplementedError

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        _cancel(self, self._busy, self._typed)

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        return ask_before_quitting(self, self._busy, self._typed, quit_app)


class DialogForm(KeydeskModal[ScreenResultType]):
    """FormScreen's rules for a form in a dialog."""

    _busy: bool = False

    def _typed(self) -> bool:
        raise NotImplementedError

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        _cancel(self, self._busy, self._typed)

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        return ask_before_quitting(self, self._busy, self._typed, quit_app)
