"""HTTP verification: the endpoint, the reusable middleware, the caches,
and revocation seen by another process on the very next request."""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import subprocess
import sys
import types

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from keydesk.asgi import KeydeskAuth
from keydesk.errors import Unauthorized, UnauthorizedReason
from keydesk.keys import check_secret, parse_private_key
from keydesk.service import KeyService
from keydesk.verify import Verifier
from keydesk.verify.store_writes import Touch, write_batch
from tests.support.servers import keydesk_serve


@pytest.mark.parametrize(
    "case", ["malformed", "bad_checksum", "unknown", "wrong_secret", "revoked"]
)
def test_endpoint_refuses_with_rfc6750_header_and_reason(served_once, module_keys, case):
    client, keys = served_once[0], module_keys
    response = client.get("/v1/verify", headers={"Authorization": f"Bearer {keys[case]}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="keydesk", error="invalid_token"'
    )
    assert response.json()["reason"] == {"unknown": "invalid", "wrong_secret": "invalid"}.get(
        case, case
    )
    assert len(keys[case]) < 20 or keys[case][5:] not in response.text


def test_endpoint_without_credentials(served_once):
    client, _ = served_once
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = client.get("/v1/verify", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="keydesk"'
        assert response.json()["reason"] == "missing"


def test_endpoint_accepts_a_valid_key(served_once, module_keys):
    client, keys = served_once[0], module_keys
    response = client.get("/v1/verify", headers={"Authorization": f"Bearer {keys['valid']}"})
    assert response.status_code == 200
    body = response.json()
    assert (
        body["label"] == "prod" and body["integration"] == "github" and body["workspace"] == "acme"
    )
    assert body["public_key"] == "kdpk_" + keys["valid"][5:21]
    assert client.get("/healthz").status_code == 200


def test_middleware_protects_another_app_in_one_line(module_world, module_keys):
    world, keys = module_world, module_keys

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"caller": request.state.api_key.label})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/whoami", whoami), Route("/healthz", healthz)])
    app.add_middleware(KeydeskAuth, verifier=Verifier(world.store.engine))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/whoami").status_code == 401
        for case in ("malformed", "bad_checksum", "unknown", "wrong_secret", "revoked"):
            response = client.get("/whoami", headers={"Authorization": f"Bearer {keys[case]}"})
            assert response.status_code == 401 and "www-authenticate" in response.headers
        ok = client.get("/whoami", headers={"Authorization": f"Bearer {keys['valid']}"})
        assert ok.json() == {"caller": "prod"}


def _reachable_text(root: object) -> list[str | bytes]:
    """Every str and bytes reachable from `root` through its own objects
    (not through modules, classes or functions, which reach everything)."""
    seen, found, todo = set(), [], [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(item))
        if isinstance(item, str | bytes):
            found.append(item)
            continue
        todo.extend(gc.get_referents(item))
    return found


def test_caches_hold_digests_never_plaintext(module_world, module_keys):
    world, keys = module_world, module_keys
    verifier = Verifier(world.store.engine)
    digests = []
    for presented in keys.values():
        with contextlib.suppress(Unauthorized):
            verifier.verify(presented)
        with contextlib.suppress(Unauthorized):  # what the caches know a parsed key by
            digests.append(verifier._checks.digest(parse_private_key(presented)))
    assert len(digests) == len(keys) - 2  # malformed and bad checksum are refused before
    assert all(isinstance(d, bytes) and len(d) == 32 for d in digests)
    held = _reachable_text(verifier)
    assert set(digests) <= set(held)  # cached, and the walk does reach the caches
    for case in ("valid", "unknown", "wrong_secret", "revoked"):
        secret = keys[case][22:65]
        assert not any(
            (secret if isinstance(text, str) else secret.encode()) in text for text in held
        )
    verifier.close()


def test_a_revoked_key_cached_as_valid_is_refused_at_once(world):
    created = world.owner.create_key("github", "cached")
    verifier = Verifier(world.store.engine)
    assert verifier.verify(created.private_key).label == "cached"
    assert verifier.verify(created.private_key).label == "cached"  # now served from the cache
    world.owner.revoke_key(created.key.public_key)
    with pytest.raises(Unauthorized) as error:
        verifier.verify(created.private_key)
    assert error.value.reason is UnauthorizedReason.REVOKED
    verifier.close()


def test_repeated_failures_cost_no_second_argon2(module_world, module_keys):
    world, keys = module_world, module_keys
    calls = []

    def counting(*args):
        calls.append(1)
        return check_secret(*args)

    verifier = Verifier(world.store.engine, check_secret=counting)
    for _ in range(5):
        for case in ("unknown", "wrong_secret"):
            with pytest.raises(Unauthorized):
                verifier.verify(keys[case])
        verifier.verify(keys["valid"])
    # Once per distinct key: the unknown id against a decoy, as the verifier
    # has too few real timings yet (tests/verify/test_load.py: none after).
    assert len(calls) == 3
    verifier.close()


def test_concurrent_verifications_of_one_key_are_consistent(module_world, module_keys):
    world, keys = module_world, module_keys
    verifier = Verifier(world.store.engine)

    def attempt(n: int) -> str:
        presented = keys["valid"] if n % 2 == 0 else keys["wrong_secret"]
        try:
            return verifier.verify(presented).label
        except Unauthorized as error:
            return error.reason.value

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(400)))
    assert results[0::2] == ["prod"] * 200
    assert results[1::2] == ["wrong_secret"] * 200
    verifier.close()


def test_last_used_is_written_at_most_once_a_minute(world, keys):
    touches = []

    def record(connection, backend, writes, counts=None):
        touches.extend(w for w in writes if isinstance(w, Touch))
        write_batch(connection, backend, writes, counts)

    verifier = Verifier(world.store.engine, write_batch=record)
    for _ in range(50):
        identity = verifier.verify(keys["valid"])
    verifier.flush()
    verifier.close()
    assert len(touches) == 1
    assert world.owner.key(identity.public_key).last_used_at == touches[0].at


def test_revoke_in_one_process_refused_by_server_in_another(store_url, world, tmp_path):
    world.admit_keydesk_commands()
    created = world.owner.create_key("github", "server-check")
    headers = {"Authorization": f"Bearer {created.private_key.reveal()}"}
    with keydesk_serve(store_url, log=tmp_path / "serve.log") as url:
        assert httpx.get(f"{url}/v1/verify", headers=headers).status_code == 200
        assert httpx.get(f"{url}/v1/verify", headers=headers).status_code == 200  # cached now
        subprocess.run(
            [sys.executable, "-m", "keydesk", "--db", store_url,
             "key", "revoke", created.key.public_key, "--yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        refused = httpx.get(f"{url}/v1/verify", headers=headers)
        assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
    assert KeyService(world.store, "alice").key(created.key.public_key).status == "revoked"
