"""Route guards for Starlette and FastAPI: a route names the scopes its
key must have, in one line, behind `keydesk.http.middleware.KeydeskAuth`:

    from keydesk.http.guards import requires_scopes

    @requires_scopes("repo")                      # Starlette: on the endpoint
    async def repos(request): ...

    @app.get("/repos", dependencies=[Depends(requires_scopes("repo"))])   # FastAPI

A key without them gets 403 with `WWW-Authenticate: Bearer realm="keydesk",
error="insufficient_scope", scope="repo"` (RFC 6750 §3.1); a request that
reached the route without a verified key gets 401 (the guard fails closed).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from keydesk.http.middleware import (
    Refusal,
    Scope,
    ScopeGuardedApp,
    scope_names,
    scope_refusal,
    send_refusal,
)

__all__ = ["requires_scopes"]


class requires_scopes:  # lower case: used like a function, @requires_scopes("repo")
    """The request's key must have every one of `scopes`.

    * Starlette: decorate an endpoint (`endpoint(request)` or
      `endpoint(websocket)`, sync or async), or wrap an ASGI app.
    * FastAPI: `dependencies=[Depends(requires_scopes("repo"))]`.
    """

    def __init__(self, *scopes: str) -> None:
        self.scopes = scope_names(scopes)
        # What FastAPI reads to inject the request into the dependency.
        self.__signature__ = inspect.Signature(
            [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               annotation=HTTPConnection)]
        )  # fmt: skip

    def __call__(self, request: Any) -> Any:
        """As a FastAPI dependency, `request` is the request: checked. As a
        decorator, it is the endpoint or app to guard."""
        if isinstance(request, HTTPConnection):
            self.check(request.scope)
            return None
        is_function = inspect.isfunction(request) or inspect.ismethod(request)
        if is_function and len(inspect.signature(request).parameters) == 1:
            return self._guard_endpoint(request)
        return ScopeGuardedApp(request, self.scopes)  # (scope, receive, send)

    def check(self, scope: Scope) -> None:
        """Raise Starlette's HTTPException with the refusal (FastAPI answers it)."""
        refused = scope_refusal(scope, self.scopes)
        if refused is not None:
            status, body, headers = refused
            raise HTTPException(
                status, body["message"], {k.decode(): v.decode() for k, v in headers}
            )

    def _guard_endpoint(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)
        async def guarded(connection: HTTPConnection) -> Any:
            refused = scope_refusal(connection.scope, self.scopes)
            if refused is not None:
                if connection.scope["type"] == "websocket":  # refuse the handshake itself
                    websocket: Any = connection
                    await send_refusal(connection.scope, websocket.receive, websocket.send, refused)
                    return None
                return _Refusal(refused)
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(connection)
            return await run_in_threadpool(endpoint, connection)

        return guarded


class _Refusal:
    """What a guarded endpoint returns instead of calling the endpoint: an
    ASGI response (Starlette sends whatever the endpoint returns by calling it)."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        await send_refusal(scope, receive, send, self.refusal)
