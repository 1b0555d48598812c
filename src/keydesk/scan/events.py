"""What a scan reports: a key found, or something not scanned and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from keydesk.keys import PrivateKey


@dataclass(frozen=True, slots=True, repr=False)
class Finding:
    """A checksum-valid private key at `location` (`file:line`,
    `commit:file:line` or `<stdin>:line`). Shows only the public key and a
    redacted prefix; the key itself stays inside `private_key` (masked), so a
    caller can later prove possession, e.g. to revoke it."""

    location: str
    public_key: str
    redacted: str
    private_key: PrivateKey = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"Finding(location={self.location!r}, public_key={self.public_key!r}, "
            f"redacted={self.redacted!r})"
        )

    def __str__(self) -> str:
        return f"{self.location}: {self.redacted} ({self.public_key})"


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something not scanned, and why (one line, fit to show as it is).
    `failed`: it should have been scanned and could not be (unreadable, a
    named path that is missing, git failing), so a scan that reports nothing
    found is incomplete; otherwise it was left out on purpose (binary, a
    symbolic link in a walk, ignored by git)."""

    path: str
    reason: str
    failed: bool = False

    def __str__(self) -> str:
        return f"{self.path}: skipped, {self.reason}"


ScanEvent: TypeAlias = Finding | Skipped
