"""How the CLI speaks: one line on stderr for a failure, JSON or a plain
table on stdout, and stored text always shown literally."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from keydesk import wording
from keydesk.redaction import redact_private_keys
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from datetime import datetime

    from keydesk.views import IntegrationView, KeyView

EXIT_UNAUTHORIZED = 1  # `keydesk verify`: the key was refused


def fail(message: str) -> None:
    """The one line a failure gets: control characters escaped (a newline in
    a value cannot make two lines), private keys redacted."""
    print(f"keydesk: {shown_literally(redact_private_keys(message))}", file=sys.stderr)


def confirmed(verb: str, done: str, question: str) -> bool:
    """Ask on stderr before something that cannot be taken back: True when
    the user types `verb`. Off a terminal (a script) nobody can answer, so
    it refuses in one line naming --yes; otherwise a refusal says `not
    {done}`."""
    if not sys.stdin.isatty():
        fail(f"not {done}: pass --yes to {verb} when not at a terminal")
        return False
    # The prompt too goes to stderr: stdout may be a pipe (`… --json | jq`).
    print(f"{question}\nType '{verb}' to confirm: ", end="", file=sys.stderr, flush=True)
    if input().strip().lower() != verb:
        fail(f"not {done}")
        return False
    return True


def say(args: argparse.Namespace, data: dict[str, Any], message: str) -> None:
    if getattr(args, "json", False):
        print_json(data)
    else:
        print(message)


def print_json(data: Any) -> None:
    import json  # not needed to parse arguments or print --help

    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_json_list(items: Iterable[dict[str, Any]]) -> None:
    """The same bytes as `print_json(list(items))`, written item by item so a
    long list is never held whole (`key list --json` on 100,000 keys). Flat
    items (scalars, lists of strings and string-to-string maps, as `key_json`
    makes) are laid out here with the C
    string encoder: `json.dumps(indent=2)` runs the pure-Python encoder, which
    was most of the command's time."""
    import json
    from json.encoder import encode_basestring

    prefixes: dict[tuple[str, ...], list[str]] = {}  # '    "key": ' per key, made once
    literals = {None: "null", True: "true", False: "false"}

    def item_json(item: dict[str, Any]) -> str:
        keys = tuple(item)
        heads = prefixes.get(keys)
        if heads is None:
            if not all(type(key) is str for key in keys):
                return json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            heads = prefixes[keys] = [f"    {encode_basestring(key)}: " for key in keys]
        fields = []
        for head, value in zip(heads, item.values(), strict=True):
            kind = type(value)  # exact types: subclasses (enums) go to json.dumps
            if kind is str:
                fields.append(head + encode_basestring(value))
            elif value is None or kind is bool:
                fields.append(head + literals[value])
            elif kind is int:
                fields.append(head + str(value))
            elif kind is list and all(type(v) is str for v in value):  # a key's scopes
                inner = ",\n".join("      " + encode_basestring(v) for v in value)
                fields.append(head + ("[\n" + inner + "\n    ]" if value else "[]"))
            elif kind is dict and all(type(k) is str is type(v) for k, v in value.items()):
                # a key's tags: every key has them, and json.dumps(indent=2)
                # leaves a cycle of closures per call for the GC to find.
                inner = ",\n".join(
                    f"      {encode_basestring(k)}: {encode_basestring(v)}"
                    for k, v in value.items()
                )
                fields.append(head + ("{\n" + inner + "\n    }" if value else "{}"))
            else:  # floats, lists, dicts: json.dumps knows best
                return json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        return "{\n" + ",\n".join(fields) + "\n  }" if fields else "{}"

    out = sys.stdout
    separator = "[\n  "
    for item in items:
        out.write(separator)
        out.write(item_json(item))
        separator = ",\n  "
    out.write("[]\n" if separator.startswith("[") else "\n]\n")


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


when = partial(wording.when, missing="-")  # a plain table's cells are ASCII


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
        "expiring_keys": i.expiring_keys,
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
        "integration_disabled": k.integration_disabled,  # refused whatever its status
        "created_at": iso(k.created_at),
        "created_by": k.created_by,
        "created_by_removed": k.creator_removed,  # the creator has left the workspace
        "revoked_at": iso(k.revoked_at),
        "revoked_by": k.revoked_by,
        "expires_at": iso(k.expires_at),
        "last_used_at": iso(k.last_used_at),
        "scopes": list(k.scopes),
        "lifetime_days": k.lifetime_days,
        "replaces": k.replaces,
        "replaced_by": k.replaced_by,
        "replacement_revoked": k.replacement_revoked,  # `key keep` cancels the old key's stop
        "tags": {tag.name: tag.value for tag in k.tags},
        **k.limits.as_json(),  # rate, quota, allow_from
    }


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of what is
    still buffered neither raises (a second BrokenPipeError) nor writes it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (tests capture stdout)
        pass
