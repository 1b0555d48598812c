"""Read-models' words: counts and spans as a sentence says them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keydesk.views import counted, in_words


@pytest.mark.parametrize(
    ("count", "noun", "said"),
    [
        (0, "file", "0 files"),
        (1, "file", "1 file"),
        (2, "key", "2 keys"),
        (1204, "key", "1,204 keys"),
    ],
)
def test_counted(count, noun, said):
    assert counted(count, noun) == said


def test_in_words():
    assert in_words(timedelta(days=1, hours=3)) == "1 day"
    assert in_words(timedelta(hours=5)) == "5 hours"
    assert in_words(timedelta(seconds=30)) == "less than a minute"
    # Rounded: a 90-day key a moment after it was made, and a day and a half.
    assert in_words(timedelta(days=90) - timedelta(seconds=5)) == "90 days"
    assert in_words(timedelta(days=1, hours=12)) == "2 days"
    assert in_words(timedelta(hours=23, minutes=50)) == "24 hours"
