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
        ],
        confirm=f"Revoke {len(keys):,}",
        cancel="Cancel",
        destructive=True,
        id="revoke-many-confirm",
    )
