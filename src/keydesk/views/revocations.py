"""Revoking many keys at once: which keys (a `KeySelection`, the filters of
`keydesk key revoke --tag … --created-by …`) and what was done."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple, TypeVar

from keydesk.views.tags import Tag
from keydesk.views.words import in_words

SAMPLE = 5  # keys a confirmation names before "and N more"

_Item = TypeVar("_Item")


def sampled(items: Sequence[_Item], line: Callable[[_Item], str], indent: str = "") -> list[str]:
    """The first SAMPLE of `items` a line each, then how many more (only
    those shown are made into lines: a match may be 10,000 keys)."""
    lines = [line(item) for item in items[:SAMPLE]]
    if len(items) > SAMPLE:
        lines.append(f"{indent}… and {len(items) - SAMPLE:,} more")
    return lines


@dataclass(frozen=True, slots=True)
class KeySelection:
    """Active keys matching every filter given; `workspace` only narrows
    (a whole workspace is not one filter away)."""

    tags: tuple[Tag, ...] = ()
    created_by: str | None = None
    integration: str | int | None = None
    unused_for: timedelta | None = None
    workspace: str | None = None

    @property
    def empty(self) -> bool:
        return not self.tags and all(
            f is None for f in (self.created_by, self.integration, self.unused_for)
        )

    def note(self) -> str:
        """What was asked, for the confirmation and the batch's audit event."""
        parts = [f"tag {tag}" for tag in self.tags]
        if self.created_by is not None:
            parts.append(f"created by {self.created_by}")
        if self.integration is not None:
            parts.append(f"integration {self.integration}")
        if self.unused_for is not None:
            parts.append(f"unused for {in_words(self.unused_for)}")
        if self.workspace is not None:
            parts.append(f"in {self.workspace}")
        return ", ".join(parts)


class MatchedKey(NamedTuple):
    """An active key a selection matched: what the confirmation names of it
    (a tuple: a bulk revoke makes 10,000; a frozen dataclass takes twice as long)."""

    public_key: str
    label: str
    integration: str
    created_by: str
    creator_removed: bool = False  # has left the key's workspace since

    @property
    def creator(self) -> str:
        """The creator's name as lists show it (keydesk.views.KeyView's)."""
        return f"{self.created_by} (removed)" if self.creator_removed else self.created_by


@dataclass(frozen=True, slots=True)
class BulkRevocation:
    """Keys revoked together, in one transaction: `revoked` their public
    keys; `skipped` those asked for that were no longer active (revoked or
    expired meanwhile) or not the actor's to revoke, left as they were."""

    revoked: tuple[str, ...]
    skipped: tuple[str, ...]
    note: str
