"""`keydesk serve --metrics`: what /metrics counts, and what it never shows.
(A real `keydesk serve --metrics` is scraped in test_serve_process.py.)
On SQLite only: what is counted is the same on either store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from keydesk.http.server import create_app
from keydesk.verify import Verifier

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(world):
    with TestClient(create_app(world.store, metrics=True)) as client:
        yield client


def scrape(client) -> dict[str, float]:
    """Every sample, as `name{label="value",…}` → value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def test_requests_are_counted_by_outcome_and_integration(client, keys, world):
    scoped = world.owner.create_key("github", "scoped", scopes=["repo"]).private_key.reveal()
    asked = [
        ("valid", "/v1/verify"), ("valid", "/v1/verify"), ("revoked", "/v1/verify"),
        ("unknown", "/v1/verify"), ("malformed", "/v1/verify"), (None, "/v1/verify"),
    ]  # fmt: skip
    for case, path in asked:
        headers = {"Authorization": f"Bearer {keys[case]}"} if case else {}
        client.get(path, headers=headers)
    client.get("/v1/verify?scope=read:org", headers={"Authorization": f"Bearer {scoped}"})
    client.get("/v1/verify", headers={"X-Note": keys["valid"]})  # a key outside Authorization
    client.get("/healthz")  # not counted: no key check
    samples = scrape(client)
    counted = {
        name: value for name, value in samples.items() if name.startswith("keydesk_requests_total")
    }
    assert counted == {
        'keydesk_requests_total{integration="github",outcome="accepted"}': 2.0,
        'keydesk_requests_total{integration="",outcome="revoked"}': 1.0,
        'keydesk_requests_total{integration="",outcome="invalid"}': 1.0,
        'keydesk_requests_total{integration="",outcome="malformed"}': 1.0,
        'keydesk_requests_total{integration="",outcome="missing"}': 1.0,
        'keydesk_requests_total{integration="",outcome="insufficient_scope"}': 1.0,
        'keydesk_requests_total{integration="",outcome="invalid_request"}': 1.0,
    }
    assert samples["keydesk_verify_seconds_count{}"] == 8.0
    # The invalid key's answer waited for its 0.25 s floor; the rest did not.
    assert samples['keydesk_verify_seconds_bucket{le="0.25"}'] == 7.0
    assert samples["keydesk_store_read_errors_total{}"] == 0.0
    assert "process_resident_memory_bytes{}" in samples
    # Read from the verifier at scrape time: the three right secrets it checked
    # (valid, revoked, scoped), the refusals it remembers, the usage counts
    # waiting for their 15 s write.
    assert samples['keydesk_cache_entries{cache="verified"}'] == 3.0
    assert samples['keydesk_cache_entries{cache="failed"}'] >= 1.0
    assert samples['keydesk_queue_items{queue="usage_counts"}'] >= 1.0
    assert samples["keydesk_store_write_errors_total{}"] == 0.0


def test_refused_bookkeeping_writes_are_store_errors(world, keys):
    def refused(*_args: object) -> None:
        raise OSError("disk full")

    verifier = Verifier(world.store.engine, write_batch=refused)
    with TestClient(create_app(world.store, verifier=verifier, metrics=True)) as client:
        client.get("/v1/verify", headers={"Authorization": f"Bearer {keys['valid']}"})
        verifier.flush()  # the batch is tried, and refused
        assert scrape(client)["keydesk_store_write_errors_total{}"] == 1.0


def test_each_answer_the_store_could_not_give_is_one_read_error(client, keys, store_url):
    valid = {"Authorization": f"Bearer {keys['valid']}"}
    assert client.get("/v1/verify", headers=valid).status_code == 200
    store = Path(sa.make_url(store_url).database or "")
    for file in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        file.unlink(missing_ok=True)  # the store deleted under the running server
    for failed in (1.0, 2.0, 3.0):
        assert client.get("/v1/verify", headers=valid).status_code == 503
        samples = scrape(client)
        assert samples["keydesk_store_read_errors_total{}"] == failed
        assert samples['keydesk_requests_total{integration="",outcome="unavailable"}'] == failed
    assert samples['keydesk_requests_total{integration="github",outcome="accepted"}'] == 1.0


def test_the_bookkeeping_queue_is_what_waits_for_the_writer(world):
    """Last-used times queue for the one writer thread: while it is stuck in
    a write, each newly used key's waits, and the gauge counts them."""
    writing, release = threading.Event(), threading.Event()

    def stuck(*_args: object) -> None:
        writing.set()
        assert release.wait(30), "the test never released the write"

    verifier = Verifier(world.store.engine, write_batch=stuck)
    keys = [world.owner.create_key("github", f"k{n}").private_key.reveal() for n in range(4)]
    with TestClient(create_app(world.store, verifier=verifier, metrics=True)) as client:
        try:
            assert scrape(client)['keydesk_queue_items{queue="bookkeeping"}'] == 0.0
            client.get("/v1/verify", headers={"Authorization": f"Bearer {keys[0]}"})
            assert writing.wait(30), "the writer never took the first last-used time"
            for key in keys[1:]:
                client.get("/v1/verify", headers={"Authorization": f"Bearer {key}"})
            assert scrape(client)['keydesk_queue_items{queue="bookkeeping"}'] == 3.0
        finally:
            release.set()
        verifier.flush()
        assert scrape(client)['keydesk_queue_items{queue="bookkeeping"}'] == 0.0


def test_no_key_public_or_private_ever_appears(client, keys):
    for case in ("valid", "revoked", "unknown", "wrong_secret", "bad_checksum"):
        client.get("/v1/verify", headers={"Authorization": f"Bearer {keys[case]}"})
    text = client.get("/metrics").text
    assert "kdsk_" not in text and "kdpk_" not in text
    for key in keys.values():
        if len(key) > 20:
            assert key[5:21] not in text and key[22:40] not in text
    # Public reasons only: whether an id exists is not for /metrics to tell.
    assert 'outcome="invalid"' in text and "unknown" not in text and "wrong_secret" not in text


def test_metrics_only_when_asked(world):
    with TestClient(create_app(world.store)) as client:
        assert client.get("/metrics").status_code == 401  # a path like any other


def test_limits_refusals_are_outcomes_too(client, world):
    limited = world.owner.create_key("github", "limited", rate="1/min").private_key.reveal()
    fenced = world.owner.create_key("github", "fenced", allow_from=["10.0.0.0/8"])
    for key in (limited, limited, fenced.private_key.reveal()):
        client.get("/v1/verify", headers={"Authorization": f"Bearer {key}"})
    samples = scrape(client)
    assert samples['keydesk_requests_total{integration="",outcome="rate_limited"}'] == 1.0
    assert samples['keydesk_requests_total{integration="",outcome="forbidden_network"}'] == 1.0
