"""bench/verify.py's floor: what a verifier cannot do with less (the plain
driver's one indexed read, HMAC-SHA256 and a dict; argon2 on first sight)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from datetime import UTC, datetime

import sqlalchemy as sa

# The floor's one read: the key row, its integration's status and names.
FLOOR_SQL = (
    "SELECT k.id, k.secret_hash, k.label, k.revoked_at, k.expires_at, "
    "i.id, i.name, i.status, w.id, w.name "
    "FROM api_key k JOIN integration i ON i.id = k.integration_id "
    "JOIN workspace w ON w.id = i.workspace_id WHERE k.public_key = {param}"
)


class Floor:
    """What a verifier cannot do with less: parse nothing, read one row by its
    indexed public key with the plain driver, HMAC the presented key and find
    the digest in a dict. First sight: the read plus argon2."""

    def __init__(self, url: str, hasher) -> None:
        parsed = sa.engine.make_url(url)
        self.backend = parsed.get_backend_name()
        if self.backend == "sqlite":
            self.sql = FLOOR_SQL.format(param="?")
            self._connect = lambda: sqlite3.connect(parsed.database, check_same_thread=False)
        else:
            import psycopg

            self.sql = FLOOR_SQL.format(param="%s")
            self.conninfo = parsed.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            self._connect = lambda: psycopg.connect(self.conninfo, autocommit=True)
        self.hasher = hasher
        self.digest_key = secrets.token_bytes(32)
        self.known: dict[bytes, int] = {}
        self.decoy = hasher.hash(secrets.token_hex(16))
        self.main = self._connect()
        self.open: list = []

    @staticmethod
    def usable(row) -> bool:
        """Not revoked, not expired, integration configured."""
        expires = row[4]
        if isinstance(expires, str):  # sqlite3 hands back the stored text
            expires = datetime.fromisoformat(expires).replace(tzinfo=UTC)
        return (
            row[3] is None
            and row[7] == "configured"
            and (expires is None or expires > datetime.now(UTC))
        )

    def verify(self, presented: str, connection=None) -> bool:
        digest = hmac.digest(self.digest_key, presented.encode(), hashlib.sha256)
        row = (connection or self.main).execute(self.sql, ("kdpk_" + presented[5:21],)).fetchone()
        if row is None:
            return False
        if self.known.get(digest) != row[0]:
            try:
                self.hasher.verify(row[1], presented)
            except Exception:
                return False
            self.known[digest] = row[0]
        return self.usable(row)

    def refuse_forged(self, presented: str) -> bool:
        """A well-formed unknown key: the read (a miss) and a decoy argon2."""
        hmac.digest(self.digest_key, presented.encode(), hashlib.sha256)
        row = self.main.execute(self.sql, ("kdpk_" + presented[5:21],)).fetchone()
        try:
            self.hasher.verify(row[1] if row else self.decoy, presented)
        except Exception:
            return False
        return row is not None

    def for_thread(self, _index: int):
        """A verify bound to a connection of its own (closed by `close_open`)."""
        connection = self._connect()
        self.open.append(connection)
        return lambda key: self.verify(key, connection)

    def close_open(self) -> None:
        while self.open:
            self.open.pop().close()

    async def for_task(self, _index: int):
        """An async verify for one task: PostgreSQL, its own AsyncConnection;
        SQLite, the read inline on the shared connection."""
        if self.backend == "sqlite":

            async def inline(key: str) -> bool:
                return self.verify(key)

            return inline, None
        import psycopg

        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)

        async def verify(presented: str) -> bool:
            digest = hmac.digest(self.digest_key, presented.encode(), hashlib.sha256)
            cursor = await connection.execute(self.sql, ("kdpk_" + presented[5:21],))
            row = await cursor.fetchone()
            return row is not None and self.known.get(digest) == row[0] and self.usable(row)

        return verify, connection.close

    def close(self) -> None:
        self.close_open()
        self.main.close()
