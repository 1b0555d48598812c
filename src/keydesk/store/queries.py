"""The list queries (`Reads`) — workspaces, members, integrations and keys — as plain SQL on a DB-API
connection, for both stores and both ways in.

The service runs them on its session's own connection (on PostgreSQL,
row-level security applies to them as to everything). Commands and screens
that only read a SQLite store run them on a bare `sqlite3` connection
(`keydesk.store.sqlite_file.open_for_reading`), so `keydesk key list` and the
TUI's first screen start without importing SQLAlchemy. One set of queries,
one set of permission rules, whichever way the rows come.

Nothing here imports SQLAlchemy, SQLModel or a driver.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from keydesk.errors import InvalidInput, NotFound, PermissionDenied
from keydesk.ssh.gate import APPROVED, require_any_approval, require_approved
from keydesk.store.dbapi import DbConnection
from keydesk.store.stored_values import (
    stored_days,
    stored_moment,
    stored_role,
    stored_scopes,
    stored_status,
)
from keydesk.validation import as_stored
from keydesk.views import (
    EXPIRING_SOON,
    ROLE_ORDER,
    FoundKey,
    IntegrationView,
    KeyView,
    MembersView,
    MemberView,
    WorkspaceView,
    utcnow,
)
from keydesk.views.limits import stored_limits
from keydesk.views.tags import Tag, stored_tags

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey

_INTEGRATIONS = """
SELECT i.id, i.workspace_id, w.name, i.name, i.provider, i.client_id, i.redirect_uri,
       i.scopes, i.status, i.created_at, i.updated_at,
       (SELECT count(*) FROM api_key k
         WHERE k.integration_id = i.id AND k.revoked_at IS NULL),
       m.role,
       (SELECT count(*) FROM api_key k
         WHERE k.integration_id = i.id AND k.revoked_at IS NULL
           AND k.expires_at > :now AND k.expires_at <= :soon),
       w.max_key_lifetime_days
FROM integration i
JOIN workspace w ON w.id = i.workspace_id
JOIN membership m ON m.workspace_id = w.id
JOIN account a ON a.id = m.account_id
WHERE a.name = :actor"""

# KeyView's columns, in its order.
_KEYS = """
SELECT k.id, k.public_key, k.label, k.integration_id, i.name,
       k.created_at, c.name, k.revoked_at, r.name, k.expires_at, k.last_used_at,
       cm.id IS NULL, k.scopes, k.lifetime_days, p.public_key,
       s.public_key, s.revoked_at IS NOT NULL,
       {tags},
       kp.rate_limit, kp.quota, kp.allow_from, i.status = 'disabled'
FROM api_key k
JOIN integration i ON i.id = k.integration_id
LEFT JOIN key_policy kp ON kp.api_key_id = k.id
LEFT JOIN api_key p ON p.id = k.replaces_id
{replacement}{tag_join}
JOIN account c ON c.id = k.created_by
LEFT JOIN account r ON r.id = k.revoked_by
LEFT JOIN membership cm ON cm.workspace_id = i.workspace_id AND cm.account_id = k.created_by"""

# A key's newest replacement (`s`), both of its columns from one lookup. On
# PostgreSQL every key's at once, joined by hash: a subselect per row (there
# were two) cost most of a 20,000-key list and pushed its plan past the JIT.
_REPLACEMENT = {
    "sqlite": "LEFT JOIN api_key s ON s.id ="
    " (SELECT max(n.id) FROM api_key n WHERE n.replaces_id = k.id)",
    "postgresql": "LEFT JOIN (SELECT DISTINCT ON (n.replaces_id) n.replaces_id, n.public_key,"
    " n.revoked_at FROM api_key n WHERE n.replaces_id IS NOT NULL"
    " ORDER BY n.replaces_id, n.id DESC) s ON s.replaces_id = k.id",
}

# A key's tags as "name=value" lines (views.tags.stored_tags reads them).
# On PostgreSQL every key's at once, grouped and hash-joined (`tg`): as a
# subselect per row, an admin's plan charged each row the row-level security
# of api_key_tag (a scan of api_key), ~6 million in cost for 20,000 keys, and
# PostgreSQL spent ~4 s JIT-compiling a 0.4 s query.
_TAGS = {
    "sqlite": "(SELECT group_concat(t.name || '=' || t.value, char(10)) FROM api_key_tag t"
    " WHERE t.api_key_id = k.id)",
    "postgresql": "tg.tags",
}
_TAG_JOIN = {
    "sqlite": "",
    "postgresql": "\nLEFT JOIN (SELECT t.api_key_id, string_agg(t.name || '=' || t.value, chr(10))"
    " AS tags FROM api_key_tag t GROUP BY t.api_key_id) tg ON tg.api_key_id = k.id",
}
# Uncorrelated (one lookup by the name/value index, not a subplan per row).
_TAGGED = """k.id IN (SELECT t.api_key_id FROM api_key_tag t
  WHERE t.name = :tag_name_{n} AND t.value = :tag_value_{n})"""

_ACTS_IN = """SELECT 1 FROM membership m JOIN account a ON a.id = m.account_id
WHERE m.workspace_id = :workspace_id AND a.name = :actor"""
_PUBLIC_KEYS = "SELECT k.public_key FROM api_key k JOIN integration i ON i.id = k.integration_id"
_REVOCABLE = """SELECT k.public_key, k.label, i.name, c.name, cm.id IS NULL, k.integration_id
FROM api_key k
JOIN integration i ON i.id = k.integration_id
JOIN account c ON c.id = k.created_by
LEFT JOIN membership cm ON cm.workspace_id = i.workspace_id AND cm.account_id = k.created_by"""

_MY_WORKSPACES = """(SELECT m.workspace_id FROM membership m
  JOIN account a ON a.id = m.account_id WHERE a.name = :actor{gate})"""

_WORKSPACES = """
SELECT w.id, w.name, m.role, w.max_key_lifetime_days
FROM workspace w
JOIN membership m ON m.workspace_id = w.id
JOIN account a ON a.id = m.account_id
WHERE a.name = :account{gate}
ORDER BY w.name"""

_WORKSPACE = """
SELECT w.id, (SELECT m.role FROM membership m JOIN account a ON a.id = m.account_id
               WHERE m.workspace_id = w.id AND a.name = :actor)
