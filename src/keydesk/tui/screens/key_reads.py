"""How an integration's page reads its keys (keydesk.tui.screens.integration_detail).

The read starts as the page is composed, so a big integration's first rows
are in the page's first frame; what it delivers before the page is mounted
waits for the mount. The rest of the keys are converted only once that page
is on screen: converting 100,000 rows holds the GIL about half the time, and
done while the page is laid out (0.2-1 s on a loaded machine) it doubled the
stall.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from itertools import islice
from threading import Event
from typing import TypeVar

from textual.dom import DOMNode

from keydesk.tui.calls import deliver
from keydesk.tui.interface import Keydesk
from keydesk.tui.widgets import LoadedKeys
from keydesk.views import KeyView

T = TypeVar("T")

FIRST_PAGE = 60  # keys shown before the rest of a big integration is read
FIRST_DRAW_WAIT = 10.0  # seconds the rest waits at most for the first page to be drawn


class PageKeyReads:
    """One page's reads of its keys; `mounted` and `drawn` are called on
    the UI thread, the function `read` returns in a worker."""

    def __init__(self) -> None:
        self._until_mounted: list[Callable[[], object]] | None = []  # None: mounted
        self._drawn = Event()  # set: the read may convert the rest of the keys

    def once_mounted(self, callback: Callable[[T], object]) -> Callable[[T], None]:
        """`callback`, on the UI thread: now, or once the page is mounted."""

        def call(value: T) -> None:
            if self._until_mounted is None:
                callback(value)
            else:
                self._until_mounted.append(partial(callback, value))

        return call

    def mounted(self) -> None:
        pending, self._until_mounted = self._until_mounted or [], None
        for delivered in pending:
            delivered()

    def drawn(self) -> None:
        """The first page is on screen (or never will be: the page closed)."""
        self._drawn.set()

    def read(
        self,
        node: DOMNode,
        keydesk: Keydesk,
        integration_id: int,
        first_page: Callable[[list[KeyView]], object],
    ) -> Callable[[], LoadedKeys]:
        """For a worker: the integration's keys; a big one's first page goes
        to `first_page` (once mounted) before the rest is read."""
        self._drawn.set()  # an older read waits no more
        self._drawn = drawn = Event()

        def read() -> LoadedKeys:
            with keydesk.reading() as reads:
                stream = reads.keys(integration_id, stream=True)
                first = list(islice(stream, FIRST_PAGE + 1))
                if len(first) > FIRST_PAGE:  # a big integration: show a page now
                    deliver(node, self.once_mounted(first_page), first[:FIRST_PAGE])
                    drawn.wait(FIRST_DRAW_WAIT)
                keys = first + list(stream)
            return LoadedKeys.of(keys, keydesk.now())

        return read
