"""The copy's proof: every key reads the same for the verifier on
PostgreSQL as on SQLite, so it is verified the same way (the same hash
accepts the same secret; the same times, status and integration refuse it
alike).

Both sides are read with the verifier's own query (SELECT_STORED_KEYS): the
source in the copy's read transaction, the target inside the copy's
transaction as keydesk_verifier, under its row-level security, before
anything is committed. One differing key and the copy is rolled back."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from keydesk.errors import KeydeskError
from keydesk.store.dbapi import stored_time
from keydesk.store.postgres_roles import VERIFIER_ROLE
from keydesk.verify.stored_key import SELECT_STORED_KEYS, StoredKey
from keydesk.views import IntegrationStatus, KeyStatus, key_status, utcnow
from keydesk.views.words import counted

ACCEPTED = "accepted"
_TIMES = tuple(i for i, name in enumerate(StoredKey._fields) if name.endswith("_at"))


class CopyNotProven(KeydeskError):
    """A key reads otherwise on the target than on the source."""


@dataclass(frozen=True, slots=True)
class Proof:
    keys: int  # read the same on both sides
    verdicts: dict[str, int]  # accepted, revoked, expired, integration_disabled


def verdict(row: StoredKey, now: datetime) -> str:
    """What the verifier answers the key's own secret (keydesk.verify.verifier's order)."""
    status = key_status(row.revoked_at, row.expires_at, now)
    if status is not KeyStatus.ACTIVE:
        return status.value
    if row.integration_status != IntegrationStatus.CONFIGURED:
        return "integration_disabled"
    return ACCEPTED


def prove(reading: sqlite3.Connection, source: str, connection: sa.Connection) -> Proof:
    before = {row.public_key: row for row in _source_rows(reading)}
    connection.execute(sa.text(f"SET LOCAL ROLE {VERIFIER_ROLE}"))  # as `serve` will read
    after = {row[0]: StoredKey(*row) for row in connection.execute(sa.text(SELECT_STORED_KEYS))}
    differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if differing:
        shown = ", ".join(differing[:3]) + (" …" if len(differing) > 3 else "")
        raise CopyNotProven(
            f"nothing was copied: {counted(len(differing), 'key')} would not verify on the "
            f"target as on {source} ({shown})"
        )
    now = utcnow()
    return Proof(len(after), dict(Counter(verdict(row, now) for row in after.values())))


def _source_rows(reading: sqlite3.Connection) -> list[StoredKey]:
    """The verifier's rows as it reads them from SQLite (times as stored text)."""
    rows = []
    for row in reading.execute(SELECT_STORED_KEYS):
        values = list(row)
        for index in _TIMES:
            values[index] = stored_time(values[index])
        rows.append(StoredKey(*values))
    return rows
