"""Add an OAuth integration to the current workspace, or edit one's OAuth settings.

Each field is a bordered box titled with its name, the focused one drawn
heavier (visible without colour), so typing never lands in an unseen field.
Saving is one service call: the settings and, if asked, configuring, all or
nothing.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Static

from keydesk.tui.calls import call_service
from keydesk.tui.display import content, sentence
from keydesk.tui.screens.confirm import settings_confirmation
from keydesk.tui.screens.form import FormScreen, FormScroll
from keydesk.tui.screens.integration_words import unchanged_words
from keydesk.tui.widgets import GuardedInput, Header, KeyFooter
from keydesk.tui.widgets.guarded_input import field_named
from keydesk.validation import NAME_MAX, SCOPES_MAX, URI_MAX
from keydesk.views import IntegrationStatus, IntegrationView, missing_settings

FIELDS = (  # id, title, placeholder, as refusals name it (those of the service), its limit
    ("name", "Name", "e.g. github-prod", "the integration name", NAME_MAX),
    ("provider", "Provider", "e.g. GitHub, Google, Okta", "the provider", NAME_MAX),
    ("client-id", "OAuth client ID", "from the provider's app settings", "the client id", NAME_MAX),
    (
        "redirect-uri",
        "Redirect URI",
        "https://your.app/oauth/callback (http://localhost… for development)",
        "the redirect URI",
        URI_MAX,
    ),
    ("scopes", "Scopes", "space-separated, e.g. read:user repo", "the scopes", SCOPES_MAX),
)
# What unticked means is said on the box itself (a line of its own did not
# fit at 80x24); what configuring needs, the refusal says if it is missing.
CONFIGURE = "Configure now (unticked: a draft, no keys yet)"


class TickBox(Checkbox):
    """A checkbox whose mark is a character, not only a colour: X when
    ticked, blank when not (NO_COLOR and TERM=linux show no colours)."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "X" if self.value else " "


_SETTINGS = ("client-id", "redirect-uri")  # what configuring needs (missing_settings)


