"""/v1/verify as a reverse proxy's forward-auth backend: any method, the key
only from Authorization, identity in response headers, refusals as ever. On SQLite
only: the endpoint does the same on either store."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from keydesk.http.forward_auth import IDENTITY_HEADERS
from keydesk.http.server import create_app

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(world):
    with TestClient(create_app(world.store)) as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_any_method_gets_the_identity_headers(client, keys):
    public_key = "kdpk_" + keys["valid"][5:21]
    for method in METHODS:  # nginx's auth subrequest keeps the client's method
        response = client.request(method, "/v1/verify", headers=_bearer(keys["valid"]))
        assert response.status_code == 200, method
        assert response.headers["x-keydesk-public-key"] == public_key
        assert response.headers["x-keydesk-integration"] == "github"
        assert response.headers["x-keydesk-scopes"] == "repo read:org"  # all its integration's
        assert keys["valid"][21:] not in str(response.headers.raw)  # nothing of the secret
        if method != "HEAD":
            assert response.json()["public_key"] == public_key


def test_the_json_answer_is_unchanged(client, keys):
    body = client.get("/v1/verify", headers=_bearer(keys["valid"])).json()
    assert body["valid"] is True and body["label"] == "prod" and body["workspace"] == "acme"


def test_the_body_is_never_read_for_a_key(client, keys):
    for body in (keys["valid"], f'{{"api_key": "{keys["valid"]}"}}'):
        response = client.post("/v1/verify", content=body)
        assert response.status_code == 401 and response.json()["reason"] == "missing"


@pytest.mark.parametrize("case", ["revoked", "unknown", "malformed"])
def test_refusals_keep_their_challenge_and_carry_no_identity(client, keys, case):
    response = client.post("/v1/verify", headers=_bearer(keys[case]))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="keydesk"')
    assert not any(name.lower() in response.headers for name in IDENTITY_HEADERS)


def test_scopes_named_on_the_verify_url_are_required(world, client):
    both = world.owner.create_key("github", "both", scopes=["repo", "read:org"])
    ok = client.get(
        "/v1/verify?scope=repo&scope=read:org", headers=_bearer(both.private_key.reveal())
    )
    assert ok.status_code == 200 and ok.headers["x-keydesk-scopes"] == "repo read:org"
    reader = world.owner.create_key("github", "reader", scopes=["repo"]).private_key.reveal()
    assert client.get("/v1/verify?scope=repo", headers=_bearer(reader)).status_code == 200
    refused = client.get("/v1/verify?scope=repo+read:org", headers=_bearer(reader))
    assert refused.status_code == 403
    assert (
        'error="insufficient_scope", scope="repo read:org"' in refused.headers["www-authenticate"]
    )
    assert "x-keydesk-public-key" not in refused.headers


def test_names_beyond_ascii_are_percent_encoded(world, client):
    world.owner.add_integration(
        "acme", "café\u00a0bar", "Café", client_id="c", scopes="a%b", configure=True,
        redirect_uri="https://app.example.com/cb",
    )  # fmt: skip
    key = world.owner.create_key("café\u00a0bar", "x", scopes=["a%b"]).private_key.reveal()
    response = client.get("/v1/verify", headers=_bearer(key))
    assert response.headers["x-keydesk-integration"] == "caf%C3%A9%C2%A0bar"
    assert response.headers["x-keydesk-scopes"] == "a%25b"


@pytest.mark.parametrize("query", ["scope=repo&scope=read:org", "scope=read:org&scope=repo"])
def test_each_scope_parameter_is_required_in_either_order(world, client, query):
    """README: `?scope=a&scope=b` refuses a key without those scopes with 403."""
    repo_only = world.owner.create_key("github", "repo only", scopes=["repo"])
    refused = client.get(f"/v1/verify?{query}", headers=_bearer(repo_only.private_key.reveal()))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert not any(name.lower() in refused.headers for name in IDENTITY_HEADERS)
