"""Pictures of every screen, from demo data: the same walks the snapshot tests take.

python -m tests.tui.screenshots [OUT_DIR]      (default: screenshots/)

Walks and helpers live with the tests, not in the product: the keys in the
pictures come from a seeded source passed explicitly to the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled

from keydesk.demo import DEMO_ACCOUNT, DEMO_EPOCH, seed_demo
from keydesk.service import KeyService
from keydesk.store.engine import Store, open_store
from keydesk.tui.app import KeydeskApp
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from tests.support.fakes import seeded_key_pairs

SIZES = {"80x24": (80, 24), "60x20": (60, 20), "wide": (140, 36)}


DEBOUNCE = 0.5  # a one-shot timer this short is a debounce (the key filter's 0.1 s), not a timeout


def _debounces(app: App[object]) -> list[asyncio.Task[None]]:
    """The short one-shot timers (set_timer) of the app and its screens
    still to fire: what typing left to happen once it pauses."""
    pumps = [app, *(n for s in app.screen_stack for n in s.walk_children(with_self=True))]
    return [
        timer._task
        for pump in pumps
        for timer in list(pump._timers)
        if timer._repeat == 0 and timer._interval <= DEBOUNCE
        if timer._task is not None and not timer._task.done()
    ]


async def notices_once(pilot: Pilot, done: Callable[[list[str]], bool]) -> list[str]:
    """The app's messages once `done` holds of them, looked at every 0.05 s
    for 5 s at most (a notice a worker's timer sends: no message to wait on)."""
    said: list[str] = []
    for _ in range(100):
        await pilot.pause(0.05)
        said = [notice.message for notice in pilot.app._notifications]
        if done(said):
            break
    return said


async def past_refusal(pilot: Pilot) -> None:
    """Past the moment after a form key's refusal in which keys are dropped
    (keydesk.tui.typeahead.REFUSAL_GRACE): the next key is typed on purpose."""
    from keydesk.tui.typeahead import REFUSAL_GRACE

    await pilot.pause(REFUSAL_GRACE)


async def settle(pilot: Pilot) -> None:
    """Let debounces fire, workers finish and the screen catch up (waiting
    on each, not on the clock: Pilot's idle polling is shortened in
    conftest.py); the text cursor stops blinking, so a picture does not
    depend on when it is taken."""
    for _ in range(3):
        await pilot.pause()
        if debounces := _debounces(pilot.app):
            await asyncio.wait(debounces, timeout=10 * DEBOUNCE)
            await pilot.pause()
        for worker in list(pilot.app.workers):
            with contextlib.suppress(WorkerCancelled):  # e.g. by its screen closing: done too
                await worker.wait()
    for screen in pilot.app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False
    await pilot.pause()
    paint(pilot.app)


def paint(app: App[object]) -> None:
    """Render what changed on the screen in front, as a frame would (the
    tests paint only settled screens: tests/tui/conftest.py)."""
    compositor = app.screen._compositor
    compositor.paint_now = True  # type: ignore[attr-defined]
    try:
        compositor.render_update(screen_stack=app._background_screens)
    finally:
        compositor.paint_now = False  # type: ignore[attr-defined]


_NAMED_KEYS = {"tab": "\t", "enter": "\r", "escape": "\x1b", "home": None}


def burst(app: App[object], text: str) -> None:
    """Post every key at once, before the app has handled the first, as a
    slow SSH link delivers them: `|` sets named keys (tab, enter, escape)
    apart from text; `/` is the terminal's `slash`."""
    from textual import events

    for part in text.split("|"):
        if part in _NAMED_KEYS:
            app.post_message(events.Key(part, _NAMED_KEYS[part]))
            continue
        for char in part:
            app.post_message(events.Key("slash" if char == "/" else char, char))


async def settle_long(pilot: Pilot) -> None:
    """settle() ten times over: for a burst's screens that open one after another."""
    for _ in range(10):
        await settle(pilot)


async def open_tab(pilot: Pilot, integration: str, tab: str) -> IntegrationDetailScreen:
    """From the list: open `integration`, then its tab by number ("3": Audit)."""
    await open_integration(pilot, integration)
    await pilot.press(tab)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, IntegrationDetailScreen)
    return screen


