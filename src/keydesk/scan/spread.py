"""A folder walk's files read on several cores (`keydesk scan` from the
command line): once the walk has met enough bytes for forking to pay, its
files go to worker processes, and what they find comes back in the walk's
order, so the output is the same as one process gives.

Worker processes are forked: only from a process with no other threads
(the command line; the TUI scans in one process). A key found crosses back
as text through the pool's pipe, between processes of the same user, and
becomes a `Finding` again here.
"""

from __future__ import annotations

import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from keydesk.scan.events import ScanEvent, Skipped
from keydesk.scan.matching import finding

PAYS_FROM = 16 << 20  # bytes a walk meets before workers start: a fork costs ~10 ms
IN_FLIGHT = 8  # files queued per worker: enough to keep it busy, few held in memory

# What a worker sends back: a finding as (location, key text, public key), or a note.
Found = tuple[str, str, str] | Skipped


@dataclass(frozen=True, slots=True)
class FileJob:
    """A regular file a walk met, to read."""

    path: str
    shown: str
    size: int


def in_order(
    items: Iterable[ScanEvent | FileJob],
    read_here: Callable[[FileJob], Iterator[ScanEvent]],
    read_there: Callable[[FileJob], list[Found]],
    *,
    workers: int,
    on_file: Callable[[], object] | None = None,
) -> Iterator[ScanEvent]:
    """The walk's events with each file read: here until `PAYS_FROM` bytes
    were met (or with one worker), then by `workers` processes, in order.
    `on_file` is called as each file is handed to a worker (`read_here`
    calls it itself). Closing the iterator cancels what is queued."""
    pending: deque[list[ScanEvent] | Future[list[Found]]] = deque()
    met = 0
    pool: Executor | None = None
    try:
        for item in items:
            if not isinstance(item, FileJob):
                if pending:
                    pending.append([item])
                else:
                    yield item
                continue
            met += item.size
            if pool is None and workers > 1 and met >= PAYS_FROM:
                pool = _start(workers)
            if pool is None:
                yield from read_here(item)
                continue
            if on_file is not None:
                on_file()
            pending.append(pool.submit(read_there, item))
            while len(pending) > workers * IN_FLIGHT:
                yield from _given(pending.popleft())
        while pending:
            yield from _given(pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _given(entry: list[ScanEvent] | Future[list[Found]]) -> Iterator[ScanEvent]:
    if isinstance(entry, list):
        yield from entry
        return
    for found in entry.result():
        yield found if isinstance(found, Skipped) else finding(*found)


def _start(workers: int) -> Executor:
    # Imported here: multiprocessing costs a short scan's start-up ~20 ms.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
    )


def _ignore_interrupts() -> None:
    """Ctrl-C stops the scan in the parent, which cancels the rest; workers
    printing tracebacks of their own would only bury its message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
