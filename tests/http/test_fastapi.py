"""FastAPI: `Security(KeydeskKey(…), scopes=[…])` puts a bearer scheme and
each route's scopes in the OpenAPI document, hands the route the key's
identity, and refuses as `KeydeskAuth` does (FastAPI's TestClient).

No `from __future__ import annotations`: FastAPI reads each route's
annotations at run time, and they name a local `keydesk`.

On SQLite only (`on_sqlite`)."""

import logging
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Security, WebSocket
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from keydesk.asgi import KeydeskAuth
from keydesk.fastapi import KeydeskKey, VerifiedKey
from keydesk.http import middleware
from keydesk.verify import Verifier
from tests.support.framework_answers import (
    COMPARED_HEADERS,
    bearer,
    keydesk_auth_client,
    on_sqlite,
    refused_requests,
)
from tests.support.servers import uvicorn_thread


def _app(keydesk: KeydeskKey) -> FastAPI:
    app = FastAPI()

    @app.get("/repos")
    async def repos(key: Annotated[VerifiedKey, Security(keydesk, scopes=["repo"])]):
        return key.as_dict()

    @app.get("/me")
    def me(key: Annotated[VerifiedKey, Security(keydesk)]):  # a sync route: any valid key
        return {"public_key": key.public_key}

    @app.get("/orgs", dependencies=[Security(keydesk, scopes=["read:org"])])
    async def orgs():
        return {"orgs": []}

    @app.websocket("/ws")
    async def stream(
        websocket: WebSocket, key: Annotated[VerifiedKey, Security(keydesk, scopes=["repo"])]
    ):
        await websocket.accept()
        await websocket.send_text(f"hello {key.label}")
        await websocket.close()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    return app


@pytest.fixture
def keydesk(world):
    # 0 s floor for `invalid` here: tests/http/test_answers.py times it.
    keydesk = KeydeskKey(verifier=Verifier(world.store.engine), invalid_answer_seconds=0)
    yield keydesk
    keydesk.close()


@on_sqlite
def test_the_openapi_document_has_the_bearer_scheme_and_each_routes_scopes(keydesk):
    with TestClient(_app(keydesk)) as client:
        document = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert document["components"]["securitySchemes"] == {
        "keydesk": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kdsk_…",
            "description": "A keydesk API key (kdsk_…), sent as `Authorization: Bearer <key>`.",
        }
    }
    paths = document["paths"]
    assert paths["/repos"]["get"]["security"] == [{"keydesk": ["repo"]}]
    assert paths["/me"]["get"]["security"] == [{"keydesk": []}]
    assert paths["/orgs"]["get"]["security"] == [{"keydesk": ["read:org"]}]
    assert "security" not in paths["/healthz"]["get"]  # no lock: open
    # Swagger UI reads that document: a lock on each guarded operation, and
    # Authorize sends `Authorization: Bearer <key>`, the header verified below.
    assert docs.status_code == 200 and "/openapi.json" in docs.text


@on_sqlite
def test_a_route_gets_the_keys_identity_and_never_its_secret(keydesk, framework_keys):
    full = framework_keys["full"]
    secret = full.private_key.reveal()
    with TestClient(_app(keydesk)) as client:
        answer = client.get("/repos", headers=bearer(secret))
        assert client.get("/me", headers=bearer(secret)).json() == {
            "public_key": full.key.public_key
        }
        assert client.get("/orgs", headers=bearer(secret)).json() == {"orgs": []}
    identity = answer.json()  # VerifiedKey.as_dict()
    assert identity["public_key"] == full.key.public_key and identity["label"] == "full"
    assert identity["integration"] == "github" and identity["workspace"] == "acme"
    assert identity["scopes"] == ["repo", "read:org"]
    assert secret[22:] not in answer.text


@on_sqlite
def test_refusals_are_keydesk_auths_with_the_body_under_detail(keydesk, keys, framework_keys):
    """Each refusal: the status and headers KeydeskAuth sends for the same
    request, its body as FastAPI's `detail`."""
    reader = framework_keys["reader"].private_key.reveal()
    with (
        TestClient(_app(keydesk)) as client,
        keydesk_auth_client(keydesk.check.verifier) as reference,
    ):
        for case, (url, headers) in refused_requests(keys, reader).items():
            got, want = client.get(url, headers=headers), reference.get(url, headers=headers)
            assert got.status_code == want.status_code, case
            assert got.status_code in (400, 401, 403), case
            for header in COMPARED_HEADERS:
                assert got.headers.get(header) == want.headers.get(header), (case, header)
            assert got.json() == {"detail": want.json()}, case
        assert client.get("/orgs", headers=bearer(reader)).status_code == 200


