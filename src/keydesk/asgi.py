"""ASGI middleware: protect any Starlette/FastAPI (or plain ASGI) app with
keydesk API keys, in one line:

    app.add_middleware(KeydeskAuth, database_url="postgresql+psycopg://…")

A request without a valid `Authorization: Bearer <private key>` gets 401 with
`WWW-Authenticate` (RFC 6750) and a JSON body with the reason; a valid one
reaches the app with the key's identity in `scope["keydesk.api_key"]`
(`request.state.api_key` in Starlette).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from keydesk.errors import StoreUnavailable, Unauthorized, UnauthorizedReason
from keydesk.verify import Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "keydesk.api_key"
REALM = "keydesk"


class KeydeskAuth:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier | None = None,
        database_url: str | None = None,
        exempt_paths: Iterable[str] = ("/healthz",),
    ) -> None:
        if verifier is None:
            from keydesk.config import database_url as resolve_url
            from keydesk.store import open_store

            verifier = Verifier(open_store(resolve_url(database_url)).engine)
        self.app = app
        self.verifier = verifier
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        try:
            identity = await self.verifier.verify_async(bearer_token(scope))
        except Unauthorized as refused:
            await _send_json(
                send, 401, _refusal(refused), [(b"www-authenticate", _challenge(refused))]
            )
            return
        except StoreUnavailable as error:
            await _send_json(
                send,
                503,
                {"error": "unavailable", "message": error.message},
                [(b"retry-after", b"1")],
            )
            return
        scope[SCOPE_KEY] = identity
        scope.setdefault("state", {})["api_key"] = identity
        await self.app(scope, receive, send)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _refusal(refused: Unauthorized) -> dict[str, str]:
    return {"error": "invalid_token", "reason": refused.reason.value, "message": refused.message}


def _challenge(refused: Unauthorized) -> bytes:
    # RFC 6750 §3.1: no error code when no credentials were presented.
    if refused.reason is UnauthorizedReason.MISSING:
        return f'Bearer realm="{REALM}"'.encode()
    return f'Bearer realm="{REALM}", error="invalid_token", error_description="{refused.message}"'.encode()


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
