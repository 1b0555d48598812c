"""The question before revoking several keys together (space on the API
Keys tab, then x): how many, which (a sample), and what breaks."""

from __future__ import annotations

from collections.abc import Sized
from datetime import datetime

from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.views import KeyView, counted, in_words, stop_time
from keydesk.views.revocations import sampled


def revoke_many_confirmation(
    keys: list[KeyView], replaced: list[KeyView], now: datetime
) -> ConfirmScreen:
    """`replaced`: the keys that chosen replacements replaced (not chosen
    themselves), as read just before asking."""
    sample = sampled(keys, lambda key: f"{key.label}  ({key.public_key})")
    integrations = sorted({key.integration for key in keys})
    return ConfirmScreen(
        f"Revoke {counted(len(keys), 'API key')}?",
        [
            *sample,
            f"Integration: {', '.join(integrations)}",
            "",
            "Revocation is immediate and cannot be undone. Every service still using one "
            "of these keys gets 401 Unauthorized on its very next request.",
            *_in_rotation(keys, replaced, now),
        ],
        confirm=f"Revoke {len(keys):,}",
        cancel="Cancel",
        destructive=True,
        id="revoke-many-confirm",
    )


def _in_rotation(keys: list[KeyView], replaced: list[KeyView], now: datetime) -> list[str]:
    """What revoking does to rotations, as the one-key question says: an old
    key still set to stop stops then (and with its replacement revoked,
    neither works); one already ended leaves neither working now; a key
    being rotated out stops now instead. An old key kept (its stop
    cancelled) is not changed: nothing is said of it."""
    stopping = sorted(
        (k for k in replaced if k.is_active and k.stop_scheduled() and k.expires_at),
        key=lambda k: k.expires_at or now,
    )
    ended = [k.public_key for k in replaced if not k.is_active]
    leaving = [k for k in keys if k.stop_scheduled() and not k.replacement_revoked]
    lines: list[str] = []
    if stopping:
        first = stopping[0].expires_at or now
        at = f"{stop_time(first)} ({in_words(first - now)} left)"
        named = _named([k.public_key for k in stopping])
        stops = f"stops at {at}" if len(stopping) == 1 else f"stop as set, the first at {at}"
        lines += [
            "",
            f"{_which(stopping)} replaced a key in a rotation: {named} still {stops}, and then "
            "neither works. K on the old key's row keeps it.",
        ]
    if ended:
        lines += [
            "",
            f"{_which(ended)} replaced {_named(ended)}, which no longer "
            f"{'works' if len(ended) == 1 else 'work'}: revoking them leaves neither working.",
        ]
    if leaving:
        lines += [
            "",
            f"Being rotated out: {_named([k.public_key for k in leaving])}. Revoking stops "
            "it now instead of at the time the rotation set.",
        ]
    return lines


def _which(olds: Sized) -> str:
    """Each old key has its one replacement among those chosen."""
    return "One of these" if len(olds) == 1 else "Some of these"


def _named(public_keys: list[str]) -> str:
    more = len(public_keys) - 2
    return ", ".join(public_keys[:2]) + (f" and {more:,} more" if more > 0 else "")
