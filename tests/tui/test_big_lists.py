"""A big integration's API Keys tab keeps the event loop free: the garbage
collector's full passes are kept off the load, and the filter scans off the
UI thread."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
import sqlalchemy as sa

from keydesk.service import KeyService
from keydesk.store.models import ApiKey, utcnow
from keydesk.store.queries import Reads
from keydesk.tui import heap
from keydesk.tui.screens.integration_detail import FIRST_PAGE, IntegrationDetailScreen
from tests.tui.screenshots import settle


def add_keys(store, integration: str, count: int, label: str = "bulk {n}") -> int:
    integration_id = KeyService(store, "alice").integration(integration).id
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(ApiKey),
            [
                {"integration_id": integration_id, "public_key": f"kdpk_bulk{n:012d}",
                 "label": label.format(n=n), "secret_hash": "$argon2id$placeholder",
                 "created_at": utcnow(), "created_by": 1}
                for n in range(count)
            ],
        )  # fmt: skip
    return integration_id


@pytest.fixture
def clean_gc():
    """Each test starts and ends with nothing frozen and the usual thresholds."""
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def open_detail(app, pilot, name: str = "github") -> IntegrationDetailScreen:
    app.open_integration(app.service.integration(name))
    for _ in range(600):
        await pilot.pause(0.05)
        if isinstance(app.screen, IntegrationDetailScreen):
            break
    screen = app.screen
    assert isinstance(screen, IntegrationDetailScreen)
    return screen


async def test_a_big_load_defers_full_collections_then_is_frozen_until_the_screen_closes(
    make_app, demo_store, clean_gc, monkeypatch
):
    add_keys(demo_store, "github", 300)
    usual = gc.get_threshold()
    app = make_app()
    rest, reading = threading.Event(), threading.Event()
    read = Reads.keys
    seen_while_reading: list[tuple[int, int, int]] = []

    def held(self, integration, **options):  # the first page, then the rest when let go
        for n, key in enumerate(read(self, integration, **options)):
            if n == FIRST_PAGE + 1:
                reading.set()
                rest.wait(60)
                seen_while_reading.append(gc.get_threshold())
            yield key

    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(Reads, "keys", held)
        try:
            screen = await open_detail(app, pilot)
            for _ in range(600):
                if reading.is_set():
                    break
                await pilot.pause(0.05)
            # While the keys are read, no full collection walks them ...
            assert gc.get_threshold()[2] == heap.DEFERRED_THRESHOLD
        finally:
            rest.set()
        await settle(pilot)
        assert len(screen.listed_keys()) == 60
        assert seen_while_reading == [(usual[0], usual[1], heap.DEFERRED_THRESHOLD)]
        # ... once in, they are frozen (later full collections skip them) and
        # collections run as usual again.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == usual
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, IntegrationDetailScreen)
        # The screen dropped its keys: nothing stays frozen.
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == usual


async def test_a_small_integration_freezes_nothing(make_app, clean_gc):
    usual = gc.get_threshold()
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await open_detail(app, pilot)
        await settle(pilot)
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == usual


async def test_a_failed_load_restores_full_collections(make_app, clean_gc, monkeypatch):
    from keydesk.errors import StoreUnavailable

    usual = gc.get_threshold()
    app = make_app()

    def broken(self, integration, **options):
        raise StoreUnavailable("the store cannot be read")

    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(Reads, "keys", broken)
        await open_detail(app, pilot)
        await settle(pilot)
        assert gc.get_threshold() == usual
        assert gc.get_freeze_count() == 0


async def test_the_filter_scans_off_the_ui_thread_and_a_newer_keystroke_cancels_an_older_scan(
    make_app, demo_store, monkeypatch
):
    from textual.worker import get_current_worker

    from keydesk.tui.widgets import key_table

    add_keys(demo_store, "github", 300)
    scan = key_table.matching
    started, release = threading.Event(), threading.Event()
    scans: list[tuple[str, bool, bool]] = []  # needle, on the UI thread, cancelled

    def watched(loaded, needle):
        if not scans and not started.is_set():
            started.set()
            release.wait(30)  # the first scan is still running when the next key comes
        matched = scan(loaded, needle)
        on_ui = threading.current_thread() is threading.main_thread()
        scans.append((needle, on_ui, get_current_worker().is_cancelled))
        return matched

    monkeypatch.setattr(key_table, "matching", watched)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_detail(app, pilot)
        await settle(pilot)
        await pilot.press("slash")
        screen.key_filter.value = "bulk 1"  # as typed, in one change
        try:
            # The first scan has started (after the debounce and the keys' load):
            # waited for, not guessed (200 polls of 20 ms ran out on a busy CI).
            assert await asyncio.to_thread(started.wait, 30), "the first scan never started"
            screen.key_filter.value = "bulk 12"
            await pilot.pause()  # the change is handled: the older scan is told to stop
        finally:
            release.set()
        await settle(pilot)
        labels = [str(screen.table.get_cell_at((r, 0))) for r in range(screen.table.row_count)]
    assert scans[0] == ("bulk 1", False, True)  # off the UI thread, and stopped
    assert scans[-1] == ("bulk 12", False, False)
    # What shows is what the final text matches, never the older scan's rows.
    assert sorted(labels) == sorted(["bulk 12", *(f"bulk 12{n}" for n in range(10))])
