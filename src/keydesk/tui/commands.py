"""Command palette (ctrl+p): generate, revoke, go to an integration, switch workspace, help."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from functools import partial
from typing import cast

from textual import on
from textual.app import ComposeResult
from textual.command import (
    CommandInput,
    CommandList,
    CommandPalette,
    Hit,
    Hits,
    Provider,
    SearchIcon,
)
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape
from textual.widgets import Input, LoadingIndicator, Static
from textual.worker import WorkerCancelled, WorkerFailed

from keydesk.errors import KeydeskError
from keydesk.tui.actions import key_action
from keydesk.tui.display import content, sentence, visible
from keydesk.tui.interface import Keydesk
from keydesk.tui.widgets.filter_input import SearchInput
from keydesk.views import IntegrationView, KeyView

Command = tuple[str, Callable[[], object], str]
PALETTE_KEYS = 200  # keys of the table offered by name; the filter narrows the table


class PaletteInput(CommandInput, SearchInput):  # CommandInput first: its CSS and focus find it
    """The palette's search: a private key becomes its public key, as in a
    filter, and a paste holding a control character is refused."""

    WHAT = "the search"

    def refused(self, message: str) -> None:
        # On the palette's own line: a toast was drawn under its list.
        self.post_message(self.Refused(self, message))


PALETTE_KEYS_SHOWN = (("⏎", "run"), ("↑↓", "choose"), ("esc", "close"))


class KeydeskPalette(CommandPalette):
    """Enter typed right behind a search waits for its hits: 'audit' Enter
    in one burst (a paste, a quick typist over SSH) ran the command the
    empty search had highlighted, Generate API key, not the Audit trail.

    Its own keys cover the footer of the screen behind, whose keys
    (g New key, / Filter) would only type into the search."""

    DEFAULT_CSS = """
    KeydeskPalette > #palette-keys {
        dock: bottom;
        height: auto;
        max-height: 2;
        width: 1fr;
        padding: 0 1;
        background: $footer-background;
        color: $footer-foreground;
        &.-refused { background: $warning-muted; }
    }
    /* 70vh (Textual's) reached over the key line at 60x20, and a refusal
       takes two rows there. */
    KeydeskPalette CommandList {
        max-height: 55vh;
    }
    """

    def compose(self) -> ComposeResult:
        # CommandPalette's own, with a search box that never holds a private
        # key or an escape sequence (pasted, `\e[2J` cleared the terminal).
        with Vertical(id="--container"):
            with Horizontal(id="--input"):
                yield SearchIcon()
                yield PaletteInput(placeholder=self._placeholder, select_on_focus=False)
            with Vertical(id="--results"):
                yield CommandList()
                yield LoadingIndicator()
        yield Static(_keys_line(), id="palette-keys")

    _refused_search = ""  # the search as the refusal left it (a key: its public key)

    @on(SearchInput.Refused)
    def _refused(self, event: SearchInput.Refused) -> None:
        line = self.query_one("#palette-keys", Static)
        line.update(content(sentence(event.message)))
        line.add_class("-refused")
        self._refused_search = event.control.value

    @on(Input.Changed)
    def _keys_again(self, event: Input.Changed) -> None:
        """The search typed on: the refusal was read, the keys come back (on
        a timer, a slow reader lost it; a fast one saw it linger)."""
        line = self.query_one("#palette-keys", Static)
        if line.has_class("-refused") and event.value != self._refused_search:
            line.update(_keys_line())
            line.remove_class("-refused")

    @on(Input.Submitted)
    async def _after_the_search(self, event: Input.Submitted) -> None:
        searches = [
            worker
            for worker in self.workers
            if worker.node is self
            and worker.group == self._GATHER_COMMANDS_GROUP
            and not worker.is_finished
        ]
        if not searches:
            return  # CommandPalette's own handler chooses
        event.prevent_default()  # not CommandPalette's handler, now
        event.stop()
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await searches[-1].wait()
        self._select_or_command()


def _keys_line() -> Content:
    return Content("  ").join(
        Content.assemble((key, "bold"), f" {what}") for key, what in PALETTE_KEYS_SHOWN
    )


class KeydeskCommands(Provider):
    @property
    def keydesk(self) -> Keydesk:
        return cast(Keydesk, self.app)

    async def startup(self) -> None:
        app = self.keydesk
        workspace = app.workspace
        self._integrations: list[IntegrationView] = []
        if workspace is not None and app.ready:
            # On a store error the palette still offers what needs no store.
            with contextlib.suppress(KeydeskError):
                self._integrations = await asyncio.to_thread(app.calls.integrations, workspace.name)

    def _commands(self) -> list[Command]:
        from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
        from keydesk.tui.screens.key_page import KeyScreen

        app = self.keydesk
        screen = self.screen
        commands: list[Command] = []
        # The integration on screen (a key's page too): Generate preselects it, as g does.
        current = (
            screen.integration if isinstance(screen, IntegrationDetailScreen | KeyScreen) else None
        )
        commands.extend(self._generate(current))
        if isinstance(screen, IntegrationDetailScreen) and current is not None:
            for key in screen.listed_keys()[:PALETTE_KEYS]:
                commands.extend(self._key_commands(current, key))
        else:
            commands.extend(self._row_commands())
        for integration in self._integrations:
            commands.append(
                (
                    f"Go to integration {visible(integration.name)}",
                    partial(app.open_integration, integration),
                    # the palette reads help as markup: escape what a user typed
                    escape(f"{visible(integration.provider)} · {integration.status}"),
                )
            )
        if app.ready:
            commands.append(("Switch workspace", app.switch_workspace, "Choose another workspace"))
            revokes = app.workspace is not None and app.workspace.can_manage  # a viewer's does not
            found = "revoke the live ones" if revokes else "see which still work"
            commands.append(
                (
                    "Scan for leaked keys",
                    app.scan_for_leaks,
                    f"Find private keys in a folder; {found}",
                )
            )
        if app.ready and app.workspace is not None:
            name = visible(app.workspace.name)
            commands.append((f"Members of {name}", app.show_members, "Who is in it, and as what"))
            commands.append(
                (f"Audit trail of {name}", app.show_audit, "Every change, newest first")
            )
        commands.append(
            (
                "Help: keys and what they do",
                partial(self.app.run_action, "app.help"),  # as ? does, on the screen behind
                "Every key of this screen, and why one does nothing now (? or F1)",
            )
        )
        return commands

    def _generate(self, current: IntegrationView | None) -> list[Command]:
        """Generate, where this account may issue a key (a viewer gets none),
        for `current` or the integration highlighted on the list, as g does."""
        from keydesk.tui.screens.integrations import IntegrationsScreen

        if not (
            current.can_issue_keys if current else any(i.can_issue_keys for i in self._integrations)
        ):
            return []
        screen = self.screen
        listed = screen.highlighted() if isinstance(screen, IntegrationsScreen) else None
        chosen = current or (listed if listed and listed.can_issue_keys else None)
        create = partial(self.keydesk.generate_key, chosen.id if chosen else None)
        return [("Generate API key", create, "Create a key (shown once)")]

    def _row_commands(self) -> list[Command]:
        """Revoke and rotate act on a key's row, in its integration's API
        Keys: off that page, "revoke" and "rotate" lead there (the
        integration highlighted on the list) instead of matching nothing."""
        from keydesk.tui.screens.integrations import IntegrationsScreen

        screen = self.screen
        target = screen.highlighted() if isinstance(screen, IntegrationsScreen) else None
        if target is None or not target.can_manage or not target.active_keys:
            return []  # a draft with no keys offered both, leading to nothing to act on
        name = visible(target.name)
        opened = partial(self.keydesk.open_integration, target)
        revoke: Command = (
            f"Revoke an API key of {name}…",
            opened,
            escape(f"Opens {name}'s API Keys: x on a key's row revokes it"),
        )
        rotate: Command = (
            f"Rotate an API key of {name}…",
            opened,
            escape(f"Opens {name}'s API Keys: t on a key's row rotates it"),
        )
        return [revoke, rotate] if target.can_issue_keys else [revoke]

    def _key_commands(self, integration: IntegrationView, key: KeyView) -> list[Command]:
        """What can be done to one listed key, as its row's keys would."""
        app = self.keydesk
        named = f"{visible(key.label)} ({key.public_key})"
        offers: list[tuple[str, str, Callable[[KeyView], object], str]] = [
            ("revoke", f"Revoke API key {named}", app.revoke_key, "Immediate and irreversible"),
            ("keep", f"Keep API key {named}", app.keep_key,
             "Its replacement was revoked: cancel the stop the rotation set"),
            ("rotate", f"Rotate API key {named}", app.rotate_key,
             "Generate its replacement; the old key stops by itself after the overlap"),
        ]  # fmt: skip
        return [
            (title, partial(act, key), help_text)
            for action, title, act, help_text in offers
            if key_action(integration, key, action, app.now())
        ]

    async def discover(self) -> Hits:
        # Scores above Textual's own (discovery hits score 0): keydesk's
        # commands come first, in the order _commands gives them.
        commands = self._commands()
        for position, (name, action, help) in enumerate(commands):
            score = KEYDESK_FIRST + 1 - position / (len(commands) + 1)
            yield Hit(score, content(name), action, text=name, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        scored = [
            (ranked(query, name, matcher.match(name)), name, action, help)
            for name, action, help in self._commands()
        ]
        # "gen" listed every "Go to integration" (g…e…n) under Generate:
        # letters scattered over words only count when no word starts so.
        worded = KEYDESK_FIRST + WORD_START
        floor = worded if any(score >= worded for score, *_ in scored) else 0.0
        for score, name, action, help in scored:
            if score > 0 and score >= floor:
                yield Hit(score, _highlight(matcher, name), action, text=name, help=help)


# Above any score Textual's fuzzy matcher gives its own commands (it is not
# bounded by 1: bonuses for word starts add up).
KEYDESK_FIRST = 1000.0
WORD_START = 0.75  # a name with a word that starts with the query, above any fuzzy match


def ranked(query: str, name: str, fuzzy: float) -> float:
    """A keydesk command's place for `query`: above every built-in, the name
    that starts with the query first, then one with a word that does, then
    the fuzzy matches ("gen" is Generate, not every "Go to integration")."""
    if fuzzy <= 0:
        return 0.0
    wanted, words = query.strip().lower(), name.lower()
    if words.startswith(wanted):
        quality = 1.0
    elif any(word.startswith(wanted) for word in words.split()):
        quality = WORD_START
    else:
        quality = 0.5 * fuzzy / (1 + fuzzy)  # under 0.5, however large `fuzzy` is
    return KEYDESK_FIRST + quality


def _highlight(matcher: Matcher, text: str) -> Content:
    """Like `Matcher.highlight`, which reads its text as markup: stored
    names must show literally, so style the matched characters of plain text."""
    shown = content(text)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        shown = shown.stylize(matcher.match_style, offset, offset + 1)
    return shown
