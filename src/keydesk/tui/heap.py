"""Keeping Python's full garbage collections off the interface's back.

A full (generation 2) collection walks every tracked object while holding
the GIL: every thread, the event loop included, stops. Reading 100,000 keys
makes about 100,000 new long-lived objects in a worker, which starts several
full collections during the read (80-230 ms each on this machine), and the
first ones after it walk them again (~140 ms, against ~55 ms before the read).

So a screen that reads many objects defers full collections while it reads
(young ones still run), then freezes what it keeps (`gc.freeze`: later
collections skip it; objects still die when their last reference goes), and
unfreezes when it lets go (cycles among frozen objects become collectable
again). Called on the UI thread only; the state is one set per purpose, so
stacked screens and repeated loads need no counting.

At start-up the same goes for what the imports made (~38,000 tracked
objects, modules and classes, that live as long as the process): frozen
before the app runs, the full collection that start-up would otherwise
trigger just as the first rows come (15-30 ms) does not happen.
"""

from __future__ import annotations

import gc

DEFERRED_THRESHOLD = 1_000_000  # young collections before a full one: "not during this read"

_deferring: set[int] = set()  # screens (by id()) reading many objects now
_holding: set[int] = set()  # screens keeping frozen objects
_threshold: int | None = None  # the full-collection threshold to restore


def keep_what_imports_made() -> None:
    """Before the app runs: full collections skip every object made so far.
    (A later `let_go` unfreezes them too; they stay reachable, so that costs
    only a slower full collection.)"""
    gc.freeze()


def defer_full_collections(owner: object) -> None:
    """`owner` starts a big read: no full collection until it settles."""
    global _threshold
    if not _deferring:
        young, middle, _threshold = gc.get_threshold()
        gc.set_threshold(young, middle, DEFERRED_THRESHOLD)
    _deferring.add(id(owner))


def settle(owner: object, *, keep: bool) -> None:
    """`owner`'s read is in (or failed): `keep`, freeze what the process
    holds now (its big load among it), then collect as usual again."""
    if keep:
        gc.freeze()  # before the threshold returns: freezing resets the counts
        _holding.add(id(owner))
    _stop_deferring(owner)


def let_go(owner: object) -> None:
    """`owner` dropped its load (its screen closed): unfreeze once nobody
    keeps frozen objects."""
    _stop_deferring(owner)
    if id(owner) in _holding:
        _holding.discard(id(owner))
        if not _holding:
            gc.unfreeze()


def _stop_deferring(owner: object) -> None:
    if id(owner) not in _deferring:
        return
    _deferring.discard(id(owner))
    if not _deferring and _threshold is not None:
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, _threshold)
