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
    symbolic link in a walk, ignored by git). `routine`: one of `ROUTINE`,
    what a walk leaves out by the hundred (a `__pycache__`'s binary files):
    counted (`SkipCount`) rather than listed, unless asked."""

    path: str
    reason: str
    failed: bool = False
    routine: str = ""

    def __str__(self) -> str:
        return f"{self.path}: skipped, {self.reason}"


# What is left out on purpose, often: singular → plural, as counted.
BINARY, SYMLINK, SPECIAL, IGNORED = (
    "binary file",
    "symbolic link",
    "special file",
    "path git ignores",
)
ROUTINE = {
    BINARY: "binary files",
    SYMLINK: "symbolic links",
    SPECIAL: "special files",
    IGNORED: "paths git ignores",
}


class SkipCount:
    """The routine skips of one scan, counted by kind: `keydesk scan`'s
    closing note and the TUI's progress line say the same. Written by the
    scanning thread, read by the UI's: the kinds are all there from the
    start, so reading never meets a dict changing size."""

    def __init__(self) -> None:
        self._counts = dict.fromkeys(ROUTINE, 0)

    def counted(self, skipped: Skipped) -> bool:
        """Count `skipped` if it is routine (then it need not be listed)."""
        if skipped.failed or skipped.routine not in self._counts:
            return False
        self._counts[skipped.routine] += 1
        return True

    def __bool__(self) -> bool:
        return any(self._counts.values())

    def __str__(self) -> str:
        """`188 binary files skipped`; `3 binary files and 1 symbolic link skipped`."""
        # Not keydesk.views' `counted`: importing the views would slow every scan's start.
        parts = [
            f"{n:,} {ROUTINE[kind] if n > 1 else kind}" for kind, n in self._counts.items() if n
        ]
        if not parts:
            return ""
        listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        return f"{listed} skipped"


ScanEvent: TypeAlias = Finding | Skipped
