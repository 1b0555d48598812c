"""`keydesk serve`: an HTTP verification endpoint over the key store.

GET /v1/verify   Authorization: Bearer <private key>  → 200 identity | 400 | 401 | 429 | 503
GET /healthz     → 200 (no authentication, no I/O)

The answers are the middleware's (`keydesk.asgi`). Logs go to stderr: one
line per refused key with its public key and exact reason (never the secret),
one line when the store goes away and when it is back; with `--access-log`,
one line per request, whose query string is redacted when it carried a key.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from keydesk.asgi import KeydeskAuth
from keydesk.store import Store
from keydesk.verify import Verifier


async def verify(request: Request) -> JSONResponse:
    # Only reached with a valid key: the middleware answers everything else.
    return JSONResponse({"valid": True, **request.state.api_key.as_dict()})


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(store: Store, *, verifier: Verifier | None = None) -> Starlette:
    checker = verifier or Verifier(store.engine)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        checker.close()  # last-used times still queued reach the store

    return Starlette(
        routes=[Route("/v1/verify", verify), Route("/healthz", healthz)],
        middleware=[Middleware(KeydeskAuth, verifier=checker, exempt_paths=("/healthz",))],
        lifespan=lifespan,
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with keydesk's own lines on the same stderr handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["keydesk"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(store: Store, host: str, port: int, *, access_log: bool = False) -> None:
    import uvicorn

    uvicorn.run(
        create_app(store),
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        log_config=log_config(),
        server_header=False,
    )