FROM workspace w WHERE w.name = :name"""

_MEMBERS = """SELECT a.name, m.role, m.created_at FROM membership m
JOIN account a ON a.id = m.account_id WHERE m.workspace_id = :workspace_id"""

_HASH_BY_PUBLIC_KEY = "SELECT id, secret_hash FROM api_key WHERE public_key = :public"

# Active first, then newest first (the id breaks ties within one second).
_KEY_ORDER = "k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC"


@contextmanager
def bare_sqlite_reads(
    url: str, proven: str | None = None, ssh_key: str | None = None
) -> Iterator[Reads | None]:
    """The reads on an up-to-date SQLite store over a bare sqlite3
    connection, as the OS user (or the `proven` account, see
    keydesk.identity, through the SSH key `ssh_key`: see Reads); None when
    the bare way does not apply (keydesk.store.sqlite_file.open_for_reading says when)."""
    from keydesk.identity import sqlite_account
    from keydesk.store.sqlite_file import open_for_reading

    with open_for_reading(url) as connection:
        if connection is None:
            yield None
        else:
            yield Reads(DbConnection(connection, "sqlite"), sqlite_account(proven), ssh_key)


class Reads:
    """The actor's integrations and keys, with the service's permission
    rules: only what the actor's workspaces hold. In an SSH session
    (`ssh_key`, the session key's fingerprint) only the workspaces where an
    owner approved that key count as the actor's (keydesk.ssh.gate)."""

    def __init__(self, db: DbConnection, actor: str, ssh_key: str | None = None) -> None:
        self.db = db
        self.actor = actor
        self.ssh_key = ssh_key
        self._gate = f" AND {APPROVED}" if ssh_key else ""
        self._keys = _KEYS.format(
            tags=_TAGS[db.backend],
            replacement=_REPLACEMENT[db.backend],
            tag_join=_TAG_JOIN[db.backend],
        )

    def require_approved(self, workspace_id: int, workspace: str) -> None:
        """In an SSH session: refuse a workspace where its key is not approved."""
        if self.ssh_key is not None:
            require_approved(self.db, self.actor, self.ssh_key, workspace_id, workspace)

    def acts_in(self, workspace_id: int) -> bool:
        """Whether the actor is in the workspace (in an SSH session: and its
        key approved there); what is not so is never shown, even by name."""
        params = {"workspace_id": workspace_id, "actor": self.actor, "ssh_key": self.ssh_key}
        return bool(self.db.rows(_ACTS_IN + self._gate, params))

    def require_any_approval(self) -> None:
        """In an SSH session: refuse a key approved in none of the actor's workspaces."""
        if self.ssh_key is not None:
            require_any_approval(self.db, self.actor, self.ssh_key)

    # -- integrations -----------------------------------------------------------

    def integrations(self, workspace: str | None = None) -> list[IntegrationView]:
        """Integrations in the actor's workspaces (or one of them), by name."""
        sql, params = _INTEGRATIONS, self._integration_params()
        if workspace is not None:
            sql += " AND w.id = :workspace_id"
            params["workspace_id"] = self.workspace_id(workspace, member=False)
        rows = self.db.rows(sql + self._gate + " ORDER BY w.name, i.name", params)
        return [_integration_view(row, self.actor) for row in rows]

    def integration(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        """One of the actor's integrations, by id or name (a name in several
        of the actor's workspaces needs the workspace)."""
        sql, params = _INTEGRATIONS, self._integration_params()
        if isinstance(ref, int) or str(ref).strip().isdigit():
            sql += " AND i.id = :ref"
            params["ref"] = int(ref)
        else:
            sql += " AND i.name = :ref"
            params["ref"] = as_stored(str(ref))
        if workspace is not None:
            sql += " AND w.name = :workspace"
            params["workspace"] = as_stored(workspace)
        rows = [
            _integration_view(row, self.actor) for row in self.db.rows(sql + self._gate, params)
        ]
        if not rows and self.ssh_key is not None:
            for unapproved in self.db.rows(sql, params):  # refused with how to approve it
                self.require_approved(unapproved[1], unapproved[2])
        if not rows:
            raise NotFound(f"no integration {ref!r} in your workspaces")
        if len(rows) > 1:
            names = ", ".join(sorted(row.workspace for row in rows))
            raise InvalidInput(
                f"{ref!r} names integrations in several workspaces ({names}); "
                "give the workspace or the integration's id"
            )
        return rows[0]

    def _integration_params(self) -> dict[str, object]:
        now = utcnow()
        time = self.db.time
        params = {"actor": self.actor, "now": time(now), "soon": time(now + EXPIRING_SOON)}
        return params | {"ssh_key": self.ssh_key}

    def hides(self, integration_id: int) -> bool:
        """In an SSH session: whether the integration is outside every
        workspace the session's key may act in (never outside a session)."""
        if self.ssh_key is None:
            return False
        sql = _INTEGRATIONS + " AND i.id = :ref" + self._gate
        return not self.db.rows(sql, self._integration_params() | {"ref": integration_id})

    # -- keys -------------------------------------------------------------------

    def keys(
        self,
        integration: str | int | None = None,
        *,
        workspace: str | None = None,
        include_revoked: bool = True,
        expiring_within: timedelta | None = None,
        unused_for: timedelta | None = None,
        tags: Sequence[Tag] = (),
        created_by: str | None = None,
        stream: bool = False,
    ) -> Iterator[KeyView]:
        """An integration's keys (or a workspace's, or all the actor's),
        active first, newest first. `expiring_within`: only active keys that
        stop within that span, soonest first. `unused_for`: only active keys
        not used (or, never used, made) within that span, stalest first.
        `tags`: only keys carrying every one; `created_by`: only keys that
        account made. The permission checks happen before the first key is yielded."""
        where, params, order = self._key_filters(
            integration, workspace, include_revoked, expiring_within, unused_for, tags, created_by
        )
        sql = f"{self._keys} WHERE {' AND '.join(where)} ORDER BY {', '.join(order)}"
        return self._key_views(sql, params, stream)

    def revocable_keys(
        self,
        integration: str | int | None = None,
        *,
        workspace: str | None = None,
        unused_for: timedelta | None = None,
        tags: Sequence[Tag] = (),
        created_by: str | None = None,
    ) -> list[tuple[str, str, str, str, bool, int]]:
        """The active, unexpired keys `keys` would list with these filters, in
        its order, as (public key, label, integration, creator, whether the
        creator has left, integration id) only: what a bulk revoke asks about and revokes (10,000 full
        views cost it seconds)."""
        where, params, order = self._key_filters(
            integration, workspace, False, None, unused_for, tags, created_by
        )
        where.append("(k.expires_at IS NULL OR k.expires_at > :now)")
        params["now"] = self.db.time(utcnow())
        sql = f"{_REVOCABLE} WHERE {' AND '.join(where)} ORDER BY {', '.join(order)}"
        return [
            (str(public), str(label), str(name), str(by), bool(gone), int(integration_id))
            for public, label, name, by, gone, integration_id in self.db.rows(sql, params)
        ]

    def _key_filters(
        self,
        integration: str | int | None,
        workspace: str | None,
        include_revoked: bool,
        expiring_within: timedelta | None,
        unused_for: timedelta | None,
        tags: Sequence[Tag],
        created_by: str | None,
    ) -> tuple[list[str], dict[str, object], list[str]]:
        """`keys`' WHERE terms, their parameters and its ORDER BY terms (on
        `k` the key, `i` its integration, `c` its creator)."""
        where, params = self._whose_keys(integration, workspace)
        for n, tag in enumerate(tags):
            where.append(_TAGGED.format(n=n))
            params |= {f"tag_name_{n}": tag.name, f"tag_value_{n}": tag.value}
        if created_by is not None:
            where.append("c.name = :created_by")
            params["created_by"] = as_stored(created_by)
        order = [_KEY_ORDER]
        if not include_revoked:
            where.append("k.revoked_at IS NULL")
        now, time = utcnow(), self.db.time
        if expiring_within is not None:
            where.append("k.revoked_at IS NULL AND k.expires_at > :now AND k.expires_at <= :until")
            params |= {"now": time(now), "until": time(now + expiring_within)}
            order.insert(0, "k.expires_at ASC")
        if unused_for is not None:
            seen = "coalesce(k.last_used_at, k.created_at)"
            where.append(
                "k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > :now)"
                f" AND {seen} < :cutoff"
            )
            params |= {"now": time(now), "cutoff": time(now - unused_for)}
            order.insert(0, f"{seen} ASC")
        return where, params, order

    def key(self, key_id: int) -> KeyView:
        """One key by row id, unchecked: the caller has checked the actor may see it."""
        rows = self.db.rows(f"{self._keys} WHERE k.id = :id", {"id": key_id})
        return _key_view(rows[0])

    def key_by_public_key(self, public_key: str) -> KeyView | None:
        """One key by public key, unchecked (as `key`)."""
        # By id (a key's tags are then read for it alone, not grouped for all).
        by_id = "k.id = (SELECT n.id FROM api_key n WHERE n.public_key = :public)"
        rows = self.db.rows(f"{self._keys} WHERE {by_id}", {"public": public_key})
        return _key_view(rows[0]) if rows else None

    def found_key(self, private_key: PrivateKey) -> FoundKey:
        """What the store says of a private key found leaked (`keydesk scan`),
        its secret checked against the stored hash (a decoy for an unknown
        id: equal work); a wrong secret is an unknown key. Only for a role
        that reads hashes (SQLite; PostgreSQL's owner): see KeyService.found_key."""
        from keydesk.keys import check_secret, parse_private_key  # argon2: only when asked

        key = parse_private_key(private_key)  # shape and checksum, no I/O
        rows = self.db.rows(_HASH_BY_PUBLIC_KEY, {"public": key.public_key})
        if not check_secret(rows[0][1] if rows else None, key).matches:
            return FoundKey(key.public_key, None, secret_checked=True)
        view = self.key(rows[0][0])
        # In an SSH session, nothing of a workspace the admin may not act in.
        hidden = self.hides(view.integration_id)
        return FoundKey(
            key.public_key, None if hidden else view, secret_checked=True, elsewhere=hidden
        )

    def public_keys(
        self,
        prefix: str,
        integration: str | int | None = None,
        *,
        workspace: str | None = None,
        live_only: bool = False,
        limit: int = 200,
    ) -> list[str]:
        """At most `limit` of the public keys starting with `prefix` that
        `keys` would list, in no order (for shell completion, which sorts
        them: not sorting spares reading every row); no view is built."""
        where, params = self._whose_keys(integration, workspace)
        where.append("substr(k.public_key, 1, :length) = :prefix")
        if live_only:
            where.append("k.revoked_at IS NULL")
        sql = f"{_PUBLIC_KEYS} WHERE {' AND '.join(where)} LIMIT :limit"
        params |= {"length": len(prefix), "prefix": prefix, "limit": limit}
        return [public for (public,) in self.db.rows(sql, params)]

    def _whose_keys(
        self, integration: str | int | None, workspace: str | None
    ) -> tuple[list[str], dict[str, object]]:
        if integration is not None:
            target = self.integration(integration, workspace)
            return ["k.integration_id = :integration_id"], {"integration_id": target.id}
        if workspace is not None:
            workspace_id = self.workspace_id(workspace)
            return ["i.workspace_id = :workspace_id"], {"workspace_id": workspace_id}
        mine = _MY_WORKSPACES.format(gate=self._gate)
        return [f"i.workspace_id IN {mine}"], {"actor": self.actor, "ssh_key": self.ssh_key}

    def _key_views(self, sql: str, params: dict[str, object], stream: bool) -> Iterator[KeyView]:
        rows = self.db.stream(sql, params) if stream else self.db.rows(sql, params)
        shared: dict[object, Any] = {}  # one copy of each repeated value, for this read
        return (_key_view(row, shared) for row in rows)

    # -- workspaces -------------------------------------------------------------

    def workspaces(self, account: str | None = None) -> list[WorkspaceView]:
        """The workspaces the actor (or `account`) is in, with its role there,
        by name; in an SSH session, the actor's are those its key may act in."""
        gate = self._gate if account in (None, self.actor) else ""
        params = {"account": account or self.actor, "ssh_key": self.ssh_key}
        rows = self.db.rows(_WORKSPACES.format(gate=gate), params)
        who = account or self.actor
        return [
            WorkspaceView(id, name, stored_role(role, name, who), cap)
            for id, name, role, cap in rows
        ]

    def workspace_id(self, name: str, *, member: bool = True) -> int:
        """The workspace's id; NotFound if there is none of that name, and,
        with `member`, PermissionDenied unless the actor is in it."""
        name = as_stored(name)
        rows = self.db.rows(_WORKSPACE, {"actor": self.actor, "name": name})
        if not rows:
            raise NotFound(f"no workspace named {name!r}")
        ((workspace_id, role),) = rows
        if member and role is None:
            raise PermissionDenied(f"{self.actor} is not a member of workspace {name!r}")
        if role is not None:
            self.require_approved(int(workspace_id), name)
        return int(workspace_id)

    def members(self, workspace: str) -> MembersView:
        """Who is in `workspace`, owners first (the actor must be in it)."""
        name = as_stored(workspace)
        return self.members_of(self.workspace_id(name), name)

    def members_of(self, workspace_id: int, workspace: str) -> MembersView:
        """A workspace's members, owners first (the caller checked the actor is one)."""
        rows = self.db.rows(_MEMBERS, {"workspace_id": workspace_id})
        members = (
            MemberView(
                name,
                stored_role(role, workspace, name),
                _aware(since, f"member {name} of workspace {workspace!r}", "created_at"),
            )
            for name, role, since in rows
        )
        ordered = sorted(members, key=lambda m: (ROLE_ORDER.index(m.role), m.account))
        return MembersView(workspace, self.actor, tuple(ordered))


def _integration_view(row: tuple[Any, ...], actor: str) -> IntegrationView:
    (
        id, workspace_id, workspace, name, provider, client_id, redirect_uri, scopes,
        status, created, updated, active, role, expiring, lifetime,
    ) = row  # fmt: skip
    where = f"in workspace {workspace!r}, integration {name!r}"
    return IntegrationView(
        id, workspace_id, workspace, name, provider, client_id, redirect_uri, scopes,
        stored_status(status, workspace, name), _aware(created, where, "created_at"),
        _aware(updated, where, "updated_at"), active or 0,
        stored_role(role, workspace, actor), expiring or 0,
        stored_days(lifetime, f"workspace {workspace!r}", "max_key_lifetime_days"),
    )  # fmt: skip


def _key_view(row: tuple[Any, ...], shared: dict[object, Any] | None = None) -> KeyView:
    """A row as a KeyView. `shared` keeps one copy of the values many keys
    repeat (integration and account names, scope lists): 100,000 keys of one
    integration hold one "github", not 100,000."""
    (
        id, public, label, integration_id, name, created, by, revoked, revoker,
        expires, used, creator_removed, scopes, lifetime, replaces, replaced_by,
        replacement_revoked, tags, rate, quota, allow_from, refused,
    ) = row  # fmt: skip
    where = f"key {public}"
    scopes = stored_scopes(scopes, where)
    if shared is not None:
        name, by, revoker = (shared.setdefault(v, v) for v in (name, by, revoker))
        scope_list = shared.get((scopes,))  # (a 1-tuple key: never a name's)
        if scope_list is None:
            scope_list = shared[(scopes,)] = tuple(scopes.split())
    else:
        scope_list = tuple(scopes.split())
    return KeyView(
        id, public, label, integration_id, name, _aware(created, where, "created_at"), by,
        stored_moment(revoked, where, "revoked_at"), revoker,
        stored_moment(expires, where, "expires_at"), stored_moment(used, where, "last_used_at"),
        bool(creator_removed), scope_list, lifetime, replaces, replaced_by,
        bool(replacement_revoked), stored_tags(tags), stored_limits(rate, quota, allow_from),
        bool(refused),
    )  # fmt: skip


def _aware(value: datetime | str, row: str, column: str) -> datetime:
    moment = stored_moment(value, row, column)
    assert moment is not None, "a NOT NULL time"
    return moment