class IntegrationFormScreen(FormScreen[IntegrationView | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save", tooltip="Save (also Enter in a field)"),
    ]
    # The first enabled field is focused in on_mount, without Textual's
    # scroll to centre it: run before the layout, that scroll hid the title
    # at 60x20 (as on the create-key form).
    AUTO_FOCUS = ""

    def __init__(self, workspace: str, existing: IntegrationView | None = None) -> None:
        super().__init__(id="integration-form-screen")
        self._workspace = workspace
        self._existing = existing
        self._busy = False

    def compose(self) -> ComposeResult:
        existing = self._existing
        yield Header()
        with FormScroll(id="add-form", classes="form"):
            title = (
                f"Edit {existing.name} in {self._workspace}"
                if existing
                else f"Add an OAuth integration to {self._workspace}"
            )
            yield Static(content(title), classes="form-title")
            values = _values(existing)
            for field_id, label, placeholder, what, limit in FIELDS:
                box = GuardedInput(
                    values.get(field_id, ""),
                    placeholder=placeholder,
                    id=field_id,
                    what=what,
                    limit=limit,
                    disabled=existing is not None and field_id in ("name", "provider"),
                    classes="field",
                    # The cursor after a setting, not the setting selected: text
                    # typed ahead ("export" on the tab: its e opened this form)
                    # replaced the whole client id.
                    select_on_focus=False,
                )
                box.border_title = label
                yield box
            configured = existing is not None and existing.is_configured
            filled = not missing_settings(values.get("client-id"), values.get("redirect-uri"))
            # Set once, as the form opens, and never changed but by the user:
            # a box that ticked itself as fields were filled was unticked by
            # the Space typed ahead to tick it. Ticked for a complete draft
            # being edited; a new one, or a disabled one (re-enabling is a
            # choice of its own), starts as a draft.
            ticked = (
                existing is not None
                and filled
                and existing.status is not IntegrationStatus.DISABLED
            )
            checkbox = TickBox(CONFIGURE, ticked, id="configure", compact=True)
            checkbox.display = not configured  # a configured one stays so; Disable is elsewhere
            yield checkbox
            yield Static(id="add-error", classes="field-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#add-error").display = False
        enabled = [box for box in self.query(Input) if not box.disabled]
        # Editing a draft: the first setting it misses ("e fills it in"), not Client ID.
        empty = [box for box in enabled if box.id in _SETTINGS and not box.value.strip()]
        first = empty[0] if self._existing is not None and empty else enabled[0]
        self.set_focus(first, scroll_visible=False)

    def _value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._busy:
            return
        checkbox = self.query_one("#configure", Checkbox)
        configure = checkbox.display and checkbox.value
        missing = missing_settings(
            self._value("client-id").strip(), self._value("redirect-uri").strip()
        )
        if configure and missing:
            self._failed(
                f"Configuring needs its {missing}: fill them in, or untick “Configure now” "
                "to save a draft",
                at="client-id" if not self._value("client-id").strip() else "redirect-uri",
            )
            return
        existing, changes = self._existing, self._changes()
        if existing is not None and not changes and not (configure and not existing.is_configured):
            self.app.notify(unchanged_words(existing), markup=False)
            self.dismiss(None)
            return
        asked = changes and not missing  # emptied, the service refuses it at once, with why
        if existing is not None and existing.status is not IntegrationStatus.DRAFT and asked:
            # Settings in use: text typed onto a list by mistake ("hello" Enter:
            # its e opened this form, "llo" went into the client id, Enter
            # saved) must not change them unasked.
            question = settings_confirmation(existing.name, changes)
            self.app.push_screen(question, lambda yes: self._save(configure) if yes else None)
            return
        self._save(configure)

    def _save(self, configure: bool) -> None:
        self._busy = True
        self.query_one("#save", Button).disabled = True
        existing = self._existing
        workspace = self._workspace
        name, provider = self._value("name"), self._value("provider")
        client_id, redirect_uri = self._value("client-id"), self._value("redirect-uri")
        scopes = self._value("scopes")
        keydesk = self.keydesk

        def save() -> IntegrationView:
            calls = keydesk.calls  # each waits, in the worker, for a store still opening
            if existing is None:
                return calls.add_integration(
                    workspace, name, provider, client_id=client_id.strip() or None,
                    redirect_uri=redirect_uri.strip() or None, scopes=scopes, configure=configure,
                )  # fmt: skip
            # Every field as it stands: an emptied one is cleared, not "unchanged".
            return calls.update_integration(
                existing.id, client_id=client_id, redirect_uri=redirect_uri, scopes=scopes,
                configure=configure,
            )  # fmt: skip

        call_service(self, save, self.dismiss, on_error=self._save_refused, group="save")

    def _save_refused(self, message: str) -> None:
        """A save the service refused: the cursor to the field it names."""
        field = field_named(self, message)
        self._failed(message, at=field.id if field is not None else None)

    @on(GuardedInput.Refused)
    def _refused(self, event: GuardedInput.Refused) -> None:
        if not self._busy:
            self._failed(event.message)

    def _failed(self, message: str, at: str | None = None) -> None:
        """Say why on the form's line; a refused save puts the cursor in the
        field at fault (`at`): after ctrl+s on the checkbox, the fix typed
        went nowhere. Not a keystroke refused while typing: the Tab typed
        after it has moved on, and what follows belongs to the next field."""
        self._busy = False
        if at is not None:
            self.query_one(f"#{at}", Input).focus()
        self.query_one("#save", Button).disabled = False
        error = self.query_one("#add-error", Static)
        error.update(content(sentence(message)))
        error.display = True
        # The form scrolls: at 60x20 the line is below the fold, and ctrl+s
        # seemed to do nothing. Once laid out, so it scrolls to where it is.
        self.call_after_refresh(error.scroll_visible, animate=False)

    def _typed(self) -> bool:
        """A field holds other than what the form opened with."""
        return bool(self._changes())

    def _changes(self) -> list[tuple[str, str, str]]:
        """(title, as it opened, as it stands) of each field changed."""
        opened = _values(self._existing)
        return [
            (title, opened.get(field_id, ""), self._value(field_id))
            for field_id, title, *_ in FIELDS
            if self._value(field_id) != opened.get(field_id, "")
        ]


def _values(existing: IntegrationView | None) -> dict[str, str]:
    if existing is None:
        return {}
    return {
        "name": existing.name,
        "provider": existing.provider,
        "client-id": existing.client_id or "",
        "redirect-uri": existing.redirect_uri or "",
        "scopes": existing.scopes,
    }
