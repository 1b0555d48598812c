"""What a scan found, as the Scan screen lists it: each key found with what
the store says of it (`Leak`, from `KeydeskApp.scan_leaks`), and the row it
becomes, which holds the private key only while it may be revoked there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from keydesk.tui.actions import key_action

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey
    from keydesk.scan import Finding
    from keydesk.views import FoundKey, IntegrationView


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


class Scan(Protocol):
    """What finds keys under `paths` and looks them up (`KeydeskApp.scan_leaks`)."""

    def __call__(
        self,
        paths: list[str],
        *,
        on_file: Callable[[], object],
        on_skipped: Callable[[bool, str], object],
    ) -> Iterator[Leak]: ...
