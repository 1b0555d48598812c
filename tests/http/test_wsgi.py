"""WSGI: `KeydeskWSGI` in front of a Flask app, and `requires_scopes` on its
views, answer as `KeydeskAuth` does (Flask's test client); what a WSGI
server logs of a request carrying a key elsewhere is redacted.

On SQLite only (`on_sqlite`)."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from flask import Flask, request

from keydesk.http import middleware
from keydesk.verify import Verifier
from keydesk.wsgi import KeydeskWSGI, NoVerifiedKey, current_key, requires_scopes
from tests.support.framework_answers import (
    COMPARED_HEADERS,
    bearer,
    keydesk_auth_client,
    on_sqlite,
    refused_requests,
)
from tests.support.servers import free_port, wait_until_up


def _flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/repos")
    @requires_scopes("repo")
    def repos():
        return {"public_key": current_key().public_key, "scopes": list(current_key().scopes)}

    @app.get("/me")
    def me():
        return {"label": request.environ["keydesk.api_key"].label}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


@pytest.fixture
def verifier(world):
    verifier = Verifier(world.store.engine)
    yield verifier
    verifier.close()


@pytest.fixture
def client(verifier):
    app = _flask_app()
    # 0 s floor for `invalid`: test_invalid_answers_wait_for_the_floor times it.
    app.wsgi_app = KeydeskWSGI(app.wsgi_app, verifier=verifier, invalid_answer_seconds=0)
    return app.test_client()


@on_sqlite
def test_a_view_gets_the_keys_identity_and_never_its_secret(client, framework_keys):
    full = framework_keys["full"]
    secret = full.private_key.reveal()
    answer = client.get("/repos", headers=bearer(secret))
    assert answer.json == {"public_key": full.key.public_key, "scopes": ["repo", "read:org"]}
    assert client.get("/me", headers=bearer(secret)).json == {"label": "full"}
    assert secret[22:] not in answer.text
    assert client.get("/healthz").json == {"status": "ok"}  # exempt: no key needed


@on_sqlite
def test_refusals_are_keydesk_auths(client, verifier, keys, framework_keys):
    """Each refusal: the status, headers and body KeydeskAuth sends for the
    same request."""
    reader = framework_keys["reader"].private_key.reveal()
    with keydesk_auth_client(verifier) as reference:
        for case, (url, headers) in refused_requests(keys, reader).items():
            got, want = client.get(url, headers=headers), reference.get(url, headers=headers)
            assert got.status_code == want.status_code, case
            assert got.status_code in (400, 401, 403), case
            for header in (*COMPARED_HEADERS, "content-type"):
                assert got.headers.get(header) == want.headers.get(header), (case, header)
            assert got.json == want.json(), case


@on_sqlite
def test_a_revoked_key_is_refused_on_the_next_request(world, client, framework_keys):
    full = framework_keys["full"]
    assert client.get("/me", headers=bearer(full.private_key.reveal())).status_code == 200
    world.owner.revoke_key(full.key.public_key)
    refused = client.get("/me", headers=bearer(full.private_key.reveal()))
    assert refused.status_code == 401 and refused.json["reason"] == "revoked"


def _served(verifier):
    """A test client of the Flask app behind KeydeskWSGI, and the environ of
    each request as the server holds it after the answer (what gunicorn's
    access log reads)."""
    seen: list[dict] = []
    app = _flask_app()
    inner = KeydeskWSGI(app.wsgi_app, verifier=verifier)

    def server_side(environ, start_response):
        answer = inner(environ, start_response)
        seen.append(dict(environ))
        return answer

    app.wsgi_app = server_side
    return app.test_client(), seen


@on_sqlite
def test_what_a_server_logs_of_a_key_sent_elsewhere_is_redacted(verifier, keys, caplog):
    """The environ after the answer is what gunicorn's access log reads."""
    caplog.set_level(logging.INFO, logger="keydesk")
    client, seen = _served(verifier)
    key = keys["valid"]
    assert client.get(f"/repos?k={key}").status_code == 400
    assert client.get(f"/{key}").status_code == 400
    assert client.get("/repos", environ_base={"REMOTE_ADDR": key}).status_code == 400
    query, path, address = seen
    assert query["QUERY_STRING"] == "[redacted]"
    assert query["REQUEST_URI"] == query["RAW_URI"] == "/repos?[redacted]"
    assert path["PATH_INFO"] == "/[redacted]" and path["RAW_URI"] == "/[redacted]"
    assert address["REMOTE_ADDR"] == "[redacted]"
    body = key[5:]
    for environ in seen:  # its every string (the test client's own objects aside)
        assert not [n for n, value in environ.items() if isinstance(value, str) and body in value]
    assert body not in caplog.text and "private key outside Authorization" in caplog.text


