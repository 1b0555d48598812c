"""Django: `keydesk.django.KeydeskMiddleware` and `requires_scopes` answer
as `KeydeskAuth` does, in a minimal Django project configured here (its URLs
are this module's `urlpatterns`), driven by Django's test client.

On SQLite only (`on_sqlite`)."""

from __future__ import annotations

import logging

import django
import pytest
from django.conf import settings
from django.http import JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from keydesk.django import requires_scopes
from keydesk.http import middleware
from keydesk.verify import Verifier
from tests.support.framework_answers import (
    COMPARED_HEADERS,
    bearer,
    keydesk_auth_client,
    on_sqlite,
    refused_requests,
)

if not settings.configured:  # once per process: no other test configures Django
    settings.configure(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        MIDDLEWARE=["keydesk.django.KeydeskMiddleware"],
        SECRET_KEY="not a secret: tests only",
        DATABASES={},
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()


@requires_scopes("repo")
def repos(request):
    return JsonResponse({"public_key": request.api_key.public_key})


@requires_scopes("read:org")
async def orgs(request):  # an async view too
    return JsonResponse({"scopes": list(request.api_key.scopes)})


def me(request):
    return JsonResponse({"label": request.META["keydesk.api_key"].label})


def healthz(_request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("repos", repos),
    path("orgs", orgs),
    path("me", me),
    path("healthz", healthz),
]


@pytest.fixture
def verifier(world):
    verifier = Verifier(world.store.engine)
    with override_settings(KEYDESK_VERIFIER=verifier):  # shared with KeydeskAuth's app
        yield verifier
    verifier.close()


@on_sqlite
def test_a_view_gets_the_keys_identity_and_never_its_secret(verifier, framework_keys):
    full, reader = framework_keys["full"], framework_keys["reader"].private_key.reveal()
    secret = full.private_key.reveal()
    client = Client()
    answer = client.get("/repos", headers=bearer(secret))
    assert answer.json() == {"public_key": full.key.public_key}
    assert secret[22:] not in answer.text
    assert client.get("/me", headers=bearer(secret)).json() == {"label": "full"}
    assert client.get("/orgs", headers=bearer(reader)).json() == {"scopes": ["read:org"]}
    assert client.get("/healthz").json() == {"status": "ok"}  # exempt: no key needed


@on_sqlite
def test_refusals_are_keydesk_auths(verifier, keys, framework_keys):
    reader = framework_keys["reader"].private_key.reveal()
    client = Client()
    with keydesk_auth_client(verifier) as reference:
        for case, (url, headers) in refused_requests(keys, reader).items():
            got, want = client.get(url, headers=headers), reference.get(url, headers=headers)
            assert got.status_code == want.status_code, case
            assert got.status_code in (400, 401, 403), case
            for header in (*COMPARED_HEADERS, "content-type"):
                assert got.headers.get(header) == want.headers.get(header), (case, header)
            assert got.json() == want.json(), case


@on_sqlite
def test_a_revoked_key_is_refused_on_the_next_request(world, verifier, framework_keys):
    full = framework_keys["full"]
    client = Client()
    assert client.get("/me", headers=bearer(full.private_key.reveal())).status_code == 200
    world.owner.revoke_key(full.key.public_key)
    refused = client.get("/me", headers=bearer(full.private_key.reveal()))
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"


@on_sqlite
def test_a_key_in_the_path_reaches_no_log(verifier, keys, caplog):
    """Django logs every 4xx with its path (django.request): redacted first."""
    caplog.set_level(logging.INFO)
    key = keys["valid"]
    answer = Client().get(f"/{key}", QUERY_STRING=f"k={key}")
    assert answer.status_code == 400
    assert key[5:] not in caplog.text
    assert "Bad Request: /[redacted]" in caplog.text
    assert "private key outside Authorization" in caplog.text
    request = answer.wsgi_request
    assert request.META["QUERY_STRING"] == "[redacted]" and request.path == "/[redacted]"


@on_sqlite
def test_invalid_answers_wait_for_the_floor(verifier, keys, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(middleware, "_wait_until", waits.append)
    for case in ("unknown", "wrong_secret", "malformed", "revoked", "valid"):
        Client().get("/me", headers=bearer(keys[case]))
    assert len(waits) == 2  # unknown and wrong_secret, each until 0.25 s after it arrived


@on_sqlite
async def test_under_asgi_too(verifier, framework_keys):
    """Django's ASGI handler (AsyncClient) runs the same middleware."""
    reader = framework_keys["reader"].private_key.reveal()
    client = AsyncClient()
    assert (await client.get("/orgs", headers=bearer(reader))).json() == {"scopes": ["read:org"]}
    refused = await client.get("/repos", headers=bearer(reader))
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert (await client.get("/me")).status_code == 401


@on_sqlite
def test_exempt_paths_come_from_the_settings(verifier):
    assert Client().get("/healthz").status_code == 200
    with override_settings(KEYDESK_EXEMPT_PATHS=[]):
        assert Client().get("/healthz").status_code == 401


def test_a_guard_without_the_middleware_fails_closed():
    with override_settings(MIDDLEWARE=[]):
        refused = Client().get("/repos")
    assert refused.status_code == 401 and refused.json()["reason"] == "missing"
    assert refused["WWW-Authenticate"] == 'Bearer realm="keydesk"'


@on_sqlite
def test_the_store_named_in_the_settings(world, framework_keys):
    """KEYDESK_DATABASE_URL: one verifier per store and process, shared by
    every handler Django makes (each test client makes one)."""
    from keydesk.http.django import _shared_check

    url = world.store.engine.url.render_as_string(hide_password=False)
    key = framework_keys["full"].private_key.reveal()
    with override_settings(KEYDESK_DATABASE_URL=url):
        assert Client().get("/me", headers=bearer(key)).json() == {"label": "full"}
        assert Client().get("/me").status_code == 401
    assert _shared_check.cache_info().currsize == 1
    _shared_check(url, ()).verifier.close()
    _shared_check.cache_clear()


@on_sqlite
def test_a_keys_network_and_rate_as_keydesk_auth(world, verifier):
    """403 forbidden_network from elsewhere; behind a trusted proxy the
    forwarded address counts; a limited key's answers carry RateLimit
    headers, and past its rate 429 with Retry-After."""
    fenced = world.owner.create_key(
        "github", "fenced", allow_from=["10.0.0.0/8"], rate="2/d"
    ).private_key.reveal()
    inside = {"X-Forwarded-For": "10.1.2.3", **bearer(fenced)}
    client = Client()  # from 127.0.0.1
    with override_settings(KEYDESK_TRUSTED_PROXIES=["127.0.0.1"]):
        answers = [client.get("/me", headers=bearer(fenced))]
        answers += [client.get("/me", headers=inside) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [403, 200, 200, 429]
    assert answers[1].headers["ratelimit-policy"] == '"rate";q=2;w=86400'
    assert answers[2].headers["ratelimit"].startswith('"rate";r=0;t=')
    assert answers[3].headers["retry-after"] and answers[3].headers["ratelimit"]