@on_sqlite
def test_a_revoked_key_is_refused_on_the_next_request(world, keydesk, framework_keys):
    full = framework_keys["full"]
    with TestClient(_app(keydesk)) as client:
        assert client.get("/me", headers=bearer(full.private_key.reveal())).status_code == 200
        world.owner.revoke_key(full.key.public_key)
        refused = client.get("/me", headers=bearer(full.private_key.reveal()))
    assert refused.status_code == 401
    assert refused.json()["detail"]["reason"] == "revoked"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


class _CountingVerifier(Verifier):
    calls = 0

    async def verify_async(self, presented, source=None):
        self.calls += 1
        return await super().verify_async(presented, source)


@on_sqlite
def test_behind_keydesk_auth_the_key_is_verified_once(world, framework_keys):
    verifier = _CountingVerifier(world.store.engine)
    keydesk = KeydeskKey(verifier=verifier)
    app = _app(keydesk)
    app.add_middleware(KeydeskAuth, verifier=verifier, exempt_paths=["/healthz"])
    full, reader = (framework_keys[name].private_key.reveal() for name in ("full", "reader"))
    with TestClient(app) as client:
        assert client.get("/repos", headers=bearer(full)).json()["label"] == "full"
        assert verifier.calls == 1
        assert client.get("/repos", headers=bearer(reader)).status_code == 403
        assert client.get("/healthz").json() == {"status": "ok"}
    keydesk.close()


@on_sqlite
def test_invalid_answers_wait_for_the_floor(world, keys, monkeypatch):
    waits = []

    async def until(moment):
        waits.append(moment)

    monkeypatch.setattr(middleware, "_until", until)
    keydesk = KeydeskKey(verifier=Verifier(world.store.engine))
    with TestClient(_app(keydesk)) as client:
        for case in ("unknown", "wrong_secret", "malformed", "revoked", "valid"):
            client.get("/me", headers=bearer(keys[case]))
    keydesk.close()
    assert len(waits) == 2  # unknown and wrong_secret, each until 0.25 s after it arrived


@on_sqlite
def test_a_key_sent_elsewhere_never_reaches_uvicorns_access_log(keydesk, keys, caplog):
    """The dependency redacts the scope uvicorn's access log then reads."""
    caplog.set_level(logging.INFO)
    key = keys["valid"]
    with uvicorn_thread(_app(keydesk)) as base, httpx.Client(base_url=base) as client:
        assert client.get(f"/repos?k={key}").status_code == 400
        assert client.get("/repos", headers={"User-Agent": key}).status_code == 400
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert key[5:] not in "\n".join(server_side)  # httpx, the client, logs its own URL
    access = [line for line in server_side if '"GET /repos' in line]
    assert [line.split(" - ")[1] for line in access] == [
        '"GET /repos?[redacted] HTTP/1.1" 400',
        '"GET /repos HTTP/1.1" 400',
    ]


@on_sqlite
def test_a_keys_network_and_rate_as_keydesk_auth(world, keydesk):
    """403 forbidden_network from elsewhere; behind a trusted proxy the
    forwarded address counts; a limited key's answers carry RateLimit
    headers, and past its rate 429 with Retry-After."""
    fenced = world.owner.create_key(
        "github", "fenced", allow_from=["10.0.0.0/8"], rate="2/d"
    ).private_key.reveal()
    inside = {"X-Forwarded-For": "10.1.2.3", **bearer(fenced)}
    guarded = KeydeskKey(verifier=keydesk.check.verifier, trusted_proxies=["127.0.0.1"])
    with TestClient(_app(guarded), client=("127.0.0.1", 40000)) as client:
        answers = [client.get("/me", headers=bearer(fenced))]
        answers += [client.get("/me", headers=inside) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [403, 200, 200, 429]
    assert answers[1].headers["ratelimit-policy"] == '"rate";q=2;w=86400'
    assert answers[2].headers["ratelimit"].startswith('"rate";r=0;t=')
    assert answers[3].headers["retry-after"] and answers[3].headers["ratelimit"]


@on_sqlite
def test_a_websocket_handshake_needs_a_key_with_the_scopes(keydesk, framework_keys):
    reader, full = (framework_keys[name].private_key.reveal() for name in ("reader", "full"))
    with TestClient(_app(keydesk)) as client:
        for headers, status in (({}, 401), (bearer(reader), 403)):
            with (
                pytest.raises(WebSocketDenialResponse) as denied,
                client.websocket_connect("/ws", headers=headers),
            ):
                pass
            assert denied.value.status_code == status
            assert denied.value.headers["www-authenticate"].startswith('Bearer realm="keydesk"')
        with client.websocket_connect("/ws", headers=bearer(full)) as websocket:
            assert websocket.receive_text() == "hello full"
