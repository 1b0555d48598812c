"""The footer every screen shows: the keys it offers now, as many as fit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

Key = tuple[Binding, bool, str]  # (binding, enabled, tooltip)
Offer = tuple[tuple[Key, ...], Key | None]  # the keys shown, and ^p (None: not shown)

KEY_GAP = 2  # a compact key: "k Description" and one column after it (the last: none)
PALETTE_CHROME = 3  # ^p's border, the space in it and the column before it
STAYING = ("app.help", "app.quit")  # the ids of ? and ^q: on every screen, whatever its width


class KeyFooter(Footer):
    """Textual's Footer, rebuilt only when what it offers changes, and
    showing only keys that fit the screen's width whole.

    Textual's rebuilds itself after every `refresh_bindings` (a focus move,
    a row highlighted, a tab shown), once per call, mounting a widget per
    key each time: opening a 5,000-key tab rebuilt it 23 times, a third of
    the time to its first rows. This one rebuilds at most once per refresh,
    and not at all when the keys, their state and tooltips are unchanged.

    When they do not all fit, the keys that cannot act now (dimmed) go
    first, then the actions the screen names in FOOTER_FIRST_TO_GO, then its
    keys from the last: ^p (every command), ? (every key) and ^q (quitting,
    the same on every screen) always stay, as do the keys the page's own
    words name now (a screen's `advised`, shown even where their
    binding is not: "e fills it in"), so nothing is out of reach, and no
    key is ever cut in half. It leans on Footer's internals
    (`_bindings_ready`) and Screen's (`_invoke_later`): check them when Textual is upgraded
    (tests/tui/test_terminal_sizes.py does)."""

    # The last key needs no column after it: ^p's border separates them, and
    # at 80 columns that column is what ⏎ Open needs beside ^q Quit.
    DEFAULT_CSS = """
    KeyFooter.-compact FooterKey.-last {
        margin-right: 0;
    }
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._offered: Offer | None = None
        self._rebuild_pending = False

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._rebuild_soon()

    def on_resize(self) -> None:
        self._rebuild_soon()

    def watch_show_command_palette(self) -> None:
        self._rebuild_soon()

    def _rebuild_soon(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            # Once its own screen has drawn a frame. Not call_after_refresh,
            # which queues on the screen in front: a dialog that closed
            # first (`d D` in one burst) dropped it, and this footer stayed
            # pending, never rebuilt again.
            self.screen._invoke_later(self._rebuild, self)

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

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        keys, palette = self._offered if self._offered is not None else self._offer()
        # Born with the class data_bind's watcher would add once mounted:
        # adding it then restyled each key again (~5 % of a page's opening).
        compact = "-compact" if self.compact else ""
        for n, (binding, enabled, tooltip) in enumerate(keys, 1):
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes=f"{compact} -last" if n == len(keys) else compact,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            binding, enabled, _tooltip = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette -compact",  # compact by default, unbound
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )

    def _offer(self) -> Offer:
        """What compose shows: the keys that fit, with their state, and ^p if shown."""
        active = self.screen.active_bindings
        advised: tuple[str, ...] = getattr(self.screen, "advised", ())
        keys: dict[str, Key] = {}  # one key per action, as Textual's footer shows them
        typing = isinstance(self.screen.focused, Input)
        for _node, binding, enabled, tooltip in active.values():
            if binding.show or binding.action in advised:
                if typing and binding.id == "app.help":  # `?` is text there: F1 asks
                    binding = replace(binding, key_display="f1")
                keys.setdefault(binding.action, (binding, enabled, tooltip))
        palette: Key | None = None
        found = active.get(self.app.COMMAND_PALETTE_BINDING)
        if found is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = found[1:]
        room = self.screen.size.width or self.app.size.width
        if palette is not None:
            room -= self._cells(palette[0]) + PALETTE_CHROME
        return self._fitted(list(keys.values()), room, advised), palette

    def _fitted(self, keys: list[Key], room: int, advised: tuple[str, ...]) -> tuple[Key, ...]:
        kept = list(keys)
        # The dimmed keys first, then the actions the screen names, then its
        # keys from the last; ?, ^q and the advised keys stay.
        named = getattr(self.screen, "FOOTER_FIRST_TO_GO", ())
        staying = [k for k in kept if k[0].id in STAYING or k[0].action in advised]
        droppable = [k for k in reversed(kept) if not k[1] and k not in staying]
        droppable += [k for a in named for k in kept if k[0].action == a and k not in staying]
        droppable += [k for k in reversed(kept) if k not in staying]
        for key in droppable:
            needed = sum(self._cells(binding) + KEY_GAP for binding, _, _ in kept)
            if needed - 1 <= room:  # the last key has no column after it
                break
            if key in kept:
                kept.remove(key)
        return tuple(kept)

    def _cells(self, binding: Binding) -> int:
        return cell_len(self.app.get_key_display(binding)) + cell_len(binding.description)