async def open_integration(pilot: Pilot, name: str) -> None:
    """From the list: filter to `name`, then open it."""
    await settle(pilot)
    await pilot.press("slash", *name, "enter", "enter")
    await settle(pilot)


async def open_create_form(pilot: Pilot, integration: str) -> CreateKeyScreen:
    """From the list: open `integration`, then its create form (g)."""
    await open_integration(pilot, integration)
    await pilot.press("g")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, CreateKeyScreen)
    return form


async def open_key_page(pilot: Pilot, integration: str, public_key: str) -> IntegrationDetailScreen:
    """From the list: open `integration`, highlight the key, open its page.
    Returns the integration's page, where Escape leads back."""
    await open_integration(pilot, integration)
    detail = pilot.app.screen
    assert isinstance(detail, IntegrationDetailScreen)
    row = next(n for n, k in enumerate(detail.listed_keys()) if k.public_key == public_key)
    detail.table.move_cursor(row=row)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    return detail


async def integrations(pilot: Pilot) -> None:
    await settle(pilot)


async def integration_overview(pilot: Pilot) -> None:
    await open_integration(pilot, "github")
    await pilot.press("1")
    await settle(pilot)


async def api_keys(pilot: Pilot) -> None:
    await open_integration(pilot, "github")


async def api_keys_gated(pilot: Pilot) -> None:
    await open_integration(pilot, "okta-sso")


async def create_key(pilot: Pilot) -> None:
    await open_integration(pilot, "github")
    await pilot.press("g")
    await settle(pilot)
    await pilot.press(*"payments-prod")
    await settle(pilot)


