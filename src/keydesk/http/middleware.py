"""ASGI middleware: protect any Starlette/FastAPI (or plain ASGI) app with
keydesk API keys, in one line:

    app.add_middleware(KeydeskAuth, database_url="postgresql+psycopg://…")

HTTP requests and WebSocket handshakes alike need `Authorization: Bearer
<private key>`; a valid one reaches the app with the key's identity in
`scope["keydesk.api_key"]` (`request.state.api_key` in Starlette). Otherwise:

  401  no key, or a key refused: `WWW-Authenticate` (RFC 6750) and a JSON body
       whose `reason` is `missing`, `malformed`, `bad_checksum` (answered at
       once: no I/O), `invalid` (no such key, or the wrong secret: the client
       is not told which, and the answer takes `INVALID_ANSWER_SECONDS`
       either way), `revoked`, `expired` or `integration_disabled`.
  400  several `Authorization` headers, or something that looks like a
       private key anywhere else (query string, path, another header), as
       sent or once decoded, again and again until it no longer changes
       (percent-encoding at any depth, JSON escapes, base64:
       `keydesk.encodings`; a value still changing after 8 rounds counts as
       a key): keys travel only in `Authorization`, and what a server logs
       of such a request (query string, path, method, client address, which
       may come from `X-Forwarded-For`) is redacted before it is logged.
  403  `forbidden_network`: a key with an allowlist, from elsewhere (before
       any hash work; the address: see `RequestCheck`).
  429  too many attempts with one public key at once; or `rate_limited`, a
       key over its rate or quota: `Retry-After` and the RateLimit headers
       (keydesk.http.limits), which a limited key's every answer carries.
  503  the key store cannot answer (gone, down, locked past the timeout);
       `Retry-After`. Never a 200 it could not check.

A refused WebSocket handshake gets that HTTP response when the server
supports the ASGI WebSocket denial-response extension (uvicorn does), else a
close before accept: 1008 (policy violation), or 1013 (try again later) for
429/503.

A route that needs more than a valid key names the scopes it needs, in one
line (`keydesk.http.guards.requires_scopes`, public as keydesk.guards, for
Starlette and FastAPI): a key without them gets 403 with `WWW-Authenticate:
Bearer error="insufficient_scope", scope="…"` (RFC 6750 §3.1);
`scope_refusal` here is that rule in plain ASGI.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from keydesk.errors import (
    ForbiddenNetwork,
    RateLimited,
    StoreUnavailable,
    TooManyAttempts,
    Unauthorized,
    UnauthorizedReason,
)
from keydesk.http.limits import limit_refusal, request_source, with_ratelimit_headers
from keydesk.http.screening import Authorization, only_an_address, read_headers, redact
from keydesk.limits import proxies
from keydesk.verify.gates import RETRY_AFTER_SECONDS
from keydesk.verify.refusals import RefusalLog
from keydesk.verify.verified_key import VerifiedKey
from keydesk.verify.verifier import Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Refusal = tuple[int, dict[str, str], list[tuple[bytes, bytes]]]  # status, body, headers

SCOPE_KEY = "keydesk.api_key"
REALM = "keydesk"
# An `invalid` answer (no such key, or the wrong secret) goes out no sooner
# than this after the request arrived. Both then take the same time whatever
# the verifier did, and a connection presenting forged keys gets at most a few
# answers a second: 256 such connections offer ~1,000 requests/s, well under
# what one worker answers, so valid keys are not queued behind them.
INVALID_ANSWER_SECONDS = 0.25

# RFC 7235/6750: "Bearer" 1*SP token. Only SP and HTAB may surround it, and a
# key is visible ASCII: anything else (U+00A0, U+0085, U+001C…) is malformed,
# never trimmed away.
_OPTIONAL_WHITESPACE = b" \t"
_VISIBLE_ASCII = bytes(range(0x21, 0x7F))  # deleted by `bytes.translate`: a regex costs twice


class BadRequest(Exception):
    """A request refused before any key is looked at (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeydeskAuth:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier | None = None,
        database_url: str | None = None,
        exempt_paths: Iterable[str] = ("/healthz",),
        invalid_answer_seconds: float = INVALID_ANSWER_SECONDS,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.check = RequestCheck(
            verifier, database_url, invalid_answer_seconds, trusted_proxies=trusted_proxies
        )
        self.verifier = self.check.verifier
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan and the like
            return
        check = self.check
        answer: VerifiedKey | Refusal | None
        answer, authorization = check.screened(scope)
        if answer is None:
            if scope["path"] in self.exempt_paths:
                await self.app(scope, receive, send)
                return
            # A key answered before is answered at once: no coroutine, no thread.
            answer = check.at_once(scope, authorization)
            if answer is None:
                answer = await check.verify_async(scope)
        if not isinstance(answer, VerifiedKey):
            await send_refusal(scope, receive, send, answer)
            return
        scope[SCOPE_KEY] = answer
        scope.setdefault("state", {})["api_key"] = answer
        if answer.limits:
            send = with_ratelimit_headers(send, answer.limits)
        await self.app(scope, receive, send)


class RequestCheck:
    """A request's key check as `KeydeskAuth` makes it, shared by every host
    (this middleware, the FastAPI dependency, the WSGI and Django
    middleware), each sending the answer its own way. `scope` is an ASGI
    scope, or what a WSGI host made of its environ. The request's address
    (for a key's allowlist and its sources) is the peer's, or, when the peer
    is one of `trusted_proxies` (CIDRs), the right-most untrusted address of
    X-Forwarded-For (else Forwarded): never one a client chose."""

    def __init__(
        self,
        verifier: Verifier | None = None,
        database_url: str | None = None,
        invalid_answer_seconds: float = INVALID_ANSWER_SECONDS,
        *,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.trusted = proxies(trusted_proxies)  # checked before a store is opened
        if verifier is None:
            from keydesk.config import database_url as resolve_url

            # The verifier opens its own connections and never creates a store.
            verifier = Verifier(resolve_url(database_url))
        self.verifier = verifier
        self.invalid_answer_seconds = invalid_answer_seconds
        self._refusals = RefusalLog()

    def screen(self, scope: Scope) -> Refusal | None:
        """400 for a key anywhere but `Authorization`, once every field a
        server logs is redacted; a forwarded client address that is no
        address becomes `[invalid]`. None: go on to `verify`."""
        return self.screened(scope)[0]

    def screened(self, scope: Scope) -> tuple[Refusal | None, Authorization]:
        """`screen`'s answer, and the Authorization header read on the way
        (`at_once` takes it)."""
        elsewhere, authorization, forwarded = read_headers(scope)
        if elsewhere:
            redact(scope)
            self._refusals.refused("a request", "private key outside Authorization (redacted)")
            message = "API keys are accepted only in the Authorization header"
            return (400, _bad_request(message), []), authorization
        if forwarded:
            only_an_address(scope)
        return None, authorization

    def at_once(self, scope: Scope, authorization: Authorization) -> VerifiedKey | Refusal | None:
        """The answer when the verifier has it at once (a key it answered
        before, nothing changed since: `Verifier.answered`; over its rate,
        the 429), from the Authorization header `screened` read. None: ask
        `verify_async` or `verify`, which answer the rest."""
        if type(authorization) is not bytes:
            return None
        try:
            token = _token(authorization)
        except Unauthorized:
            return None  # malformed: refused by `verify_async`
        if token is None:
            return None
        try:
            return self.verifier.answered(token, request_source(scope, self.trusted))
        except _REFUSED as error:  # none waits for the `invalid` floor
            return refusal_of(error)

    async def verify_async(self, scope: Scope) -> VerifiedKey | Refusal:
        """The key's identity, or the refusal to answer (on the event loop)."""
        arrived = time.monotonic()
        try:
            token = bearer_token(scope)
            return await self.verifier.verify_async(token, request_source(scope, self.trusted))
        except (BadRequest, Unauthorized, *_REFUSED) as error:
            if _answered_late(error):
                await _until(arrived + self.invalid_answer_seconds)
            return refusal_of(error)

    def verify(self, scope: Scope) -> VerifiedKey | Refusal:
        """The same, for a WSGI host's worker thread."""
        arrived = time.monotonic()
        try:
            token = bearer_token(scope)
            return self.verifier.verify(token, request_source(scope, self.trusted))
        except (BadRequest, Unauthorized, *_REFUSED) as error:
            if _answered_late(error):
                _wait_until(arrived + self.invalid_answer_seconds)
            return refusal_of(error)


def _answered_late(error: Exception) -> bool:
    """`invalid` (no such key, or the wrong secret) waits for its floor."""
    return isinstance(error, Unauthorized) and error.public_reason is UnauthorizedReason.INVALID


# What else the verifier refuses with (beside Unauthorized).
_REFUSED = (TooManyAttempts, StoreUnavailable, ForbiddenNetwork, RateLimited)


def refusal_of(error: Exception) -> Refusal:
    """The answer to a request the verifier refused, whoever sends it."""
    if isinstance(error, ForbiddenNetwork | RateLimited):
        return limit_refusal(error)
    if isinstance(error, BadRequest):
        return 400, _bad_request(error.message), []
    if isinstance(error, Unauthorized):
        body = {
            "error": "invalid_token",
            "reason": error.public_reason.value,
            "message": error.public_message,
        }
        return 401, body, [(b"www-authenticate", _challenge(error))]
    if isinstance(error, TooManyAttempts):
        body = {"error": "too_many_attempts", "message": error.message}
        return 429, body, _retry_after(error.retry_after)
    assert isinstance(error, StoreUnavailable)
    body = {"error": "unavailable", "message": "the key store is unavailable; retry shortly"}
    return 503, body, _retry_after(RETRY_AFTER_SECONDS)


async def _until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _wait_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def bearer_token(scope: Scope) -> str | None:
    """The token of the one `Authorization: Bearer` header; None if there is
    none (or another scheme); `BadRequest` for several headers;
    `Unauthorized(malformed)` for a token that is not visible ASCII."""
    found: bytes | None = None
    for name, value in scope.get("headers", ()):  # a loop: no comprehension's frame
        if name == b"authorization":
            if found is not None:
                raise BadRequest("several Authorization headers: send exactly one")
            found = value
    return None if found is None else _token(found)


def _token(authorization: bytes) -> str | None:
    """The token of one Authorization header's value (`bearer_token`)."""
    if authorization.startswith(b"Bearer "):  # the usual form: nothing to trim, or malformed
        token = authorization[7:]
        if token and not token.translate(None, _VISIBLE_ASCII):
            return token.decode("ascii")
    scheme, _, token = authorization.strip(_OPTIONAL_WHITESPACE).partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip(_OPTIONAL_WHITESPACE)
    if not token:
        return None
    if token.translate(None, _VISIBLE_ASCII):  # something left once they are gone
        raise Unauthorized(UnauthorizedReason.MALFORMED)
    return token.decode("ascii")


def _bad_request(message: str) -> dict[str, str]:
    return {"error": "invalid_request", "message": message}


def _challenge(refused: Unauthorized) -> bytes:
    # RFC 6750 §3.1: no error code when no credentials were presented.
    if refused.reason is UnauthorizedReason.MISSING:
        return f'Bearer realm="{REALM}"'.encode()
    return f'Bearer realm="{REALM}", error="invalid_token", error_description="{refused.public_message}"'.encode()


def _retry_after(seconds: int) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", str(seconds).encode())]


def refusal_payload(refusal: Refusal) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A refusal's JSON body and every header it goes out with."""
    _status, body, headers = refusal
    payload = json.dumps(body).encode()
    return payload, [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        *headers,
    ]


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    body: dict[str, str],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload, response_headers = refusal_payload((status, body, headers or []))
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})
        return
    # A WebSocket: refuse the handshake, before any accept.
    if (await receive())["type"] != "websocket.connect":
        return  # the client has gone
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {"type": "websocket.http.response.start", "status": status, "headers": response_headers}
        )
        await send({"type": "websocket.http.response.body", "body": payload})
        return
    code = 1013 if status in (429, 503) else 1008
    reason = body.get("reason") or body["error"]
    await send({"type": "websocket.close", "code": code, "reason": reason})


def scope_names(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """A guard's scopes (every `requires_scopes`), checked when it is made."""
    if not scopes or not all(s and " " not in s for s in scopes):
        raise ValueError("requires_scopes needs one or more scope names, without spaces")
    return scopes


def scope_refusal(scope: Scope, needed: Iterable[str]) -> Refusal | None:
    """The answer to a request whose key lacks any of `needed` (403
    insufficient_scope, RFC 6750 §3.1), or None if it has them all. No key
    on the request (no `KeydeskAuth` in front of the route) is a 401: fail
    closed."""
    needed = tuple(needed)
    identity = scope.get(SCOPE_KEY)
    if identity is None:
        body = {"error": "invalid_token", "reason": "missing",
                "message": "no verified API key on this request"}  # fmt: skip
        return 401, body, [(b"www-authenticate", f'Bearer realm="{REALM}"'.encode())]
    missing = [s for s in needed if s not in identity.scopes]
    if not missing:
        return None
    wanted = " ".join(needed)
    body = {
        "error": "insufficient_scope",
        "scope": wanted,
        "message": f"this API key lacks the scope {' '.join(missing)}",
    }
    challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{wanted}"'
    return 403, body, [(b"www-authenticate", challenge.encode())]


async def send_refusal(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    """Send a refusal as the middleware does (HTTP, or a WebSocket handshake refused)."""
    status, body, headers = refusal
    await _refuse(scope, receive, send, status, body, headers)


class ScopeGuardedApp:
    """An ASGI app that answers only requests whose key has `needed`."""

    def __init__(self, app: ASGIApp, needed: Iterable[str]) -> None:
        self.app, self.needed = app, tuple(needed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refused = scope_refusal(scope, self.needed)
            if refused is not None:
                await send_refusal(scope, receive, send, refused)
                return
        await self.app(scope, receive, send)
