"""A form that asks before what was typed in it is lost: Escape, its Cancel
button and ctrl+q all go through `leave_form`'s one question."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.screen import ScreenResultType
from textual.widgets import Button

from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.confirm import leave_form


class FormScreen(KeydeskScreen[ScreenResultType]):
    """Subclasses say what counts as typed (`_typed`) and set `_busy` while a
    save runs (nothing is left or asked then: the save decides)."""

    _busy: bool = False

    def _typed(self) -> bool:
        raise NotImplementedError

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self._busy:
            leave_form(self, self._typed())

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        if self._busy or not self._typed():
            return False
        leave_form(self, True, quit_app=quit_app)
        return True
