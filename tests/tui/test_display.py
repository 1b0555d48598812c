"""keydesk.tui.display: words as the screens show them."""

from __future__ import annotations

from keydesk.tui.display import TOAST_GUTTER, toast_lines

REFUSAL = "This integration is a draft; configure it (client id and redirect URI) first."


def test_a_toast_breaks_its_words_into_lines_that_fit_the_screen():
    # At 80 columns Textual showed this refusal's first line only: "first." was lost.
    for screen in (60, 80, 120):
        lines = toast_lines(REFUSAL, screen).splitlines()
        assert all(len(line) <= screen - TOAST_GUTTER for line in lines), (screen, lines)
        assert " ".join(lines) == REFUSAL, screen
    assert toast_lines("one\ntwo", 80) == "one\ntwo"  # its own lines kept
    command = "keydesk member approve-ssh-key --workspace acme alice SHA256:" + "x" * 43
    assert " ".join(toast_lines(command, 60).splitlines()) == command  # a command whole
