"""The question before revoking several keys together (space on the API
Keys tab, then x): how many, which (a sample), and what breaks."""

from __future__ import annotations

from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.views import KeyView, counted
from keydesk.views.revocations import SAMPLE


def revoke_many_confirmation(keys: list[KeyView]) -> ConfirmScreen:
    sample = [f"{key.label}  ({key.public_key})" for key in keys[:SAMPLE]]
    if len(keys) > SAMPLE:
        sample.append(f"… and {len(keys) - SAMPLE:,} more")
    integrations = sorted({key.integration for key in keys})
    return ConfirmScreen(
        f"Revoke {counted(len(keys), 'API key')}?",
        [
            *sample,
            f"Integration: {', '.join(integrations)}",
            "",
            "Revocation is immediate and cannot be undone. Every service still using one "
            "of these keys gets 401 Unauthorized on its very next request.",
            *_in_rotation(keys),
        ],
        confirm=f"Revoke {len(keys):,}",
        cancel="Cancel",
        destructive=True,
        id="revoke-many-confirm",
    )


def _in_rotation(keys: list[KeyView]) -> list[str]:
    """What revoking does to rotations, as the one-key question says: a
    replacement revoked leaves its old key stopping at its set time (then
    neither works); a key being rotated out stops now instead."""
    chosen = {key.public_key for key in keys}
    # A replacement revoked with its old key: nothing is left to stop later.
    olds = [k.replaces for k in keys if k.replaces and k.replaces not in chosen]
    leaving = [k for k in keys if k.stop_scheduled() and not k.replacement_revoked]
    lines: list[str] = []
    if olds:
        lines += [
            "",
            f"Some of these replaced a key in a rotation: {_named(olds)} still stops at the "
            "time the rotation set, and then neither works. K on the old key's row keeps it.",
        ]
    if leaving:
        lines += [
            "",
            f"Being rotated out: {_named([k.public_key for k in leaving])}. Revoking stops "
            "it now instead of at the time the rotation set.",
        ]
    return lines


def _named(public_keys: list[str]) -> str:
    more = len(public_keys) - 2
    return ", ".join(public_keys[:2]) + (f" and {more:,} more" if more > 0 else "")
