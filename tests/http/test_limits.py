"""Limits and networks over HTTP, in `keydesk serve`'s app and KeydeskAuth:
403 forbidden_network, 429 with Retry-After and the RateLimit headers, the
401 → 403 → 429 order, and a request's address behind trusted proxies (a
spoofed X-Forwarded-For from an untrusted peer chooses nothing)."""

from __future__ import annotations

import itertools
import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from keydesk.asgi import KeydeskAuth
from keydesk.http.server import create_app
from keydesk.keys import parse_private_key
from keydesk.verify import Verifier
from tests.support.fakes import last_character_changed


def _auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


@pytest.fixture(scope="module")
def free(module_world) -> str:
    """An unlimited key on the module's store (only ever verified)."""
    return module_world.owner.create_key("github", "free").private_key.reveal()


_FENCED = itertools.count()


@pytest.fixture
def made(module_world, free):
    """A key for 10.0.0.0/8 and 2001:db8::/32 at 3 a day, the test's own (its
    uses count in the store), on the module's store (a store per test cost
    ~0.3 s); the unlimited one."""
    fenced = module_world.owner.create_key(
        "github", f"fenced {next(_FENCED)}", allow_from=["10.0.0.0/8", "2001:db8::/32"], rate="3/d"
    )
    return module_world, fenced.private_key.reveal(), free


def _client(world, peer: str, trusted: tuple[str, ...] = ()) -> TestClient:
    return TestClient(create_app(world.store, trusted_proxies=trusted), client=(peer, 40000))


def test_from_an_allowed_network_the_body_shows_the_allowlist_and_headers_the_limit(made):
    world, fenced, _free = made
    with _client(world, "10.1.2.3") as client:
        answer = client.get("/v1/verify", headers=_auth(fenced))
    assert answer.status_code == 200
    assert answer.json()["allow_from"] == ["10.0.0.0/8", "2001:db8::/32"]
    assert answer.json()["limits"][0] | {"reset": 0} == {
        "name": "rate", "limit": "3/d", "remaining": 2, "reset": 0,
    }  # fmt: skip
    assert answer.headers["ratelimit-policy"] == '"rate";q=3;w=86400'
    assert answer.headers["ratelimit"].startswith('"rate";r=2;t=')


@pytest.mark.parametrize("peer", ["192.0.2.7", "2001:db9::1", "testclient"])
def test_from_elsewhere_403_forbidden_network(made, peer):
    world, fenced, free = made
    with _client(world, peer) as client:
        refused = client.get("/v1/verify", headers=_auth(fenced))
        assert client.get("/v1/verify", headers=_auth(free)).status_code == 200
        assert (
            client.get("/v1/verify", headers=_auth(last_character_changed(fenced))).status_code
            == 401
        )
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden_network"


def test_over_its_rate_429_with_retry_after_and_ratelimit_headers(made):
    world, fenced, _free = made
    with _client(world, "2001:db8::5") as client:
        answers = [client.get("/v1/verify", headers=_auth(fenced)) for _ in range(4)]
        again = client.get("/v1/verify", headers=_auth(fenced))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json() | {"message": ""} == {
        "error": "rate_limited", "limit": "rate", "message": "",
    }  # fmt: skip
    assert 1 <= int(refused.headers["retry-after"]) <= 86_400
    assert refused.headers["ratelimit-policy"] == '"rate";q=3;w=86400'
    assert refused.headers["ratelimit"] == f'"rate";r=0;t={refused.headers["retry-after"]}'
    assert again.status_code == 429


