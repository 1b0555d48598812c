"""FastAPI: a security dependency that verifies the request's API key and
hands the route its identity, declared in the OpenAPI document as a bearer
scheme with each route's scopes (so /docs shows the lock, and its Authorize
button sends `Authorization: Bearer <key>`):

    keydesk = KeydeskKey(database_url="postgresql+psycopg://…")  # one per process

    @app.get("/repos")
    async def repos(key: Annotated[VerifiedKey, Security(keydesk, scopes=["repo"])]): ...

The refusals are `KeydeskAuth`'s, made by the same code (`RequestCheck`):
the same status and headers (401 + `WWW-Authenticate`, 403
`insufficient_scope` or `forbidden_network`, 400, 429, 503), the same JSON
body under FastAPI's `detail`; RateLimit headers on a limited key's answers
(where the route returns data, not a Response of its own). Behind
`KeydeskAuth` the key is not verified twice: the dependency takes the
identity the middleware found. On a WebSocket route a refused handshake
gets that HTTP answer (where the server supports denial responses, as
uvicorn does; else Starlette closes it before accept).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException, Response
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection

from keydesk.http.limits import ratelimit_headers
from keydesk.http.middleware import (
    INVALID_ANSWER_SECONDS,
    SCOPE_KEY,
    Refusal,
    RequestCheck,
    refusal_payload,
    scope_refusal,
)
from keydesk.verify.verified_key import VerifiedKey
from keydesk.verify.verifier import Verifier

__all__ = ["KeydeskKey"]

_DESCRIPTION = "A keydesk API key (kdsk_…), sent as `Authorization: Bearer <key>`."


class KeydeskKey(SecurityBase):
    """`Security(keydesk, scopes=[…])` → the request key's `VerifiedKey`
    (public key, label, integration, workspace, scopes; never the secret).

    Make one per process and share it: it holds the verifier (give it
    `verifier=` to share one with other code, else `database_url=`, or
    KEYDESK_DATABASE_URL). `close()` it when the app stops."""

    def __init__(
        self,
        *,
        verifier: Verifier | None = None,
        database_url: str | None = None,
        scheme_name: str = "keydesk",
        invalid_answer_seconds: float = INVALID_ANSWER_SECONDS,
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.check = RequestCheck(
            verifier, database_url, invalid_answer_seconds, trusted_proxies=trusted_proxies
        )
        self.model = HTTPBearerModel(bearerFormat="kdsk_…", description=_DESCRIPTION)
        self.scheme_name = scheme_name

    async def __call__(
        self, request: HTTPConnection, response: Response, security_scopes: SecurityScopes
    ) -> VerifiedKey:
        scope = request.scope  # an HTTP request or a WebSocket handshake
        identity = scope.get(SCOPE_KEY)  # KeydeskAuth in front verified it already
        if identity is None:
            answer = self.check.screen(scope) or await self.check.verify_async(scope)
            if not isinstance(answer, VerifiedKey):
                raise _http_error(answer)
            identity = scope[SCOPE_KEY] = answer
            request.state.api_key = identity
            for name, value in ratelimit_headers(answer.limits):  # a limited key's every answer
                response.headers[name.decode()] = value.decode()
        refused = scope_refusal(scope, security_scopes.scopes)
        if refused is not None:
            raise _http_error(refused)
        assert isinstance(identity, VerifiedKey)
        return identity

    def close(self) -> None:
        """Write the usage still queued and stop the verifier's threads."""
        self.check.verifier.close()


def _http_error(refusal: Refusal) -> HTTPException:
    status, body, _ = refusal
    _payload, headers = refusal_payload(refusal)
    named = {k.decode(): v.decode() for k, v in headers if k not in _SET_BY_THE_RESPONSE}
    return HTTPException(status, body, named)


_SET_BY_THE_RESPONSE = (b"content-type", b"content-length")
