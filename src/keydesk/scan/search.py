"""Substring search over the reading buffer, in libc's `memmem`.

CPython's `bytes.find` for a needle of a few bytes (a Horspool loop with a
64-bit Bloom filter) runs at ~1.2 GB/s on hex-heavy logs: most of their
bytes fall in the filter of `asic` or `kdsk_`, so it rarely skips. glibc's
`memmem` searches the same bytes at 3-4 GB/s (measured on bench/scan.py's
tree), and a scan searches every byte for at least two needles. Used on a
large `bytearray` (the reading buffer) only; short buffers and a libc
without `memmem` keep `bytes.find`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

_WORTH = 1 << 12  # shorter searches: a foreign call costs more than it saves


def find(buf: bytes | bytearray, needle: bytes, start: int, end: int) -> int:
    """`buf.find(needle, start, end)` for non-negative `start` and `end`."""
    if type(buf) is not bytearray or end - start < _WORTH or not needle:
        return buf.find(needle, start, end)
    memmem = _memmem()
    if memmem is None:
        return buf.find(needle, start, end)
    import ctypes  # loaded by _memmem already

    end = min(end, len(buf))
    if end - start < len(needle):
        return -1
    # The view pins buf (it cannot be resized) while its address is in use.
    pinned = ctypes.c_char.from_buffer(buf)
    base = ctypes.addressof(pinned)
    at = memmem(base + start, end - start, needle, len(needle))
    del pinned
    return -1 if at is None else int(at) - base


@cache
def _memmem() -> Callable[..., Any] | None:
    try:
        import ctypes  # only here: a scan of a few small files never needs it

        memmem = ctypes.CDLL(None).memmem
    except (OSError, TypeError, AttributeError):  # no libc by that name, or no memmem in it
        return None
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return memmem
