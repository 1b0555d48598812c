"""The time limits and sizes the README states, pinned to the constants that
make them: the tests of each behaviour pass shorter values to stay quick,
so without this a changed default (or a README left behind) passes them all."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

# (module, constant, its value, words of the README that state it)
DOCUMENTED = [
    ("keydesk.tui.app", "HANGUP_GRACE_SECONDS", 5.0,
     "after a hang-up or ctrl+q keydesk ends within 5 seconds"),
    ("keydesk.store.sqlite_file", "SQLITE_BUSY_TIMEOUT_MS", 5000, "gives up after 5 seconds"),
    ("keydesk.store.engine", "PG_CONNECT_TIMEOUT_SECONDS", 10,
     "connection is given 10 seconds"),
    ("keydesk.cli.completion", "DEADLINE_SECONDS", 1.0,
     "it gives up after one second whatever it waits on"),
    ("keydesk.tui.typeahead", "REFUSAL_GRACE", 0.3, "in the 0.3 s after it"),
    ("keydesk.http.server", "REVOKES_PER_MINUTE", 10, "limited to 10 reports a minute per client"),
    ("keydesk.http.server", "REVOKE_HASH_SLOTS", 2, "with argon2 (at most two at a time)"),
    ("keydesk.http.server", "SHUTDOWN_GRACE_SECONDS", 10, "requests in flight answered (10 s at most)"),
    ("keydesk.verify.refusals", "REFUSAL_LOG_LINES_PER_SECOND", 20, "at most 20 lines a second"),
    ("keydesk.verify.secret_checks", "VERIFIED_CACHE_SIZE", 100_000,
     "for the next 100,000 distinct keys"),
    ("keydesk.verify.secret_checks", "FAILED_TTL_SECONDS", 60.0, "recent failures for a minute"),
    ("keydesk.verify.store_reads", "KEPT_ROWS", 150_000, "Up to 150,000 rows are kept"),
    ("keydesk.verify.bookkeeping", "USAGE_FLUSH_SECONDS", 15.0, "usage counts every 15 seconds"),
    ("keydesk.verify.verifier", "READ_TIMEOUT_SECONDS", 1.0, "a 1 s busy timeout on SQLite"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("module", "name", "value", "words"), DOCUMENTED, ids=[row[1] for row in DOCUMENTED]
)
def test_a_documented_limit_is_the_codes_and_the_readmes(module, name, value, words):
    assert getattr(importlib.import_module(module), name) == value
    readme = re.sub(r"\s+", " ", README.read_text(encoding="utf-8"))
    assert words in readme, f"README no longer says {words!r}"
