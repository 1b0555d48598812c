"""`keydesk serve`: an HTTP verification endpoint over the key store.

ANY  /v1/verify   Authorization: Bearer <private key>  → 200 identity | 400 | 401 | 403 | 429 | 503
                  (also a reverse proxy's forward-auth backend: forward_auth.py)
POST /v1/revoke   a leaked key (Authorization: Bearer, or {"api_key": …})  → 200 | 400 | 429 | 503
GET  /healthz     → 200 (no authentication, no I/O)

The answers are the middleware's (`keydesk.http.middleware`). Logs go to stderr: one
line per refused key with its public key and exact reason (never the secret),
one line when the store goes away and when it is back; with `--access-log`,
one line per request, whose every field (client, method, path, query) is
redacted when the request carried a key.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import gc
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from keydesk.errors import (
    AlreadyRevoked,
    KeydeskError,
    NotFound,
    StoreUnavailable,
    Unauthorized,
)
from keydesk.http.forward_auth import VerifyEndpoint
from keydesk.http.middleware import (
    ASGIApp,
    BadRequest,
    KeydeskAuth,
    Receive,
    Scope,
    Send,
    bearer_token,
)
from keydesk.keys import parse_private_key
from keydesk.store.engine import Store
from keydesk.verify.verifier import Verifier

log = logging.getLogger("keydesk.revoke")

REVOKE_BODY_MAX = 4096  # bytes: a key is 71 characters
REVOKES_PER_MINUTE = 10  # per client address; each costs an argon2 check
REVOKE_HASH_SLOTS = 2  # argon2 checks at once for this endpoint (one per core)
# On SIGTERM, requests in flight get this long to finish; the usage counts are
# written after, well within systemd's 90 s before SIGKILL.
SHUTDOWN_GRACE_SECONDS = 10
STARTUP_FAILURE = 3  # exit status, as uvicorn's own command uses
VERIFY_PATH = "/v1/verify"


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class RateLimit:
    """A token bucket per client address: `per_minute` a minute, in bursts of
    as many. Addresses idle for a minute are forgotten."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, when)

    def allow(self, address: str) -> bool:
        now = self._clock()
        if len(self._buckets) > 10_000:  # a flood of addresses must not grow memory
            self._buckets = {a: b for a, b in self._buckets.items() if now - b[1] < 60}
        tokens, then = self._buckets.get(address, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * self.per_minute / 60)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return False
        self._buckets[address] = (tokens - 1, now)
        return True


class LeakReports:
    """POST /v1/revoke: whoever holds a leaked private key may revoke it, with
    no account (as GitHub's credential revocation API works). The answer is
    the same 200 for every well-formed key (revoked now, already revoked, or
    unknown to this store): it tells nothing the key's holder could not
    learn, and cannot reveal or create anything."""

    def __init__(self, store: Store, revoke: Callable[[Any, str], object]) -> None:
        self.store = store
        self._revoke = revoke
        self._limit = RateLimit(REVOKES_PER_MINUTE)
        self._slots = asyncio.Semaphore(REVOKE_HASH_SLOTS)

    async def handle(self, request: Request) -> JSONResponse:
        address = request.client.host if request.client else "unknown"
        if not self._limit.allow(address):
            return _answer(429, "too_many_requests", "too many revocations from this address", {"retry-after": "60"})  # fmt: skip
        try:
            presented = bearer_token(request.scope) or await _body_key(request)
            key = parse_private_key(presented or "")
        except (BadRequest, Unauthorized, ValueError) as error:
            message = getattr(error, "message", "") or "send one private key"
            return _answer(400, "invalid_request", f"no well-formed private key: {message}")
        try:
            async with self._slots:  # argon2: bounded, off the event loop
                await asyncio.to_thread(self._revoke, key, f"POST /v1/revoke from {address}")
            log.info("revoked %s: reported leaked by %s", key.public_key, address)
        except (NotFound, AlreadyRevoked):
            pass  # the same answer: the key does not work, which is all a reporter may learn
        except StoreUnavailable:
            return _answer(503, "unavailable", "the key store is unavailable; retry shortly", {"retry-after": "1"})  # fmt: skip
        except KeydeskError as error:  # e.g. this server's role may not revoke
            log.warning("could not revoke %s reported by %s: %s", key.public_key, address, error.message)  # fmt: skip
            return _answer(503, "unavailable", "this server cannot revoke keys; tell an admin", {"retry-after": "60"})  # fmt: skip
        return JSONResponse({"public_key": key.public_key}, headers={"cache-control": "no-store"})


async def _body_key(request: Request) -> str | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > REVOKE_BODY_MAX:
            raise BadRequest("the body is too large")
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('send JSON: {"api_key": "kdsk_…"}') from None
    key = data.get("api_key") if isinstance(data, dict) else None
    if not isinstance(key, str):
        raise BadRequest('send JSON: {"api_key": "kdsk_…"}')
    return key


def _answer(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message": message},
        status_code=status,
        headers={"cache-control": "no-store", **(headers or {})},
    )


