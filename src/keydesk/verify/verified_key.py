"""What the verifier answers for a valid key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keydesk.verify.limits import LimitState


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """Who a valid key is. Safe to log and to put in a request scope."""

    public_key: str
    label: str
    integration_id: int
    integration: str
    workspace_id: int
    workspace: str
    # What the key may do: its own scopes, within its integration's as they
    # are now (an integration that drops a scope drops it from its keys).
    scopes: tuple[str, ...] = ()
    allow_from: tuple[str, ...] = ()  # the networks it may be used from (none: anywhere)
    limits: tuple[LimitState, ...] = ()  # its rate and quota as this request left them

    def has_scopes(self, *needed: str) -> bool:
        return all(scope in self.scopes for scope in needed)

    def as_dict(self) -> dict[str, object]:
        return {
            "public_key": self.public_key,
            "label": self.label,
            "integration_id": self.integration_id,
            "integration": self.integration,
            "workspace_id": self.workspace_id,
            "workspace": self.workspace,
            "scopes": list(self.scopes),
            "allow_from": list(self.allow_from),
            "limits": [
                {"name": s.name, "limit": str(s.limit), "remaining": s.remaining, "reset": s.reset}
                for s in self.limits
            ],
        }
