"""Interface responsiveness in a real terminal, against a floor in the same run.
Prints figures; not a test.

    python bench/tui.py                 # 3 interleaved rounds, ~2 minutes
    python bench/tui.py --quick         # 1 round, 20,000 keys
    python bench/tui.py --smoke         # 1 round, 300- and 200-key tabs: seconds (CI)
    python bench/tui.py --rounds 5 --size 100x30

Each app runs in tmux (its own server socket), driven through one tmux
control-mode client: keys go in with send-keys, and the screen is read with
capture-pane every ~10 ms (no process spawned per poll). Nothing waits a fixed
time where it can wait for text instead; timeouts are generous.

Measured for keydesk (the installed `keydesk` command) and for the floor
(bench/tui_floor.py: a bare Textual app reading the same rows with raw
sqlite3), alternately, round after round:
  * first frame (launch → anything drawn) and first screen (→ first
    integration row) at 80x24 on a small store;
  * the API Keys tab of an integration with 5,000 keys, and of one with
    100,000 keys: from the Enter that opens it to the first data rows, and
    to the screen settling (no change for 0.5 s);
  * the key filter: 5 characters typed at 5 per second; delay before each
    appears on screen, then time for the screen to settle;
  * longest event-loop stall while opening and while filtering, from a
    10 ms heartbeat installed before App.run (bench/tui_heartbeat.py);
  * peak RSS of the app process (VmHWM).
Reported: medians over the rounds, and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import Row, account_args, keydesk_command, median, peak_rss_mb, print_table, seed

HERE = Path(__file__).resolve().parent
HEARTBEAT = HERE / "tui_heartbeat.py"
BORDERS = " ▊▎▏▕▌▐│┃|"
LABEL_RE = re.compile(r"\bsvc-\d+\b")
FILTER_TEXT = "svc-4"  # the first four characters match every key
TYPE_INTERVAL = 0.2  # 5 characters a second
QUIET = 0.5  # "settled": no change on screen for this long


class Timeout(Exception):
    pass


# -- the terminal ------------------------------------------------------------------


def _quote(text: str) -> str:
    if re.fullmatch(r"[\w./:=@%+,-]+", text):
        return text
    assert "'" not in text, text
    return f"'{text}'"


class Terminal:
    """A tmux server of our own with one WIDTHxHEIGHT pane, and a control-mode
    client to talk to it."""

    def __init__(self, width: int, height: int) -> None:
        self.socket = f"kdbench-{os.getpid()}"
        self.target = "bench"
        base = ["tmux", "-L", self.socket, "-f", "/dev/null"]
        subprocess.run(
            [*base, "new-session", "-d", "-s", self.target, "-x", str(width), "-y", str(height), "cat"],
            check=True,
        )  # fmt: skip
        self.client = subprocess.Popen(
            [*base, "-C", "attach-session", "-t", self.target],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            encoding="utf-8", errors="replace",
        )  # fmt: skip
        self.blocks: queue.Queue[tuple[bool, list[str]]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._lock = threading.Lock()
        self._sequence = 0
        try:
            for attempt in range(50):  # "no current client" until the attach completes
                try:
                    self.command("refresh-client -f no-output")
                    break
                except RuntimeError:
                    if attempt == 49:
                        raise
                    time.sleep(0.05)
            for option in ("remain-on-exit on", "window-size manual", "status off"):
                self.command(f"set-option -g {option}")
            self.command(f"resize-window -t {self.target} -x {width} -y {height}")
        except BaseException:
            subprocess.run([*base, "kill-server"], capture_output=True)
            raise

    def _read(self) -> None:
        block: list[str] | None = None
        for line in self.client.stdout:
            line = line.rstrip("\n")
            if block is None:
                if line.startswith("%begin"):
                    block = []
                continue  # notifications
            if line.startswith(("%end", "%error")):
                self.blocks.put((line.startswith("%end"), block))
                block = None
            else:
                block.append(line)

    def command(self, line: str) -> list[str]:
        """Run one tmux command; its output lines. Each is followed by a
        numbered marker, so the answers can never be matched to the wrong
        command (the attach itself answers with a block of its own)."""
        with self._lock:
            self._sequence += 1
            mark = f"kdbench-mark-{self._sequence}"
            self.client.stdin.write(f"{line}\ndisplay-message -p {mark}\n")
            self.client.stdin.flush()
            result: list[str] = []
            error = None
            while True:
                ok, block = self.blocks.get(timeout=30)
                if block == [mark]:
                    break
                if block and block[0].startswith("kdbench-mark-"):
                    continue  # an earlier command's, left by a timeout
                if not ok:
                    error = " ".join(block)
                result = block
            if error is not None:
                raise RuntimeError(f"tmux: {line}: {error}")
            return result

    def screen(self, escapes: bool = False) -> list[str]:
        return self.command(f"capture-pane -p {'-e ' if escapes else ''}-t {self.target}")

    def keys(self, *keys: str) -> float:
        """Send keys (tmux names); returns the time just before sending."""
        sent = time.monotonic()
        self.command(f"send-keys -t {self.target} {' '.join(_quote(k) for k in keys)}")
        return sent

    def text(self, text: str) -> float:
        sent = time.monotonic()
        self.command(f"send-keys -t {self.target} -l {_quote(text)}")
        return sent

    def launch(self, argv: list[str], env: dict[str, str]) -> float:
        """Start `argv` in the pane (replacing whatever ran there)."""
        environment = " ".join(f"-e {_quote(f'{k}={v}')}" for k, v in env.items())
        line = "exec " + " ".join(_quote(a) for a in argv)
        started = time.monotonic()
        self.command(f"respawn-pane -k {environment} -t {self.target} {_quote(line)}")
        return started

    def value(self, fmt: str) -> str:
        return "".join(self.command(f"display-message -p -t {self.target} {_quote(fmt)}")).strip()

    def close(self) -> None:
        try:
            path = self.value("#{socket_path}")
        except Exception:
            path = None
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        self.client.wait(timeout=10)
        if path:
            Path(path).unlink(missing_ok=True)


# -- waiting on the screen -----------------------------------------------------------


def poll(term: Terminal, predicate, timeout: float, escapes: bool = False):
    """(time, screen) of the first capture satisfying `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        screen = term.screen(escapes)
        seen = time.monotonic()
        if predicate(screen):
            return seen, screen
        if seen > deadline:
            raise Timeout(f"gave up after {timeout:.0f} s; the screen:\n" + "\n".join(screen))
        time.sleep(max(0.0, 0.010 - (time.monotonic() - began)))


def settled(term: Terminal, timeout: float, quiet: float = QUIET, escapes: bool = False) -> float:
    """Time of the last change before the screen kept still for `quiet`."""
    last = term.screen(escapes)
    changed = time.monotonic()
    deadline = changed + timeout
    while time.monotonic() - changed < quiet:
        if time.monotonic() > deadline:
            raise Timeout("the screen never settled")
        time.sleep(0.010)
        now = term.screen(escapes)
        if now != last:
            last, changed = now, time.monotonic()
    return changed


def after_focus_change(term: Terminal, action, timeout: float = 10.0) -> None:
    """Do `action` (a key that moves focus) and wait for its visible effect:
    a change on screen, colours included, then stillness for 0.3 s (a
    blinking cursor blinks every 0.5 s). Textual moves focus on a later
    turn of the loop: keys sent before it would go to the old widget."""
    before = term.screen(escapes=True)
    action()
    try:
        poll(term, lambda screen: screen != before, timeout, escapes=True)
        settled(term, timeout, quiet=0.3, escapes=True)
    except Timeout:
        pass  # some focus changes draw nothing, or blink on: go on


def input_shows(screen: list[str], text: str) -> bool:
    """A line that is just `text` inside an Input (borders and padding aside)."""
    return any(line.strip(BORDERS) == text for line in screen)


def rows_shown(screen: list[str]) -> int:
    return sum(1 for line in screen if LABEL_RE.search(line))


# -- one app session ---------------------------------------------------------------


@dataclass
class Session:
    app: str  # "keydesk" or "floor"
    url: str
    folder: Path
    term: Terminal
    timeout: float
    heartbeat: bool = True
    figures: dict[str, float] = field(default_factory=dict)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)

    def argv(self) -> list[str]:
        """With the heartbeat wrapper, or as a user starts it: the `keydesk`
        command, or `python bench/tui_floor.py`."""
        path = self.url.removeprefix("sqlite:///")
        tail = ["--db", path, *account_args()] if self.app == "keydesk" else ["--db", path]
        if self.heartbeat:
            return [sys.executable, str(HEARTBEAT), str(self.beats), self.app, *tail]
        if self.app == "keydesk":
            return [*keydesk_command(), *tail]
        return [sys.executable, str(HERE / "tui_floor.py"), *tail]

    def start(self, first_row: str) -> None:
        self.beats = self.folder / f"beats-{self.app}-{time.monotonic_ns()}.txt"
        started = self.term.launch(self.argv(), {"PYTHONUNBUFFERED": "1"})
        # The first frame: anything drawn (keydesk draws before it opens the
        # store; its rows come after the store layer is imported).
        framed, _ = poll(self.term, lambda s: any(line.strip() for line in s), self.timeout)
        self.figures["first_frame"] = framed - started
        shown, _ = poll(
            self.term,
            lambda s: any(
                re.search(rf"(^|\s){re.escape(first_row)}(\s|$)", line) for line in s[1:]
            ),
            self.timeout,
        )
        self.figures["first_screen"] = shown - started
        settled(self.term, self.timeout, quiet=0.3)  # startup's last touches

    def open_integration(self, name: str, tag: str) -> None:
        term = self.term
        after_focus_change(term, lambda: term.keys("/"))
        term.text(name)
        poll(term, lambda s: input_shows(s, name), self.timeout)
        settled(term, self.timeout, quiet=0.2)
        after_focus_change(term, lambda: term.keys("Enter"))
        pressed = term.keys("Enter")
        shown, _ = poll(term, lambda s: rows_shown(s) >= 3, self.timeout)
        done = settled(term, self.timeout)
        self.figures[f"{tag}_rows"] = shown - pressed
        self.figures[f"{tag}_settled"] = done - pressed
        self.windows[f"{tag}_open"] = (pressed, max(done, shown))

    def type_filter(self, text: str = FILTER_TEXT) -> None:
        term = self.term
        after_focus_change(term, lambda: term.keys("/"))
        sent: list[float] = []
        seen: list[float | None] = [None] * len(text)
        start = time.monotonic()
        deadline = start + len(text) * TYPE_INTERVAL + self.timeout
        while any(s is None for s in seen):
            now = time.monotonic()
            if now > deadline:
                raise Timeout(f"typed {text!r}, saw only {sum(s is not None for s in seen)} chars")
            while len(sent) < len(text) and now >= start + len(sent) * TYPE_INTERVAL:
                sent.append(term.text(text[len(sent)]))
            screen = term.screen()
            at = time.monotonic()
            for n in range(len(sent), 0, -1):
                if input_shows(screen, text[:n]):
                    for i in range(n):
                        if seen[i] is None:
                            seen[i] = at
                    break
            time.sleep(0.005)
        done = settled(term, self.timeout)
        echoes = [(s - t) * 1000 for s, t in zip(seen, sent, strict=True)]
        self.figures["echo_median"] = median(echoes)
        self.figures["echo_max"] = max(echoes)
        self.figures["filter_settled"] = done - sent[-1]
        self.windows["filter"] = (sent[0], max(done, seen[-1]))

    def finish(self) -> None:
        pid = int(self.term.value("#{pane_pid}"))
        self.figures["rss"] = peak_rss_mb(pid) or float("nan")
        self.term.keys("C-q")
        deadline = time.monotonic() + 15
        while self.term.value("#{pane_dead}") != "1":
            if time.monotonic() > deadline:
                self.term.command(f"respawn-pane -k -t {self.term.target} cat")
                break
            time.sleep(0.02)
        if not self.heartbeat:
            return
        deadline = time.monotonic() + 5
        while not self.beats.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        ticks = [float(x) for x in self.beats.read_text().split("\n") if x and x[0].isdigit()]
        for name, (start, end) in self.windows.items():
            self.figures[f"{name}_stall"] = stall(ticks, start, end)


def stall(ticks: list[float], start: float, end: float) -> float:
    """Longest heartbeat gap overlapping [start, end], beyond the 10 ms period, in ms."""
    worst = 0.0
    for a, b in itertools.pairwise(ticks):
        if b >= start and a <= end:
            worst = max(worst, b - a)
    return max(0.0, worst - 0.010) * 1000


# -- the stores ------------------------------------------------------------------


def make_stores(folder: Path, big_keys: int, mid_keys: int = 5000) -> tuple[str, str]:
    small = f"sqlite:///{folder / 'small.db'}"
    seed(small, {"github": 3, "google-workspace": 2, "stripe-connect": 1}, workspace="acme")
    big = f"sqlite:///{folder / 'big.db'}"
    seed(big, {"keys-100k": big_keys, "keys-5k": mid_keys, "small": 3}, workspace="bench")
    return small, big


def one_round(app: str, stores: tuple[str, str], folder: Path, term: Terminal, timeout: float):
    small, big = stores
    figures: dict[str, float] = {}

    session = Session(app, small, folder, term, timeout, heartbeat=False)
    session.start("github")
    session.finish()
    figures["first_frame"] = session.figures["first_frame"]
    figures["first_screen"] = session.figures["first_screen"]

    session = Session(app, big, folder, term, timeout)
    session.start("keys-100k")
    session.open_integration("keys-5k", "k5")
    session.finish()
    figures.update({k: v for k, v in session.figures.items() if k.startswith("k5")})
    figures["first_screen_big"] = session.figures["first_screen"]

    session = Session(app, big, folder, term, timeout)
    session.start("keys-100k")
    session.open_integration("keys-100k", "k100")
    session.type_filter()
    session.finish()
    figures.update(
        {k: v for k, v in session.figures.items() if k not in ("first_screen", "first_frame")}
    )
    return figures


MEASURES = [
    # key, label, unit, scale
    ("first_frame", "first frame, small store (launch → anything drawn)", "s", 1),
    ("first_screen", "first screen, small store (launch → first row)", "s", 1),
    ("first_screen_big", "first screen, big store (with the heartbeat)", "s", 1),
    ("k5_rows", "{mid}-key tab: Enter → first rows", "s", 1),
    ("k5_settled", "{mid}-key tab: Enter → screen settled", "s", 1),
    ("k5_open_stall", "{mid}-key tab: longest loop stall while opening", "ms", 1),
    ("k100_rows", "{big}-key tab: Enter → first rows", "s", 1),
    ("k100_settled", "{big}-key tab: Enter → screen settled", "s", 1),
    ("k100_open_stall", "{big}-key tab: longest loop stall while opening", "ms", 1),
    ("echo_median", "key filter, 5 chars/s: echo delay, median", "ms", 1),
    ("echo_max", "key filter, 5 chars/s: echo delay, worst", "ms", 1),
    ("filter_settled", "key filter: last char → screen settled", "s", 1),
    ("filter_stall", "key filter: longest loop stall while filtering", "ms", 1),
    ("rss", "peak RSS (VmHWM) after {big}-key tab + filter", "MB", 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--keys", type=int, default=None, help="keys in the big integration (100,000)"
    )
    parser.add_argument("--size", default="80x24", help="terminal size (default 80x24)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for a screen")
    parser.add_argument("--quick", action="store_true", help="1 round, 20,000 keys")
    parser.add_argument("--keep", action="store_true", help="keep going after a failed session")
    parser.add_argument("--smoke", action="store_true", help="1 round, 300 and 200 keys (for CI)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick or args.smoke else 3)
    big_keys = args.keys or (300 if args.smoke else 20_000 if args.quick else 100_000)
    mid_keys = 200 if args.smoke else 5000
    if shutil.which("tmux") is None:
        raise SystemExit("bench/tui.py needs tmux (apt-get install tmux)")
    width, height = (int(n) for n in args.size.split("x"))

    with tempfile.TemporaryDirectory(prefix="keydesk-bench-tui-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        stores = make_stores(folder, big_keys, mid_keys)
        print(f"keydesk bench/tui.py — tmux {args.size}, {rounds} rounds (keydesk, floor, …), "
              f"stores seeded in {time.perf_counter() - started:.1f} s")  # fmt: skip
        term = Terminal(width, height)
        results: dict[str, list[dict[str, float]]] = {"keydesk": [], "floor": []}
        try:
            for number in range(rounds):
                for app in ("keydesk", "floor"):
                    try:
                        figures = one_round(app, stores, folder, term, args.timeout)
                    except Timeout as exc:
                        print(f"  round {number + 1}, {app}: {exc}")
                        if not args.keep:
                            raise SystemExit(1) from None
                        continue
                    results[app].append(figures)
                    print(f"  round {number + 1} {app:<8} " + "  ".join(
                        f"{k}={v:.3f}" for k, v in figures.items()))  # fmt: skip
        finally:
            term.close()

    rows = []
    label_big = f"{big_keys:,}"
    for key, label, unit, _ in MEASURES:
        k = [r[key] for r in results["keydesk"] if key in r]
        f = [r[key] for r in results["floor"] if key in r]
        paired = [a / b for a, b in zip(k, f, strict=False) if b]
        rows.append(
            Row(label.format(big=label_big, mid=f"{mid_keys:,}"), median(k), median(f), unit, False,
                paired=median(paired) if paired else None)
        )  # fmt: skip
    print_table(
        f"medians of {rounds} rounds; ratio = median of per-round keydesk/floor "
        "(stalls: beyond the 10 ms heartbeat)",
        rows,
    )


if __name__ == "__main__":
    main()
