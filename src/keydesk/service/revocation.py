"""The one revocation: a key stops for good, once. Revoking by hand,
rotating with no overlap and revoking a leaked key all come through here."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk import validation
from keydesk.errors import AlreadyRevoked
from keydesk.redaction import redact_private_keys
from keydesk.service.rows import KeyRef
from keydesk.store.models import ApiKey

LEAK_LOCATION_MAX = 64  # AuditEvent.label


def revoke(session: Session, key: KeyRef, revoker: int | None, at: datetime) -> None:
    """Revoke `key` at `at` by the account `revoker`. A conditional update:
    two admins revoking at once get one success and one clear error, never
    a second timestamp."""
    result = session.execute(
        sa.update(ApiKey)
        .where(col(ApiKey.id) == key.id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=at, revoked_by=revoker)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult
        raise AlreadyRevoked(f"key {key.public_key} ({key.label}) is already revoked")


def leak_label(found_at: str) -> str:
    """The audit line's note on a leaked key: where it was found (a path may
    itself hold a private key, which is redacted)."""
    found_at = redact_private_keys(found_at, note=False)
    # Under a label's rules (PostgreSQL's keydesk_mark_leaked refuses any
    # other, and with it the revocation): printable, NFC, no surrounding space.
    shown = validation.as_stored(validation.shown_literally(found_at))
    return _clipped(f"found at {shown}".rstrip(), LEAK_LOCATION_MAX)


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
