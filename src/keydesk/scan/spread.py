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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keydesk.scan.events import ScanEvent, Skipped
from keydesk.scan.matching import finding

if TYPE_CHECKING:  # concurrent.futures costs a short scan's start-up ~20 ms
    from concurrent.futures import Executor, Future

PAYS_FROM = 16 << 20  # bytes a walk meets before workers start: a fork costs ~10 ms
BATCH_BYTES, BATCH_FILES = 4 << 20, 256  # a worker's task: files up to either
IN_FLIGHT = 4  # tasks queued per worker: enough to keep it busy, few held in memory

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
    read_there: Callable[[list[FileJob]], list[Found]],
    *,
    workers: int,
    on_file: Callable[[], object] | None = None,
) -> Iterator[ScanEvent]:
    """The walk's events with each file read: here until `PAYS_FROM` bytes
    were met (or with one worker), then by `workers` processes, in batches
    of about `BATCH_BYTES` (one per file cost more than small files' reading),
    in order. `on_file` is called as each file is handed to a worker
    (`read_here` calls it itself). Closing the iterator cancels what is queued."""
    queue = _Queue(read_there, workers)
    met = 0
    try:
        for item in items:
            if not isinstance(item, FileJob):
                yield from queue.put(item)
                continue
            met += item.size
            if queue.pool is None and workers > 1 and met >= PAYS_FROM:
                queue.pool = _start(workers)
            if queue.pool is None:
                yield from read_here(item)
                continue
            if on_file is not None:
                on_file()
            yield from queue.put(item)
        yield from queue.drain()
    finally:
        if queue.pool is not None:
            queue.pool.shutdown(wait=False, cancel_futures=True)


class _Queue:
    """Events and batches of files handed to the pool, in the walk's order."""

    def __init__(self, read_there: Callable[[list[FileJob]], list[Found]], workers: int) -> None:
        self.read_there, self.workers = read_there, workers
        self.pool: Executor | None = None
        self.pending: deque[list[ScanEvent] | Future[list[Found]]] = deque()
        self.batch: list[FileJob] = []
        self.batch_bytes = 0

    def put(self, item: ScanEvent | FileJob) -> Iterator[ScanEvent]:
        if not isinstance(item, FileJob):
            if not self.pending and not self.batch:
                yield item
                return
            self._submit()
            self.pending.append([item])
            return
        self.batch.append(item)
        self.batch_bytes += item.size
        if self.batch_bytes >= BATCH_BYTES or len(self.batch) >= BATCH_FILES:
            self._submit()
        while len(self.pending) > self.workers * IN_FLIGHT:
            yield from _given(self.pending.popleft())

    def drain(self) -> Iterator[ScanEvent]:
        self._submit()
        while self.pending:
            yield from _given(self.pending.popleft())

    def _submit(self) -> None:
        if self.batch:
            assert self.pool is not None
            self.pending.append(self.pool.submit(self.read_there, self.batch))
            self.batch, self.batch_bytes = [], 0


def _given(entry: list[ScanEvent] | Future[list[Found]]) -> Iterator[ScanEvent]:
    if isinstance(entry, list):
        yield from entry
        return
    for found in entry.result():
        yield found if isinstance(found, Skipped) else finding(*found)


def _start(workers: int) -> Executor:
    # Imported here, as above.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
    )


def _ignore_interrupts() -> None:
    """Ctrl-C stops the scan in the parent, which cancels the rest; workers
    printing tracebacks of their own would only bury its message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
