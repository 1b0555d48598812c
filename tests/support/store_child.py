"""What a spawned child does in tests that open one store from several
processes at once. A module of its own because a spawned child imports the
module of the function it runs: a test module would bring pytest, the
service and the PostgreSQL team helpers into every child (~1 s of CPU
each), where this brings only the store."""

from __future__ import annotations

from keydesk.store.engine import open_store


def open_and_close(url: str) -> str:
    store = open_store(url, create=True)
    store.dispose()
    return "ok"
