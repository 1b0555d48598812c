"""keydesk.tui.display: text made to fit the room it is shown in."""

from __future__ import annotations

from keydesk.tui.display import within_lines

ROLE = (
    "You are a viewer in acme; only owners and admins can generate or revoke keys. "
    "Ask an owner to change your role."
)


def test_a_message_that_fits_its_lines_is_left_whole():
    assert within_lines(ROLE, 57, 3) == ROLE  # 60 columns: the toast over rows 0-2
    assert within_lines("short", 10, 1) == "short"


def test_a_longer_one_keeps_its_first_words_and_says_it_was_cut():
    cut = within_lines(ROLE, 37, 3)
    assert cut.startswith("You are a viewer in acme; only owners") and cut.endswith("…")
    assert ROLE.startswith(cut[:-1].rstrip())
    assert within_lines(cut, 37, 3) == cut  # it now fits in the 3 lines
