"""A new private key is printed once: it must reach whoever ran the command.

`keydesk key create >&-`, `… | true` and `… >/dev/full` made an active key
that no one ever saw (exit 0, 141 and 70). Now a closed standard output is
refused before anything is made, and a key whose one showing fails is undone
(revoked; a rotation's old key kept) before the command fails in one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from keydesk.cli.output import silence_stdout
from keydesk.errors import KeydeskError, UsageError


class KeyNotDelivered(KeydeskError):
    """The private key could not be written out; what was undone is said."""


def require_output() -> None:
    """Refuse before a key is made if it could be shown to no one: started
    with standard output closed, Python's print() writes nowhere, silently."""
    if sys.stdout is None:
        raise UsageError(
            "standard output is closed, so a new API key would be shown to no one; "
            "nothing was created"
        )


def deliver(show: Callable[[], None], public_key: str, undo: Callable[[], str]) -> None:
    """Run `show` (which prints the private key) and flush it out. If that
    fails, `undo` revokes the key and says what else it put back, and the
    command fails saying so; if the undo fails too, how to revoke by hand."""
    try:
        show()
        assert sys.stdout is not None  # require_output() ran first
        sys.stdout.flush()
        return
    except (OSError, ValueError) as exc:  # a reader gone, a full disk, a closed file
        why = getattr(exc, "strerror", None) or "it is closed"
    silence_stdout()  # what is still buffered (the key) goes nowhere at exit
    lost = f"the new API key could not be written to standard output ({why}), so no one has it"
    try:
        undone = undo()
    except KeydeskError as exc:
        raise KeyNotDelivered(
            f"{lost}, and revoking it failed ({exc.message}): "
            f"revoke it with `keydesk key revoke {public_key}`"
        ) from None
    raise KeyNotDelivered(f"{lost}: {undone}")
