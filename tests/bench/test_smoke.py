"""Every bench in bench/ still runs: each with `--smoke` (the same code path
at tiny sizes), in a subprocess, must exit 0 and print its figure lines.
No time bound is asserted: figures are the benches' business, not a test's.

The benches start together as soon as they are collected, once per run
(most of their time is waiting on child processes and screens; see
conftest.py), and each test waits for its own.
PostgreSQL runs only when KEYDESK_TEST_POSTGRES_URL names a server; the
terminal bench only where tmux is installed. bench/tui_heartbeat.py and
bench/tui_floor.py are the children bench/tui.py starts, and
bench/benchlib.py the benches' library: they run within tui.py's smoke
(bench/scan_git.py within scan.py's).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.bench.conftest import Runs

POSTGRES = os.environ.get("KEYDESK_TEST_POSTGRES_URL")


@dataclass(frozen=True)
class Smoke:
    name: str
    argv: tuple[str, ...]
    lines: tuple[str, ...]  # patterns each of which some output line must match
    needs: str | None = None  # "postgres" or a tool on PATH


NUMBER = r"[\d,.]+"
SMOKES = [
    Smoke("hashing", ("hashing.py",),
          (rf"^  hash +{NUMBER} ms", rf"^  verify +{NUMBER} ms")),
    Smoke("completion", ("completion.py",),
          (rf"keydesk <TAB> \(commands, no store read\) +{NUMBER} ms +{NUMBER} ms +{NUMBER}×",
           rf"key revoke kdpk_<TAB> \(200-key store\) +{NUMBER} ms .*200 offered",
           rf"^  slowest: {NUMBER} ms")),
    Smoke("bulk-revoke", ("bulk_revoke.py",),
          (rf"^  revoke_keys \(one transaction\) +{NUMBER} s +{NUMBER} s +{NUMBER}×",
           rf"^  keydesk key revoke --tag … --yes +{NUMBER} s")),
    Smoke("notify", ("notify.py",),
          (rf"^  first run +{NUMBER} s +200 notices +200 sent +0 failed",
           rf"^  next run +{NUMBER} s +0 notices")),
    Smoke("keylist", ("keylist.py",),
          (rf"^  wall time +{NUMBER} s +{NUMBER} s +{NUMBER}×",
           rf"^  peak RSS .* {NUMBER} MB +{NUMBER} MB")),
    Smoke("scan", ("scan.py",),
          (rf"^  3 MB tree: wall time +{NUMBER} s +{NUMBER} s +{NUMBER}×",
           rf"^  --git, 50 commits: wall time +{NUMBER} s +{NUMBER} s +{NUMBER}×")),
    Smoke("startup", ("startup.py",),
          (rf"^  keydesk --help +{NUMBER} ms",
           rf"^  keydesk key list --json \(3-key store\) +{NUMBER} ms",
           r"importtime keydesk --help: top 10", rf"{NUMBER} ms cumulative .* keydesk\.cli$")),
    Smoke("identity", ("identity.py",),
          (rf"^  SQLite +audit: first page +{NUMBER} ms +deep page +{NUMBER} ms",)),
    Smoke("identity-postgres", ("identity.py", "--postgres", POSTGRES or ""),
          (rf"PostgreSQL +300 keys, service\.keys\(\) +owner \(no RLS\) +{NUMBER} ms",
           rf"PostgreSQL +audit as the admin's role: first page +{NUMBER} ms"), "postgres"),
    Smoke("store-copy", ("store_copy.py", "--postgres", POSTGRES or ""),
          (rf"^  copy 1,000 keys, 10,000 events +{NUMBER} s +{NUMBER} s +{NUMBER}×",
           rf"^  speed: {NUMBER}× PostgreSQL's own COPY"), "postgres"),
    Smoke("verify", ("verify.py",),
          (rf"^  warm verify, 1 thread \(40 distinct keys\) +{NUMBER} /s +{NUMBER} /s",
           rf"^  32 asyncio tasks, verify_async\(\): throughput +{NUMBER} /s",
           r"^over HTTP",
           rf"wrong secrets: first-seen valid key p50 \(\d+ keys\) vs no flood +{NUMBER} ms")),
    Smoke("serve", ("serve.py",),
          (rf"^  keydesk serve /v1/verify vs bare Starlette 200 +{NUMBER} req/s +{NUMBER} req/s +{NUMBER}×",
           rf"^  Starlette app \+ KeydeskAuth vs without +{NUMBER} req/s",
           rf"^  keydesk serve --workers 2 vs --workers 1 +{NUMBER} req/s"), "wrk"),
    Smoke("limits", ("limits.py",),
          (rf"^  unlimited key +{NUMBER} µs", rf"^  limited key +{NUMBER} µs +{NUMBER}×")),
    Smoke("limits-postgres", ("limits.py", "--db", POSTGRES or ""),
          (rf"^  limited key +{NUMBER} µs +{NUMBER}×",), "postgres"),
    Smoke("verify-cycle", ("verify.py", "--cycle", "40,200"),
          (rf"^  warm verify cycling 200 distinct keys \(floor: 40\) +{NUMBER} /s +{NUMBER} /s",)),
    Smoke("verify-postgres", ("verify.py", "--db", POSTGRES or "", "--no-http"),
          (rf"^  warm verify, 1 thread \(40 distinct keys\) +{NUMBER} /s +{NUMBER} /s",
           r"^in process — postgresql"), "postgres"),
    Smoke("audit-search", ("audit_search.py",),
          (rf"^  first page, no filter +{NUMBER} s +200 events",
           rf"^  search 'no such text' +{NUMBER} s +0 events")),
    Smoke("tui", ("tui.py",),
          (rf"first screen, small store \(launch → first row\) +{NUMBER} s +{NUMBER} s",
           rf"200-key tab: Enter → first rows +{NUMBER} s",
           rf"key filter, 5 chars/s: echo delay, median +{NUMBER} ms",
           rf"peak RSS \(VmHWM\) .* {NUMBER} MB"), "tmux"),
]  # fmt: skip


def missing(smoke: Smoke) -> str | None:
    """Why this smoke cannot run here, if it cannot."""
    if smoke.needs == "postgres":
        return None if POSTGRES else "PostgreSQL: set KEYDESK_TEST_POSTGRES_URL"
    if smoke.needs and shutil.which(smoke.needs) is None:
        return f"needs {smoke.needs}"
    return None


@pytest.mark.parametrize("smoke", SMOKES, ids=[s.name for s in SMOKES])
def test_bench_smoke_runs_and_prints_its_figures(smoke: Smoke, runs: Runs) -> None:
    reason = missing(smoke)
    if reason:
        pytest.skip(reason)
    status, out = runs.finish(smoke)
    assert status == 0, f"bench/{smoke.argv[0]} --smoke failed:\n{out[-3000:]}"
    lines = out.splitlines()
    for pattern in smoke.lines:
        assert any(re.search(pattern, line) for line in lines), (
            f"bench/{smoke.argv[0]} --smoke printed no line matching {pattern!r}:\n{out[-3000:]}"
        )
