"""What HTTP says of a key's networks and limits: where a request comes
from, 403 `forbidden_network`, and 429 with `Retry-After` and the IETF
httpapi draft's `RateLimit-Policy` / `RateLimit` headers (which also go on
every answer to a limited key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from keydesk.errors import ForbiddenNetwork, RateLimited
from keydesk.limits import Network, client_address
from keydesk.verify.limits import LimitState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Refusal = tuple[int, dict[str, str], list[tuple[bytes, bytes]]]  # as middleware.py's


def request_source(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The request's address as the verifier checks it: the peer's, or
    behind a trusted proxy the right-most untrusted forwarded one; "" when
    there is none (an allowlist then refuses)."""
    client = scope.get("client")
    if client and not trusted:  # the peer's own address, parsed once per address
        peer = client[0]
        known = _PEERS.get(peer)
        if known is None:
            if len(_PEERS) > PEERS_KEPT:
                _PEERS.clear()
            found = client_address(str(peer), (), ())
            known = _PEERS[peer] = "" if found is None else str(found)
        return known
    found = client_address(str(client[0]) if client else None, scope.get("headers", ()), trusted)
    return "" if found is None else str(found)


PEERS_KEPT = 4096
_PEERS: dict[object, str] = {}  # a peer as the server named it → its address's text


def ratelimit_headers(states: tuple[LimitState, ...]) -> list[tuple[bytes, bytes]]:
    """`RateLimit-Policy: "rate";q=600;w=60` and `RateLimit: "rate";r=12;t=41`
    (draft-ietf-httpapi-ratelimit-headers), one item per limit."""
    if not states:
        return []
    policy = ", ".join(f'"{s.name}";q={s.limit.count};w={s.limit.seconds}' for s in states)
    now = ", ".join(f'"{s.name}";r={s.remaining};t={s.reset}' for s in states)
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", now.encode())]


def limit_refusal(error: ForbiddenNetwork | RateLimited) -> Refusal:
    if isinstance(error, ForbiddenNetwork):
        body = {"error": "forbidden_network", "message": "this API key may not be used from here"}
        return 403, body, []
    states = tuple(s for s in error.policies if isinstance(s, LimitState))
    body = {
        "error": "rate_limited",
        "limit": error.limit,
        "message": f"this API key is over its {error.limit}; retry in {error.retry_after} s",
    }
    headers = [(b"retry-after", str(error.retry_after).encode()), *ratelimit_headers(states)]
    return 429, body, headers


def with_ratelimit_headers(send: Send, states: tuple[LimitState, ...]) -> Send:
    """`send`, adding the key's RateLimit headers to the app's response."""
    extra = ratelimit_headers(states)

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending
