"""A finding of `keydesk store check` (one line each), and the checks both
backends share: the schema version, every key's hash well-formed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from keydesk.store.schema import HEAD
from keydesk.upkeep.restore import revision_number

# An argon2id hash in its PHC form, as argon2-cffi writes it.
_PHC = re.compile(
    r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}"
)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # modes, integrity, schema, hash, role, grant, policy, trigger, ...
    text: str

    def line(self) -> str:
        return f"{self.kind}: {self.text}"

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


def schema_findings(revision: str | None) -> Iterable[Finding]:
    if revision is None:
        yield Finding("schema", "no schema version (alembic_version is empty)")
    elif revision != HEAD and revision_number(revision) > revision_number(HEAD):
        yield Finding(
            "schema", f"the schema is {revision}, newer than this keydesk's {HEAD}: upgrade keydesk"
        )
    elif revision != HEAD:
        yield Finding(
            "schema",
            f"the schema is {revision}, older than this keydesk's {HEAD} "
            "(any other keydesk command upgrades it)",
        )


def hash_findings(rows: Iterable[Any]) -> Iterable[Finding]:
    for public_key, secret_hash in rows:
        if not well_formed_hash(secret_hash):
            yield Finding("hash", f"key {public_key}: its hash is not a well-formed argon2id hash")


def well_formed_hash(value: object) -> bool:
    """An argon2id hash argon2-cffi can verify against (its parameters sane)."""
    if not isinstance(value, str):
        return False
    match = _PHC.fullmatch(value)
    if match is None:
        return False
    memory, time_cost, parallelism = (int(group) for group in match.groups())
    return memory >= 8 * parallelism and time_cost >= 1 and parallelism >= 1
