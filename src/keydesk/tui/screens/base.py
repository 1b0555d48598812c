"""What every keydesk screen shares: typed access to the app, which holds
the service (screens never import the service or the store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import ModalScreen, Screen, ScreenResultType

if TYPE_CHECKING:
    from keydesk.tui.app import KeydeskApp


class KeydeskScreen(Screen[ScreenResultType]):
    @property
    def keydesk(self) -> KeydeskApp:
        return cast("KeydeskApp", self.app)


class KeydeskModal(ModalScreen[ScreenResultType]):
    @property
    def keydesk(self) -> KeydeskApp:
        return cast("KeydeskApp", self.app)
