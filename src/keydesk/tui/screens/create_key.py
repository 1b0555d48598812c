"""Create API key: pick the integration, name the key, choose its expiry
(within the workspace's policy) and its scopes, Save & Generate Key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import (
    Button,
    Input,
    Label,
    LoadingIndicator,
    Select,
    SelectionList,
    Static,
)

from keydesk import validation
from keydesk.errors import InvalidInput
from keydesk.limits import parse_limit, parse_networks
from keydesk.tui.calls import call_service
from keydesk.tui.display import content, day, literal, sentence
from keydesk.tui.screens.form import FormScreen, FormScroll
from keydesk.tui.widgets import DropDown, GuardedInput, Header, KeyFooter, ScopeList
from keydesk.views import (
    EXPIRY_CHOICES_DAYS,
    CreatedKey,
    IntegrationView,
    default_expiry_days,
    why_not_lifetime,
)

PLACEHOLDER = "e.g. Production Backend, Local Development, CI Runner"
LIMITS_HEADING = "Limits (blank: none)"
LIMIT_FIELDS = (  # name, field, example
    ("Rate", "rate", "e.g. 600/min"),
    ("Quota", "quota", "e.g. 1000000/month"),
    ("Networks", "allow-from", "e.g. 10.0.0.0/8 2001:db8::/32 (blank: anywhere)"),
)
TYPED = ("label", "rate", "quota", "allow-from")  # the fields typed into, not chosen
NEVER = 0  # the Expiry choice "never" (a Select value cannot be None)


def expiry_choices(policy_days: int | None) -> list[tuple[str, int]]:
    """The Expiry options a workspace's policy allows: none beyond its cap,
    the cap itself when it is not one of the usual choices, never only
    without a cap."""
    days = [d for d in EXPIRY_CHOICES_DAYS if policy_days is None or d <= policy_days]
    if policy_days is not None and policy_days not in days:
        days.append(policy_days)
    choices = [(f"{d} days" + (" (the maximum)" if d == policy_days else ""), d) for d in days]
    if policy_days is None:
        choices.append(("never", NEVER))
    return choices


def expires_at(days: int, now: datetime) -> datetime | None:
    return None if days == NEVER else now + timedelta(days=days)


class CreateKeyScreen(FormScreen[CreatedKey | None]):
    """Dismisses with the created key (to be shown once), or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="create.cancel"),
        Binding(
            "ctrl+s",
            "save",
            "Save & Generate Key",
            id="create.save",
            tooltip="Generate the key (also Enter in the name field)",
        ),
    ]
    # The name field is focused in on_mount, without Textual's scroll to
    # centre it: run before the layout, that scroll left the form's title and
    # the Integration label above the fold at 80x24.
    AUTO_FOCUS = ""

    def __init__(self, integration_id: int | None = None) -> None:
        super().__init__(id="create-screen")
        self._preselect = integration_id
        self._busy = False
        self._usable: dict[int, IntegrationView] = {}
        self._chosen: IntegrationView | None = None
        self._rate_asked = False
        self._rate_shown = False  # the default rate (or its absence) is on the form
        self._default_rate = ""  # as filled in: not typed, so leaving it asks nothing

    def compose(self) -> ComposeResult:
        yield Header()
        with FormScroll(id="create-form", classes="form"):
            yield Static("Create API key", classes="form-title")
            yield Label("Integration", classes="field-label")
            yield DropDown[int]([], id="integration", prompt="Loading integrations…")
            yield Static(id="integration-error", classes="field-error")
            yield Label("API Key Name", classes="field-label")
            yield GuardedInput(
                placeholder=PLACEHOLDER,
                id="label",
                what="the label",
                limit=validation.LABEL_MAX,  # longer is refused as it comes, saying so
                # Back after a refusal, the cursor waits at the end: a selected
                # name would be replaced by the next character typed.
                select_on_focus=False,
            )
            yield Static(id="label-error", classes="field-error")
            yield Static(
                "One key per environment, named so you can tell them apart when you rotate or revoke.",
                classes="field-hint",
            )
            yield Label("Expiry", classes="field-label")
            with Horizontal(id="expiry-row"):
                # The default from the start: ctrl+s may come before the
                # integration (and its policy) is read, on a slow store.
                yield DropDown[int](
                    expiry_choices(None),
                    id="expiry",
                    allow_blank=False,
                    compact=True,
                    value=default_expiry_days(None),
                )
                yield Static(id="expiry-date", classes="field-hint")
            yield Static(id="expiry-error", classes="field-error")
            yield Label("Scopes (space toggles)", classes="field-label")
            yield ScopeList(id="scopes", compact=True)
            yield Static(id="scopes-error", classes="field-error")
            # Each on one line after its name, so that Save stays in view; blank
            # means what it means in the key page's `l` dialog. The workspace's
            # default rate is filled in.
            yield Label(LIMITS_HEADING, classes="field-label")
            for name, field, example in LIMIT_FIELDS:
                with Horizontal(classes="limit-row"):
                    yield Label(name, classes="limit-name")
                    what = "the allowlist" if field == "allow-from" else f"the {name.lower()}"
                    yield GuardedInput(placeholder=example, id=field, compact=True, what=what)
            yield Static(id="rate-default", classes="field-hint")
            yield Static(id="limits-error", classes="field-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save & Generate Key", id="save", variant="primary", compact=True)
            yield LoadingIndicator(id="busy")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#label", Input), scroll_visible=False)
        self.query_one("#busy").display = False
        self.query_one("#rate-default").display = False
        self._error(None)
        self._integration_error(None)
        self._line("#expiry-error", None)
        self._line("#scopes-error", None)
        self._line("#limits-error", None)
        workspace = self.keydesk.workspace

        def read() -> list[IntegrationView]:
            with self.keydesk.reading() as reads:  # bare while the store opens
                return reads.integrations(workspace.name if workspace else None)

        call_service(self, read, self._show_integrations, on_error=self._unreadable, group="picker")

    def _unreadable(self, message: str) -> None:
        """The list could not be read (a store deleted, locked): said on its
        line, where "Loading integrations…" stayed under a toast."""
        self.query_one("#integration", Select).prompt = "Integrations could not be read"
        self._integration_error(sentence(message))

    def _show_integrations(self, integrations: list[IntegrationView]) -> None:
        usable = [i for i in integrations if i.why_no_new_keys() is None]
        self._usable = {i.id: i for i in usable}
        select = self.query_one("#integration", Select)
        select.set_options((literal(f"{i.name} ({i.provider})"), i.id) for i in usable)
        select.prompt = "Choose an integration"
        if self._preselect in {i.id for i in usable}:
            select.value = self._preselect
        elif len(usable) == 1:
            select.value = usable[0].id
        if not usable:
            select.prompt = "No configured integration you can manage"
            self._integration_error(
                "Configure an integration first (or ask an owner or admin for access)."
            )
            self.query_one("#save", Button).disabled = True

    # -- validation ---------------------------------------------------------------

    def _error(self, message: str | None) -> None:
        error = self.query_one("#label-error", Static)
        error.update(content(message or ""))
        error.display = bool(message)

    def _integration_error(self, message: str | None) -> None:
        error = self.query_one("#integration-error", Static)
        error.update(content(message or ""))
        error.display = bool(message)

    def _line(self, selector: str, message: str | None) -> None:
        line = self.query_one(selector, Static)
        line.update(content(message or ""))
        line.display = bool(message)
        if message:  # the form scrolls: a refusal below the fold was never seen
            line.scroll_visible(animate=False)

    @on(Select.Changed, "#integration")
    def _integration_chosen(self) -> None:
        self._integration_error(None)
        integration = self._selected()
        self._offer_expiry(integration)
        self._offer_scopes(integration)
        self._offer_rate(integration)

    def _selected(self) -> IntegrationView | None:
        value = self.query_one("#integration", Select).value
        return self._usable.get(value) if isinstance(value, int) else None

    def _offer_expiry(self, integration: IntegrationView | None) -> None:
        """The choices the integration's workspace allows, its default chosen."""
        policy = integration.max_key_lifetime_days if integration else None
        expiry = self.query_one("#expiry", Select)
        expiry.set_options(expiry_choices(policy))
        expiry.value = default_expiry_days(policy)
        self._line("#expiry-error", None)
        self._show_expiry_date()

    def _offer_scopes(self, integration: IntegrationView | None) -> None:
        scopes = self.query_one("#scopes", SelectionList)
        scopes.clear_options()
        if integration is not None:  # all of them by default, as the service does
            scopes.add_options([(s, s, True) for s in integration.scope_list])
        scopes.display = bool(scopes.option_count)
        self._line("#scopes-error", None)

    def _offer_rate(self, integration: IntegrationView | None) -> None:
        """The workspace's default rate filled in, once (the choosable
        integrations are all in the current workspace)."""
        if integration is None or self._rate_asked:
            return
        self._rate_asked = True
        workspace = integration.workspace
        call_service(
            self,
            lambda: self.keydesk.calls.default_rate(workspace),
            self._show_default_rate,
            on_error=lambda _message: None,  # blank then leaves the rate to the service
            group="default-rate",
        )

    def _show_default_rate(self, rate: str | None) -> None:
        field = self.query_one("#rate", Input)
        if field.value or self._busy:
            return  # typed before it came: what was typed stands
        self._rate_shown = True
        if rate:
            field.value = self._default_rate = rate
            hint = self.query_one("#rate-default", Static)
            hint.update(f"Rate {rate}: the workspace's default for new keys")
            hint.display = True

    @on(Select.Changed, "#expiry")
    def _show_expiry_date(self) -> None:
        value = self.query_one("#expiry", Select).value
        stops = expires_at(value, self.keydesk.now()) if isinstance(value, int) else None
        self.query_one("#expiry-date", Static).update(
            f"expires {day(stops)}" if stops else "never expires"
        )

    @on(SelectionList.SelectedChanged, "#scopes")
    def _scopes_changed(self) -> None:
        self._line("#scopes-error", None)

    @on(GuardedInput.Refused, "#label")
    def _label_refused(self, event: GuardedInput.Refused) -> None:
        self._error(sentence(event.message))

    @on(GuardedInput.Refused, "#rate, #quota, #allow-from")
    def _limit_refused(self, event: GuardedInput.Refused) -> None:
        self._line("#limits-error", sentence(event.message))

    @on(Input.Changed, "#label")
    def _validate_live(self, event: Input.Changed) -> None:
        if not event.value:
            self._error(None)
            return
        try:
            validation.label(event.value)
        except InvalidInput as exc:
            self._error(sentence(exc.message))
        else:
            self._error(None)

    # -- submit -------------------------------------------------------------------------

    def chosen(self) -> IntegrationView | None:
        """The integration the key was made for (as read when the form opened)."""
        return self._chosen

    @on(Input.Submitted, "#label")
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._busy:  # a second Enter while hashing must not make a second key
            return
        label_field = self.query_one("#label", GuardedInput)
        if (cut := label_field.cut_short()) is not None:
            self._error(sentence(cut))
            label_field.focus()
            return
        integration_id = self.query_one("#integration", Select).value
        if not isinstance(integration_id, int) and not self._usable:
            # Saved before the list came in (a fast typist, a store still
            # opening): the integration the form was opened for; the service
            # checks it may have keys.
            integration_id = self._preselect
        if not isinstance(integration_id, int):
            self._integration_error("Choose an integration.")
            self.query_one("#integration", Select).focus()
            return
        try:
            label = validation.label(self.query_one("#label", Input).value)
        except InvalidInput as exc:
            self._error(sentence(exc.message))
            self.query_one("#label", Input).focus()
            return
        self._chosen = self._usable.get(integration_id)
        refused, stops = self._expires_at()
        if refused:
            return
        scopes = self._scopes()
        if scopes is None:
            return
        limits = self._limits()
        if limits is None:
            return
        self._set_busy(True)
        call_service(
            self,
            lambda: self.keydesk.calls.create_key(
                integration_id, label, expires_at=stops, scopes=scopes, **limits
            ),
            self._created,
            on_error=self._failed,
            group="create",
        )

    def _expires_at(self) -> tuple[bool, datetime | None]:
        """(refused, the chosen expiry); refused after showing why the policy
        does not allow it."""
        value = self.query_one("#expiry", Select).value
        chosen = self._chosen
        now = self.keydesk.now()
        stops = expires_at(value if isinstance(value, int) else NEVER, now)
        if chosen is not None:
            refusal = why_not_lifetime(chosen.workspace, chosen.max_key_lifetime_days, stops, now)
            if refusal is not None:
                self._line("#expiry-error", sentence(refusal))
                self.query_one("#expiry", Select).focus()
                return True, None
        return False, stops

    def _scopes(self) -> tuple[str, ...] | None:
        """The chosen scopes, or None after asking for at least one (no
        scopes would mean all of them to the service)."""
        scopes = self.query_one("#scopes", SelectionList)
        if not scopes.option_count:
            return ()
        chosen = tuple(str(s) for s in scopes.selected)
        if not chosen:
            self._line("#scopes-error", "Choose at least one scope.")
            scopes.focus()
            return None
        return chosen

    def _limits(self) -> dict[str, Any] | None:
        """The typed rate, quota and networks (blank: none, anywhere), or None
        after saying what is wrong with one. A blank rate before the default
        was shown (a fast typist) leaves it to the service: its default."""
        rate, quota, networks = (
            self.query_one(f"#{name}", Input).value.strip()
            for name in ("rate", "quota", "allow-from")
        )
        try:
            return {
                "rate": str(parse_limit(rate, "The rate"))
                if rate
                else ("none" if self._rate_shown else None),
                "quota": str(parse_limit(quota, "The quota")) if quota else None,
                "allow_from": parse_networks([networks], "The allowlist entry") if networks else (),
            }
        except InvalidInput as exc:
            self._line("#limits-error", sentence(exc.message))
            return None

    @on(Input.Changed, "#rate, #quota, #allow-from")
    def _limits_changed(self) -> None:
        self._line("#limits-error", None)

    def _created(self, created: CreatedKey) -> None:
        self.dismiss(created)

    def _failed(self, message: str) -> None:
        self._set_busy(False)  # what was typed stays, to be corrected
        self._error(sentence(message))
        self.query_one("#label", Input).focus()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.query_one("#busy").display = busy
        save = self.query_one("#save", Button)
        save.disabled = busy
        save.label = "Generating…" if busy else "Save & Generate Key"
        self.query_one("#label", Input).disabled = busy
        self.query_one("#integration", Select).disabled = busy
        self.query_one("#expiry", Select).disabled = busy
        self.query_one("#scopes", SelectionList).disabled = busy
        for name in ("rate", "quota", "allow-from"):
            self.query_one(f"#{name}", Input).disabled = busy

    def _typed(self) -> bool:
        """A field holds text typed (the rate: other than the default filled in),
        or an expiry or the scopes were chosen other than the defaults offered."""
        typed = {name: self.query_one(f"#{name}", Input).value for name in TYPED}
        if typed.pop("rate") != self._default_rate or any(v.strip() for v in typed.values()):
            return True
        selected = self._selected()
        policy = selected.max_key_lifetime_days if selected else None
        scopes = self.query_one("#scopes", SelectionList)
        return (
            self.query_one("#expiry", Select).value != default_expiry_days(policy)
            or len(scopes.selected) != scopes.option_count
        )
