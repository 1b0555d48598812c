"""What an HTTP or WebSocket client is told, and what the server logs: one
`invalid` for every credential that does not match, keys only in the
`Authorization` header, strict header parsing, WebSocket handshakes refused
before accept (TestClient and a real uvicorn with the `websockets` client)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import websockets.sync.client
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from keydesk.asgi import KeydeskAuth
from keydesk.errors import RateLimited, StoreUnavailable, TooManyAttempts
from keydesk.http.server import create_app
from keydesk.verify import Verifier
from tests.support.servers import keydesk_serve, uvicorn_thread


@pytest.fixture
def client(world):
    with TestClient(create_app(world.store)) as client:
        yield client


def _get(client, *, headers=None, url="/v1/verify"):
    return client.get(url, headers=headers or {})


# -- one reason for every credential that does not match ------------------------------


def test_unknown_id_and_wrong_secret_are_both_invalid_to_the_client_and_exact_in_the_log(
    client, keys, caplog
):
    caplog.set_level(logging.INFO, logger="keydesk")
    bodies = {}
    for case in ("unknown", "wrong_secret"):
        response = _get(client, headers={"Authorization": f"Bearer {keys[case]}"})
        assert response.status_code == 401
        bodies[case] = response.json()
        assert "invalid" in response.headers["www-authenticate"] or response.headers[
            "www-authenticate"
        ].endswith('error_description="the API key is not valid"')
    assert (
        bodies["unknown"]
        == bodies["wrong_secret"]
        == {
            "error": "invalid_token",
            "reason": "invalid",
            "message": "the API key is not valid",
        }
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for case in ("unknown", "wrong_secret"):
        public_key = "kdpk_" + keys[case][5:21]
        assert f"refused {public_key}: {case}" in logged
        assert keys[case][22:65] not in logged  # never the secret


@pytest.mark.parametrize("case", ["revoked"])
def test_reasons_only_a_key_holder_can_reach_stay_distinct(served_once, module_keys, case):
    client, _ = served_once
    response = _get(client, headers={"Authorization": f"Bearer {module_keys[case]}"})
    assert response.status_code == 401 and response.json()["reason"] == case


# -- the Authorization header, strictly -------------------------------------------------


@pytest.mark.parametrize(
    "after",
    [b"\xc2\xa0", b"\xa0", b"\xc2\x85", b"\x85", b"\x1c", b"\x0b", b"\x00"],
    ids=["nbsp-utf8", "nbsp-latin1", "nel-utf8", "nel-latin1", "fs", "vt", "nul"],
)
def test_only_space_and_tab_may_surround_the_key(served_once, after):
    client, key = served_once
    valid = key.encode()
    response = _get(client, headers={"Authorization": b"Bearer " + valid + after})
    assert response.status_code == 401 and response.json()["reason"] == "malformed"
    ok = _get(client, headers={"Authorization": b"Bearer  " + valid + b" \t"})
    assert ok.status_code == 200


def test_several_authorization_headers_are_a_bad_request(served_once, module_keys):
    client, _ = served_once
    keys = module_keys
    valid = f"Bearer {keys['valid']}"
    for pair in ([valid, valid], [valid, "Bearer " + keys["unknown"]], ["Basic eDp5", valid]):
        response = client.get("/v1/verify", headers=[("Authorization", value) for value in pair])
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "where",
    ["query", "encoded-query", "path", "cookie", "x-api-key", "referer"],
)
def test_a_key_anywhere_but_authorization_is_a_bad_request(served_once, where):
    client, valid = served_once
    headers = {"Authorization": f"Bearer {valid}"}
    url = "/v1/verify"
    if where == "query":
        url += f"?api_key={valid}"
    elif where == "encoded-query":
        url += "?api_key=" + valid.replace("_", "%5F")
    elif where == "path":
        url += f"/{valid}"
    elif where == "cookie":
        headers["Cookie"] = f"key={valid}"
    else:
        headers[where] = valid if where == "x-api-key" else f"https://e.example/?k={valid}"
    response = client.get(url, headers=headers)
    assert response.status_code == 400
    assert response.json()["message"] == "API keys are accepted only in the Authorization header"
    assert valid[5:] not in response.text
    # …even on a path that needs no key
    assert client.get(f"/healthz?k={valid}").status_code == 400


def test_the_access_log_never_holds_a_key_sent_in_the_query_string(
    module_store_url, module_keys, tmp_path
):
    keys = module_keys
    log = tmp_path / "serve.log"
    valid = keys["valid"]
    with keydesk_serve(module_store_url, "--access-log", log=log) as base:
        for query in (f"api_key={valid}", f"x=1&token={valid.replace('_', '%5F')}"):
            response = httpx.get(f"{base}/v1/verify?{query}")
            assert response.status_code == 400
        refused = httpx.get(
            f"{base}/v1/verify", headers={"Authorization": f"Bearer {keys['wrong_secret']}"}
        )
        assert refused.json()["reason"] == "invalid"
        assert httpx.get(f"{base}/healthz").status_code == 200
    text = log.read_text()
    assert '"GET /v1/verify?[redacted] HTTP/1.1" 400' in text
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert f"refused kdpk_{keys['wrong_secret'][5:21]}: wrong_secret" in text
    for key in (valid, keys["wrong_secret"]):
        assert key[22:65] not in text and key[5:21] + "_" not in text
    assert "Traceback" not in text


# -- 429 and 503 ------------------------------------------------------------------------


class _Refusing:
    """A verifier that answers with one error (for the mapping to HTTP)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def answered(self, _presented, _source=None):
        return None  # nothing at once: the middleware asks `verify_async`

    async def verify_async(self, _presented, _source=None):
        raise self.error


