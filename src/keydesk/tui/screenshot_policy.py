"""No picture of a private key: Textual's Screenshot (the palette's command,
its action, TEXTUAL_SCREENSHOT) is refused while the one-time reveal holds
one, and a picture is written owner-only (a screen shows workspace and key
names)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand

from keydesk.errors import KeydeskError
from keydesk.tui.screens.key_created import KeyCreatedScreen

REFUSED = "No screenshots while a private key is on screen."


class ScreenshotRefused(KeydeskError):
    pass


class ScreenshotPolicy:
    def __init__(self, app: App[Any]) -> None:
        self._app = app

    @property
    def secret_on_screen(self) -> bool:
        """A private key is on screen (maybe behind a dialog)."""
        return any(
            isinstance(screen, KeyCreatedScreen) and screen.holds_secret
            for screen in self._app.screen_stack
        )

    def offered(self, commands: Iterable[SystemCommand]) -> Iterator[SystemCommand]:
        """The palette's system commands, without Screenshot while a secret shows."""
        for command in commands:
            if command.title == "Screenshot" and self.secret_on_screen:
                continue  # a picture of the screen would hold the private key
            yield command

    def deliver(
        self, filename: str | None, path: str | None, time_format: str | None
    ) -> str | None:
        """Textual's Screenshot: refused while a private key is on screen;
        otherwise saved (to the downloads folder unless `path`) and said."""
        from platformdirs import user_downloads_path

        app = self._app
        if self.secret_on_screen:
            app.notify(REFUSED, severity="warning", markup=False)
            return None
        saved = app.save_screenshot(filename, path or str(user_downloads_path()), time_format)
        app.notify(f"Saved screenshot to {saved}", title="Screenshot", markup=False)
        return saved

    def save(self, filename: str | None, path: str | None, time_format: str | None) -> str:
        """The screen as SVG, written owner-only from the start."""
        if self.secret_on_screen:
            raise ScreenshotRefused("no screenshot while a private key is on screen")
        folder = Path(path or ".").expanduser()
        name = (
            filename or f"keydesk_{datetime.now().strftime(time_format or '%Y-%m-%dT%H_%M_%S')}.svg"
        )
        target = folder / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(self._app.export_screenshot())
        return str(target)
