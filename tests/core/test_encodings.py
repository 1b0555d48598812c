"""A private key written encoded is still a key: percent-encoded
at any depth and letter case, JSON-escaped, in base64 or `Basic`
credentials. The HTTP rule (400, never logged) holds in `keydesk serve` and
in the middleware, on the path and the query string; `keydesk scan` finds
such keys in files, streams cut anywhere, and git history."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from keydesk.asgi import KeydeskAuth
from keydesk.encodings import (
    MAX_ROUNDS,
    TooDeeplyEncoded,
    decoded_views,
    unescaped_once,
    unescaped_stages,
)
from keydesk.keys import generate_key_pair
from keydesk.redaction import looks_like_private_key
from keydesk.scan import Finding, scan_bytes, scan_git_history, scan_stream
from tests.support.servers import keydesk_serve


def new_key() -> str:
    return generate_key_pair().private_key.reveal()


def public(key: str) -> str:
    return "kdpk_" + key[5:21]


def percent(char: str, depth: int, *, upper: bool = True, everything: bool = False) -> str:
    """`char` percent-encoded `depth` times: only the `%` again (`%256B`, as
    a second `quote` does) or, with `everything`, every character again."""
    text = char
    for round_ in range(depth):
        if everything or round_ == 0:
            text = "".join(f"%{ord(c):02X}" for c in text)
        else:
            text = quote(text, safe="")
    return text if upper else text.lower()


def json_escaped(char: str, backslashes: int = 1) -> str:
    return "\\" * backslashes + f"u{ord(char):04x}"


def _found_by_decoder(text: str) -> bool:
    """What the HTTP rule asks of a value: a key in any decoded view."""
    try:
        views = decoded_views(text.encode())
    except TooDeeplyEncoded:
        return True
    return any(looks_like_private_key(view.decode("latin-1")) for view in views)


# -- the property: any key, any subset of its characters, any depth up to 3 ------------

ENCODINGS = st.sampled_from(["plain", "percent", "percent-lower", "json", "json2"])


@st.composite
def encoded_keys(draw: st.DrawFn, *, everything: bool = False) -> tuple[str, str]:
    key = new_key()
    out = []
    for char in key:
        kind = draw(ENCODINGS)
        depth = draw(st.integers(1, 3))
        if kind.startswith("percent"):
            out.append(percent(char, depth, upper=kind == "percent", everything=everything))
        elif kind.startswith("json"):
            out.append(json_escaped(char, 2 if kind == "json2" else 1))
        else:
            out.append(char)
    return key, "".join(out)


SURROUNDINGS = st.sampled_from(["", "x", "%", "a=", '{"k": "', "100%25 ", "\\", "Basic "])


@settings(max_examples=200, deadline=None)
@given(encoded_keys(), SURROUNDINGS, SURROUNDINGS)
def test_scan_finds_a_key_however_its_characters_are_escaped(encoded, before, after):
    key, text = encoded
    data = f"line one\n{before}{text}{after}\n".encode()
    assert [(f.location, f.public_key) for f in scan_bytes(data, "f")] == [("f:2", public(key))]


@settings(max_examples=100, deadline=None)
@given(encoded_keys(), st.integers(1, 700), st.integers(0, 900))
def test_an_escaped_key_cut_by_any_chunk_boundary_is_found_once(encoded, chunk, offset):
    key, text = encoded
    data = ("\n" + "y" * offset + text + "\n").encode()
    found = [f for f in scan_stream(io.BytesIO(data), "f", chunk_size=chunk)]
    assert [(f.location, f.public_key) for f in found] == [("f:2", public(key))]


@settings(max_examples=200, deadline=None)
@given(encoded_keys(everything=True), SURROUNDINGS, SURROUNDINGS)
def test_the_http_decoder_finds_a_key_at_any_depth_even_fully_reencoded(encoded, before, after):
    _key, text = encoded
    assert _found_by_decoder(before + text + after)
    assert _found_by_decoder(quote(before + text + after, safe=""))  # and once more, whole


def test_decoding_stops_at_a_fixed_point_and_refuses_a_bottomless_value():
    assert unescaped_stages(b"a%2541") == [b"a%2541", b"a%41", b"aA"]
    assert unescaped_stages(b"100%") == [b"100%"]
    deep = b"%" + b"25" * MAX_ROUNDS + b"41"
    with pytest.raises(TooDeeplyEncoded):
        unescaped_stages(deep)


def _json_unescaped_by_hand(data: bytes) -> bytes:
    """JSON's escapes as `unescaped_once` reads them, written out plainly: a run
    of backslashes followed by `u00XX` or `/` becomes that character."""
    out, at = bytearray(), 0
    while at < len(data):
        if data[at : at + 1] != b"\\":
            out += data[at : at + 1]
            at += 1
            continue
        end = at
        while data[end : end + 1] == b"\\":
            end += 1
        hex_digits = data[end + 3 : end + 5]
        if (
            data[end : end + 3] == b"u00"
            and len(hex_digits) == 2
            and all(c in b"0123456789abcdefABCDEF" for c in hex_digits)
        ):
            out.append(int(hex_digits, 16))
            at = end + 5
        elif data[end : end + 1] == b"/":
            out += b"/"
            at = end + 1
        else:
            out += data[at:end]
            at = end
    return bytes(out)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"\\", b"u00", b"u", b"0", b"4", b"1", b"f", b"/", b"a"])))
def test_json_escapes_are_read_as_written(pieces):
    data = b"".join(pieces)
    assert unescaped_once(data) == _json_unescaped_by_hand(data)


def test_a_long_run_of_backslashes_is_read_in_one_pass():
    """One request of a million backslashes (or `\\u005c`, or `%5C`, in a
    header, the path or the query) was a denial of service: the decoder
    retried the run from each of its backslashes, holding the event loop for
    minutes. Read in one pass, each is answered; the timeout only turns a
    regression into a failure rather than a hung run."""
    script = """
