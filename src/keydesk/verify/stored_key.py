"""A presented key's row as the verifier reads it, and the SQL that reads it
(the columns in the order of the fields)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class StoredKey(NamedTuple):
    """What the read returns about a presented key (the hash included:
    never log or show a StoredKey)."""

    public_key: str
    id: int
    secret_hash: str
    label: str
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    integration_id: int
    integration: str
    integration_status: str
    workspace_id: int
    workspace: str
    scopes: str
    integration_scopes: str
    rate_limit: str | None  # keydesk.limits' form (`600/min`); None: no limit
    quota: str | None
    allow_from: str | None  # CIDRs, space-separated; empty or None: anywhere

    def __repr__(self) -> str:
        return f"StoredKey(id={self.id})"


# Written out rather than built with SQLAlchemy: the hot path goes straight to
# the driver (SQLAlchemy's per-execute bookkeeping would cost more than the
# read), and the request path imports no ORM.
SELECT_STORED_KEYS = (
    "SELECT api_key.public_key, api_key.id, api_key.secret_hash, api_key.label,"
    " api_key.revoked_at, api_key.expires_at, api_key.last_used_at,"
    " integration.id, integration.name, integration.status, workspace.id, workspace.name,"
    " api_key.scopes, integration.scopes,"
    " key_policy.rate_limit, key_policy.quota, key_policy.allow_from"
    " FROM api_key"
    " JOIN integration ON integration.id = api_key.integration_id"
    " JOIN workspace ON workspace.id = integration.workspace_id"
    " LEFT JOIN key_policy ON key_policy.api_key_id = api_key.id"
)
