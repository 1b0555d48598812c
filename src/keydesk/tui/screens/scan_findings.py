"""What a scan found, as the Scan screen lists it: each key found with what
the store says of it (`Leak`, from `KeydeskApp.scan_leaks`), and the row it
becomes, which holds the private key only while it may be revoked there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from keydesk.tui.actions import key_action
from keydesk.tui.screens.integration_words import why_not_key

if TYPE_CHECKING:
    from datetime import datetime

    from keydesk.keys import PrivateKey
    from keydesk.scan import Finding
    from keydesk.views import FoundKey, IntegrationView

UNPROVEN_NOTE = (
    "Matched by public key: on PostgreSQL an admin cannot read key hashes, so the "
    "secret of a key found was not checked, and it is not revoked here "
    "(keydesk scan --revoke --revoke-via URL has keydesk serve check it)."
)
# ? on Scan says what a finding's one-word status means (unknown was nowhere explained).
STATUS_NOTES = [
    ("active", "The key found still works: revoke it here (x), then replace it"),
    ("revoked, expired", "The key found no longer works: delete it where it was found"),
    ("unknown", "No key in this store has its public key: another store's, or made up"),
    ("other-workspace", "Held in a workspace you are not a member of: ask its admins"),
]
NOT_IN_STORE = "No key in this store has this public key: there is nothing to revoke here"


@dataclass(frozen=True, slots=True)
class Leak:
    """A key found, what the store says of it, and its integration when
    the account may see it (from `KeydeskApp.scan_leaks`)."""

    finding: Finding
    found: FoundKey
    integration: IntegrationView | None


@dataclass(slots=True)
class Row:
    """A finding as listed. `private_key` is held only while this account
    may revoke it here; everything else the row shows is fit to show."""

    location: str
    redacted: str
    public_key: str
    found: FoundKey
    integration: IntegrationView | None
    private_key: PrivateKey | None

    @property
    def status(self) -> str:
        return self.found.status

    def revoke_offer(self) -> bool | None:
        """The footer's answer for Revoke (actions.py): hidden where the
        account may not revoke or its secret was not checked (a forgery
        would revoke the real key), dimmed for a key that no longer works."""
        if self.integration is None or self.found.key is None or not self.found.secret_checked:
            return False
        return key_action(self.integration, self.found.key, "revoke")

    def why_not_revoked(self, now: datetime) -> str | None:
        """Why x does not revoke it here, in the API Keys tab's words (an
        unknown key's x said nothing)."""
        key = self.found.key
        if key is None:
            return NOT_IN_STORE
        if not self.found.secret_checked:
            return UNPROVEN_NOTE
        return (
            None if self.integration is None else why_not_key(self.integration, key, "revoke", now)
        )

    def detail(self, now: datetime, workspace_open: str | None) -> str:
        """The line under the table: the column's one word ("active") is
        cut to fit; here, what the key pages say of it ("rotating -> kdpk_…
        (23 hours left)"), its label and integration."""
        key = self.found.key
        status = self.status if key is None else key.status_words(now)
        text = f"{self.location} · {self.redacted} · {self.public_key} · {status}"
        if key is not None:
            text += f" · “{key.label}” of {key.integration}"
            integration = self.integration
            if integration is not None and integration.workspace != workspace_open:
                text += f" in {integration.workspace}"  # not the workspace open
            if not self.found.secret_checked:
                text += " · matched by public key"
        elif self.found.elsewhere:
            text += " · in a workspace you are not a member of: ask its admins"
        return text


class Scan(Protocol):
    """What finds keys under `paths` and looks them up (`KeydeskApp.scan_leaks`)."""

    def __call__(
        self,
        paths: list[str],
        *,
        on_file: Callable[[], object],
        on_skipped: Callable[[bool, str], object],
    ) -> Iterator[Leak]: ...