async def key_created(pilot: Pilot) -> None:
    await create_key(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def leave_confirm(pilot: Pilot) -> None:
    await key_created(pilot)
    await pilot.press("d")  # Done before a copy asks
    await settle(pilot)


async def revoke_confirm(pilot: Pilot) -> None:
    await open_integration(pilot, "github")
    await pilot.press("x")
    await settle(pilot)


def key_life(app: KeydeskApp) -> None:
    """Keys in the middle of their life, at the demo's "now": one expiring
    within 14 days, one rotated with a day of overlap (made through the
    service, then moved back to DEMO_NOW)."""
    import sqlalchemy as sa

    from keydesk.store.models import ApiKey, AuditEvent, KeyUsage
    from keydesk.views import stop_time, utcnow

    service = app.service
    shift = utcnow() - DEMO_NOW
    service.create_key("github", "partner-sandbox", expires_at=utcnow() + timedelta(days=10))
    (prod,) = [k for k in service.keys("github") if k.label == "api-gateway-prod" and k.is_active]
    service.rotate_key(prod.public_key, timedelta(hours=24), label="api-gateway-prod (2026-10-21)")
    with service.store.engine.begin() as connection:
        for id_, created, expires in connection.execute(
            sa.select(ApiKey.id, ApiKey.created_at, ApiKey.expires_at)  # type: ignore[call-overload]
        ).all():
            connection.execute(
                sa.update(ApiKey)
                .where(ApiKey.id == id_)  # type: ignore[arg-type]
                .values(
                    created_at=created - shift if created > DEMO_NOW else created,
                    expires_at=expires - shift if expires is not None else None,
                )
            )
        # The rotation's note says when the old key stops: at DEMO_NOW's time too.
        connection.execute(
            sa.update(AuditEvent)
            .where(AuditEvent.at > DEMO_NOW, AuditEvent.action == "key.rotate")  # type: ignore[arg-type]
            .values(label=f"old key stops {stop_time(DEMO_NOW + timedelta(hours=24))}")
        )
        connection.execute(
            sa.update(AuditEvent).where(AuditEvent.at > DEMO_NOW).values(at=DEMO_NOW)  # type: ignore[arg-type]
        )
        # A week of traffic for the rotated key's page (its sparklines), and
        # a few presentations with a wrong secret in the last hour.
        last = int(DEMO_NOW.timestamp()) // 3600
        connection.execute(
            sa.insert(KeyUsage),
            [
                {"api_key_id": prod.id, "hour": last - n, "outcome": "accepted",
                 "count": 40 + (n * 37) % 90}
                for n in range(7 * 24)
            ]
            + [{"api_key_id": prod.id, "hour": last, "outcome": "wrong_secret", "count": 37}],
        )  # fmt: skip


async def api_keys_life(pilot: Pilot) -> None:
    """The expiring marker and the rotating pair."""
    await settle(pilot)
    key_life(pilot.app)
    await open_integration(pilot, "github")


async def overlap_choice(pilot: Pilot) -> None:
    await open_integration(pilot, "github")
    await pilot.press("t")
    await settle(pilot)


async def key_page(pilot: Pilot) -> None:
    await settle(pilot)
    key_life(pilot.app)
    await open_integration(pilot, "github")
    await pilot.press("down", "down", "down", "enter")  # the rotated key
    await settle(pilot)


def key_limits(app: KeydeskApp) -> None:
    """key_life's rotated key with a rate, a quota, networks, a day of
    sources (one network seen the day before, two new) and part of its
    quota used; its event moved back to DEMO_NOW."""
    import sqlalchemy as sa

    from keydesk.limits import Limit
    from keydesk.store.models import AuditEvent, KeySource, KeyWindow

    service = app.service
    (old,) = [k for k in service.keys("github") if k.label == "api-gateway-prod" and k.replaced_by]
    service.edit_key_limits(
        old.public_key, rate="600/min", quota="1000000/month",
        allow_from=["10.0.0.0/8", "2001:db8::/32"],
    )  # fmt: skip
    last = int(DEMO_NOW.timestamp()) // 3600
    used = [("10.1.4.20", 1, 812), ("10.9.0.7", 2, 640), ("2001:db8:7::15", 3, 97),
            ("10.1.4.21", 30, 415)]  # fmt: skip
    with service.store.engine.begin() as connection:
        connection.execute(
            sa.update(AuditEvent).where(AuditEvent.at > DEMO_NOW).values(at=DEMO_NOW)  # type: ignore[arg-type]
        )
        connection.execute(
            sa.insert(KeySource),
            [{"api_key_id": old.id, "hour": last - ago, "source": source, "count": count}
             for source, ago, count in used],
        )  # fmt: skip
        starts, _ = Limit(1_000_000, "month").window(time.time())  # what the page reads
        connection.execute(
            sa.insert(KeyWindow),
            [{"api_key_id": old.id, "kind": "quota", "starts": starts, "verifier": "demo",
              "count": 18_345}],
        )  # fmt: skip


async def key_page_limits(pilot: Pilot) -> None:
    await settle(pilot)
    key_life(pilot.app)
    key_limits(pilot.app)
    await open_integration(pilot, "github")
    await pilot.press("down", "down", "down", "enter")  # the rotated key
    await settle(pilot)


async def key_page_orphaned(pilot: Pilot) -> None:
    """The rotated key of key_life, its replacement since found leaked: its
    page says the replacement is gone and offers K to keep it."""
    await settle(pilot)
    key_life(pilot.app)
    service = pilot.app.service
    (old,) = [k for k in service.keys("github") if k.label == "api-gateway-prod" and k.replaced_by]
    assert old.replaced_by is not None
    service.revoke_key(old.replaced_by, leaked_at="ci.log")  # not on this page: no date in view
    await open_integration(pilot, "github")
    detail = pilot.app.screen
    rows = [k.public_key for k in detail.listed_keys()]  # type: ignore[attr-defined]
    detail.table.move_cursor(row=rows.index(old.public_key))  # type: ignore[attr-defined]
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def role_choice(pilot: Pilot) -> None:
    """Members → bob → e: the role dialog with its own footer."""
    await members(pilot)
    await pilot.press("down", "e")
    await settle(pilot)


async def key_policy(pilot: Pilot) -> None:
    await members(pilot)
    await pilot.press("p")
    await settle(pilot)


async def add_integration(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)


async def edit_integration(pilot: Pilot) -> None:
    await open_integration(pilot, "okta-sso")
    await pilot.press("e")
    await settle(pilot)


async def settings_confirm(pilot: Pilot) -> None:
    """A configured integration's client id changed, then ctrl+s: asked first."""
    await open_integration(pilot, "github")
    await pilot.press("e")
    await settle(pilot)
    await pilot.press(*"-new", "ctrl+s")
    await settle(pilot)


async def configure_missing(pilot: Pilot) -> None:
    await open_integration(pilot, "okta-sso")
    await pilot.press("c")
    await settle(pilot)


async def help_keys(pilot: Pilot) -> None:
    await open_integration(pilot, "github")
    await pilot.press("f1")
    await settle(pilot)


async def switch_workspace(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("w")
    await settle(pilot)


async def members(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)


async def integration_audit(pilot: Pilot) -> None:
    await open_integration(pilot, "github")
    await audit_tab(pilot)


async def audit_tab(pilot: Pilot) -> None:
    """From an integration's page: its Audit tab, once sized for its rows."""
    from keydesk.tui.widgets import AuditLog

    await pilot.press("3")
    await settle(pilot)
    log = pilot.app.screen.query_one(AuditLog)
    for _ in range(100):  # until its columns are sized for the rows it shows
        if log.settled:
            break
        await pilot.pause()


UNKNOWN_SEED = 99  # keys no store holds


def plant_leaks(root: Path) -> dict[str, str]:
    """A folder of leaked demo keys under `root`: a live one, a revoked one
    and one no store holds. Returns status → private key (tests only)."""
    pairs = seeded_key_pairs(DEMO_SEED)
    live, revoked = pairs().private_key.reveal(), pairs().private_key.reveal()  # demo order
    unknown = seeded_key_pairs(UNKNOWN_SEED)().private_key.reveal()
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "app.env").write_text(f"DEBUG=0\nKEYDESK_API_KEY={live}\n")
    (root / "ci.log").write_text(f"step 1\nstep 2\ncurl -H 'Authorization: Bearer {revoked}'\n")
    (root / "notes.txt").write_text(f"old key: {unknown}\n")
    return {"active": live, "revoked": revoked, "unknown": unknown}


_WALK_FOLDERS: list[tempfile.TemporaryDirectory[str]] = []  # removed at exit


async def scan_results(pilot: Pilot) -> None:
    """Scan a relative folder (`leaks`), so the picture names no temp path."""
    from keydesk.tui.screens.scan import ScanScreen

    folder = tempfile.TemporaryDirectory()
    _WALK_FOLDERS.append(folder)
    plant_leaks(Path(folder.name) / "leaks")
    await settle(pilot)
    await pilot.press("s")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ScanScreen)
    before = os.getcwd()
    os.chdir(folder.name)
    try:
        screen.query_one("#scan-path", Input).value = "leaks"
        await pilot.press("enter")
        await wait_for_scan(pilot, screen)
    finally:
        os.chdir(before)
    await settle(pilot)


