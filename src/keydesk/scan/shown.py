"""How a scan words what it names: paths as they may be printed, and why an
OS call failed, in one short lower-case phrase."""

from __future__ import annotations

import os

from keydesk.validation import shown_literally

STDIN = "-"
STDIN_LABEL = "<stdin>"


def shown(raw: bytes) -> str:
    """A path as it may be printed: undecodable bytes and control characters
    escaped, so a hostile file name cannot restyle a terminal or fake a line."""
    text = raw.decode("utf-8", "backslashreplace")
    return text if text.isprintable() else shown_literally(text)


def shown_path(path: str) -> str:
    return shown(os.fsencode(path))


def reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()
