"""Textual's Header, safe to close as soon as it opens."""

from __future__ import annotations

from textual import events
from textual.widgets import Header as TextualHeader
from textual.widgets import Static


class Header(TextualHeader):
    """Textual's Header (8.2.8), its title set on its own turn. Textual's
    queues its first title on the app, to run after the app's current
    message: a screen closed within that message (a fast typist's form,
    saved as it opened on a loaded machine) had lost its header's children
    by then, and the title's `NoMatches` ended the app."""

    def _on_mount(self, event: events.Mount) -> None:
        # Instead of Header's own; Widget's, also skipped, only reads `overflow: scroll`.
        event.prevent_default()
        self._show_title()
        for reactable in (self.app, self.screen):
            # Later changes call back at once, and only while this header is attached.
            self.watch(reactable, "title", self._show_title, init=False)
            self.watch(reactable, "sub_title", self._show_title, init=False)

    def _show_title(self) -> None:
        self.query_one("HeaderTitle", Static).update(self.format_title())
