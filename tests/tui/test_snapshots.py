"""SVG snapshots of every screen at 80x24, 60x20 and a wide size, from demo
data (the same walks `python -m tests.tui.screenshots` takes).

A walk is most of a snapshot's cost (starting the app, typing to its
screen), so one walk shoots several sizes, resizing the terminal between
them (WALKS). Each size is still compared with its own file,
test_screen[SCREEN-SIZE].svg; a mismatch fails with the differing lines of
text and lands in pytest-textual-snapshot's HTML report, and
--snapshot-update rewrites the files as before."""

from __future__ import annotations

import difflib
import html
import inspect
import pickle
import re
from pathlib import Path

import pytest
from pytest_textual_snapshot import (
    PseudoApp,
    PseudoConsole,
    SVGImageExtension,
    node_to_report_path,
    normalize_svg,
)
from rich.cells import cell_len
from syrupy import SnapshotAssertion

from tests.tui.screenshots import (
    SCREENS,
    SIZES,
    Walk,
    audit_tab,
    demo_app,
    key_limits,
    settle,
    shoot_steps,
)

# The sizes each screen is shot at, one walk per tuple, resizing between
# them. A screen gets a walk per size where a resized picture differs from
# one started at that size: the opening screen moves on while it waits, a
# form at 60x20 keeps the scroll it had before, and the scan keeps the
# highlighted row of the width it was drawn at.
WALKS: dict[str, tuple[tuple[str, ...], ...]] = {
    screen: (("80x24", "60x20", "wide"),) for screen in SCREENS
} | {
    "opening": (("80x24",), ("60x20",), ("wide",)),
    "scan-results": (("80x24",), ("60x20",), ("wide",)),
    "add-integration": (("60x20", "80x24", "wide"),),
    "edit-integration": (("60x20", "80x24", "wide"),),
    "create-key": (("80x24",), ("60x20", "wide")),
}
assert all(sorted(sum(walks, ())) == sorted(SIZES) for walks in WALKS.values())


def _closed(*keys: str) -> Walk:
    """Escape from a dialog, then `keys`."""

    async def step(pilot) -> None:
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return step


def _key(*keys: str) -> Walk:
    async def step(pilot) -> None:
        await pilot.press(*keys)
        await settle(pilot)

    return step


async def _audit(pilot) -> None:
    await pilot.press("escape")
    await settle(pilot)
    await audit_tab(pilot)


async def _limits(pilot) -> None:
    """From the rotated key's page (key_page): back to github's list, the
    limits set (key_limits), and the same key's page opened again."""
    await pilot.press("escape")
    await settle(pilot)
    key_limits(pilot.app)
    await pilot.press("enter")
    await settle(pilot)


# Screens whose walk goes on from another's (screenshots.py: key_created is
# create_key then Enter, ...): shot in the same run after that screen's
# first walk, each step from where the last left off, not walked again.
FOLLOW: dict[str, tuple[tuple[str, Walk], ...]] = {
    "create-key": (("key-created", _key("enter")), ("leave-confirm", _key("d"))),
    "api-keys": (
        ("revoke-confirm", _key("x")),
        ("overlap-choice", _closed("t")),
        ("help", _closed("f1")),
        ("integration-audit", _audit),
        ("integration-overview", _key("1")),
        ("settings-confirm", _key("e", *"-new", "ctrl+s")),
    ),
    "members": (("key-policy", _key("p")), ("role-choice", _closed("down", "e"))),
    "api-keys-gated": (
        ("configure-missing", _key("c")),
        ("edit-integration", _closed("e")),
    ),
    "api-keys-life": (
        ("key-page", _key("down", "down", "down", "enter")),  # the rotated key
        ("key-page-limits", _limits),
    ),
}
FOLLOWERS = {screen for steps in FOLLOW.values() for screen, _step in steps}
assert all(len(WALKS[screen]) == 1 for screen in FOLLOWERS)
STORED = Path(__file__).parent / "__snapshots__" / "test_snapshots"


class ScreenSizeSVG(SVGImageExtension):
    """One file per screen and size, named as the assertion names it."""

    @classmethod
    def get_snapshot_name(cls, *, test_location, index=0) -> str:  # type: ignore[no-untyped-def]
        return str(index)


