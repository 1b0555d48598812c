"""The bench smokes (test_smoke.py) start as soon as they are collected,
all at once and once per run, and each test waits for its own.

A smoke is mostly waiting (on child processes, servers, screens): run one
after another, a test each, they held an xdist worker ~100 s. Started at
collection, they overlap the rest of the suite, and their tests run last,
when the benches are done. Under xdist every worker collects every test:
the first to get here (an exclusive file in a folder of the run's
temporary root) starts them, and any worker's test waits for the exit status
file its bench's shell wrapper writes. The starter reaps them at the end of
its session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
BENCH = HERE.parents[1] / "bench"
WAIT_SECONDS = 300  # a hung bench fails here rather than hanging CI
POLL_SECONDS = 0.1
# Output to a file (a pipe read late could stall a bench); the status last,
# by rename, so a reader never sees it half written.
WRAPPER = '"$@" >"$OUT" 2>&1; echo $? >"$STATUS.tmp" && mv "$STATUS.tmp" "$STATUS"'


@dataclass
class Runs:
    """The smoke runs of one test run, in `folder`: NAME.txt (output) and
    NAME.status (exit status, once done)."""

    folder: Path
    started_at: float = field(default_factory=time.monotonic)
    own: bool = False  # removed once reaped (no other process reads it)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_all(self, smokes: list[Any]) -> None:
        """Start every smoke, unless another worker of this run already did."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(self.folder / "started", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        env = {key: value for key, value in os.environ.items() if key != "KEYDESK_DATABASE_URL"}
        for smoke in smokes:
            argv = [sys.executable, str(BENCH / smoke.argv[0]), *smoke.argv[1:], "--smoke"]
            files = {"OUT": str(self.out(smoke)), "STATUS": str(self.status(smoke))}
            self.processes.append(
                subprocess.Popen(
                    ["sh", "-c", WRAPPER, "sh", *argv],
                    env=env | files,
                    cwd=BENCH.parent,
                    start_new_session=True,
                )
            )

    def out(self, smoke: Any) -> Path:
        return self.folder / f"{smoke.name}.txt"

    def status(self, smoke: Any) -> Path:
        return self.folder / f"{smoke.name}.status"

    def finish(self, smoke: Any) -> tuple[int, str]:
        """Its exit status and output, once it has exited."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.status(smoke).exists():
            if time.monotonic() > deadline:
                out = self.out(smoke).read_text() if self.out(smoke).exists() else ""
                pytest.fail(f"bench/{smoke.argv[0]} --smoke still running:\n{out[-3000:]}")
            time.sleep(POLL_SECONDS)
        return int(self.status(smoke).read_text()), self.out(smoke).read_text()

    def reap(self) -> None:
        """Wait for what this process started; kill what outlives WAIT_SECONDS."""
        for process in self.processes:
            left = self.started_at + WAIT_SECONDS - time.monotonic()
            try:
                process.wait(timeout=max(left, 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.own:
            shutil.rmtree(self.folder, ignore_errors=True)


RUNS = pytest.StashKey[Runs]()


def _runs(config: pytest.Config) -> Runs:
    """Under xdist, a folder in the run's temporary root (xdist gives each
    worker `ROOT/popen-gwN`; pytest prunes old roots); else a folder of our
    own, removed at the end."""
    if RUNS not in config.stash:
        if hasattr(config, "workerinput"):
            config.stash[RUNS] = Runs(Path(config.option.basetemp).parent / "bench-smoke")
        else:
            config.stash[RUNS] = Runs(
                Path(tempfile.mkdtemp(prefix="keydesk-bench-smoke-")), own=True
            )
    return config.stash[RUNS]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The smokes run last (a stable sort): by then their benches, started
    at collection, have run beside the rest of the suite."""
    items.sort(key=lambda item: item.path.parent == HERE)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    smokes = [
        smoke
        for item in session.items
        if isinstance(item, pytest.Function)
        and hasattr(item, "callspec")
        and (smoke := item.callspec.params.get("smoke")) is not None
        and item.module.missing(smoke) is None
    ]
    if smokes:
        _runs(session.config).start_all(smokes)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if RUNS in session.config.stash:
        session.config.stash[RUNS].reap()


@pytest.fixture(scope="session")
def runs(pytestconfig: pytest.Config) -> Runs:
    return _runs(pytestconfig)
