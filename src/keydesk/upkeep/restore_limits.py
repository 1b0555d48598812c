"""What a restore must not give back of a key's limits: a fence or a lower
rate set since the backup (after a leak, say), quota already used, a scope
taken from an integration (and so from its keys). For every key, workspace
and integration the store holds, its limits and scopes are the store's (a
policy removed since stays removed: the store is the admins' latest word),
and each counting window keeps the larger count of the two."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

_KEY_POLICY = (
    "SELECT k.public_key, p.rate_limit, p.quota, p.allow_from FROM api_key k"
    " LEFT JOIN key_policy p ON p.api_key_id = k.id"
)
_WORKSPACE_POLICY = (
    "SELECT w.name, p.default_rate, p.workspace_id IS NOT NULL FROM workspace w"
    " LEFT JOIN workspace_policy p ON p.workspace_id = w.id"
)
_WINDOWS = (
    "SELECT k.public_key, w.kind, w.starts, w.verifier, w.count FROM key_window w"
    " JOIN api_key k ON k.id = w.api_key_id"
)
_KEY = "(SELECT id FROM api_key WHERE public_key = ?)"
_WORKSPACE = "(SELECT id FROM workspace WHERE name = ?)"


@dataclass(frozen=True, slots=True)
class Limits:
    keys: list[tuple[Any, ...]]  # public key, rate, quota, allow_from (all None: no policy)
    workspaces: list[tuple[Any, ...]]  # name, default rate, whether it has a policy row
    windows: list[tuple[Any, ...]]  # public key, kind, starts, verifier, count
    scopes: list[tuple[Any, ...]]  # integration id, its scopes

    @classmethod
    def read(cls, connection: sqlite3.Connection) -> Limits:
        return cls(
            connection.execute(_KEY_POLICY).fetchall(),
            connection.execute(_WORKSPACE_POLICY).fetchall(),
            connection.execute(_WINDOWS).fetchall(),
            connection.execute("SELECT id, scopes FROM integration").fetchall(),
        )

    def apply(self, connection: sqlite3.Connection) -> None:
        """On the restored rows (keys and workspaces the backup lacks are skipped)."""
        for public_key, rate, quota, allow_from in self.keys:
            connection.execute(f"DELETE FROM key_policy WHERE api_key_id = {_KEY}", (public_key,))  # noqa: S608
            if allow_from is not None:  # a row (allow_from is NOT NULL)
                connection.execute(
                    "INSERT INTO key_policy (api_key_id, rate_limit, quota, allow_from)"
                    f" SELECT {_KEY}, ?, ?, ? WHERE {_KEY} IS NOT NULL",
                    (public_key, rate, quota, allow_from, public_key),
                )
        for name, default_rate, has_row in self.workspaces:
            connection.execute(
                f"DELETE FROM workspace_policy WHERE workspace_id = {_WORKSPACE}",  # noqa: S608
                (name,),
            )
            if not has_row:
                continue
            connection.execute(
                "INSERT INTO workspace_policy (workspace_id, default_rate)"
                f" SELECT {_WORKSPACE}, ? WHERE {_WORKSPACE} IS NOT NULL",
                (name, default_rate, name),
            )
        key = "(SELECT id FROM api_key WHERE public_key = ?1)"
        connection.executemany(
            "INSERT INTO key_window (api_key_id, kind, starts, verifier, count)"
            f" SELECT {key}, ?2, ?3, ?4, ?5 WHERE {key} IS NOT NULL"
            " ON CONFLICT (api_key_id, kind, starts, verifier)"
            " DO UPDATE SET count = max(count, excluded.count)",
            self.windows,
        )
        connection.executemany("UPDATE integration SET scopes = ?2 WHERE id = ?1", self.scopes)
