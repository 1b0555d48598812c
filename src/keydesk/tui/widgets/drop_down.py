"""A choice from a list that opens whole, between the header and the footer."""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import OptionList, Select
from textual.widgets._select import SelectCurrent, SelectOverlay

T = TypeVar("T")


class DropDown(Select[T]):
    """Textual's Select, whose list opens below it, whole, above the footer.

    Textual draws the list over the screen below the field and, when it
    would go past the screen's last line, moves it up (`constrain`): near
    the bottom of a 60x20 form it covered the field's own label and value,
    and its last choice was drawn over the footer ("esnever  enerate Key").
    Opening, this one scrolls the page the field is on until the list fits
    under it; where the page cannot scroll so far, the list is cut to the
    room left and scrolls itself."""

    def compose(self) -> ComposeResult:  # Select's, with its list a Choices
        yield SelectCurrent(self.prompt)
        yield Choices(type_to_search=self._type_to_search).data_bind(compact=Select.compact)

    def watch_expanded(self, expanded: bool) -> None:
        choices = self.query_one(OptionList)
        if not expanded:
            choices.styles.clear_rule("max_height")
            return
        rows = choices.option_count + choices.styles.gutter.height
        ceiling = choices.styles.max_height
        if ceiling is not None and ceiling.is_cells:
            rows = min(rows, int(ceiling.value))
        page = self._page()
        if page is None:
            return
        short = self.region.bottom + rows - page.scrollable_content_region.bottom
        if short <= 0:
            return
        scrolled = min(short, max(0, int(page.max_scroll_y - page.scroll_y)))
        if scrolled:
            page.scroll_relative(y=scrolled, animate=False, immediate=True)
        if short > scrolled:  # a few choices, the rest a scroll away
            choices.styles.max_height = max(rows - (short - scrolled), 1)

    def _page(self) -> Widget | None:
        """The scrolling container the field is on (a form), if any."""
        for node in self.ancestors:
            if isinstance(node, Widget) and node.styles.overflow_y in ("auto", "scroll"):
                return node
        return None


class Choices(SelectOverlay):
    """The open list: `j`/`k` move in it, as in every list of keydesk (in
    Textual's they were searched for, as any letter is, and did nothing)."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key in ("j", "k"):
            event.stop()
            event.prevent_default()  # not searched for as well
            self.action_cursor_down() if event.key == "j" else self.action_cursor_up()
