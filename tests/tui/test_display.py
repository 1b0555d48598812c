"""How text is cut to fit a cell."""

from __future__ import annotations

from keydesk.tui.display import literal


def test_a_replacements_label_keeps_its_day_where_its_whole_date_does_not_fit():
    """A rotation's replacement is told apart by its date: at 60 columns (a
    label column of 15) it read "burst x…-12-07)", the date's year half
    gone; it keeps "(12-07)" there, the whole date where it fits."""
    label = "burst x label (2026-12-07)"
    cut = {width: literal(label, width=width, keep_end=True).plain for width in (15, 17, 20)}
    assert cut == {15: "burst x…(12-07)", 17: "burs…(2026-12-07)", 20: "burst x…(2026-12-07)"}
    second = literal("rot me now (2026-12-07 #2)", width=15, keep_end=True).plain
    assert second == "rot…(12-07 #2)"
    assert literal("api-gateway-prod-eu", width=12, keep_end=True).plain == "api-g…rod-eu"
