"""What screens, widgets and the command palette may ask of the app.

`KeydeskApp` implements `Keydesk`; screens see the app only as this
Protocol (`KeydeskScreen.keydesk`), so they import neither the app nor the
service: the app composes screens, screens never compose the app. The store
is reached through `Keydesk.calls` (keydesk.tui.store_calls), whose calls
block: run them in a worker (keydesk.tui.calls.call_service).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from keydesk.tui.store_calls import StoreCalls
from keydesk.views import IntegrationView, KeyView, WorkspaceView

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from keydesk.store.queries import Reads  # the store layer: not loaded by screens


class Keydesk(Protocol):
    """The app as screens see it: its state, the store, and the flows
    screens share (each starts on the UI thread and returns at once)."""

    # -- state -------------------------------------------------------------------------

    @property
    def workspace(self) -> WorkspaceView | None:
        """The workspace shown (None until one is chosen or made)."""

    @property
    def actor(self) -> str | None:
        """The account acting (None until the store says who)."""

    @property
    def where(self) -> str:
        """The store's place, without a password, for the "Opening …" line."""

    @property
    def ready(self) -> bool:
        """The store is open (before, lists are read bare and calls wait)."""

    def now(self) -> datetime:
        """What "now" is for words like "expiring in 9 days"."""

    def refuse(
        self, message: str, *, severity: SeverityLevel = "warning", form_key: bool = False
    ) -> None:
        """Say why a key did nothing; the keys typed right behind it are
        dropped (they were for what it would have opened), and, for a key
        that opens a form (`form_key`), those typed just after it too."""

    # -- the store -----------------------------------------------------------------------

    @property
    def calls(self) -> StoreCalls:
        """Every store call a screen makes (blocking: in a worker)."""

    def reading(self) -> AbstractContextManager[Reads]:
        """In a worker: the list reads, bare while the store opens."""

    # -- flows ---------------------------------------------------------------------------

    def open_integration(
        self, integration: IntegrationView, tab: str = "api-keys", highlight: str | None = None
    ) -> None: ...

    def generate_key(self, integration_id: int | None = None) -> None: ...

    def rotate_key(self, key: KeyView) -> None: ...

    def revoke_key(
        self,
        key: KeyView,
        on_revoked: Callable[[KeyView], object] | None = None,
        *,
        revoke: Callable[[], KeyView] | None = None,
    ) -> None: ...

    def revoke_keys(self, keys: list[KeyView], on_revoked: Callable[[], object]) -> None:
        """Several keys together, behind one confirmation (count, sample, what breaks)."""

    def keep_key(
        self, key: KeyView, on_kept: Callable[[KeyView], object] | None = None
    ) -> None: ...

    def add_integration(self) -> None: ...

    def edit_integration(self, integration: IntegrationView) -> None: ...

    def configure_integration(self, integration: IntegrationView) -> None: ...

    def disable_integration(self, integration: IntegrationView) -> None: ...

    def switch_workspace(self) -> None: ...

    def show_members(self) -> None: ...

    def show_audit(self) -> None: ...

    def refresh_workspace(self) -> None: ...

    def left_workspace(self, name: str) -> None: ...

    def scan_for_leaks(self) -> None: ...

    def copy_text(self, text: str, what: str) -> None: ...
