"""POST /v1/revoke: whoever holds a leaked private key can kill it, and
learns nothing else (#13). The next /v1/verify with it gets 401."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.testclient import TestClient

from keydesk.http.server import REVOKES_PER_MINUTE, RateLimit, create_app
from keydesk.service import KeyService
from keydesk.store.engine import open_store
from keydesk.views import AuditView
from tests.conftest import build_world, copy_store_file
from tests.support.pg_team import acme_with_github
from tests.support.servers import keydesk_serve


@pytest.fixture
def client(world):
    # The server acts as the account it runs as; on SQLite that is the OS user.
    world.admit_keydesk_commands()
    with TestClient(create_app(world.store)) as client:
        yield client


@pytest.fixture(scope="module")
def admitted_world(module_world):
    """module_world, its server's account admitted: for tests whose reports
    revoke nothing (a new store and keys per test cost ~0.4 s)."""
    module_world.admit_keydesk_commands()
    return module_world


@pytest.fixture
def shared_client(admitted_world):
    """`client` on admitted_world: an app of its own (its rate limit fresh)."""
    with TestClient(create_app(admitted_world.store)) as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("how", ["header", "json"])
def test_a_live_key_is_revoked_and_refused_on_the_next_request(client, world, keys, how):
    assert client.get("/v1/verify", headers=_bearer(keys["valid"])).status_code == 200
    if how == "header":
        response = client.post("/v1/revoke", headers=_bearer(keys["valid"]))
    else:
        response = client.post("/v1/revoke", json={"api_key": keys["valid"]})
    public_key = "kdpk_" + keys["valid"][5:21]
    assert response.status_code == 200
    assert response.json() == {"public_key": public_key}
    refused = client.get("/v1/verify", headers=_bearer(keys["valid"]))
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
    (event,) = [e for e in world.owner.audit("acme") if e.action == "key.revoke.leaked"]
    assert event.target == public_key and "POST /v1/revoke from testclient" in (event.label or "")


@pytest.mark.parametrize("case", ["revoked", "unknown", "wrong_secret"])
def test_dead_or_unknown_keys_get_the_same_answer_and_change_nothing(
    shared_client, admitted_world, module_keys, case
):
    client, world, keys = shared_client, admitted_world, module_keys
    before = {k.public_key: k.status for k in world.owner.keys("github")}
    response = client.post("/v1/revoke", headers=_bearer(keys[case]))
    assert response.status_code == 200
    assert response.json() == {"public_key": "kdpk_" + keys[case][5:21]}
    assert {k.public_key: k.status for k in world.owner.keys("github")} == before


def test_a_wrong_secret_cannot_revoke_a_real_key(shared_client, module_keys):
    client, keys = shared_client, module_keys
    client.post("/v1/revoke", headers=_bearer(keys["wrong_secret"]))  # same public key as valid
    assert client.get("/v1/verify", headers=_bearer(keys["valid"])).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({}, "no key"),
        ({"headers": {"Authorization": "Bearer hello"}}, "malformed"),
        ({"content": b"not json"}, "not JSON"),
        ({"json": {"key": "x"}}, "no api_key"),
        ({"json": {"api_key": 42}}, "not a string"),
        ({"content": b"{" + b" " * 5000 + b"}"}, "too large"),
    ],
)
def test_malformed_reports_are_400(shared_client, kwargs, why):
    client = shared_client
    response = client.post("/v1/revoke", **kwargs)
    assert response.status_code == 400, why
    assert response.json()["error"] == "invalid_request"


def test_a_bad_checksum_is_400_and_revokes_nothing(shared_client, module_keys):
    client, keys = shared_client, module_keys
    assert client.post("/v1/revoke", headers=_bearer(keys["bad_checksum"])).status_code == 400
    assert client.get("/v1/verify", headers=_bearer(keys["valid"])).status_code == 200


def test_reports_are_rate_limited_per_address(shared_client, module_keys):
    client, keys = shared_client, module_keys
    answers = [
        client.post("/v1/revoke", headers=_bearer(keys["unknown"])).status_code
        for _ in range(REVOKES_PER_MINUTE + 1)
    ]
    assert answers[:-1] == [200] * REVOKES_PER_MINUTE
    assert answers[-1] == 429


def test_the_rate_limit_refills_over_a_minute():
    now = [0.0]
    limit = RateLimit(2, clock=lambda: now[0])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a")] == [True, True, False]
    assert limit.allow("b")  # per address
    now[0] = 30.0  # half a minute: one more
    assert [limit.allow("a"), limit.allow("a")] == [True, False]


def test_the_key_never_reaches_the_log(client, keys, caplog):
    caplog.set_level(logging.DEBUG)
    for case in ("valid", "unknown", "bad_checksum"):
        client.post("/v1/revoke", json={"api_key": keys[case]})
    assert "kdpk_" + keys["valid"][5:21] in caplog.text  # the public key is logged
    for case in ("valid", "unknown", "bad_checksum"):
        assert keys[case][22:65] not in caplog.text


def test_the_verify_endpoint_still_needs_a_valid_key(shared_client, module_keys):
    client, keys = shared_client, module_keys
    # /v1/revoke is exempt from authentication; nothing else is.
    assert client.post("/v1/verify", headers=_bearer(keys["unknown"])).status_code in (401, 405)
    assert client.get("/v1/verify").status_code == 401


def test_revocation_as_a_removed_account_still_works(world, keys):
    # The account the server acts as need not be an admin: possession is the proof.
    name = world.admit_keydesk_commands(role="viewer")
    assert KeyService(world.store, name).key("kdpk_" + keys["valid"][5:21]).is_active
    with TestClient(create_app(world.store)) as client:
        assert client.post("/v1/revoke", headers=_bearer(keys["valid"])).status_code == 200
        assert client.get("/v1/verify", headers=_bearer(keys["valid"])).status_code == 401


# -- another process ---------------------------------------------------------------------


@dataclass
class Served:
    url: str  # what `keydesk serve` connects with: the verifier role on PostgreSQL
    private: str
    audit: Callable[[], list[AuditView]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path) -> Iterator[Served]:
    if request.param == "sqlite":
        copy_store_file(request.getfixturevalue("sqlite_template"), tmp_path / "keydesk.db")
        url = f"sqlite:///{tmp_path / 'keydesk.db'}"
        store = open_store(url)
        owner = build_world(store).owner
        yield Served(url, owner.create_key("github", "prod").private_key.reveal(),
                     lambda: owner.audit("acme"))  # fmt: skip
        store.dispose()
        return
    team = request.getfixturevalue("team")
    alice = acme_with_github(team)
    yield Served(team.url_as("verifier"), alice.create_key("github", "prod").private_key.reveal(),
                 lambda: alice.audit("acme"))  # fmt: skip


def test_a_revoked_key_is_refused_on_the_next_verify_by_another_server(served, tmp_path):
    """Two `keydesk serve` processes on one store (on PostgreSQL as the
    verifier role): one takes the report, the other refuses the key on its
    very next request, though it accepted it a moment before."""
    with (
        keydesk_serve(served.url, log=tmp_path / "reporter.log") as reporter,
        keydesk_serve(served.url, log=tmp_path / "api.log") as api,
    ):
        assert httpx.get(f"{api}/v1/verify", headers=_bearer(served.private)).status_code == 200
        reported = httpx.post(f"{reporter}/v1/revoke", headers=_bearer(served.private))
        assert reported.status_code == 200
        refused = httpx.get(f"{api}/v1/verify", headers=_bearer(served.private))
        assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
    (event,) = [e for e in served.audit() if e.action == "key.revoke.leaked"]
    assert event.label == "found at POST /v1/revoke from 127.0.0.1"
