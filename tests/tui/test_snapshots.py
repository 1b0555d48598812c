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
from syrupy import SnapshotAssertion

from tests.tui.screenshots import SCREENS, SIZES, demo_app, shoot_sizes

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
STORED = Path(__file__).parent / "__snapshots__" / "test_snapshots"


class ScreenSizeSVG(SVGImageExtension):
    """One file per screen and size, named as the assertion names it."""

    @classmethod
    def get_snapshot_name(cls, *, test_location, index=0) -> str:  # type: ignore[no-untyped-def]
        return str(index)


def _rows(svg: str) -> list[str]:
    """The terminal's text, a line per row, as the picture shows it."""
    rows: dict[float, str] = {}
    for y, text in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows[float(y)] = rows.get(float(y), "") + html.unescape(text).replace("\xa0", " ")
    return [rows[y] for y in sorted(rows)]


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
        for sizes in walks:
            name = screen if len(walks) == 1 else f"{screen}-{'+'.join(sizes)}"
            yield pytest.param(screen, sizes, id=name)


@pytest.mark.parametrize(("screen", "sizes"), _walks())
def test_screen(snapshot: SnapshotAssertion, request, demo_store, screen, sizes):
    shots = shoot_sizes(demo_app(demo_store, screen), SCREENS[screen], sizes)
    snapshot = snapshot.use_extension(ScreenSizeSVG)
    differ = []
    for size, svg in shots.items():
        name = f"test_screen[{screen}-{size}]"
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


def test_too_small(snap_compare, demo_store):
    """Under 60x20: one clear line, not a broken layout."""
    assert snap_compare(
        demo_app(demo_store, "integrations"),
        terminal_size=(40, 15),
        run_before=SCREENS["integrations"],
    )
