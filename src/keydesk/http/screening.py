"""What `RequestCheck.screen` reads of a request before any key is looked
at, in one pass over its headers: whether it carries what looks like a
private key anywhere but `Authorization` (then every field a server logs is
redacted, `redact`), and that header, which the key check reads next."""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from typing import Any, Final

from keydesk.encodings import TooDeeplyEncoded, decoded_views, holds_key_body, may_hold_key
from keydesk.encodings import text_may_hold_key as _may_hold
from keydesk.redaction import PRIVATE_KEY_PREFIX, looks_like_private_key

Scope = MutableMapping[str, Any]

REDACTED = b"[redacted]"
INVALID_CLIENT = "[invalid]"  # logged for a client address that is none


class Several:
    """More than one `Authorization` header (400)."""


SEVERAL: Final = Several()
# The request's Authorization header: its value, None (there is none) or SEVERAL.
Authorization = bytes | Several | None


def read_headers(scope: Scope) -> tuple[bool, Authorization, bool]:
    """Whether the request carries what looks like a private key outside
    `Authorization` (`_looks_like_key`: in the fields a server logs or in
    another header), that header's value, and whether it came through a
    proxy (`X-Forwarded-For`), all from one pass over the headers.

    What `may_hold_key` looks for is in no value when it is in none of them
    joined: nearly every request is cleared by one search of their text,
    joined as bytes and decoded once (a loop: no comprehension's frame)."""
    authorization: Authorization = None
    forwarded = False
    values = []
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            authorization = value if authorization is None else SEVERAL
            continue
        if name == b"x-forwarded-for":
            forwarded = True
        values.append(value)
    values.append(scope.get("query_string") or b"")
    values.append(scope.get("raw_path") or b"")
    client = scope.get("client")
    text = (
        f"{_LINE.join(values).decode('latin-1')}\n{scope['path']}\n"
        f"{scope.get('method') or ''}\n{client[0] if client else ''}"
    )
    return _may_hold(text) and _carries_key(scope), authorization, forwarded


_LINE = b"\n"


def _carries_key(scope: Scope) -> bool:
    if any(_looks_like_key(value) for value in _logged_fields(scope)):
        return True
    headers = scope.get("headers", ())
    return any(name != b"authorization" and _looks_like_key(value) for name, value in headers)


def _logged_fields(scope: Scope) -> tuple[bytes, ...]:
    """What servers write of a request in an access log: method, path,
    query string and client address. The client may come from a header
    (`X-Forwarded-For`, which uvicorn trusts from 127.0.0.1 by default)."""
    return (
        scope.get("query_string") or b"",
        scope.get("raw_path") or b"",
        _path(scope),
        str(scope.get("method") or "").encode("utf-8", "replace"),
        _client_host(scope),
    )


def _client_host(scope: Scope) -> bytes:
    client = scope.get("client")
    return str(client[0]).encode("utf-8", "replace") if client else b""


def _looks_like_key(data: bytes) -> bool:
    """Whether `data`, as sent or in any decoded form, holds what looks like
    a private key. Encoded past `MAX_ROUNDS` counts as holding one: no
    client means that, and a key could hide below the depth looked at."""
    if not may_hold_key(data):
        return False
    try:
        views = decoded_views(data)
    except TooDeeplyEncoded:
        return True
    for view in views:
        if _PREFIX in view and looks_like_private_key(view.decode("latin-1")):
            return True
        if b"_" in view and holds_key_body(view):  # its prefix changed: `Kdsk_`, `%u006B`…
            return True
    return False


_PREFIX = PRIVATE_KEY_PREFIX.encode("ascii")


def _path(scope: Scope) -> bytes:
    return str(scope["path"]).encode("utf-8", "replace")


def redact(scope: Scope) -> None:
    """Every field of `_logged_fields`, and every header but
    `Authorization`, without the key: the request is answered 400, so only
    the server's access log reads them after this."""
    if scope.get("query_string"):
        scope["query_string"] = REDACTED
    if _looks_like_key(_path(scope)) or _looks_like_key(scope.get("raw_path") or b""):
        scope["path"] = "/" + REDACTED.decode()
        scope["raw_path"] = b"/" + REDACTED
    if _looks_like_key(str(scope.get("method") or "").encode("utf-8", "replace")):
        scope["method"] = REDACTED.decode()
    if _looks_like_key(_client_host(scope)):
        scope["client"] = (REDACTED.decode(), scope["client"][1])
    # Some access logs write headers too (gunicorn's by default: Referer, User-Agent).
    scope["headers"] = [
        (name, REDACTED if name != b"authorization" and _looks_like_key(value) else value)
        for name, value in scope.get("headers", ())
    ]


def only_an_address(scope: Scope) -> None:
    """The client as the access log writes it, when a request carries
    `X-Forwarded-For`, is an IP address or `[invalid]`. Behind a trusted
    proxy it is an entry of that header, which may hold anything: part of a
    key split across entries is no key to look for. (Without that header
    it is the connection's own peer, which the server named.)"""
    client = scope.get("client")
    if not client:
        return
    try:
        ipaddress.ip_address(str(client[0]))
    except ValueError:
        scope["client"] = (INVALID_CLIENT, client[1])
