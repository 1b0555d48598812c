"""Command palette (ctrl+p): generate, revoke, go to an integration, switch workspace."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.fuzzy import Matcher
from textual.markup import escape

from keydesk.errors import KeydeskError
from keydesk.tui.display import content, visible


class KeydeskCommands(Provider):
    async def startup(self) -> None:
        app = self.app
        workspace = app.workspace
        self._integrations = []
        if workspace is not None:
            # On a store error the palette still offers what needs no store.
            with contextlib.suppress(KeydeskError):
                self._integrations = await asyncio.to_thread(
                    app.service.integrations, workspace.name
                )

    def _commands(self) -> list[tuple[str, object, str]]:
        from keydesk.tui.screens.integration_detail import IntegrationDetailScreen

        app = self.app
        screen = self.screen
        commands: list[tuple[str, object, str]] = []
        on_detail = isinstance(screen, IntegrationDetailScreen)
        current = screen.integration.id if on_detail else None
        commands.append(
            ("Generate API key", partial(app.generate_key, current), "Create a key (shown once)")
        )
        if on_detail:
            for key in screen.listed_keys():
                if key.is_active and screen.integration.can_manage:
                    commands.append(
                        (
                            f"Revoke API key {visible(key.label)} ({key.public_key})",
                            partial(app.revoke_key, key),
                            "Immediate and irreversible",
                        )
                    )
                if key.is_active and screen.integration.why_no_new_keys() is None:
                    commands.append(
                        (
                            f"Rotate API key {visible(key.label)} ({key.public_key})",
                            partial(app.rotate_key, key),
                            "Generate its replacement; revoke the old key once deployed",
                        )
                    )
        for integration in self._integrations:
            commands.append(
                (
                    f"Go to integration {visible(integration.name)}",
                    partial(app.open_integration, integration),
                    # the palette reads help as markup: escape what a user typed
                    escape(f"{visible(integration.provider)} · {integration.status}"),
                )
            )
        commands.append(("Switch workspace", app.switch_workspace, "Choose another workspace"))
        return commands

    async def discover(self) -> Hits:
        for name, action, help in self._commands():
            yield DiscoveryHit(content(name), action, text=name, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, _highlight(matcher, name), action, text=name, help=help)


def _highlight(matcher: Matcher, text: str):
    """Like `Matcher.highlight`, which reads its text as markup: stored
    names must show literally, so style the matched characters of plain text."""
    shown = content(text)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        shown = shown.stylize(matcher.match_style, offset, offset + 1)
    return shown
