"""SVG snapshots of every screen at 80x24, 60x20 and a wide size, from demo
data (the same walks `python -m tests.tui.screenshots` takes)."""

from __future__ import annotations

import pytest

from tests.tui.screenshots import SCREENS, SIZES, demo_app


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, demo_store, screen, size):
    assert snap_compare(
        demo_app(demo_store, screen), terminal_size=SIZES[size], run_before=SCREENS[screen]
    )


def test_too_small(snap_compare, demo_store):
    """Under 60x20: one clear line, not a broken layout."""
    assert snap_compare(
        demo_app(demo_store, "integrations"),
        terminal_size=(40, 15),
        run_before=SCREENS["integrations"],
    )
