"""The argument parser: global options, and a helper each command group
uses to declare its commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from keydesk import __version__
from keydesk.cli.output import EXIT_ERROR
from keydesk.config import ACCOUNT_ENV, DATABASE_ENV

Handler = Callable[[argparse.Namespace], int]
SubParsers = Any  # argparse's _SubParsersAction, which it does not export


class CommandGroup(Protocol):
    def register(self, cli: Commands) -> None: ...


@dataclass
class Commands:
    """Where command groups add their commands. `common` carries --db and
    --account, `db_only` only --db (for commands where --account means
    something else, or nothing)."""

    root: SubParsers
    common: argparse.ArgumentParser
    db_only: argparse.ArgumentParser

    def command(
        self,
        name: str,
        handler: Handler,
        help: str,
        *,
        json_output: bool = False,
        parent: SubParsers | None = None,
        shared: argparse.ArgumentParser | None = None,
    ) -> argparse.ArgumentParser:
        parents = [shared if shared is not None else self.common]
        sub: argparse.ArgumentParser = (parent or self.root).add_parser(
            name, parents=parents, help=help, description=help
        )
        sub.set_defaults(handler=handler)
        if json_output:
            sub.add_argument("--json", action="store_true", help="print JSON")
        return sub

    def group(self, name: str, help: str) -> SubParsers:
        sub = self.root.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=lambda _args: (sub.print_help(), EXIT_ERROR)[1])
        return sub.add_subparsers(title="commands", metavar="COMMAND")


def build_parser(*groups: CommandGroup) -> argparse.ArgumentParser:
    # Global options work before or after the command (`keydesk --db X key list`
    # or `keydesk key list --db X`): each subparser shares them, with SUPPRESS so
    # a subparser's default does not erase a value given earlier.
    db_only = argparse.ArgumentParser(add_help=False)
    db_only.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help=f"database URL (default: ${DATABASE_ENV}, else a SQLite file in your data folder)",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[db_only])
    common.add_argument(
        "--account",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help=f"only for `keydesk demo` (also ${ACCOUNT_ENV}): elsewhere you act as your OS "
        "user (SQLite) or your database role (PostgreSQL), never as a typed name",
    )
    parser = argparse.ArgumentParser(
        prog="keydesk",
        parents=[common],
        description="Issue and revoke API keys for OAuth integrations. With no command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"keydesk {__version__}")
    cli = Commands(parser.add_subparsers(title="commands", metavar="COMMAND"), common, db_only)
    for group in groups:
        group.register(cli)
    return parser
