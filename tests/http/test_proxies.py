"""deploy/nginx.conf, deploy/Caddyfile and deploy/traefik.yml in front of a
real `keydesk serve`, each proxy the real program started from the shipped
file (tests/support/proxies.py), once per module: the protected API sees who
called, never a client's own X-Keydesk-* headers, and refusals are the
proxy's answer, a revoke biting on the next request through it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from keydesk.store.engine import open_store
from tests.conftest import World, build_world, copy_store_file
from tests.support.proxies import PROXIES, STUB_HEADERS, echo_app, proxy, require, stub_keydesk
from tests.support.servers import START_TIMEOUT, keydesk_serve, uvicorn_thread

FORGED = {
    "X-Keydesk-Public-Key": "kdpk_forgedforgedforg",
    "X-Keydesk-Integration": "admin",
    "X-Keydesk-Scopes": "everything",
}


@pytest.fixture(scope="module")
def store_url(tmp_path_factory, sqlite_template) -> str:
    path = tmp_path_factory.mktemp("proxies") / "keydesk.db"
    copy_store_file(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def world(store_url) -> Iterator[World]:
    store = open_store(store_url)
    yield build_world(store)
    store.dispose()


@pytest.fixture(scope="module")
def upstreams(store_url, world, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """keydesk serve over the world's store, trusting the proxy on loopback
    for the client's address, with /metrics, as deployed; and the API:
    host:port each."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with (
        keydesk_serve(store_url, "--trusted-proxy", "127.0.0.1", "--metrics", log=log) as keydesk,
        uvicorn_thread(echo_app, access_log=False) as api,
    ):
        yield keydesk.removeprefix("http://"), api.removeprefix("http://")


@pytest.fixture(scope="module", params=PROXIES)
def base(request, tmp_path_factory) -> Iterator[str]:
    """The proxy's base URL."""
    require(request.param)
    upstreams = request.getfixturevalue("upstreams")
    folder = tmp_path_factory.mktemp(request.param)
    with proxy(request.param, folder, *upstreams) as url:
        _until_configured(url)
        yield url


@pytest.fixture(scope="module", params=PROXIES)
def stubbed(request, tmp_path_factory) -> Iterator[str]:
    """The proxy in front of a stand-in keydesk that refuses on cue."""
    require(request.param)
    folder = tmp_path_factory.mktemp(f"{request.param}-stub")
    with (
        uvicorn_thread(stub_keydesk, access_log=False) as stub,
        uvicorn_thread(echo_app, access_log=False) as api,
        proxy(
            request.param, folder, stub.removeprefix("http://"), api.removeprefix("http://")
        ) as url,
    ):
        _until_configured(url)
        yield url


