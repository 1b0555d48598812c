"""No form of a key reaches `keydesk serve --access-log`, whatever field of
the line it was sent in (#19 item 6, second attack pass): the client address
too, which uvicorn takes from `X-Forwarded-For` when it trusts the proxy."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from keydesk.asgi import KeydeskAuth
from keydesk.keys import generate_key_pair
from tests.support.servers import keydesk_serve


def _forms(key: str) -> list[str]:
    return [key, "%6B" + key[1:], "K" + key[1:], f"10.0.0.1, {key}"]


@pytest.mark.parametrize("trusted", [False, True])
def test_a_key_in_x_forwarded_for_is_refused_and_never_logged(
    module_store_url, module_keys, tmp_path, trusted
):
    log = tmp_path / "serve.log"
    valid = module_keys["valid"]
    args = ["--access-log", *(["--trusted-proxy", "127.0.0.1"] if trusted else [])]
    with keydesk_serve(module_store_url, *args, log=log) as base, httpx.Client() as client:
        for sent in _forms(valid):
            response = client.get(f"{base}/v1/verify", headers={"X-Forwarded-For": sent})
            assert response.status_code == 400, sent
        forwarded = client.get(f"{base}/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status_code == 200
    text = log.read_text()
    assert valid[22:60] not in text
    assert text.count('"GET /v1/verify HTTP/1.1" 400') == len(_forms(valid))
    if trusted:  # the header is believed, and a key in it is redacted
        assert text.count('[redacted]:0 - "GET /v1/verify') == len(_forms(valid))
        assert '203.0.113.9:0 - "GET /healthz HTTP/1.1" 200' in text
    else:  # by default the header is ignored: the address is the connection's
        assert "203.0.113.9" not in text and "[redacted]" not in text
        assert text.count("127.0.0.1:") >= len(_forms(valid)) + 1


class _Unreachable:
    async def verify_async(self, token: object) -> None:
        raise AssertionError("a request carrying a key elsewhere must not be verified")


def _refused(scope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run the middleware on `scope`; the status it answered and the scope
    as the server then logs it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(*_: object) -> None:
        raise AssertionError("the app must not be reached")

    middleware = KeydeskAuth(app, verifier=_Unreachable())  # type: ignore[arg-type]
    asyncio.run(middleware(scope, receive, send))
    return sent[0]["status"], scope


@pytest.mark.parametrize("field", ["client", "method"])
def test_a_key_in_any_logged_field_is_refused_and_redacted(field):
    """A server other than uvicorn may set the client from another header,
    and h11 takes any token for a method: each logged field is checked."""
    valid = generate_key_pair().private_key.reveal()
    scope = {
        "type": "http",
        "method": valid if field == "method" else "GET",
        "path": "/v1/verify",
        "raw_path": b"/v1/verify",
        "query_string": b"",
        "headers": [],
        "client": ("%6B" + valid[1:], 0) if field == "client" else ("127.0.0.1", 5),
    }
    status, logged = _refused(scope)
    assert status == 400
    assert valid[6:40] not in repr(logged)
    assert "[redacted]" in (logged["client"][0] if field == "client" else logged["method"])


def test_a_key_split_across_forwarded_entries_is_never_logged(
    module_store_url, module_keys, tmp_path
):
    """Behind a trusted proxy the last X-Forwarded-For entry is the client:
    `K[:20], K[20:]` logged the key's secret as the address (third attack
    pass of #19). A client that is no IP address is logged as [invalid]."""
    log = tmp_path / "serve.log"
    valid = module_keys["valid"]
    args = ["--access-log", "--trusted-proxy", "127.0.0.1"]
    with keydesk_serve(module_store_url, *args, log=log) as base, httpx.Client() as client:
        for sent in (f"{valid[:20]}, {valid[20:]}", "10.0.0.1, not-an-address"):
            response = client.get(f"{base}/healthz", headers={"X-Forwarded-For": sent})
            assert response.status_code == 200, sent
        assert client.get(f"{base}/healthz", headers={"X-Forwarded-For": "::1"}).status_code == 200
    text = log.read_text()
    assert valid[20:] not in text and "not-an-address" not in text
    assert text.count('[invalid]:0 - "GET /healthz HTTP/1.1" 200') == 2
    assert '::1:0 - "GET /healthz' in text
