"""The forced command's session: turning ``SSH_ORIGINAL_COMMAND`` into an
argv that is safe to hand to keydesk's own parser. Never run by a shell:
whatever a shell would treat specially is refused, not passed on."""

from __future__ import annotations

import shlex

from keydesk.ssh.errors import SessionRefused
from keydesk.ssh.grant_line import SESSION_COMMAND
from keydesk.validation import shown_literally

# Commands that may run over SSH by default (scan reads only stdin there), and
# those that never may, even when a caller lists them: a session must not start
# a session, edit who may connect, open a throwaway demo or start a server.
REMOTE_COMMANDS = frozenset({"init", "member", "integration", "key", "verify", "audit", "scan"})
NEVER_REMOTE = frozenset({SESSION_COMMAND, "ssh", "demo", "serve"})

# Options that pick the acting account or the store: over SSH both come from
# the forced command alone.
_FIXED_OPTIONS = ("--account", "--db")

# Outside quotes these mean something to a shell (control, redirection,
# expansion, globbing) that they do not mean here, where no shell runs.
_SHELL_SYNTAX = frozenset(";&|<>()$`*?[")
_WORD_START_SYNTAX = frozenset("#~")
_DOUBLE_QUOTED_SYNTAX = frozenset("$`")

# Longer than any command keydesk accepts (a 2048-character redirect URI and
# as many scopes, beside names of 64), so no refusal echoes a flood back.
SESSION_COMMAND_MAX = 8192


def parse_session_command(original: str, allowed: frozenset[str]) -> list[str]:
    """The argv for keydesk's parser from ``SSH_ORIGINAL_COMMAND``.

    Split with POSIX shell quoting rules (`shlex`); never run by a shell, so
    anything a shell would treat specially (``;``, ``|``, ``$``, globs…)
    outside quotes is refused rather than passed on. The first word must be
    in `allowed` and never in `NEVER_REMOTE`; ``--account`` and ``--db`` (in
    any form argparse would accept) are refused: the forced command alone says
    who acts and on which store. Raises `SessionRefused`.
    """
    choices = ", ".join(sorted(allowed - NEVER_REMOTE)) or "none"
    if len(original) > SESSION_COMMAND_MAX:
        raise SessionRefused(
            f"the command is {len(original)} characters long; at most {SESSION_COMMAND_MAX}"
            " are allowed"
        )
    if not _is_utf8(original):
        raise SessionRefused(
            "the command is not UTF-8 text; send names and labels in UTF-8 (set LANG to a"
            " UTF-8 locale)"
        )
    if not original.strip():
        raise SessionRefused(
            f"no command given: connect without one (ssh -t) for the TUI, or run one of: {choices}"
        )
    _refuse_shell_syntax(original)
    try:
        argv = shlex.split(original)
    except ValueError as exc:
        raise SessionRefused(f"cannot read the command: {str(exc).lower()}") from exc
    command = argv[0]
    shown = shown_literally(command[:40])
    if command == "keydesk" and len(argv) > 1:
        raise SessionRefused(
            f"leave out 'keydesk': run `ssh … {shown_literally(shlex.join(argv[1:3]))} …`"
        )
    if command in NEVER_REMOTE:
        raise SessionRefused(f"`keydesk {shown}` cannot be run over SSH")
    if command not in allowed:
        raise SessionRefused(
            f"'{shown}' is not a keydesk command that runs over SSH; use one of: {choices}"
        )
    for word in argv[1:]:
        name = word.split("=", 1)[0]
        if len(name) > 2 and name.startswith("--"):
            for fixed in _FIXED_OPTIONS:
                if fixed.startswith(name):
                    raise SessionRefused(
                        f"{fixed} cannot be given over SSH: your SSH key fixes the account and the store"
                    )
    return argv


def _is_utf8(text: str) -> bool:
    """False when `text` came from bytes that are not UTF-8 (Python decodes
    the environment with surrogateescape: such bytes are lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_shell_syntax(original: str) -> None:
    quote: str | None = None
    word_start = True
    index = 0
    while index < len(original):
        char = original[index]
        if not char.isprintable() and char != " ":
            raise SessionRefused(
                f"the command contains a control character (U+{ord(char):04X}); it may not"
            )
        if quote == "'":
            if char == "'":
                quote = None
        elif quote == '"':
            if char == '"':
                quote = None
            elif char == "\\" and original[index + 1 : index + 2] in ('"', "\\"):
                index += 1
            elif char in _DOUBLE_QUOTED_SYNTAX:
                raise _syntax(char, "inside double quotes")
        elif char == "\\":
            index += 1  # escapes the next character, as in a shell
        elif char in "'\"":
            quote = char
        elif char in _SHELL_SYNTAX or (word_start and char in _WORD_START_SYNTAX):
            raise _syntax(char, "")
        word_start = quote is None and char in " \t"
        index += 1


def _syntax(char: str, where: str) -> SessionRefused:
    place = f" {where}" if where else ""
    return SessionRefused(
        f"{char!r}{place} is shell syntax and no shell runs here;"
        " put it in single quotes if it is part of a value"
    )
