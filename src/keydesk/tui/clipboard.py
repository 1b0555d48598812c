"""Copying over SSH: OSC 52 always (the terminal's clipboard, through SSH),
and the desktop clipboard too when pyperclip has one."""

from __future__ import annotations

from typing import Any

from textual.app import App


def copy(app: App[Any], text: str, what: str) -> str:
    """Copy `text`; returns what to tell the user about where it went."""
    import pyperclip  # with ctypes: 4 ms the first frame need not wait for

    app.copy_to_clipboard(text)
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        return (
            f"{what} sent to your terminal's clipboard (OSC 52; in tmux: "
            "set -g set-clipboard on; not in macOS Terminal)."
        )
    return f"{what} copied to the clipboard (and sent via OSC 52)."


def forget(app: App[Any]) -> None:
    """Drop Textual's local copy of the clipboard (it would keep a secret
    alive in the process). The terminal's clipboard is left alone."""
    app._clipboard = ""