@pytest.mark.parametrize(
    ("error", "status"),
    [(TooManyAttempts("too many attempts with this key at once", 1), 429),
     (StoreUnavailable("no keydesk store at /secret/path/k.db"), 503)],
)  # fmt: skip
def test_throttled_and_unavailable_say_when_to_retry_and_nothing_more(module_keys, error, status):
    app = KeydeskAuth(_never_called, verifier=_Refusing(error))  # type: ignore[arg-type]
    with TestClient(app) as client:
        response = client.get("/x", headers={"Authorization": f"Bearer {module_keys['valid']}"})
    assert response.status_code == status
    assert response.headers["retry-after"] == "1"
    assert "/secret/path" not in response.text


async def _never_called(scope, receive, send):
    if scope["type"] == "lifespan":  # what TestClient sends first
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    raise AssertionError("a refused request reached the app")


# -- WebSockets -------------------------------------------------------------------------


def _websocket_app(verifier: Verifier) -> Starlette:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"hello {websocket.scope['keydesk.api_key'].label}")
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    app.add_middleware(KeydeskAuth, verifier=verifier)
    return app


def test_websocket_handshake_needs_a_key_testclient(module_world, module_keys):
    keys = module_keys
    verifier = Verifier(module_world.store.engine)
    with TestClient(_websocket_app(verifier)) as client:
        for headers, status in (
            ({}, 401),
            ({"Authorization": f"Bearer {keys['unknown']}"}, 401),
            ({"Authorization": f"Bearer {keys['revoked']}"}, 401),
            ({"Sec-WebSocket-Protocol": keys["valid"]}, 400),
        ):
            with (
                pytest.raises(WebSocketDenialResponse) as denied,
                client.websocket_connect("/ws", headers=headers),
            ):
                pass
            assert denied.value.status_code == status
        with client.websocket_connect(
            "/ws", headers={"Authorization": f"Bearer {keys['valid']}"}
        ) as websocket:
            assert websocket.receive_text() == "hello prod"
    verifier.close()


def test_websocket_handshake_needs_a_key_real_server(module_world, module_keys):
    keys = module_keys
    verifier = Verifier(module_world.store.engine)
    with uvicorn_thread(_websocket_app(verifier), ws="websockets-sansio") as base:
        url = base.replace("http://", "ws://") + "/ws"
        for headers, status, reason in (
            ({}, 401, "missing"),
            ({"Authorization": f"Bearer {keys['wrong_secret']}"}, 401, "invalid"),
            ({"Authorization": f"Bearer {keys['revoked']}"}, 401, "revoked"),
        ):
            with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
                websockets.sync.client.connect(url, additional_headers=headers, open_timeout=10)
            response = denied.value.response
            assert response.status_code == status
            assert f'"reason": "{reason}"' in response.body.decode()
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="keydesk"')
        with websockets.sync.client.connect(
            url, additional_headers={"Authorization": f"Bearer {keys['valid']}"}, open_timeout=10
        ) as connection:
            assert connection.recv(timeout=10) == "hello prod"
    verifier.close()


_TWO_KEYS = [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")]


@pytest.mark.parametrize(
    ("headers", "error", "code"),
    [([], None, 1008),
     (_TWO_KEYS, None, 1008),
     # README: 1013 (try again later) for 429/503.
     ("valid", TooManyAttempts("too many attempts with this key at once", 1), 1013),
     ("valid", RateLimited("kdpk_x", "rate", 17), 1013),
     ("valid", RateLimited("kdpk_x", "quota", 17), 1013),
     ("valid", StoreUnavailable("no keydesk store at /secret/path/k.db"), 1013)],
)  # fmt: skip
def test_websocket_refused_with_a_close_where_denial_responses_are_unsupported(
    module_world, module_keys, headers, error, code
):
    sent = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    if headers == "valid":
        headers = [(b"authorization", f"Bearer {module_keys['valid']}".encode())]
    scope = {"type": "websocket", "path": "/ws", "headers": headers, "query_string": b""}
    verifier = Verifier(module_world.store.engine)
    refusing = verifier if error is None else _Refusing(error)
    auth = KeydeskAuth(_never_called, verifier=refusing)  # type: ignore[arg-type]
    asyncio.run(auth(scope, receive, send))
    verifier.close()
    assert [message["type"] for message in sent] == ["websocket.close"]
    assert sent[0]["code"] == code


def test_invalid_answers_wait_for_the_floor_and_nothing_else_does(client, keys, monkeypatch):
    """`invalid` goes out no sooner than INVALID_ANSWER_SECONDS after arrival,
    whichever it was (so both take the same time, and forged keys cannot be
    answered faster than that); other answers never wait for it."""
    from keydesk.http import middleware as asgi

    waits: list[float] = []
    real_until = asgi._until

    async def recording(moment: float) -> None:
        waits.append(moment - asgi.time.monotonic())
        await real_until(moment)

    monkeypatch.setattr(asgi, "_until", recording)
    for case in ("unknown", "wrong_secret"):
        assert _get(client, headers={"Authorization": f"Bearer {keys[case]}"}).status_code == 401
    assert len(waits) == 2
    assert all(wait <= asgi.INVALID_ANSWER_SECONDS for wait in waits)
    for case in ("malformed", "bad_checksum", "revoked", "valid"):
        _get(client, headers={"Authorization": f"Bearer {keys[case]}"})
    assert _get(client, url="/healthz").status_code == 200
    assert len(waits) == 2
