"""keydesk.scan.search.find: libc's memmem over the reading buffer answers
exactly as `bytes.find` does, at any bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keydesk.scan import search

NEEDLES = [b"kdsk_", b"asic", b"%", b"\\", b"kdsk_kdsk_"]


@settings(max_examples=200, deadline=None)
@given(
    head=st.binary(max_size=64),
    middle=st.lists(
        st.sampled_from([b"kdsk_", b"asi", b"c", b"kd", b"sk_", b"x" * 700]), max_size=12
    ),
    needle=st.sampled_from(NEEDLES),
    bounds=st.tuples(st.integers(0, 9000), st.integers(0, 9000)),
)
def test_find_answers_as_bytes_find(head, middle, needle, bounds):
    buf = bytearray(head + b"".join(middle) * 3 + b"y" * 4096)
    start, end = bounds
    assert search.find(buf, needle, start, end) == buf.find(needle, start, end)
    assert search.find(bytes(buf), needle, start, end) == buf.find(needle, start, end)


def test_a_needle_ending_at_the_last_byte_is_found_and_the_buffer_stays_resizable():
    buf = bytearray(b"z" * 10_000 + b"kdsk_")
    assert search.find(buf, b"kdsk_", 0, len(buf)) == 10_000
    assert search.find(buf, b"kdsk_", 0, len(buf) - 1) == -1
    assert search.find(buf, b"kdsk_", 10_001, len(buf)) == -1
    buf.extend(b"more")  # no view of it is left behind
