"""Members of a workspace: who is in it and as what; add, change a role,
remove (or leave), each after a confirmation.

The rules come from `MembersView` (the service and, on PostgreSQL, the
database enforce the same): an action the account may not take (on the
highlighted member) is hidden from the footer, as on the other screens;
its key and the line under the table say why.

An owner also approves a member's SSH keys here: a key authorized for an
account acts only in the workspaces whose owners approved it
(keydesk.ssh.gate), so a member added with keys is told they wait.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from keydesk.ssh.gate import awaiting_notice
from keydesk.tui.calls import call_service
from keydesk.tui.display import cells, content, literal, sentence, visible
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.choice import lifetime_question
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.screens.integration_words import only_managers
from keydesk.tui.screens.member_dialogs import ROLE_MEANING, AddMemberScreen, RoleScreen
from keydesk.tui.widgets import Column, FilterInput, FittedTable, Header, KeyFooter
from keydesk.tui.widgets.filter_input import clear_filter_binding, clear_typed, no_match, typed_in
from keydesk.views import ROLE_ORDER, MembersView, MemberView, Role, WorkspaceView
from keydesk.wording import when

# Account as wide as its names, up to what Role and Since leave (a
# 64-character name hid them both); the last column takes the rest, unseen.
COLUMNS = [
    Column("account", "Account", 12),
    Column("role", "Role", 6),
    Column("since", "Since", 16, flexible_up_to=200),
]
SINCE_CELLS = 16  # "2026-09-01 09:01"


class MembersScreen(KeydeskScreen[None]):
    AUTO_FOCUS = "#members"
    BINDINGS = [
        clear_filter_binding("members", "member"),
        Binding("escape,q", "back", "Back", key_display="esc", id="members.back"),
        # Short words: with ? and ^p they fit 60 columns (tooltips say more).
        Binding("a", "add", "Add", id="members.add", tooltip="Add a member"),
        Binding("e", "change_role", "Role", id="members.role",
                tooltip="Change the highlighted member's role"),
        Binding("x", "remove", "Remove", id="members.remove"),
        Binding("delete", "remove", "Remove", show=False),
        # x on your own row: said as what it does (it showed "Remove").
        Binding("x", "leave", "Leave", id="members.leave", tooltip="Leave this workspace"),
        Binding("delete", "leave", "Leave", show=False),
        Binding("p", "key_policy", "Policy", id="members.policy",
                tooltip="Owners: the longest a new key may live in this workspace"),
        # Not in the footer (it would push ^q and ? off at 60 columns): `?`
        # lists it, and adding a member whose SSH keys wait says to press it.
        Binding("s", "approve_ssh", "Approve SSH keys", show=False, id="members.ssh",
                tooltip="Owners: let this member's SSH keys act in this workspace"),
        Binding("r", "refresh", "Refresh", show=False, id="members.refresh"),
        # As on every list: `/` and what is typed after it go to the filter
        # (not `a`'s form); in the footer where there is room, as on the others.
        Binding("slash", "filter", "Filter", key_display="/", id="members.filter",
                tooltip="Filter members by account or role"),
    ]  # fmt: skip

    def __init__(self, workspace: str) -> None:
        super().__init__(id="members-screen")
        self.workspace = workspace
        self.view: MembersView | None = None
        self.unread: str | None = None  # why the members could not be read (_unreadable)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(content(f"Members of {self.workspace}"), id="members-title")
        yield Static(id="key-policy")
        yield FilterInput(  # shown by `/` (a workspace has few members)
            placeholder="Filter members by account or role  ( / )", id="member-filter", compact=True
        )
        # j/k and Home/End, as in every list
        yield FittedTable(COLUMNS, redraw=self._refitted, id="members")
        yield Static(id="members-note")
        yield KeyFooter()

    @property
    def table(self) -> FittedTable:
        return self.query_one("#members", FittedTable)

    @property
    def note(self) -> Static:
        return self.query_one("#members-note", Static)

    @property
    def member_filter(self) -> Input:
        return self.query_one("#member-filter", Input)

    def on_mount(self) -> None:
        self.member_filter.display = False
        current = self.keydesk.workspace
        if current is not None and current.name == self.workspace:
            self._show_policy(current)
        self.action_refresh()

    def _show_policy(self, workspace: WorkspaceView) -> None:
        self.query_one("#key-policy", Static).update(
            content(f"Key policy: {workspace.policy_text}.")
        )

    # -- data ---------------------------------------------------------------------

    def action_refresh(self, select: str | None = None) -> None:
        self.table.loading = True
        workspace = self.workspace
        call_service(
            self,
            lambda: self.keydesk.calls.members(workspace),
            lambda view: self._show(view, select),
            on_error=self._unreadable,
            group="members",
        )

    def _unreadable(self, message: str) -> None:
        """The members could not be read (a store deleted or locked): said
        under the table, where a spinner went on for good, and by a, e, x."""
        self.table.loading = False
        self.unread = sentence(f"the members could not be read: {message}")
        self.query_one("#key-policy", Static).update("")  # not read either: not shown as it was
        self._explain()

    def why_not(self, action: str) -> str | None:
        return self.unread if self.view is None else None  # else: the list is still loading

    def _show(self, view: MembersView, select: str | None = None) -> None:
        self.view, self.unread = view, None
        table = self.table
        current = self.highlighted()
        keep = select or (current.account if current else None)
        table.loading = False
        names = max((cells(visible(_name(m, view))) for m in view.members), default=0)
        table.wants = {"account": names, "since": SINCE_CELLS}  # Since gives way to a cut name
        fitted = table.fitted
        table.refit()  # new widths: the rows are drawn again (_refitted)
        if table.fitted == fitted:
            self._fill(keep)

    def _refitted(self) -> None:
        self._fill(None)

    def _fill(self, keep: str | None) -> None:
        view, table = self.view, self.table
        if view is None:
            return
        table.clear()
        width = next(w for column, w in table.fitted if column.key == "account")
        needle = self.member_filter.value.strip().lower()
        for member in view.members:
            if needle and needle not in f"{member.account} {member.role.value}".lower():
                continue
            name = literal(_name(member, view), width=width, keep_end=True)
            table.add_row(name, member.role.value, when(member.since), key=member.account)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self._explain()

    def action_filter(self) -> None:
        self.member_filter.display = True
        self.member_filter.focus()

    def action_clear_filter(self) -> None:
        clear_typed(self)

    @on(Input.Changed, "#member-filter")
    def _filter(self) -> None:
        if self.view is not None:
            self._show(self.view)

    @on(Input.Submitted, "#member-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def highlighted(self) -> MemberView | None:
        table = self.table
        if self.view is None or not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.view.member(row_key.value or "")

    @on(DataTable.RowHighlighted, "#members")
    def _explain(self) -> None:
        """Say, under the table, why the highlighted member cannot be changed."""
        view, member = self.view, self.highlighted()
        reason = self.unread  # the list could not be read
        needle = self.member_filter.value.strip()
        if view is not None and needle and not self.table.row_count:
            reason = no_match("member", needle)
        elif view is not None and not view.can_manage:
            reason = _not_yours_to_manage(view)
        elif view is not None and member is not None:
            reason = view.why_not_remove(member.account)  # owners, and the last owner
        note = self.note
        note.display = reason is not None
        # Not `sentence`: a reason may start with an account name, which keeps its case.
        note.update(content(reason.rstrip(".") + "." if reason else ""))
        self.refresh_bindings()

    # -- actions --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # What this account may never do here is hidden, as on the other
        # screens (a viewer's a, e, and x on another's row); `why_hidden`
        # says why when its key is pressed. Dimmed: the list is still loading.
        view, member = self.view, self.highlighted()
        if action == "clear_filter":
            return bool(typed_in(self))
        if view is None:
            return None if action in ("add", "change_role", "remove", "leave") else True
        if action in ("key_policy", "approve_ssh"):  # owners only, as the service says
            return view.your_role is Role.OWNER
        if action == "add":
            return view.can_manage
        if action == "change_role":
            if member is None:
                return None if view.can_manage else False
            return view.can_manage and len(view.roles_you_may_give(member.account)) > 1
        if action in ("remove", "leave"):
            if member is None:
                return None if view.can_manage and action == "remove" else False
            if (action == "leave") != (member.account == view.you):
                return False  # the other of the two x's
            return view.why_not_remove(member.account) is None
        return True

    def why_hidden(self, action: str) -> str | None:
        view, member = self.view, self.highlighted()
        if view is None:
            return None
        if action in ("key_policy", "approve_ssh"):
            what = "set the key policy" if action == "key_policy" else "approve SSH keys"
            return f"Only an owner of {view.workspace} may {what}"
        leaving = action == "remove" and member is not None and member.account == view.you
        if action in ("add", "change_role", "remove") and not view.can_manage and not leaving:
            return _not_yours_to_manage(view)
        if member is None:
            return None
        if action == "remove":
            return view.why_not_remove(member.account)
        if action == "change_role":
            return next(
                (
                    why
                    for role in ROLE_ORDER
                    if role is not member.role
                    and (why := view.why_not_set_role(member.account, role)) is not None
                ),
                None,
            )
        return None

    def action_key_policy(self) -> None:
        current = self.keydesk.workspace
        days = current.max_key_lifetime_days if current is not None else None
        workspace = self.workspace

        def chosen(answer: tuple[int | None] | None) -> None:
            if answer is not None:
                call_service(
                    self,
                    lambda: self.keydesk.calls.set_key_policy(workspace, answer[0]),
                    self._policy_set,
                    group="policy",
                )

        self.app.push_screen(lifetime_question(workspace, days), chosen)

    def _policy_set(self, workspace: WorkspaceView) -> None:
        self._show_policy(workspace)
        self.notify(f"Key policy: {workspace.policy_text}.", title="Members", markup=False)
        self.keydesk.refresh_workspace()  # the create form reads the policy from it

    def action_add(self) -> None:
        if self.view is not None:
            self.app.push_screen(AddMemberScreen(self.view), self._member_added)

    def _member_added(self, member: MemberView | None) -> None:
        if member is not None:
            self.notify(
                f"{visible(member.account)} is now {_article(member.role)} {member.role} in "
                f"{visible(self.workspace)}.",
                title="Members",
                markup=False,
            )
            self.action_refresh(select=member.account)
            self._ssh_keys_of(member.account, self._say_keys_wait)

    # -- SSH keys: an owner approves a member's keys for this workspace ---------------

    def _ssh_keys_of(self, account: str, then: Callable[[str, tuple[str, ...]], None]) -> None:
        workspace = self.workspace
        call_service(
            self,
            lambda: self.keydesk.calls.ssh_keys_awaiting(workspace, account),
            lambda keys: then(account, keys),
            group="ssh-keys",
        )

    def _say_keys_wait(self, account: str, keys: tuple[str, ...]) -> None:
        notice = awaiting_notice(self.workspace, account, keys)
        if notice is not None:
            self.notify(visible(notice), title="SSH keys", severity="warning", markup=False)

    def action_approve_ssh(self) -> None:
        member = self.highlighted()
        if member is not None:
            self._ssh_keys_of(member.account, self._confirm_approval)

    def _confirm_approval(self, account: str, keys: tuple[str, ...]) -> None:
        workspace = self.workspace
        if not keys:
            self.notify(
                visible(f"No SSH key of {account} awaits approval in {workspace}."),
                title="SSH keys",
                markup=False,
            )
            return
        lines = [
            *keys,
            f"Whoever holds {'these keys' if len(keys) > 1 else 'this key'} may then act in "
            f"{workspace} as {account}, with {account}'s role.",
        ]
        self.app.push_screen(
            ConfirmScreen(
                f"Approve {account}'s SSH keys in {workspace}?", lines, confirm="Approve"
            ),
            lambda yes: self._approve(account, keys) if yes else None,
        )

    def _approve(self, account: str, keys: tuple[str, ...]) -> None:
        workspace = self.workspace
        call_service(
            self,
            lambda: self.keydesk.calls.approve_ssh_keys(workspace, account, keys),
            lambda _: self.notify(
                visible(f"{account}'s SSH keys may act in {workspace} now: {', '.join(keys)}."),
                title="SSH keys",
                markup=False,
            ),
            group="ssh-approve",
        )

    def action_change_role(self) -> None:
        view, member = self.view, self.highlighted()
        if view is None or member is None:
            return

        def chosen(role: Role | None) -> None:
            if role is None or role is member.role:
                return
            lines = [
                f"{member.account}: {member.role} → {role}",
                f"As {role}: {ROLE_MEANING[role]}.",
            ]
            if member.account == view.you:
                lines.append("This is your own role: you may not be able to change it back.")
            self.app.push_screen(
                ConfirmScreen(
                    f"Make {member.account} {_article(role)} {role} in {view.workspace}?",
                    lines,
                    confirm="Change role",
                    destructive=member.account == view.you,
                ),
                lambda yes: self._set_role(member.account, role) if yes else None,
            )

        self.app.push_screen(RoleScreen(member, view.roles_you_may_give(member.account)), chosen)

    def _set_role(self, account: str, role: Role) -> None:
        workspace = self.workspace
        call_service(
            self,
            lambda: self.keydesk.calls.set_member_role(workspace, account, role.value),
            lambda member: self._changed(
                member, f"{member.account} is now {_article(member.role)} {member.role}."
            ),
            group="member-change",
        )

    def action_leave(self) -> None:
        self.action_remove()  # asks "Leave acme?" for your own row

    def action_remove(self) -> None:
        view, member = self.view, self.highlighted()
        if view is None or member is None:
            return
        leaving = member.account == view.you
        named = f"“{member.account}”"  # quoted: an account name is anything a login may be
        title = f"Leave {view.workspace}?" if leaving else f"Remove {named} from {view.workspace}?"
        who = "You" if leaving else named
        lines = [
            f"{who} will no longer see {view.workspace}, its integrations or its keys.",
            f"The API keys {'you' if leaving else named} created stay active: "
            "revoke them separately if they must stop.",
            "They are listed with the creator's name and “(removed)”.",
        ]
        self.app.push_screen(
            ConfirmScreen(title, lines, confirm="Leave" if leaving else "Remove", destructive=True),
            lambda yes: self._remove(member.account, leaving) if yes else None,
        )

    def _remove(self, account: str, leaving: bool) -> None:
        workspace = self.workspace

        def removed(member: MemberView) -> None:
            if leaving:
                self.keydesk.left_workspace(workspace)
            else:
                self._changed(member, f"Removed {member.account} from {workspace}.")

        call_service(
            self,
            lambda: self.keydesk.calls.remove_member(workspace, account),
            removed,
            group="member-change",
        )

    def _changed(self, member: MemberView, message: str) -> None:
        self.notify(visible(message), title="Members", markup=False)
        self.action_refresh(select=member.account)
        self.keydesk.refresh_workspace()  # your own role may have changed


def _not_yours_to_manage(view: MembersView) -> str:
    """A viewer's or member's answer on this screen, in the words of the
    integrations' pages ("You are a viewer in acme; only owners and admins…")."""
    done = "manage members (you may leave: x on your own row)"
    return only_managers(view.your_role or "non-member", view.workspace, done)


def _article(role: Role) -> str:
    return "an" if role in (Role.OWNER, Role.ADMIN) else "a"


def _name(member: MemberView, view: MembersView) -> str:
    """The Account cell's words: "(you)" after your own."""
    return f"{member.account}  (you)" if member.account == view.you else member.account
