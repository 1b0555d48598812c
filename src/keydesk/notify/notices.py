"""What an owner must be told, and when: the notices due now, read from the
store as the acting account sees it (its owned workspaces only).

Each notice is about one key and is sent once per (key, kind, occasion):

* `expiry.14d`, `expiry.3d`, `expiry.1d`: the key stops within 14 days, 3
  days, 1 day; occasion: its expiry (a changed expiry is a new occasion). A
  key first seen past several thresholds gets one notice, the nearest's. A
  key being rotated (a live replacement exists) gets none: its stop is planned.
* `rotation.still_used`: a rotation's old key stops within 24 hours and was
  presented after its replacement was made; occasion: its stop.
* `key.leaked`: revoked because it leaked (`key.revoke.leaked` in the
  trail, within the last 7 days, so a first run does not retell old leaks).
* `wrong_secret.spike`: at least SPIKE_WRONG_SECRETS presentations of the
  key's public key with a wrong secret in one UTC clock hour (verifiers count
  them per key and hour, revision 0003); occasion: that hour; the current
  hour and the one before are looked at.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk.store.models import ApiKey, AuditEvent, Integration, KeyUsage, Workspace
from keydesk.validation import shown_literally
from keydesk.views import WRONG_SECRET, in_words, stop_time
from keydesk.views.usage import usage_hour, usage_hour_start

EXPIRY_THRESHOLDS = (("1d", timedelta(days=1)), ("3d", timedelta(days=3)),
                     ("14d", timedelta(days=14)))  # fmt: skip  # nearest first
ROTATION_WINDOW = timedelta(hours=24)
LEAK_LOOKBACK = timedelta(days=7)
SPIKE_WRONG_SECRETS = 20  # in one UTC clock hour, for one key


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice: which key, what happened, what to do. Never any part of
    a secret: keys are named by label and public key."""

    kind: str
    occasion: str
    workspace_id: int
    api_key_id: int
    workspace: str
    integration: str
    label: str
    public_key: str
    what: str
    todo: str

    @property
    def claim(self) -> tuple[int, str, str]:
        return (self.api_key_id, self.kind, self.occasion)

    def body(self) -> str:
        """What the store keeps of it (so a retry sends the same words)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_body(cls, body: str) -> Notice:
        fields: dict[str, Any] = json.loads(body)
        return cls(**fields)

    def payload(self, notice_id: int | None) -> dict[str, Any]:
        """A webhook's JSON."""
        return {
            "id": notice_id,
            "notice": self.kind,
            "workspace": self.workspace,
            "integration": self.integration,
            "label": self.label,
            "public_key": self.public_key,
            "what": self.what,
            "todo": self.todo,
        }

    def headline(self) -> str:
        """One line, stored text shown literally (an email's subject)."""
        return shown_literally(
            f"{self.workspace}: key {self.label!r} ({self.public_key}) {self.what}"
        )

    def line(self) -> str:
        """One line per notice (stdout, for cron's mail), shown literally."""
        return shown_literally(
            f"{self.workspace} {self.integration} {self.label!r} {self.public_key}: "
            f"{self.what}; {self.todo}"
        )

    def text(self) -> str:
        """An email's body: plain text, each stored value shown literally."""
        rows = (("Workspace", self.workspace), ("Integration", self.integration),
                ("Key", self.label), ("Public key", self.public_key),
                ("What happened", self.what), ("What to do", self.todo))  # fmt: skip
        return "".join(f"{name}: {shown_literally(value)}\n" for name, value in rows)


_KEYS = (
    sa.select(
        col(ApiKey.id),
        col(ApiKey.public_key),
        col(ApiKey.label),
        col(ApiKey.expires_at),
        col(ApiKey.last_used_at),
        col(Integration.name),
        col(Workspace.id),
        col(Workspace.name),
    )
    .join(Integration, col(Integration.id) == ApiKey.integration_id)
    .join(Workspace, col(Workspace.id) == Integration.workspace_id)
)


def due(session: Session, workspace_ids: list[int], now: datetime) -> list[Notice]:
    """Every notice due now in these workspaces (sent or not: the claim decides)."""
    if not workspace_ids:
        return []
    return [
        *_expiring(session, workspace_ids, now),
        *_leaked(session, workspace_ids, now),
        *_spikes(session, workspace_ids, now),
    ]


