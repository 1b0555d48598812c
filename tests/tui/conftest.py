"""Fixtures for driving the real app through Pilot, on a demo store."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FunctionType

import pyperclip
import pytest
import textual._callback
import textual._wait
import textual.constants
from textual._compositor import Compositor
from textual.css.model import RuleSet
from textual.css.stylesheet import CSSLocation, Stylesheet

from keydesk.store.engine import Store, open_store
from keydesk.tui.app import KeydeskApp
from tests.conftest import copy_store_file
from tests.tui.screenshots import demo_app
from tests.tui.screenshots import demo_store as make_demo_store


@pytest.fixture(autouse=True)
def stable_terminal(monkeypatch):
    """UTC times, and no desktop clipboard (as on a server over SSH)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()

    def no_clipboard(_text):
        raise pyperclip.PyperclipException("no clipboard on this server")

    monkeypatch.setattr(pyperclip, "copy", no_clipboard)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def no_animations(request, monkeypatch):
    """Pilot waits for every animation to end after each key (a tab's
    underline slides for 0.3 s): the walks assert where things end up, not
    how they move. The snapshots keep Textual's default (a loading
    indicator is drawn as words without animations)."""
    if request.module.__name__.endswith("test_snapshots"):
        return
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def quick_idle(monkeypatch):
    """Pilot waits for the process to idle after every key and pause,
    polling in 20 ms sleeps (textual._wait): ~40 ms a key, most of a walk's
    time. The tests synchronise on messages and workers (Pilot's message
    drain, settle()), not on wall-clock idleness, so poll every 2 ms; idle
    still means under 1 ms of CPU in a poll, as Textual has it."""
    monkeypatch.setattr(textual._wait, "SLEEP_GRANULARITY", 0.002)


@pytest.fixture(autouse=True)
def paint_when_settled(monkeypatch):
    """A headless run shows its frames to no one, yet Textual rendered every
    one (each key, each pause): ~25 % of a TUI test's CPU. So frames are
    painted when a walk settles (settle() paints what changed since the last
    time) and by every screenshot; a widget that fails to render still fails
    its test. Meanwhile what changed waits in the compositor's dirty regions."""
    render_update = Compositor.render_update

    def when_settled(self, full=False, screen_stack=None, simplify=False):
        if not (full or getattr(self, "paint_now", False)):
            return None
        return render_update(self, full=full, screen_stack=screen_stack, simplify=simplify)

    monkeypatch.setattr(Compositor, "render_update", when_settled)


@pytest.fixture(autouse=True, scope="session")
def fewer_collections() -> Iterator[None]:
    """Textual makes many short-lived objects a frame: at Python's default
    (a young collection every 700 allocations) the collector was ~14 % of a
    TUI test's CPU; every 10,000 cuts its time ~60 % for ~40 MB a worker."""
    before = gc.get_threshold()
    gc.set_threshold(10_000, *before[1:])
    yield
    gc.set_threshold(*before)


@pytest.fixture(autouse=True, scope="session")
def callbacks_counted_once() -> Iterator[None]:
    """Textual counts a callback's parameters with inspect.signature and
    keeps the count on the function, so a closure made per call is counted
    anew each time: Pilot makes one per widget whenever it waits (~4 % of a
    TUI test's CPU). A plain function's count depends only on its code."""
    count = textual._callback._count_parameters
    counts: dict[CodeType, int] = {}

    def by_code(func: Callable[..., object]) -> int:
        plain = type(func) is FunctionType and not hasattr(func, "__wrapped__")
        if not plain or hasattr(func, "__signature__"):
            return count(func)
        code = func.__code__
        if (counted := counts.get(code)) is None:
            counted = counts[code] = count(func)
        return counted

    textual._callback._count_parameters = by_code
    yield
    textual._callback._count_parameters = count


@pytest.fixture(autouse=True, scope="session")
def css_parsed_once() -> Iterator[None]:
    """Each app parses every widget's CSS again (~4 % of a TUI test's CPU);
    Textual caches the rules per stylesheet, here per worker. The rules
    depend on the CSS, where it was read from and the theme's variables,
    all in the key, as in Textual's own cache."""
    parse_rules = Stylesheet._parse_rules
    parsed: dict[tuple[object, ...], list[RuleSet]] = {}

    def shared(
        self: Stylesheet,
        css: str,
        read_from: CSSLocation,
        is_default_rules: bool = False,
        tie_breaker: int = 0,
        scope: str = "",
    ) -> list[RuleSet]:
        variables = tuple(sorted(self._variables.items()))
        key = (css, read_from, is_default_rules, tie_breaker, scope, variables)
        if (rules := parsed.get(key)) is None:
            rules = parsed[key] = parse_rules(
                self, css, read_from, is_default_rules, tie_breaker, scope
            )
        return rules

    Stylesheet._parse_rules = shared  # type: ignore[method-assign]
    yield
    Stylesheet._parse_rules = parse_rules  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo store's file, seeded once per worker (its keys' argon2
    hashes and the migrations take ~0.3 s; a copy ~5 ms). The demo's data
    is fixed (seeded keys, times from DEMO_EPOCH): every copy is the same."""
    store = make_demo_store(tmp_path_factory.mktemp("demo-template"))
    path = Path(store.file or "")
    store.dispose()
    return path


@pytest.fixture
def demo_store(demo_template, tmp_path) -> Iterator[Store]:
    """A demo store of this test's own, a copy of the worker's."""
    path = tmp_path / "demo.db"
    copy_store_file(demo_template, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture
def make_app(demo_store):
    def make(account: str = "alice") -> KeydeskApp:
        return demo_app(demo_store, account=account)

    return make


@pytest.fixture
def footer_rebuilds(monkeypatch) -> list[object]:
    """Each rebuild of a KeyFooter, as it happens (it should follow only a
    change in what the footer offers)."""
    from keydesk.tui.widgets import KeyFooter

    rebuilds: list[object] = []
    recompose = KeyFooter.recompose

    async def counted(self):
        rebuilds.append(self)
        await recompose(self)

    monkeypatch.setattr(KeyFooter, "recompose", counted)
    return rebuilds
