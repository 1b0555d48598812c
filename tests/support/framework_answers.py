"""What `KeydeskAuth` answers, for the framework integrations' tests to
compare theirs with (helpers, not tests): the same requests sent to a
Starlette app behind it, whose /repos needs the scope `repo`; the keys
those tests use (tests/http/conftest.py: `framework_keys`)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from keydesk.asgi import KeydeskAuth
from keydesk.guards import requires_scopes
from keydesk.verify import Verifier

# What a framework adds to the check is the same whatever the store, whose
# part the verifier's tests run on PostgreSQL too.
on_sqlite = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

# Headers every refusal carries, whoever sends it.
COMPARED_HEADERS = ("www-authenticate", "cache-control", "retry-after")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def refused_requests(keys: dict[str, str], reader: str) -> dict[str, tuple[str, dict[str, str]]]:
    """A request for /repos per way to be refused: case → (url, headers).
    `keys` is conftest's; `reader` a valid key without the scope `repo`."""
    return {
        "missing": ("/repos", {}),
        "another scheme": ("/repos", {"Authorization": "Basic dXNlcjpwYXNz"}),
        "malformed": ("/repos", bearer(keys["malformed"])),
        "bad_checksum": ("/repos", bearer(keys["bad_checksum"])),
        "unknown": ("/repos", bearer(keys["unknown"])),
        "wrong_secret": ("/repos", bearer(keys["wrong_secret"])),
        "revoked": ("/repos", bearer(keys["revoked"])),
        "key in the query": (f"/repos?k={keys['valid']}", {}),
        "key in another header": ("/repos", {"X-Api-Key": keys["valid"]}),
        "insufficient scope": ("/repos", bearer(reader)),
    }


def keydesk_auth_client(verifier: Verifier) -> TestClient:
    @requires_scopes("repo")
    async def repos(_request):
        return PlainTextResponse("repos")

    app = Starlette(routes=[Route("/repos", repos)])
    app.add_middleware(KeydeskAuth, verifier=verifier, invalid_answer_seconds=0)
    return TestClient(app)