def _until_configured(url: str) -> None:
    """Traefik listens before its file provider has loaded the routes. One
    client for every try (each new one builds an SSL context, ~50 ms of CPU)."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client() as client:
        while client.get(url).status_code != 401:
            assert time.monotonic() < deadline, "the proxy never answered with keydesk's 401"
            time.sleep(0.05)


def _key(world: World, label: str) -> tuple[str, str]:
    created = world.owner.create_key("github", f"{label}-{uuid.uuid4().hex[:8]}")
    return created.private_key.reveal(), created.key.public_key


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_valid_key_reaches_the_api_with_its_identity_and_nothing_forged(base, world, request):
    key, public_key = _key(world, "valid")
    headers = {**_bearer(key), **FORGED, "X-Keydesk-Workspace": "forged"}
    response = httpx.post(f"{base}/orders?page=2", headers=headers, content=b"the order")
    assert response.status_code == 200 and response.headers["x-upstream"] == "echo"
    seen = response.json()
    identity = [(k.lower(), v) for k, v in seen["headers"] if k.lower().startswith("x-keydesk-")]
    assert len(identity) == len(dict(identity))  # one copy of each
    got = dict(identity)
    # Caddy and Traefik strip every X-Keydesk-* a client sent; nginx has no
    # wildcard for request headers and replaces keydesk's three by name.
    proxy_name = request.node.callspec.params["base"]
    assert got.pop("x-keydesk-workspace", None) is None or proxy_name == "nginx"
    assert got == {
        "x-keydesk-public-key": public_key,
        "x-keydesk-integration": "github",
        "x-keydesk-scopes": "repo read:org",
    }
    assert seen["method"] == "POST" and seen["path"] == "/orders" and seen["body"] == "the order"


def test_forged_identity_headers_without_a_key_are_refused(base):
    response = httpx.get(f"{base}/orders", headers=FORGED)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="keydesk"'
    assert "x-upstream" not in response.headers


def test_revocation_bites_on_the_next_request(base, world):
    key, public_key = _key(world, "revoke-me")
    assert httpx.get(f"{base}/orders", headers=_bearer(key)).status_code == 200
    world.owner.revoke_key(public_key)
    refused = httpx.get(f"{base}/orders", headers=_bearer(key))
    assert refused.status_code == 401 and "x-upstream" not in refused.headers
    assert refused.headers["www-authenticate"].startswith(
        'Bearer realm="keydesk", error="invalid_token"'
    )


def test_a_key_in_the_body_is_never_read(base, world):
    key, _ = _key(world, "body")
    response = httpx.post(f"{base}/orders", content=key.encode())
    assert response.status_code == 401 and "x-upstream" not in response.headers


def test_keydesk_other_refusals_reach_the_client(base, world):
    # A key anywhere but Authorization: keydesk answers 400, which nginx's
    # auth_request alone would turn into 500 (429 and 503 take the same path).
    key, _ = _key(world, "elsewhere")
    response = httpx.get(f"{base}/orders", headers={"X-Note": key})
    assert response.status_code == 400 and "x-upstream" not in response.headers


@pytest.mark.parametrize("status", [401, 403, 429, 503])
def test_each_refusal_reaches_the_client_with_its_headers(stubbed, status):
    response = httpx.get(f"{stubbed}/orders", headers={"X-Stub-Status": str(status)})
    assert response.status_code == status and "x-upstream" not in response.headers
    for name, value in STUB_HEADERS[status]:
        assert response.headers[name.decode()] == value.decode()


def test_a_key_limited_to_networks_sees_the_clients_address_not_a_forged_one(base, world):
    # The proxy and the client are both on loopback here: a key allowed only
    # from 10.0.0.0/8 must be refused even when the client claims to be there.
    here = world.owner.create_key("github", f"here-{uuid.uuid4().hex[:8]}", allow_from=["127.0.0.0/8"])  # fmt: skip
    away = world.owner.create_key("github", f"away-{uuid.uuid4().hex[:8]}", allow_from=["10.0.0.0/8"])  # fmt: skip
    forged = {"X-Forwarded-For": "10.0.0.5", "Forwarded": "for=10.0.0.5"}
    ok = httpx.get(f"{base}/orders", headers={**_bearer(here.private_key.reveal()), **forged})
    assert ok.status_code == 200
    refused = httpx.get(f"{base}/orders", headers={**_bearer(away.private_key.reveal()), **forged})
    assert refused.status_code == 403 and "x-upstream" not in refused.headers


def test_an_identity_header_spelled_with_underscores_never_reaches_the_api(base, world):
    # WSGI servers and Django under ASGI read X_Keydesk_Scopes as
    # X-Keydesk-Scopes (both are HTTP_X_KEYDESK_SCOPES): no spelling of the
    # three may pass a client's copy on.
    key, public_key = _key(world, "underscore")
    forged = {"X_Keydesk_Public_Key": "kdpk_forgedforgedforg", "x-keydesk_scopes": "everything",
              "X_KEYDESK_INTEGRATION": "admin"}  # fmt: skip
    response = httpx.get(f"{base}/orders", headers={**_bearer(key), **forged})
    assert response.status_code == 200
    seen = [(k.lower().replace("_", "-"), v) for k, v in response.json()["headers"]]
    identity = [(k, v) for k, v in seen if k.startswith("x-keydesk-")]
    assert sorted(identity) == [
        ("x-keydesk-integration", "github"),
        ("x-keydesk-public-key", public_key),
        ("x-keydesk-scopes", "repo read:org"),
    ]


@pytest.mark.parametrize("where", ["/orders?token={key}", "/orders/{key}", "/orders?t=%6B{rest}"])
def test_a_key_in_the_path_or_query_never_reaches_the_api(base, world, where):
    # keydesk sees the URI the proxy was asked for and refuses a key in it
    # (400), as it does in any other header; the API never gets it.
    key, _ = _key(world, "in-uri")
    response = httpx.get(base + where.format(key=key, rest=key[1:]), headers=_bearer(key))
    assert response.status_code == 400 and "x-upstream" not in response.headers


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/v1/verify", "/v1/revoke"])
def test_keydesks_own_paths_are_the_apis_through_the_proxy(base, world, path):
    # Only the proxy's own check reaches keydesk: its /metrics (no key needed)
    # and its other endpoints stay off the public side, a client's request
    # for them being the API's like any other, and refused without a key.
    key, _ = _key(world, "own-paths")
    assert httpx.get(base + path).status_code == 401
    response = httpx.get(base + path, headers=_bearer(key))
    assert response.status_code == 200 and response.headers["x-upstream"] == "echo"
    assert response.json()["path"] == path
