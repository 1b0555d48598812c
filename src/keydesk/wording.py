"""How every shell words a time, the same in the CLI and the TUI. Imports
nothing of keydesk: the CLI loads it with its parser (`keydesk --help` loads
no read-model), which keydesk.views, where the other words live, cannot be."""

from __future__ import annotations

from datetime import datetime

NO_TIME = "—"


def when(value: datetime | None, missing: str = NO_TIME) -> str:
    """A time as admins read it: local, to the minute; `missing` for none."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else missing