def _leak_revoker(store: Store) -> Callable[[Any, str], object]:
    """Revocation as the account this server runs as (the store's owner on
    SQLite, its database role on PostgreSQL), audited with the reporter."""

    def revoke(key: Any, found_at: str) -> object:
        from keydesk.identity import acting_account
        from keydesk.service import KeyService

        return KeyService(store, acting_account(store)).revoke_leaked_key(key, found_at)

    return revoke


def create_app(
    store: Store,
    *,
    verifier: Verifier | None = None,
    metrics: bool = False,
    trusted_proxies: Iterable[str] = (),
) -> Starlette:
    """The server's app; `metrics`: /metrics in Prometheus text (metrics.py);
    `trusted_proxies`: whose X-Forwarded-For names a request's address."""
    checker = verifier or Verifier(store.engine)
    reports = LeakReports(store, _leak_revoker(store))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        checker.close()  # last-used times and usage counts still queued reach the store

    endpoint = VerifyEndpoint()
    routes = [
        Route(VERIFY_PATH, endpoint),  # any method: see forward_auth.py
        Route("/v1/revoke", reports.handle, methods=["POST"]),
        Route("/healthz", healthz),
    ]
    exempt: tuple[str, ...] = ("/healthz", "/v1/revoke")
    middleware = []
    observed: Callable[[ASGIApp], ASGIApp] = _unobserved
    if metrics:
        from keydesk.http.metrics import METRICS_PATH, Metrics, Observed

        watch = Metrics(checker.sizes)
        routes.append(Route(METRICS_PATH, watch.endpoint))
        exempt += (METRICS_PATH,)
        middleware.append(Middleware(Observed, metrics=watch, exempt_paths=exempt))
        observed = functools.partial(Observed, metrics=watch, exempt_paths=exempt)
    auth = KeydeskAuth(
        endpoint, verifier=checker, exempt_paths=exempt, trusted_proxies=trusted_proxies
    )
    middleware.append(Middleware(_around, auth=auth))
    return _Server(observed(auth), routes=routes, middleware=middleware, lifespan=lifespan)


class _Server(Starlette):
    """Starlette, but /v1/verify goes straight to the key check and its
    endpoint (with the metrics' count when on): the same answers, headers
    and log lines, without the routing and the exception layers that every
    other path passes (a fifth of a verify's CPU). An error there is still
    uvicorn's 500 and traceback."""

    def __init__(self, verify: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._verify = verify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == VERIFY_PATH and not scope.get("root_path"):
            scope["app"] = self
            await self._verify(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _around(app: ASGIApp, auth: KeydeskAuth) -> ASGIApp:
    """`auth` in front of the other paths too: one key check (its refusal
    log and exempt paths) for both ways in."""
    made = copy.copy(auth)
    made.app = app
    return made


def _unobserved(app: ASGIApp) -> ASGIApp:
    return app


def _settle_heap() -> None:
    """What start-up made (~100,000 objects: SQLAlchemy, Starlette,
    uvicorn) lives as long as the server: frozen out of the collector's
    full passes, each of which would otherwise walk all of it (tens of ms)
    in the middle of requests, the tail of their latency. Collected first,
    so no garbage is frozen with it."""
    gc.collect()
    gc.freeze()


def _stopped(_signal: int, _frame: object) -> None:
    """SIGTERM once uvicorn has shut down (it handles it while it runs)."""


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with keydesk's own lines on the same stderr handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["keydesk"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(
    store: Store,
    host: str,
    port: int,
    *,
    access_log: bool = False,
    trusted_proxies: list[str] | None = None,
    metrics: bool = False,
    workers: int = 1,
) -> None:
    """Run the endpoint. A client's address comes from `X-Forwarded-For`
    only when the connection is from one of `trusted_proxies`: uvicorn's
    default trusts 127.0.0.1, which lets any local user choose the address
    that rate limits, the audit trail and the access log record.

    SIGTERM (or SIGINT) stops it cleanly: no new connections, requests in
    flight answered (for `SHUTDOWN_GRACE_SECONDS` at most), then queued
    last-used times and usage counts written, exit status 0. Under systemd
    it tells when it is ready and when it stops (systemd.py). `workers` > 1:
    that many processes on the port (workers.py)."""
    import uvicorn

    from keydesk.http.systemd import NotifyingServer

    def config() -> uvicorn.Config:
        made = uvicorn.Config(
            create_app(store, metrics=metrics, trusted_proxies=trusted_proxies or ()),
            host=host,
            port=port,
            access_log=access_log,
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies or ()),
            log_level="info",
            log_config=log_config(),
            server_header=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
        _settle_heap()
        return made

    if workers > 1:
        import logging.config

        from keydesk.http.workers import serve_workers

        logging.config.dictConfig(log_config())  # the parent's own lines
        store.engine.dispose()  # each worker opens connections of its own
        status = serve_workers(config, host, port, workers)
        if status:
            raise SystemExit(status)
        return
    server = NotifyingServer(config())
    # uvicorn raises the stop signal again once it has shut down, and the
    # process would die of it; after that clean stop keydesk exits 0 instead,
    # which supervisors read as a clean stop.
    signal.signal(signal.SIGTERM, _stopped)
    server.run()
    if not server.started:  # e.g. the port is in use: uvicorn has said so
        raise SystemExit(STARTUP_FAILURE)
