"""What the verifier answers for a valid key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

    def with_limits(self, limits: tuple[LimitState, ...]) -> VerifiedKey:
        """This answer with the limits' states of another request (a limited
        key's every answer): a copy made slot by slot, at half the cost of
        the frozen `__init__`, which sets each field through
        `object.__setattr__`."""
        answer = _new(VerifiedKey)
        _put_public_key(answer, self.public_key)
        _put_label(answer, self.label)
        _put_integration_id(answer, self.integration_id)
        _put_integration(answer, self.integration)
        _put_workspace_id(answer, self.workspace_id)
        _put_workspace(answer, self.workspace)
        _put_scopes(answer, self.scopes)
        _put_allow_from(answer, self.allow_from)
        _put_limits(answer, limits)
        return answer

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


def _put(field: str) -> Callable[[VerifiedKey, Any], None]:
    """The slot's own setter: no frozen `__setattr__` on the way."""
    setter: Callable[[VerifiedKey, Any], None] = VerifiedKey.__dict__[field].__set__
    return setter


_new = object.__new__
_put_public_key, _put_label = _put("public_key"), _put("label")
_put_integration_id, _put_integration = _put("integration_id"), _put("integration")
_put_workspace_id, _put_workspace = _put("workspace_id"), _put("workspace")
_put_scopes, _put_allow_from, _put_limits = _put("scopes"), _put("allow_from"), _put("limits")
