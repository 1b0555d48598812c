"""The Members screen's dialogs: a member's role, and adding a member."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from keydesk.tui.calls import call_service
from keydesk.tui.display import content, sentence
from keydesk.tui.screens.base import KeydeskModal
from keydesk.tui.screens.form import DialogForm
from keydesk.tui.widgets import GuardedInput, KeyFooter, ListOptions
from keydesk.validation import NAME_MAX
from keydesk.views import ROLE_ORDER, MembersView, MemberView, Role

# One line each in the role dialog at 60 columns, "(now)" included.
ROLE_MEANING = {
    Role.OWNER: "everything, owners included",
    Role.ADMIN: "manage all but owners",
    Role.MEMBER: "look only (= viewer); for the team",
    Role.VIEWER: "look only (= member); for outsiders",
}


class RoleScreen(KeydeskModal[Role | None]):
    """Choose one of the roles you may give this member."""

    # Its own keys in the footer, not the Members screen's under it.
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="role.cancel"),
        # priority: the role list would take Enter first, and hide it from the footer
        Binding("enter", "choose", "Set role", key_display="⏎", priority=True, id="role.choose"),
    ]

    def __init__(self, member: MemberView, roles: list[Role]) -> None:
        super().__init__(id="role-screen")
        self._member = member
        self._roles = roles

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(content(f"Role of {self._member.account}"), id="dialog-title")
            yield ListOptions(
                *(
                    Option(
                        content(
                            f"{role:<7} {ROLE_MEANING[role]}"
                            + ("  (now)" if role is self._member.role else "")
                        ),
                        id=role.value,
                    )
                    for role in self._roles
                ),
                id="roles",
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = self._roles.index(self._member.role)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Role(str(event.option.id)))

    def answers(self) -> str:
        return "⏎ sets the highlighted role, esc cancels"

    def action_choose(self) -> None:  # the list takes Enter itself; this names it
        self.query_one(OptionList).action_select()

    def action_cancel(self) -> None:
        self.dismiss(None)


class AddMemberScreen(DialogForm[MemberView | None]):
    """An account name and a role; refusals show on the form. An account
    typed and not added: Escape, Cancel and ctrl+q ask first."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="add-member.cancel")]
    AUTO_FOCUS = "#member-account"

    def __init__(self, view: MembersView) -> None:
        super().__init__(id="add-member-screen")
        self._view = view
        self._roles = [r for r in ROLE_ORDER if view.why_not_add(r) is None]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(content(f"Add a member to {self._view.workspace}"), id="dialog-title")
            # Whole at 60 columns, as the buttons below: a refusal's lines
            # pushed full-height buttons out of the dialog at 60x20.
            yield Label("Account (login name, or PostgreSQL database role)")
            yield GuardedInput(
                placeholder="e.g. bob", id="member-account", what="the account name", limit=NAME_MAX
            )
            yield Label("Role")
            yield ListOptions(
                *(Option(f"{r:<7} {ROLE_MEANING[r]}", id=r.value) for r in self._roles),
                id="member-role",
            )
            yield Static(id="member-error", classes="field-error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Add", id="add", variant="primary", compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#member-error").display = False
        roles = self.query_one("#member-role", OptionList)
        roles.highlighted = self._roles.index(Role.VIEWER) if Role.VIEWER in self._roles else 0

    @on(Input.Submitted, "#member-account")
    def _next(self, event: Input.Submitted) -> None:
        if not event.value.strip():  # Enter moved on to Role, saying nothing
            self._failed("the account name is required")
            return
        self.query_one("#member-role", OptionList).focus()

    @on(OptionList.OptionSelected, "#member-role")
    @on(Button.Pressed, "#add")
    def action_add(self) -> None:
        if self._busy:
            return
        account = self.query_one("#member-account", Input).value
        index = self.query_one("#member-role", OptionList).highlighted or 0
        role = self._roles[index]
        workspace = self._view.workspace
        self._busy = True
        call_service(
            self,
            lambda: self.keydesk.calls.add_member(workspace, account, role.value),
            self.dismiss,
            on_error=self._failed,
            group="add-member",
        )

    @on(GuardedInput.Refused, "#member-account")
    def _refused(self, event: GuardedInput.Refused) -> None:
        self._failed(event.message, to_account=False)  # a keystroke: a Tab may follow it

    def _failed(self, message: str, *, to_account: bool = True) -> None:
        self._busy = False
        error = self.query_one("#member-error", Static)
        error.update(content(sentence(message)))
        error.display = True
        if to_account:
            self.query_one("#member-account", Input).focus()

    def _typed(self) -> bool:
        return bool(self.query_one("#member-account", Input).value)
