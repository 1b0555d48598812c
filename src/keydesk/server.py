"""`keydesk serve`: an HTTP verification endpoint over the key store.

GET /v1/verify   Authorization: Bearer <private key>  → 200 identity | 401
GET /healthz     → 200 (no authentication)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


def create_app(store: Store) -> Starlette:
    verifier = Verifier(store.engine)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        verifier.close()  # last-used times still queued reach the store

    return Starlette(
        routes=[Route("/v1/verify", verify), Route("/healthz", healthz)],
        middleware=[Middleware(KeydeskAuth, verifier=verifier, exempt_paths=("/healthz",))],
        lifespan=lifespan,
    )


def serve(store: Store, host: str, port: int, *, access_log: bool = False) -> None:
    import uvicorn

    uvicorn.run(create_app(store), host=host, port=port, access_log=access_log, log_level="info")