def _notice(row: Any, kind: str, occasion: str, what: str, todo: str) -> Notice:
    return Notice(kind, occasion, row[6], row[0], row[7], row[5], row[2], row[1], what, todo)


def _expiring(session: Session, workspace_ids: list[int], now: datetime) -> list[Notice]:
    replacement = sa.orm.aliased(ApiKey)
    live = sa.and_(
        col(replacement.replaces_id) == ApiKey.id,
        col(replacement.revoked_at).is_(None),
        sa.or_(col(replacement.expires_at).is_(None), col(replacement.expires_at) > now),
    )
    query = _KEYS.add_columns(
        sa.select(col(replacement.public_key)).where(live).limit(1).scalar_subquery(),
        sa.select(sa.func.min(col(replacement.created_at))).where(live).scalar_subquery(),
    ).where(
        col(Workspace.id).in_(workspace_ids),
        col(ApiKey.revoked_at).is_(None),
        col(ApiKey.expires_at) > now,
        col(ApiKey.expires_at) <= now + EXPIRY_THRESHOLDS[-1][1],
    )
    notices = []
    for row in session.execute(query.order_by(col(ApiKey.expires_at))):
        expires, last_used, new_key, rotated_at = row[3], row[4], row[8], row[9]
        occasion, left = expires.strftime("%Y-%m-%dT%H:%M:%SZ"), expires - now
        when = f"{in_words(left)}, at {stop_time(expires)}"
        if new_key is None:
            threshold = next(name for name, span in EXPIRY_THRESHOLDS if left <= span)
            todo = f"rotate it before then: keydesk key rotate {row[1]} --overlap 24h"
            notices.append(_notice(row, f"expiry.{threshold}", occasion,
                                   f"expires in {when}", todo))  # fmt: skip
        elif left <= ROTATION_WINDOW and last_used is not None and last_used > rotated_at:
            what = (f"was rotated but is still used (last {stop_time(last_used)}); "
                    f"it stops in {when}")  # fmt: skip
            todo = (f"deploy its replacement {new_key} wherever this key is still presented "
                    f"(keydesk key usage {row[1]}) before it stops")  # fmt: skip
            notices.append(_notice(row, "rotation.still_used", occasion, what, todo))
    return notices


def _leaked(session: Session, workspace_ids: list[int], now: datetime) -> list[Notice]:
    query = (
        _KEYS.add_columns(col(AuditEvent.label))
        .join(AuditEvent, col(AuditEvent.target) == ApiKey.public_key)
        .where(
            col(Workspace.id).in_(workspace_ids),
            col(AuditEvent.workspace_id) == Workspace.id,
            col(AuditEvent.action) == "key.revoke.leaked",
            col(AuditEvent.at) >= now - LEAK_LOOKBACK,
        )
    )
    notices = []
    for row in session.execute(query):
        where = f" ({row[8]})" if row[8] else ""
        todo = (f"issue a new key (keydesk key create --integration {shlex.quote(row[5])} "
                "--label …), deploy it, and find how this one leaked")  # fmt: skip
        notices.append(_notice(row, "key.leaked", "revoked", f"was revoked: it leaked{where}",
                               todo))  # fmt: skip
    return notices


def _spikes(session: Session, workspace_ids: list[int], now: datetime) -> list[Notice]:
    hour = usage_hour(now.timestamp())
    query = (
        _KEYS.add_columns(col(KeyUsage.hour), col(KeyUsage.count))
        .join(KeyUsage, col(KeyUsage.api_key_id) == ApiKey.id)
        .where(
            col(Workspace.id).in_(workspace_ids),
            col(KeyUsage.outcome) == WRONG_SECRET,
            col(KeyUsage.hour) >= hour - 1,
            col(KeyUsage.count) >= SPIKE_WRONG_SECRETS,
        )
    )
    notices = []
    for row in session.execute(query):
        start = usage_hour_start(row[8])
        what = (f"was presented {row[9]} times with a wrong secret in the hour from "
                f"{stop_time(start)}")  # fmt: skip
        todo = (f"someone has its public key and is guessing, or a client holds a damaged or "
                f"old key: see keydesk key usage {row[1]}; if it is attacked, rotate it")  # fmt: skip
        notices.append(_notice(row, "wrong_secret.spike", str(row[8]), what, todo))
    return notices
