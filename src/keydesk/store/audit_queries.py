"""The audit trail read a page at a time, as plain SQL on a DB-API connection
(keydesk.store.queries' `Reads`, whichever way it came): the service runs it
on its session's connection (on PostgreSQL, row-level security applies), and
`keydesk audit` on a bare sqlite3 connection, without SQLAlchemy. Every page
is one indexed range read however long the trail is. (Events are written by
ServiceContext.audit, or on PostgreSQL by the database itself.)

Nothing here imports SQLAlchemy, SQLModel or a driver.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from keydesk.errors import InvalidInput, NotFound
from keydesk.store.queries import Reads
from keydesk.store.stored_values import stored_moment
from keydesk.views import AuditView

AUDIT_PAGE = 200  # events per page: screens and `keydesk audit` read the trail in pages

# A key event's target is its public key (unique, indexed): its label, which
# the event's own label may not hold.
_EVENTS = """
SELECT e.id, e.at, w.name, i.name, e.actor, e.action, e.target, e.label, e.related, k.label
FROM audit_event e
JOIN workspace w ON w.id = e.workspace_id
LEFT JOIN integration i ON i.id = e.integration_id
LEFT JOIN api_key k ON k.public_key = e.target"""

# Events whose integration's name or key's label holds the text: looked up
# once, in subqueries.
_HOLDING = """({columns}
 OR e.integration_id IN (SELECT n.id FROM integration n WHERE n.name{has})
 OR e.target IN (SELECT l.public_key FROM api_key l WHERE l.label{has}))"""

_KEY_WORKSPACE = """SELECT i.workspace_id FROM api_key k
JOIN integration i ON i.id = k.integration_id WHERE k.public_key = :public"""


def audit_page(
    reads: Reads,
    workspace: str | None = None,
    *,
    integration: str | int | None = None,
    key: str | None = None,
    since: datetime | None = None,
    after: AuditView | None = None,
    limit: int = AUDIT_PAGE,
    oldest_first: bool = False,
    matching: str | None = None,
) -> list[AuditView]:
    """One page of events in the actor's workspaces (or one workspace,
    integration or key), newest first unless `oldest_first`. The next
    page starts `after` the last event of this one. `matching`: only events
    with that text (any case) in a column or the label of their key."""
    if limit < 1:
        raise InvalidInput("the page size must be at least 1")
    time = reads.db.time
    where, params = _about(reads, workspace, integration, key)
    if matching:
        where.append(_holding(reads.db.backend))
        params["pattern"] = "%" + re.sub(r"([\\%_])", r"\\\1", matching) + "%"
    if since is not None:
        where.append("e.at >= :since")
        params["since"] = time(since)
    way, later = ("ASC", ">") if oldest_first else ("DESC", "<")
    if after is not None:
        where.append(f"(e.at {later} :after_at OR (e.at = :after_at AND e.id {later} :after_id))")
        params |= {"after_at": time(after.at), "after_id": after.id}
    sql = f"{_EVENTS} WHERE {' AND '.join(where)} ORDER BY e.at {way}, e.id {way} LIMIT :limit"
    return [_event(row) for row in reads.db.rows(sql, params | {"limit": limit})]


def _about(
    reads: Reads, workspace: str | None, integration: str | int | None, key: str | None
) -> tuple[list[str], dict[str, object]]:
    """The WHERE terms narrowing the trail to what the events are about, as
    far as the actor may see, and their parameters."""
    params: dict[str, object] = {}
    if workspace is not None:
        where = ["e.workspace_id = :workspace_id"]
        params["workspace_id"] = reads.workspace_id(workspace)
    else:
        mine = {f"mine_{n}": ws.id for n, ws in enumerate(reads.workspaces())}
        listed = ", ".join(f":{name}" for name in mine)
        where = [f"e.workspace_id IN ({listed})" if mine else "1 = 0"]
        params |= mine
    if integration is not None:
        where.append("e.integration_id = :integration_id")
        params["integration_id"] = reads.integration(integration, workspace).id
    if key is not None:
        where.append("(e.target = :public OR e.related = :public) AND e.action LIKE :key_events")
        params |= {"public": _member_key(reads, key), "key_events": "key.%"}
    return where, params


def _member_key(reads: Reads, public_key: str) -> str:
    """A key of a workspace the actor may act in; one it may not is unknown
    ("not a member of 'acme'" would say whose it is)."""
    from keydesk.keys import is_public_key  # argon2: only when asked

    public_key = public_key.strip()
    if not is_public_key(public_key):  # a pasted private key is redacted by the error
        raise InvalidInput(
            f"not a public key: {public_key!r} (expected kdpk_ and 16 letters or digits)"
        )
    rows = reads.db.rows(_KEY_WORKSPACE, {"public": public_key})
    if not rows or not reads.acts_in(rows[0][0]):
        raise NotFound(f"no key {public_key}")
    return public_key


def _holding(backend: str) -> str:
    """Events holding :pattern, in any case, in a column (not `at`, whose text
    differs by backend), their integration's name or their key's label. A
    whole trail is scanned: SQLite's own LIKE (ASCII case ignored, as its
    lower() folds only ASCII) and the names and labels looked up once, in
    subqueries, took 5 s on 1,000,000 events where lower() LIKE on the
    joined columns took 14 s."""
    like = "ILIKE" if backend == "postgresql" else "LIKE"
    has = f" {like} :pattern ESCAPE '\\'"
    columns = " OR ".join(f"e.{c}{has}" for c in ("actor", "action", "target", "label", "related"))
    return _HOLDING.format(columns=columns, has=has)


def _event(row: tuple[Any, ...]) -> AuditView:
    id, at, workspace, integration, actor, action, target, label, related, key_label = row
    moment = stored_moment(at, f"audit event {id}", "at")
    assert moment is not None, "a NOT NULL time"
    return AuditView(
        id, moment, workspace, integration, actor, action, target, label, related, key_label
    )