async def wait_for_scan(pilot: Pilot, screen: object) -> None:
    from keydesk.tui.screens.scan import ScanScreen

    assert isinstance(screen, ScanScreen)
    for _ in range(500):
        await settle(pilot)
        if screen.state and not screen.scanning:
            return
    raise AssertionError("the scan did not finish")


async def first_run(pilot: Pilot) -> None:
    await settle(pilot)  # an account with no workspace lands on the welcome form


NEWCOMER = "newcomer"


async def opening(pilot: Pilot) -> None:
    await settle(pilot)  # the first frame, before the store is open


SCREENS: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "opening": opening,
    "first-run": first_run,
    "integrations": integrations,
    "add-integration": add_integration,
    "edit-integration": edit_integration,
    "settings-confirm": settings_confirm,
    "switch-workspace": switch_workspace,
    "integration-overview": integration_overview,
    "api-keys": api_keys,
    "api-keys-gated": api_keys_gated,
    "configure-missing": configure_missing,
    "create-key": create_key,
    "key-created": key_created,
    "leave-confirm": leave_confirm,
    "revoke-confirm": revoke_confirm,
    "api-keys-life": api_keys_life,
    "overlap-choice": overlap_choice,
    "key-page": key_page,
    "key-page-orphaned": key_page_orphaned,
    "key-page-limits": key_page_limits,
    "members": members,
    "key-policy": key_policy,
    "role-choice": role_choice,
    "integration-audit": integration_audit,
    "scan-results": scan_results,
    "help": help_keys,
}