import asyncio
from keydesk.asgi import KeydeskAuth

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

async def status(headers, query):
    scope = {"type": "http", "method": "GET", "path": "/healthz", "raw_path": b"/healthz",
             "query_string": query, "headers": headers, "client": ("127.0.0.1", 1)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b""}
    async def send(message):
        sent.append(message)
    await auth(scope, receive, send)
    return sent[0]["status"]

auth = KeydeskAuth(app, database_url="sqlite:////nonexistent/keydesk.db")
for run in (b"\\\\" * 1_000_000, b"\\\\u005c" * 170_000, b"%5C" * 330_000):
    assert asyncio.run(status([(b"x-run", run)], b"")) == 200
    assert asyncio.run(status([], b"q=" + run)) == 200
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


# -- base64 and Basic credentials -------------------------------------------------------


@pytest.mark.parametrize("user", ["", "a", "ab", "abc", "deploy-bot"])
@pytest.mark.parametrize("alphabet", ["standard", "url-safe"])
def test_scan_finds_a_key_in_basic_credentials(user, alphabet):
    key = new_key()
    encode = base64.b64encode if alphabet == "standard" else base64.urlsafe_b64encode
    token = encode(f"{user}:{key}".encode()).decode()
    for line in (f"Authorization: Basic {token}", f"curl -H 'authorization: basic {token}'"):
        found = list(scan_bytes(f"x\n{line}\n".encode(), "h"))
        assert [(f.location, f.public_key) for f in found] == [("h:2", public(key))], line


@pytest.mark.parametrize("chunk", [1, 40, 97, 100, 1000])
def test_basic_credentials_cut_by_a_chunk_boundary_are_found_once(chunk):
    key = new_key()
    token = base64.b64encode(f"ci:{key}".encode())
    data = b"x" * 50 + b"\nAuthorization: Basic " + token + b"\n"
    found = list(scan_stream(io.BytesIO(data), "h", chunk_size=chunk))
    assert [(f.location, f.public_key) for f in found] == [("h:2", public(key))]


def test_a_json_document_with_an_escaped_key_is_a_finding_and_a_look_alike_is_not():
    key = new_key()
    escaped = "".join(json_escaped(c) if c in "k_" else c for c in key)
    broken = escaped[:-1] + ("A" if escaped[-1] != "A" else "B")  # checksum now wrong
    data = f'{{"url": "https:\\/\\/api.example\\/v1", "token": "{escaped}", "old": "{broken}"}}'
    assert [f.public_key for f in scan_bytes(data.encode())] == [public(key)]


# -- git history ------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    return path


