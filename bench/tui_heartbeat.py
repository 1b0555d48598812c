"""Run a Textual app with an event-loop heartbeat, for bench/tui.py.

    python bench/tui_heartbeat.py OUT keydesk [keydesk's arguments…]
    python bench/tui_heartbeat.py OUT floor --db PATH

Before the app's loop runs (App.run → App.run_async), a `loop.call_later`
chain ticks every 10 ms and notes `time.monotonic()` at each tick (the same
clock as the driver's, in every process). At exit the ticks go to OUT as
text, one per line, then `max_gap <seconds>` and `vmhwm_kb <kB>`. A gap
between ticks beyond 10 ms is time the loop could not run anything: a stall.

`keydesk` runs the installed `keydesk` console script's entry point, so the
TUI starts exactly as a user starts it; nothing in src is changed.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
import time
from array import array
from pathlib import Path

PERIOD = 0.010


def install(out: Path) -> None:
    from textual.app import App

    ticks = array("d")
    original = App.run_async

    async def run_async(self, *args, **kwargs):
        loop = asyncio.get_running_loop()

        def tick() -> None:
            ticks.append(time.monotonic())
            loop.call_later(PERIOD, tick)

        tick()
        try:
            return await original(self, *args, **kwargs)
        finally:
            ticks.append(time.monotonic())
            write(out, ticks)

    App.run_async = run_async


def write(out: Path, ticks: array) -> None:
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    status = Path("/proc/self/status").read_text()
    hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
    lines = [f"{t:.6f}" for t in ticks]
    lines.append(f"max_gap {max(gaps, default=0):.6f}")
    lines.append(f"vmhwm_kb {hwm.group(1) if hwm else 0}")
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    out, target, *rest = sys.argv[1:]
    install(Path(out))
    if target == "floor":
        sys.path.insert(0, str(Path(__file__).parent))
        from tui_floor import main as floor_main

        floor_main(rest)
        return
    from importlib.metadata import entry_points

    (entry,) = entry_points(group="console_scripts", name="keydesk")
    sys.argv = ["keydesk", *rest]
    raise SystemExit(entry.load()())


if __name__ == "__main__":
    main()