_TEXT = re.compile(r'<text[^>]*\bx="([\d.]+)" y="([\d.]+)" textLength="([\d.]+)"[^>]*>(.*?)</text>')


def _rows(svg: str) -> list[str]:
    """The terminal's text, a line per row, as the picture shows it: each
    piece at its own cell (x). Joined end to end, a gap the SVG draws as
    background only was lost, and a table cell read one off its column."""
    rows: dict[float, dict[int, str]] = {}
    for x, y, length, markup in _TEXT.findall(svg):
        text = html.unescape(markup).replace("\xa0", " ")
        if not cell_len(text):
            continue
        width = float(length) / cell_len(text)  # a cell, in the SVG's units
        row, cell = rows.setdefault(float(y), {}), round(float(x) / width)
        for character in text:
            row[cell] = character
            cell += cell_len(character)
            for covered in range(1, cell_len(character)):
                row.pop(cell - covered, None)  # the wide character's second cell
    return [
        "".join(row.get(n, " ") for n in range(max(row) + 1)).rstrip() if row else ""
        for _, row in sorted(rows.items())
    ]


def _report(request, name: str, passed: bool, expected: str, actual: str) -> None:
    """For pytest-textual-snapshot's HTML report (snapshot_report.html), as
    its snap_compare writes it: one entry per size."""
    node = request.node
    path, line, _ = node.reportinfo()
    data = (
        passed, expected, actual, PseudoApp(PseudoConsole(False, None)),  # type: ignore[arg-type]
        path, line, name, inspect.getdoc(node.function) or "", "", bool(expected),
    )  # fmt: skip
    node_to_report_path(node).with_name(f"{node_to_report_path(node).name}_{name}").write_bytes(
        pickle.dumps(data)
    )


def _walks():
    for screen, walks in WALKS.items():
        if screen in FOLLOWERS:
            continue
        for n, sizes in enumerate(walks):
            name = screen if len(walks) == 1 else f"{screen}-{'+'.join(sizes)}"
            then = FOLLOW.get(screen, ()) if n == 0 else ()
            if then:
                name = "+".join([name, *(follower for follower, _step in then)])
            yield pytest.param(screen, sizes, then, id=name)


@pytest.mark.parametrize(("screen", "sizes", "then"), _walks())
def test_screen(snapshot: SnapshotAssertion, request, demo_store, screen, sizes, then):
    steps = [(SCREENS[screen], sizes), *((step, WALKS[name][0]) for name, step in then)]
    names = [screen, *(name for name, _step in then)]
    shots = shoot_steps(demo_app(demo_store, screen), steps)
    snapshot = snapshot.use_extension(ScreenSizeSVG)
    differ = []
    for shown, pictures in zip(names, shots, strict=True):
        for size, svg in pictures.items():
            name = f"test_screen[{shown}-{size}]"
            passed = snapshot(name=name) == svg
            file = STORED / f"{name}.svg"
            expected = normalize_svg(file.read_text()) if file.exists() else ""
            _report(request, name, passed, expected, svg)
            if not passed:
                lines = difflib.unified_diff(
                    _rows(expected), _rows(normalize_svg(svg)), "stored", "now", lineterm="", n=0
                )
                differ.append(f"{name}.svg differs (text rows; see snapshot_report.html):")
                differ.extend(lines)
    assert not differ, "\n".join(differ)


def test_text_rows_keep_each_cell_in_its_column():
    """A mismatch's text rows put each piece at its cell: joined end to end,
    the highlighted key's "active" read one cell off the statuses below it
    at 80x24 (#21 walk), where the picture has them in one column."""
    svg = (STORED / "test_screen[api-keys-life-80x24].svg").read_text()
    keys = [row for row in _rows(svg) if re.match(r"  \S.* kdpk_\w{16} ", row)]
    starts = {row.index("kdpk_") + len("kdpk_") + 16 + 2 for row in keys}
    assert len(keys) == 6 and len(starts) == 1, keys
    assert all(row[min(starts)] != " " for row in keys), keys


def test_too_small(snap_compare, demo_store):
    """Under 60x20: one clear line, not a broken layout."""
    assert snap_compare(
        demo_app(demo_store, "integrations"),
        terminal_size=(40, 15),
        run_before=SCREENS["integrations"],
    )
