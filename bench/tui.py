"""Interface responsiveness. Prints figures; not a test.

    python bench/tui.py

1. Time to first screen in a real terminal (tmux 100x30), store already made.
2. Opening the API Keys tab of an integration with 5,000 keys (headless):
   time until the table holds its MAX_ROWS rows (the rest are reached by the
   filter), and the longest the event loop went without a tick meanwhile
   (what a user would feel as a freeze).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from keydesk.demo import seed_demo
from keydesk.models import ApiKey, utcnow
from keydesk.service import KeyService
from keydesk.store import open_store
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.integration_detail import MAX_ROWS
from keydesk.tui.screenshots import open_integration, settle

KEYS = 5000


def make_store(folder: Path) -> str:
    url = f"sqlite:///{folder / 'bench.db'}"
    store = open_store(url, create=True)
    seed_demo(store)
    integration = KeyService(store, "alice").integration("github").id
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": integration, "public_key": f"kdpk_bench{n:011d}", "label": f"service-{n}",
                 "secret_hash": "$argon2id$placeholder", "created_at": utcnow(), "created_by": 1}
                for n in range(KEYS)
            ],
        )  # fmt: skip
    store.dispose()
    return url


def first_screen(url: str) -> float | None:
    if shutil.which("tmux") is None:
        return None
    command = f"{sys.executable} -m keydesk --db {url} --account alice"
    subprocess.run(["tmux", "kill-session", "-t", "kdbench"], capture_output=True)
    start = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", "kdbench", "-x", "100", "-y", "30", command], check=True
    )
    try:
        while time.perf_counter() - start < 20:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", "kdbench"], capture_output=True, text=True
            ).stdout
            if "google-workspace" in screen:
                return time.perf_counter() - start
            time.sleep(0.01)
        return None
    finally:
        subprocess.run(["tmux", "kill-session", "-t", "kdbench"], capture_output=True)


async def open_big_tab(url: str) -> tuple[float, float]:
    store = open_store(url)
    app = KeydeskApp(KeyService(store, "alice"))
    gaps: list[float] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        last = time.perf_counter()

        def tick() -> None:
            nonlocal last
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

        app.set_interval(0.005, tick)
        start = time.perf_counter()
        await open_integration(pilot, "github")
        table = app.screen.query_one("#keys")
        while table.row_count < MAX_ROWS:
            await pilot.pause(0.01)
        loaded = time.perf_counter() - start
    store.dispose()
    return loaded, max(gaps)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="keydesk-bench-") as folder:
        url = make_store(Path(folder))
        shown = first_screen(url)
        print("keydesk bench/tui.py")
        print(
            f"  first screen in tmux 100x30        {shown:.2f} s"
            if shown
            else "  first screen: tmux not found"
        )
        loaded, stall = asyncio.run(open_big_tab(url))
        print(f"  API Keys tab with {KEYS:,} keys: first {MAX_ROWS} rows shown in {loaded:.2f} s "
              f"(from the keypress), longest event-loop stall {stall * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
