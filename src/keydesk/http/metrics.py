"""`keydesk serve --metrics`: Prometheus text on /metrics (prometheus-client,
the `keydesk[metrics]` extra).

  keydesk_requests_total{outcome, integration}
      every answer of the key check: `accepted`, or the refusal's reason as
      the client read it (`missing`, `invalid`, `revoked`, `insufficient_scope`,
      `too_many_attempts`, `unavailable`, `invalid_request`, …); integration
      only for a key that was accepted, else "".
  keydesk_verify_seconds            time from a request's arrival to the start
                                    of its answer (an `invalid` key's floor included)
  keydesk_store_read_errors_total   answers of 503: the store did not answer in time
  keydesk_store_write_errors_total  bookkeeping batches the store refused
  keydesk_cache_entries{cache}, keydesk_queue_items{queue}   the verifier's
                                    caches and bookkeeping queue, read at scrape time

Labels never carry a key, public or private: a public key per label would
grow without bound, and integrations are few. Refusal reasons are the public
ones (`invalid`, never `unknown` vs `wrong_secret`): /metrics needs no key,
and must not tell an attacker which ids exist. Keep it off the public side of
a proxy (the configs in deploy/ pass only the API's paths)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from keydesk.http.middleware import SCOPE_KEY, ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
REFUSAL_BODY_MAX = 4096  # bytes of a refusal read for its reason; keydesk's are ~200
# Seconds: a cached key answers in well under a millisecond, argon2 and the
# store in milliseconds, a refused unknown key no sooner than 0.25 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5)

# What the verifier reports at scrape time: "cache:<name>" and "queue:<name>"
# entries, and "store_write_errors" (a running total).
Sizes = Callable[[], Mapping[str, int]]


class Metrics:
    """The registry of one server (never prometheus-client's global one, so
    several apps in one process count apart) and the answer to /metrics."""

    def __init__(self, sizes: Sizes | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.process_collector import ProcessCollector

        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "keydesk_requests",
            "Requests answered by the key check: accepted, or the refusal's public reason",
            ["outcome", "integration"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "keydesk_verify_seconds",
            "Time from a request's arrival to the start of its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.read_errors = Counter(
            "keydesk_store_read_errors",
            "Answers of 503: the key store could not answer in time",
            registry=self.registry,
        )
        self.registry.register(_SizesCollector(sizes or dict))

    def observe(self, outcome: str, integration: str, seconds: float) -> None:
        self.requests.labels(outcome, integration).inc()
        self.latency.observe(seconds)
        if outcome == "unavailable":
            self.read_errors.inc()

    async def endpoint(self, _request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(
            generate_latest(self.registry),
            headers={"content-type": CONTENT_TYPE_LATEST, "cache-control": "no-store"},
        )


class _SizesCollector:
    """Gauges and a counter read from the verifier when Prometheus scrapes."""

    def __init__(self, sizes: Sizes) -> None:
        self._sizes = sizes

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        sizes = self._sizes()
        caches = GaugeMetricFamily(
            "keydesk_cache_entries", "Entries in the verifier's caches", labels=["cache"]
        )
        queues = GaugeMetricFamily(
            "keydesk_queue_items", "Items waiting in the verifier's queues", labels=["queue"]
        )
        for name, value in sorted(sizes.items()):
            kind, _, label = name.partition(":")
            if kind == "cache":
                caches.add_metric([label], value)
            elif kind == "queue":
                queues.add_metric([label], value)
        writes = CounterMetricFamily(
            "keydesk_store_write_errors",
            "Bookkeeping writes (last-used times, usage counts) the store refused",
        )
        writes.add_metric([], sizes.get("store_write_errors", 0))
        yield from (caches, queues, writes)


class Observed:
    """ASGI: counts each request the key check answered, by outcome, as it
    went out. The outcome is `accepted` for a key let through (its
    integration from the scope) that was not refused later, else the
    `reason` (or `error`) of the refusal's JSON body."""

    def __init__(self, app: ASGIApp, metrics: Metrics, exempt_paths: Iterable[str]) -> None:
        self.app, self.metrics = app, metrics
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        answer = _Answer()

        async def observing_send(message: Message) -> None:
            if answer.take(message):
                self._count(scope, answer, time.monotonic() - arrived)
            await send(message)

        await self.app(scope, receive, observing_send)

    def _count(self, scope: Scope, answer: _Answer, seconds: float) -> None:
        identity = scope.get(SCOPE_KEY)
        if answer.status < 400 and identity is not None:
            self.metrics.observe("accepted", identity.integration, seconds)
        else:
            self.metrics.observe(answer.reason(), "", seconds)


class _Answer:
    """What a response said: its status and, for a refusal, its body."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    def take(self, message: Message) -> bool:
        """Note `message`; True when the answer is complete enough to count."""
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            return self.status < 400  # a refusal is counted once its reason is read
        if message["type"] != "http.response.body" or self.status < 400:
            return False
        if len(self.body) < REFUSAL_BODY_MAX:
            self.body += bytes(message.get("body", b""))[:REFUSAL_BODY_MAX]
        return not message.get("more_body", False)

    def reason(self) -> str:
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict):
            for field in ("reason", "error"):
                if isinstance(data.get(field), str) and data[field].isidentifier():
                    return str(data[field])
        return str(self.status)  # 404, 405: a bounded set of statuses
