"""What the store says of a private key found leaked (`keydesk scan`)."""

from __future__ import annotations

from dataclasses import dataclass

from keydesk.errors import KeydeskError
from keydesk.views.keys import KeyView

UNKNOWN_KEY = "unknown"  # a found key this store does not hold: dead
OTHER_WORKSPACE = "other-workspace"  # held, in a workspace the actor cannot see
UNVERIFIED = "unverified: matched by public key only, not revoked"


class UnprovenKey(KeydeskError):
    """A found key whose secret this account cannot check (an admin on
    PostgreSQL) is never revoked on its public key alone."""

    def __init__(self, public_key: str) -> None:
        super().__init__(f"{public_key}: {UNVERIFIED}; your role cannot check its secret")


@dataclass(frozen=True, slots=True)
class FoundKey:
    """What the store says of a private key found leaked (`keydesk scan`).

    `secret_checked`: its secret matched the stored hash, the proof that it
    is that key. False on PostgreSQL for an admin, whose role cannot read
    hashes: the key was matched by its public key among the workspaces the
    admin sees, and `elsewhere` tells a key held in another workspace (which
    may still work) from one the store does not hold."""

    public_key: str
    key: KeyView | None
    secret_checked: bool
    elsewhere: bool = False

    @property
    def status(self) -> str:
        if self.key is not None:
            return self.key.status.value
        return OTHER_WORKSPACE if self.elsewhere else UNKNOWN_KEY

    @property
    def may_work(self) -> bool:
        """Active, or held where the actor cannot see it: counts as live."""
        return self.elsewhere or (self.key is not None and self.key.is_active)