def _git(repo, *args: str) -> str:
    identity = ("-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false")
    done = subprocess.run(["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_git_history_finds_escaped_keys_added_and_later_deleted(repo):
    keys = [new_key() for _ in range(3)]
    lines = [
        "callback=https://x.example/?k=" + percent(keys[0][0], 2) + keys[0][1:],
        '{"token": "' + json_escaped("k") + keys[1][1:] + '"}',
        "Authorization: Basic " + base64.b64encode(f"u:{keys[2]}".encode()).decode(),
    ]
    (repo / "notes.txt").write_text("hello\n" + "\n".join(lines) + "\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "leak")
    leaked = _git(repo, "rev-parse", "HEAD")
    (repo / "notes.txt").write_text("hello\n")
    _git(repo, "commit", "-q", "-am", "remove")
    found = [(e.location, e.public_key) for e in scan_git_history(repo) if isinstance(e, Finding)]
    assert found == [(f"{leaked}:notes.txt:{n}", public(k)) for n, k in enumerate(keys, start=2)]


# -- HTTP: keydesk serve and the middleware ---------------------------------------------

FORMS = {
    "percent-k": lambda key: percent(key[0], 1) + key[1:],
    "percent-k-lower": lambda key: percent(key[0], 1, upper=False) + key[1:],
    "double": lambda key: percent(key[0], 2) + key[1:],
    "triple-underscore": lambda key: key[:4] + percent("_", 3) + key[5:],
    "all-encoded": lambda key: "".join(percent(c, 1) for c in key),
    "plus-around": lambda key: "a+" + percent(key[0], 1) + key[1:] + "+b",
    "json": lambda key: json_escaped("k") + key[1:],
    "base64": lambda key: base64.b64encode(f"me:{key}".encode()).decode(),
    # Not an encoding: a changed prefix. The rest still holds the secret.
    "capital-K": lambda key: "K" + key[1:],
    "iis-u": lambda key: "%u006B" + key[1:],
}


def _middleware_app() -> Starlette:
    class Unreachable:
        async def verify_async(self, token):
            raise AssertionError("a request carrying a key elsewhere must not be verified")

    app = Starlette(routes=[Route("/{rest:path}", lambda request: PlainTextResponse("app"))])
    app.add_middleware(KeydeskAuth, verifier=Unreachable())
    return app


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("where", ["query", "path"])
def test_an_encoded_key_in_the_url_is_a_bad_request_in_serve_and_the_middleware(
    served_once, form, where
):
    served, valid = served_once
    written = FORMS[form](valid)
    url = f"/v1/verify?k={written}" if where == "query" else f"/v1/verify/{written}"
    for client in (served, TestClient(_middleware_app())):
        response = client.get(url, headers={"Authorization": f"Bearer {valid}"})
        assert response.status_code == 400, (form, where)
        assert (
            response.json()["message"] == "API keys are accepted only in the Authorization header"
        )
    assert served.get("/v1/verify", headers={"Authorization": f"Bearer {valid}"}).status_code == 200


def test_a_value_encoded_past_any_use_is_refused_too(served_once):
    served, _ = served_once
    response = served.get("/healthz?q=%" + "25" * (MAX_ROUNDS + 1) + "41")
    assert response.status_code == 400
    assert served.get("/healthz?q=100%25%20off").status_code == 200  # ordinary escapes pass


def test_the_access_log_never_holds_an_encoded_key(store_url, world, keys, tmp_path):
    log = tmp_path / "serve.log"
    valid = keys["valid"]
    sent = [FORMS[f](valid) for f in ("percent-k", "double", "all-encoded", "base64", "iis-u")]
    with keydesk_serve(store_url, "--access-log", log=log) as base, httpx.Client() as client:
        for written in sent:
            for url in (f"{base}/v1/verify?k={written}", f"{base}/v1/verify/{written}"):
                assert client.get(url).status_code == 400, url
    text = log.read_text()
    assert text.count('"GET /v1/verify?[redacted] HTTP/1.1" 400') == len(sent)
    assert text.count('"GET /[redacted] HTTP/1.1" 400') == len(sent)
    secret = valid[22:65]
    for written in (*sent, valid, secret, secret[:20], quote(secret[:20])):
        assert written[6:40] not in text
