"""Shell completion: `keydesk completion bash|zsh|fish` prints the script
(argcomplete's), and the script runs `keydesk` with argcomplete's protocol
(`_ARGCOMPLETE`, `COMP_LINE`, the answer on fd 8) to complete commands,
options and, from the store, integration and workspace names and public
keys.

What the shell asks is answered from an up-to-date SQLite store on the bare
read path (keydesk.store.queries: no SQLAlchemy, read-only, as the OS user, with
the store check every read runs), within a deadline: a missing, locked,
unsafe or PostgreSQL store completes nothing, is never created, and never
holds the shell up. Nothing offered is a secret: names and public keys
only, and any candidate that looks like a private key is dropped.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from keydesk.cli.parser import GLOBAL_OPTIONS, CommandGroup, Commands, Parser, public_choices

if TYPE_CHECKING:
    from keydesk.store.queries import Reads

ASKED = "_ARGCOMPLETE"  # set by the shell script when it asks for completions
SHELLS = ("bash", "zsh", "fish")
DEADLINE_SECONDS = 1.0  # then the process ends, answering nothing
STORE_WAIT_MS = 100  # how long a read waits on a store another process locked
MOST_KEYS = 200  # public keys offered at once
LIVE_ONLY = ("keep", "revoke", "rotate")  # commands whose PUBLIC_KEY is an active key
INSTALL = (
    'bash: add `eval "$(keydesk completion bash)"` to ~/.bashrc; '
    'zsh: add `eval "$(keydesk completion zsh)"` to ~/.zshrc (after compinit); '
    "fish: keydesk completion fish > ~/.config/fish/completions/keydesk.fish"
)


def register(cli: Commands) -> None:
    sub = cli.command(
        "completion",
        print_script,
        "print the shell completion script for bash, zsh or fish",
        shared=Parser(add_help=False),  # the script names no store
    )
    sub.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    sub.epilog = f"install: {INSTALL}"


def print_script(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["keydesk"], shell=args.shell))
    return 0


def asked(argv: list[str], proven_actor: str | None) -> bool:
    """Whether this run answers a shell's completion request. The scripts run
    `keydesk` with no arguments; a run with arguments (sshd's `keydesk
    ssh-session …`, whose client may pass environment variables) or on
    behalf of a proven account is a command, never a completion."""
    return ASKED in os.environ and not argv and proven_actor is None


def groups_for(
    groups: tuple[CommandGroup, ...], group_of: dict[str, CommandGroup]
) -> tuple[CommandGroup, ...]:
    """The groups the shell's line needs: the one registering the command it
    names (building every group's parsers is most of a Tab's time), else all."""
    line = os.environ.get("COMP_LINE", "")
    point = os.environ.get("COMP_POINT", "")
    typed = line[: int(point)] if point.isdigit() else line
    words = typed.split()[1:]
    done = words if typed[-1:].isspace() else words[:-1]  # the last word is being typed
    takes_value = False
    for word in done:
        if takes_value or word.startswith("-"):
            takes_value = word in GLOBAL_OPTIONS and not takes_value
            continue
        group = group_of.get(word)
        return (group,) if group in groups else groups
    return groups


def complete(parser: argparse.ArgumentParser) -> NoReturn:
    """Write the completions for the shell's line to fd 8 and end."""
    import signal

    # SIGALRM's default action ends the process at once, saying nothing:
    # whatever a read waits on, the shell gets its prompt back.
    signal.setitimer(signal.ITIMER_REAL, DEADLINE_SECONDS)
    import argcomplete

    _attach_completers(parser)
    internal = [
        name
        for action in _subcommand_actions(parser)
        for name in action.choices or ()
        if name not in public_choices(action)
    ]
    argcomplete.autocomplete(parser, exclude=internal, always_complete_options="long")
    os._exit(1)  # autocomplete ends the process itself; not reached


def _subcommand_actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action.choices, dict):  # a command group: name -> its parser
            yield action
            for sub in action.choices.values():
                yield from _subcommand_actions(sub)


def _attach_completers(parser: argparse.ArgumentParser) -> None:
    """Every option and argument that names something in the store completes
    from it, by the name or metavar the command groups gave them."""
    for action in parser._actions:
        if action.dest == "integration":
            action.completer = _from_store(_integrations)  # type: ignore[attr-defined]
        elif action.dest == "workspace":
            action.completer = _from_store(_workspaces)  # type: ignore[attr-defined]
        elif action.metavar == "PUBLIC_KEY":
            action.completer = _from_store(_public_keys)  # type: ignore[attr-defined]
        if isinstance(action.choices, dict):
            for sub in action.choices.values():
                _attach_completers(sub)


Read = Callable[["Reads", argparse.Namespace, str, str], Iterable[str]]


def _from_store(read: Read) -> Callable[..., list[str]]:
    def completer(
        prefix: str, parser: argparse.ArgumentParser, parsed_args: argparse.Namespace, **_: Any
    ) -> list[str]:
        try:
            return _candidates(read, parsed_args, parser.prog.split()[-1], prefix)
        except Exception:  # a completion is a convenience: any failure offers nothing
            return []

    return completer


def _candidates(read: Read, args: argparse.Namespace, command: str, prefix: str) -> list[str]:
    from keydesk.config import database_url
    from keydesk.store.sqlite_file import sqlite_file_of

    url = database_url(getattr(args, "db", None))
    named = sqlite_file_of(url)
    if named is None or not os.path.isfile(named):  # said before loading the reads
        return []
    from keydesk.redaction import looks_like_private_key
    from keydesk.store.queries import bare_sqlite_reads

    # Only the bare way: it checks the store, opens an up-to-date SQLite file
    # read-only and yields None for anything else (nothing is ever made).
    with bare_sqlite_reads(url) as reads:
        if reads is None:
            return []
        cursor = reads.db.connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={STORE_WAIT_MS}")
        cursor.close()
        return [
            value
            for value in read(reads, args, command, prefix)
            if value.startswith(prefix)
            and value.isprintable()
            and not looks_like_private_key(value)
        ]


def _integrations(reads: Reads, args: argparse.Namespace, _command: str, _prefix: str) -> list[str]:
    return [i.name for i in reads.integrations(getattr(args, "workspace", None))]


def _workspaces(reads: Reads, _args: argparse.Namespace, _command: str, _prefix: str) -> list[str]:
    return [w.name for w in reads.workspaces()]


def _public_keys(reads: Reads, args: argparse.Namespace, command: str, prefix: str) -> list[str]:
    return reads.public_keys(
        prefix,
        getattr(args, "integration", None),
        workspace=getattr(args, "workspace", None),
        live_only=command in LIVE_ONLY,
        limit=MOST_KEYS,
    )
