"""The footer every screen shows: the keys it offers now."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

Offer = tuple[tuple[Binding, bool, str], ...]  # (binding, enabled, tooltip) per key shown


class KeyFooter(Footer):
    """Textual's Footer, rebuilt only when what it offers changes.

    Textual's rebuilds itself after every `refresh_bindings` (a focus move,
    a row highlighted, a tab shown), once per call, mounting a widget per
    key each time: opening a 5,000-key tab rebuilt it 23 times, a third of
    the time to its first rows. This one rebuilds at most once per refresh,
    and not at all when the keys, their state and tooltips are unchanged.
    It leans on Footer's internals (`_bindings_ready`, its compose): check
    it when Textual is upgraded (tests/tui/test_layout.py does)."""

    def __init__(self, *, compact: bool = True) -> None:
        super().__init__(compact=compact)
        self._offered: Offer | None = None
        self._rebuild_pending = False

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._rebuild_soon()

    def watch_show_command_palette(self) -> None:
        self._rebuild_soon()

    def _rebuild_soon(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        if not self.is_attached or self._pruning:
            # Its screen is closing (as Textual's recompose checks): asking
            # it what it offers would query widgets already removed.
            return
        offered = self._offer()
        if offered != self._offered:
            self._offered = offered
            await self.recompose()

    def _offer(self) -> Offer:
        """What compose shows: the keys shown with their state, and ^p if shown."""
        active = self.screen.active_bindings
        shown = [
            (binding, enabled, tooltip)
            for _node, binding, enabled, tooltip in active.values()
            if binding.show
        ]
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            shown.append(palette[1:])
        return tuple(shown)
