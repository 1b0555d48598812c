"""How the CLI speaks: one line on stderr for a failure, JSON or a plain
table on stdout, and stored text always shown literally."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from keydesk.validation import shown_literally
from keydesk.views import IntegrationView, KeyView

EXIT_ERROR = 2
EXIT_UNAUTHORIZED = 1


def fail(message: str) -> None:
    print(f"keydesk: {shown_literally(message)}", file=sys.stderr)


def say(args: argparse.Namespace, data: dict[str, Any], message: str) -> None:
    if getattr(args, "json", False):
        print_json(data)
    else:
        print(message)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    rows = [[shown_literally(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    for row in [headers, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


def integration_json(i: IntegrationView) -> dict[str, Any]:
    return {
        "id": i.id,
        "workspace": i.workspace,
        "name": i.name,
        "provider": i.provider,
        "client_id": i.client_id,
        "redirect_uri": i.redirect_uri,
        "scopes": i.scopes.split(),
        "status": i.status.value,
        "active_keys": i.active_keys,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
    }


def key_json(k: KeyView) -> dict[str, Any]:
    return {
        "public_key": k.public_key,
        "label": k.label,
        "integration": k.integration,
        "integration_id": k.integration_id,
        "status": k.status.value,
        "created_at": iso(k.created_at),
        "created_by": k.created_by,
        "created_by_removed": k.creator_removed,  # the creator has left the workspace
        "revoked_at": iso(k.revoked_at),
        "revoked_by": k.revoked_by,
        "expires_at": iso(k.expires_at),
        "last_used_at": iso(k.last_used_at),
    }
