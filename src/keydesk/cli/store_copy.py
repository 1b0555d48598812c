"""`keydesk store copy --to URL`: a SQLite store moved to PostgreSQL
(keydesk.upkeep.copy does the work)."""

from __future__ import annotations

from typing import Any

from keydesk.cli.parser import Commands


def register(cli: Commands, group: Any) -> None:
    return None