def test_a_key_with_a_rate_and_a_quota_carries_both_and_429s_over_its_quota(module_world):
    """README: every accepted or 429 answer to a limited key carries `RateLimit-Policy:
    "rate";q=…;w=…, "quota";q=…;w=2592000` and `RateLimit`; over the quota, 429
    `"limit": "quota"`."""
    both = module_world.owner.create_key("github", "rate and quota", rate="100/d", quota="2/month")
    key = both.private_key.reveal()
    with _client(module_world, "192.0.2.8") as client:
        answers = [client.get("/v1/verify", headers=_auth(key)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    for answer in answers:
        assert answer.headers["ratelimit-policy"] == '"rate";q=100;w=86400, "quota";q=2;w=2592000'
    remaining = [re.fullmatch(_RATELIMIT, a.headers["ratelimit"]) for a in answers]
    left = [m and (m["rate"], m["quota"]) for m in remaining]
    assert left == [("99", "1"), ("98", "0"), ("98", "0")]  # the refused one used nothing
    refused = answers[-1]
    assert refused.json() | {"message": ""} == {
        "error": "rate_limited", "limit": "quota", "message": "",
    }  # fmt: skip
    assert refused.headers["retry-after"] == remaining[-1]["quota_reset"]


_RATELIMIT = r'"rate";r=(?P<rate>\d+);t=\d+, "quota";r=(?P<quota>\d+);t=(?P<quota_reset>\d+)'


def test_order_401_then_403_then_429(made):
    world, fenced, _free = made
    with _client(world, "10.0.0.1") as client:
        for _ in range(3):
            client.get("/v1/verify", headers=_auth(fenced))
        assert client.get("/v1/verify", headers=_auth(fenced)).status_code == 429
    with _client(world, "192.0.2.1") as client:  # over its rate, and from elsewhere: 403
        assert client.get("/v1/verify", headers=_auth(fenced)).status_code == 403
    world.owner.revoke_key(parse_private_key(fenced).public_key)
    with _client(world, "192.0.2.1") as client:  # revoked, from elsewhere: 401
        assert client.get("/v1/verify", headers=_auth(fenced)).json()["reason"] == "revoked"


def test_a_spoofed_forwarded_address_from_an_untrusted_peer_chooses_nothing(made):
    world, fenced, _free = made
    spoofed = {"X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1"}
    with _client(world, "192.0.2.9") as client:  # no proxy trusted
        assert client.get("/v1/verify", headers=_auth(fenced, **spoofed)).status_code == 403
    with _client(world, "192.0.2.9", ("127.0.0.1",)) as client:  # a proxy, but not this peer
        assert client.get("/v1/verify", headers=_auth(fenced, **spoofed)).status_code == 403


@pytest.mark.parametrize(
    ("forwarded", "status"),
    [
        ({"X-Forwarded-For": "10.9.8.7"}, 200),
        # What the client wrote is left of what the proxy appended: the right-most untrusted wins.
        ({"X-Forwarded-For": "10.9.8.7, 192.0.2.50"}, 403),
        ({"X-Forwarded-For": "192.0.2.50, 10.9.8.7"}, 200),
        ({"X-Forwarded-For": "10.9.8.7, 127.0.0.2"}, 200),  # an inner trusted hop is skipped
        ({"Forwarded": 'for="[2001:db8::7]:443";proto=https'}, 200),
        ({"Forwarded": "for=192.0.2.1, for=10.1.1.1"}, 200),
        # Sent both, X-Forwarded-For decides.
        ({"X-Forwarded-For": "10.9.8.7", "Forwarded": "for=192.0.2.1"}, 200),
        ({"X-Forwarded-For": "192.0.2.1", "Forwarded": "for=10.9.8.7"}, 403),
        ({"X-Forwarded-For": "not-an-address"}, 403),
        ({}, 403),  # the proxy itself, 127.0.0.1, is not in the key's networks
    ],
)
def test_behind_a_trusted_proxy_the_right_most_untrusted_address_counts(made, forwarded, status):
    world, fenced, _free = made
    with _client(world, "127.0.0.1", ("127.0.0.0/8",)) as client:
        assert client.get("/v1/verify", headers=_auth(fenced, **forwarded)).status_code == status


def test_keydesk_auth_takes_trusted_proxies_and_adds_the_headers_to_the_apps_answer(made):
    world, fenced, _free = made

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"key": request.state.api_key.public_key})

    verifier = Verifier(world.store.engine)
    app = Starlette(routes=[Route("/", hello)])
    app.add_middleware(KeydeskAuth, verifier=verifier, trusted_proxies=["198.51.100.0/24"])
    try:
        with TestClient(app, client=("198.51.100.1", 1)) as client:
            answer = client.get("/", headers=_auth(fenced, **{"X-Forwarded-For": "10.2.2.2"}))
            spoofed = client.get("/", headers=_auth(fenced, **{"X-Forwarded-For": "192.0.2.2"}))
        assert answer.status_code == 200 and answer.headers["ratelimit-policy"]
        assert spoofed.status_code == 403
    finally:
        verifier.close()


def test_a_trusted_proxy_that_is_not_a_network_is_refused_when_made(module_world):
    from keydesk.errors import InvalidInput

    verifier = Verifier(module_world.store.engine)
    try:
        with pytest.raises(InvalidInput, match=r"trusted proxy 'proxy\.example'"):
            KeydeskAuth(Starlette(), verifier=verifier, trusted_proxies=["proxy.example"])
    finally:
        verifier.close()