DEMO_SEED = 7  # the demo store's keys
# "Now" in the pictures: the demo's keys were used days before, not a
# number of days that grows with the calendar.
DEMO_NOW = DEMO_EPOCH + timedelta(days=20)


def demo_clock() -> datetime:
    return DEMO_NOW


WALK_SEED = 11  # keys created during a walk


def demo_store(folder: Path) -> Store:
    store = open_store(f"sqlite:///{folder / 'demo.db'}", create=True)
    seed_demo(store, key_pairs=seeded_key_pairs(DEMO_SEED))
    return store


def demo_app(store: Store, screen: str = "integrations", account: str | None = None) -> KeydeskApp:
    if screen == "opening":  # no store yet: what shows while it opens
        return KeydeskApp(where="~/.local/share/keydesk/keydesk.db")
    account = account or (NEWCOMER if screen == "first-run" else DEMO_ACCOUNT)
    return KeydeskApp(
        KeyService(store, account, key_pairs=seeded_key_pairs(WALK_SEED)), clock=demo_clock
    )


Walk = Callable[[Pilot], Awaitable[None]]


def shoot_sizes(app: KeydeskApp, walk: Walk, sizes: Iterable[str]) -> dict[str, str]:
    """SVG pictures of `app` after `walk`, at each of `sizes` (names in
    SIZES) in turn: started at the first, the terminal resized to each next.
    Each is taken as pytest-textual-snapshot's snap_compare takes one (a
    headless run, the same pauses), so the stored snapshots compare alike."""
    return shoot_steps(app, [(walk, sizes)])[0]


def shoot_steps(app: KeydeskApp, steps: list[tuple[Walk, Iterable[str]]]) -> list[dict[str, str]]:
    """shoot_sizes for each step of one walk in turn: the first walk, then
    each next step taken from where the last left off (the terminal resized
    back to the step's first size before it), pictured at its sizes."""
    orders = [list(sizes) for _walk, sizes in steps]
    shots: list[dict[str, str]] = []

    async def auto_pilot(pilot: Pilot[None]) -> None:
        for (walk, _sizes), order in zip(steps, orders, strict=True):
            shots.append({})
            for size in order:
                if shots[-1]:
                    await pilot.resize_terminal(*SIZES[size])
                    await settle(pilot)
                else:
                    if len(shots) > 1 and pilot.app.size != SIZES[size]:
                        await pilot.resize_terminal(*SIZES[size])
                        await settle(pilot)
                    await walk(pilot)
                await pilot.pause()
                await pilot.wait_for_scheduled_animations()
                await pilot.pause()
                await pilot.pause()
                await pilot.wait_for_scheduled_animations()
                # The app refuses to save a picture of a private key; the demo's
                # keys are seeded stand-ins, taken here directly.
                shots[-1][size] = pilot.app.export_screenshot(title=pilot.app.title, simplify=True)
        pilot.app.exit()

    app.run(headless=True, auto_pilot=auto_pilot, size=SIZES[orders[0][0]])
    return shots


async def _save_all(out: Path) -> None:
    for name, walk in SCREENS.items():
        for size_name, size in SIZES.items():
            with tempfile.TemporaryDirectory() as folder:
                store = demo_store(Path(folder))
                app = demo_app(store, name)
                async with app.run_test(size=size) as pilot:
                    await walk(pilot)
                    # The app refuses to save a picture of a private key; the
                    # demo's keys are seeded stand-ins, written here directly.
                    (out / f"{name}-{size_name}.svg").write_text(app.export_screenshot())
                store.dispose()
            print(out / f"{name}-{size_name}.svg")


def main() -> None:
    os.environ["TZ"] = "UTC"  # pictures that do not depend on where they were made
    time.tzset()
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(_save_all(out))


if __name__ == "__main__":
    main()