@on_sqlite
def test_a_key_sent_as_the_request_method_is_redacted(verifier, keys):
    """README: under WSGI the method of a request with a key outside
    `Authorization` is redacted in the environ a server logs from."""
    client, seen = _served(verifier)
    key = keys["valid"]
    answer = client.get("/repos", environ_overrides={"REQUEST_METHOD": key})
    assert answer.status_code == 400
    (environ,) = seen
    assert environ["REQUEST_METHOD"] == "[redacted]"
    assert not [n for n, value in environ.items() if isinstance(value, str) and key[5:] in value]


@on_sqlite
def test_gunicorns_access_log_never_holds_the_key(world, store_url, keys, tmp_path):
    """A real gunicorn, its access log in its default format (request line,
    client, user, Referer, User-Agent): a key sent anywhere but a Bearer
    `Authorization` is refused and appears in no line."""
    port, log = free_port(), tmp_path / "access.log"
    key = keys["valid"]
    basic = base64.b64encode(f"{key}:".encode()).decode()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--access-logfile", "-", "tests.support.wsgi_app:app"],
            cwd=Path(__file__).parents[2], stdout=output, stderr=output,
            env={"KEYDESK_DATABASE_URL": store_url, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server)
            with httpx.Client(base_url=base) as client:
                assert client.get("/repos", headers=bearer(key)).json() == {"label": "prod"}
                assert client.get(f"/repos?k={key}").status_code == 400
                assert client.get(f"/{key}").status_code == 400
                assert client.get("/repos", headers={"User-Agent": key}).status_code == 400
                assert client.get("/repos", headers={"Referer": f"/?k={key}"}).status_code == 400
                refused = client.get("/repos", headers={"Authorization": f"Basic {basic}"})
                assert refused.status_code == 401
        finally:
            server.terminate()
            server.wait(timeout=15)
    written = log.read_text()
    assert key[5:] not in written
    lines = [line for line in written.splitlines() if '"GET /' in line]
    assert [line.split('" ')[1][:3] for line in lines[-6:]] == ["200", *["400"] * 4, "401"]
    assert all("[redacted]" in line for line in lines[-5:-1])  # query, path, User-Agent, Referer
    assert lines[-1].split()[2] == "-"  # the Basic credentials' user: not logged


@on_sqlite
def test_invalid_answers_wait_for_the_floor_and_nothing_else_does(verifier, keys, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(middleware, "_wait_until", waits.append)
    app = _flask_app()
    app.wsgi_app = KeydeskWSGI(app.wsgi_app, verifier=verifier, invalid_answer_seconds=0.25)
    client = app.test_client()
    for case in ("unknown", "wrong_secret", "malformed", "revoked", "valid"):
        client.get("/me", headers=bearer(keys[case]))
    assert len(waits) == 2  # unknown and wrong_secret, each until 0.25 s after it arrived


@on_sqlite
def test_two_authorization_headers_arrive_joined_and_are_malformed(client, keys):
    headers = [("Authorization", f"Bearer {keys['valid']}"), ("Authorization", "Bearer x")]
    refused = client.get("/me", headers=headers)
    assert refused.status_code == 401 and refused.json["reason"] == "malformed"


def test_a_guard_without_the_middleware_fails_closed():
    client = _flask_app().test_client()
    refused = client.get("/repos")
    assert refused.status_code == 401 and refused.json["reason"] == "missing"
    assert refused.headers["www-authenticate"] == 'Bearer realm="keydesk"'
    with pytest.raises(NoVerifiedKey, match="is KeydeskWSGI in front"):
        current_key()


@pytest.mark.parametrize("scopes", [(), ("",), ("repo read",)])
def test_a_guard_needs_scope_names(scopes):
    with pytest.raises(ValueError, match="scope names"):
        requires_scopes(*scopes)


@on_sqlite
def test_a_keys_network_and_rate_as_keydesk_auth(world, verifier):
    """403 forbidden_network from elsewhere; behind a trusted proxy the
    forwarded address counts; a limited key's answers carry RateLimit
    headers, and past its rate 429 with Retry-After."""
    fenced = world.owner.create_key(
        "github", "fenced", allow_from=["10.0.0.0/8"], rate="2/d"
    ).private_key.reveal()
    inside = {"X-Forwarded-For": "10.1.2.3", **bearer(fenced)}
    app = _flask_app()
    app.wsgi_app = KeydeskWSGI(app.wsgi_app, verifier=verifier, trusted_proxies=["127.0.0.1"])
    client = app.test_client()  # from 127.0.0.1
    answers = [client.get("/me", headers=bearer(fenced))]
    answers += [client.get("/me", headers=inside) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [403, 200, 200, 429]
    assert answers[1].headers["ratelimit-policy"] == '"rate";q=2;w=86400'
    assert answers[2].headers["ratelimit"].startswith('"rate";r=0;t=')
    assert answers[3].headers["retry-after"] and answers[3].headers["ratelimit"]
