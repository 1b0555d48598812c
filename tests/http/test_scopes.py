"""Per-key scopes: a subset of the integration's, fixed at creation, returned
by verification, and guarded per route in one line (`requires_scopes`) with
403 `insufficient_scope` (RFC 6750 §3.1) for Starlette and FastAPI."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from keydesk.asgi import KeydeskAuth
from keydesk.errors import InvalidInput
from keydesk.guards import requires_scopes
from keydesk.http.server import create_app
from keydesk.verify import Verifier


@pytest.fixture
def scoped(world):
    """github offers `repo read:org`; `reader` has read:org only, `full` all."""
    reader = world.owner.create_key("github", "reader", scopes=["read:org"])
    full = world.owner.create_key("github", "full")
    return {"reader": reader.private_key.reveal(), "full": full.private_key.reveal()}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_defaults_to_all_its_integrations_scopes_and_may_have_fewer(world):
    assert world.owner.create_key("github", "all").key.scopes == ("repo", "read:org")
    narrow = world.owner.create_key("github", "narrow", scopes=["read:org", "read:org"])
    assert narrow.key.scopes == ("read:org",)
    assert world.owner.key(narrow.key.public_key).scopes == ("read:org",)
    with pytest.raises(InvalidInput, match=r"has no scope 'admin'.*its scopes: repo read:org"):
        world.owner.create_key("github", "wide", scopes=["repo", "admin"])


def test_verification_returns_the_scopes_within_the_integrations_current_ones(world, scoped):
    verifier = Verifier(world.store.engine)
    try:
        assert verifier.verify(scoped["reader"]).scopes == ("read:org",)
        assert verifier.verify(scoped["full"]).as_dict()["scopes"] == ["repo", "read:org"]
        # The integration drops `repo`: its keys lose it at once; adding it
        # back never widens a key beyond what it was issued with.
        world.owner.update_integration("github", scopes="read:org admin")
        assert verifier.verify(scoped["full"]).scopes == ("read:org",)
        assert verifier.verify(scoped["reader"]).scopes == ("read:org",)
        world.owner.update_integration("github", scopes="repo read:org admin")
        assert verifier.verify(scoped["full"]).scopes == ("repo", "read:org")
        assert verifier.verify(scoped["reader"]).scopes == ("read:org",)
    finally:
        verifier.close()


def test_the_verify_endpoint_body_has_the_scopes(world, scoped):
    with TestClient(create_app(world.store)) as client:
        body = client.get("/v1/verify", headers=_bearer(scoped["reader"])).json()
    assert body["scopes"] == ["read:org"] and body["label"] == "reader"


def _starlette_app(verifier: Verifier) -> Starlette:
    @requires_scopes("repo")
    async def repos(request):
        return JSONResponse({"scopes": list(request.state.api_key.scopes)})

    @requires_scopes("read:org")
    def orgs(request):  # a sync endpoint too
        return PlainTextResponse("orgs")

    async def plain_app(scope, receive, send):
        await PlainTextResponse("app")(scope, receive, send)

    @requires_scopes("repo")
    async def socket(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("repo stream")
        await websocket.close()

    app = Starlette(
        routes=[
            Route("/repos", repos),
            Route("/orgs", orgs),
            Route("/app", requires_scopes("repo", "read:org")(plain_app)),
            WebSocketRoute("/ws", socket),
        ]
    )
    app.add_middleware(KeydeskAuth, verifier=verifier)
    return app


def test_starlette_routes_answer_403_insufficient_scope(world, scoped):
    verifier = Verifier(world.store.engine)
    with TestClient(_starlette_app(verifier)) as client:
        refused = client.get("/repos", headers=_bearer(scoped["reader"]))
        assert refused.status_code == 403
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="keydesk", error="insufficient_scope", scope="repo"'
        )
        assert refused.json()["error"] == "insufficient_scope" and refused.json()["scope"] == "repo"
        assert client.get("/repos", headers=_bearer(scoped["full"])).json() == {
            "scopes": ["repo", "read:org"]
        }
        assert client.get("/orgs", headers=_bearer(scoped["reader"])).text == "orgs"
        both = client.get("/app", headers=_bearer(scoped["reader"]))
        assert (
            both.status_code == 403 and 'scope="repo read:org"' in both.headers["www-authenticate"]
        )
        assert client.get("/app", headers=_bearer(scoped["full"])).text == "app"
        assert client.get("/repos").status_code == 401  # the middleware answers first
        with (
            pytest.raises(WebSocketDenialResponse) as denied,
            client.websocket_connect("/ws", headers=_bearer(scoped["reader"])),
        ):
            pass
        assert denied.value.status_code == 403
        with client.websocket_connect("/ws", headers=_bearer(scoped["full"])) as websocket:
            assert websocket.receive_text() == "repo stream"
    verifier.close()


def test_fastapi_dependency_answers_403_insufficient_scope(world, scoped):
    verifier = Verifier(world.store.engine)
    app = FastAPI()
    app.add_middleware(KeydeskAuth, verifier=verifier)

    @app.get("/repos", dependencies=[Depends(requires_scopes("repo"))])
    async def repos():
        return {"ok": True}

    with TestClient(app) as client:
        refused = client.get("/repos", headers=_bearer(scoped["reader"]))
        assert refused.status_code == 403
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="keydesk", error="insufficient_scope", scope="repo"'
        )
        assert client.get("/repos", headers=_bearer(scoped["full"])).json() == {"ok": True}
    verifier.close()


def test_a_guard_without_the_middleware_fails_closed():
    @requires_scopes("repo")
    async def repos(request):
        return PlainTextResponse("secret")

    with TestClient(Starlette(routes=[Route("/repos", repos)])) as client:
        assert client.get("/repos").status_code == 401


@pytest.mark.parametrize("scopes", [(), ("",), ("repo read",)])
def test_a_guard_needs_scope_names(scopes):
    with pytest.raises(ValueError, match="scope names"):
        requires_scopes(*scopes)
