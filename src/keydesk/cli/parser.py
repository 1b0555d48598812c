"""The argument parser: global options, and a helper each command group
uses to declare its commands. A mistyped command or option is answered
with the one meant ("did you mean"), and internal commands (sshd's
`ssh-session`) are listed nowhere: not in --help, not among the choices."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, Protocol

from keydesk import __version__
from keydesk.cli.exit_codes import EXIT_USAGE
from keydesk.cli.output import fail
from keydesk.config import ACCOUNT_ENV, DATABASE_ENV

Handler = Callable[[argparse.Namespace], int]
GLOBAL_OPTIONS = ("--db", "--account")  # build_parser's; all `keydesk` alone (the TUI) takes
TUI_FLAGS = ("--no-mouse",)  # the TUI's own, which take no value
NO_MOUSE_HELP = (
    "leave the mouse to the terminal (its own selection and scrolling); "
    "with the mouse on, Shift-drag selects as the terminal does"
)
SubParsers = Any  # argparse's _SubParsersAction, which it does not export


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error contract: a usage error is one line on
    stderr (no usage block), shown literally and with private keys redacted.
    Subparsers are made of the same class, so every command behaves alike."""

    usage_exit = EXIT_USAGE  # `keydesk scan` keeps 0-2 for what it found
    internal = False  # a command for programs (sshd), not people: listed nowhere

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see: {self.prog} --help)")
        self.exit(self.usage_exit)

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        # A mistyped option leaves a required one unset, and argparse names
        # only that (`--lable prod`: "the following arguments are required:
        # --label"). The mistake is what the user hears first, with the
        # option meant: the same error as for any unknown option, only
        # earlier, found by a first reading that requires nothing.
        if args is not None:
            args = list(args)
            extra = self._unread(args)
            if any(token[:1] == "-" for token in extra):
                self.error(unrecognized(self, extra))
        return super().parse_known_args(args, namespace)

    def _unread(self, args: list[str]) -> list[str]:
        """What a reading of `args` that requires nothing leaves unread
        (nothing to read again when nothing is required)."""
        required: list[argparse.Action | argparse._MutuallyExclusiveGroup] = [
            *(action for action in self._actions if action.required),
            *(group for group in self._mutually_exclusive_groups if group.required),
        ]
        if not required or {"-h", "--help"} & set(args):  # help prints what is required
            return []
        for each in required:
            each.required = False
        try:
            return super().parse_known_args(args)[1]
        finally:
            for each in required:
                each.required = True

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own message lists every choice, internal commands
        # included, and guesses nothing.
        if action.choices is None or value in action.choices:
            return
        names = public_choices(action)
        raise argparse.ArgumentError(
            action,
            f"invalid choice: {value!r}{did_you_mean(str(value), names)} "
            f"(choose from {', '.join(names)})",
        )


def public_choices(action: argparse.Action) -> list[str]:
    """An action's choices as people may see them: a command group's
    commands without the internal ones."""
    choices = action.choices or ()
    if isinstance(choices, dict):  # a command group: name -> its parser
        return [name for name, sub in choices.items() if not getattr(sub, "internal", False)]
    return [str(choice) for choice in choices]


def did_you_mean(typed: str, names: list[str]) -> str:
    """The names closest to a mistyped one, as "; did you mean 'x'?" (or "").
    Options are compared without their dashes: every option has them, and
    with them `--bogus` came near enough to `--verbose` to be offered. Any
    one slip (a letter missed, added, wrong or swapped) in a name of three
    letters or more keeps 2/3 of it; `quiet` for `quota` keeps less."""
    from difflib import get_close_matches  # only once something was mistyped

    bare = {name.lstrip("-"): name for name in names}
    close = get_close_matches(typed.lstrip("-"), list(bare), n=2, cutoff=0.66)
    return f"; did you mean {' or '.join(repr(bare[name]) for name in close)}?" if close else ""


def unrecognized(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """argparse's "unrecognized arguments", with the option meant when one
    of them is a mistyped option of `parser`."""
    options = [option for action in parser._actions for option in action.option_strings]
    hints = [did_you_mean(token.partition("=")[0], options) for token in extra if token[:1] == "-"]
    return f"unrecognized arguments: {' '.join(extra)}{next((h for h in hints if h), '')}"


def public_key(value: str) -> str:
    """argparse's `type` for a PUBLIC_KEY: one not of its form (kdpk_ and 16
    letters or digits) is a mistake in the command line, exit 2 like any
    malformed value, not "not found" (1): no store could ever hold it."""
    from keydesk.keys import is_public_key  # only once a value is read

    stripped = value.strip()
    if not is_public_key(stripped):  # a pasted private key is redacted by `error`
        raise argparse.ArgumentTypeError(
            f"not a public key: {value!r} (expected kdpk_ and 16 letters or digits)"
        )
    return stripped


class CommandGroup(Protocol):
    def register(self, cli: Commands) -> None: ...


class Commands:
    """Where command groups add their commands. `common` carries --db and
    --account, `db_only` only --db (for commands where --account means
    something else, or nothing), `account_only` only --account (`demo`,
    whose store is its own). A plain class: `dataclasses` would cost
    `--help` the import of `inspect`."""

    def __init__(
        self,
        root: SubParsers,
        common: argparse.ArgumentParser,
        db_only: argparse.ArgumentParser,
        account_only: argparse.ArgumentParser,
    ) -> None:
        self.root = root
        self.common = common
        self.db_only = db_only
        self.account_only = account_only

    def command(
        self,
        name: str,
        handler: Handler,
        help: str,
        *,
        json_output: bool = False,
        parent: SubParsers | None = None,
        shared: argparse.ArgumentParser | None = None,
        usage_exit: int = EXIT_USAGE,
    ) -> argparse.ArgumentParser:
        parents = [shared if shared is not None else self.common]
        sub: Parser = (parent or self.root).add_parser(
            name, parents=parents, help=help, description=help
        )
        sub.usage_exit = usage_exit
        sub.set_defaults(handler=handler, parser=sub)
        if json_output:
            sub.add_argument("--json", action="store_true", help="print JSON")
        return sub

    def group(self, name: str, help: str) -> SubParsers:
        sub: Parser = self.root.add_parser(name, help=help, description=help)
        commands = sub.add_subparsers(title="commands", metavar="COMMAND")

        def choose(_args: argparse.Namespace) -> int:
            names = ", ".join(public_choices(commands))
            fail(f"choose a command: {names} (see: {sub.prog} --help)")
            return EXIT_USAGE

        sub.set_defaults(handler=choose)
        return commands


def build_parser(*groups: CommandGroup) -> argparse.ArgumentParser:
    # Global options work before or after the command (`keydesk --db X key list`
    # or `keydesk key list --db X`): each subparser shares them, with SUPPRESS so
    # a subparser's default does not erase a value given earlier.
    db_only = Parser(add_help=False)
    db_only.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help=f"database URL (default: ${DATABASE_ENV}, else a SQLite file in your data folder)",
    )
    account_only = Parser(add_help=False)
    account_only.add_argument(
        "--account",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help=f"only for `keydesk demo` (also ${ACCOUNT_ENV}): elsewhere you act as your OS "
        "user (SQLite) or your database role (PostgreSQL), never as a typed name",
    )
    # Every other command takes --account only to refuse it with that reason
    # (keydesk.cli.context): said once, in `keydesk --help` and `demo`'s, not
    # in each command's help.
    account_refused = Parser(add_help=False)
    account_refused.add_argument(
        "--account", metavar="NAME", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    common = Parser(add_help=False, parents=[db_only, account_refused])
    parser = Parser(
        prog="keydesk",
        parents=[db_only, account_only],
        description="Issue and revoke API keys for OAuth integrations. With no command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"keydesk {__version__}")
    parser.add_argument("--no-mouse", action="store_true", help=NO_MOUSE_HELP)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    cli = Commands(commands, common, db_only, account_only)
    for group in groups:
        group.register(cli)
    return parser


def opens_tui(argv: list[str]) -> bool:
    """Only global options (`keydesk`, `keydesk --db URL`): the TUI. Anything
    else, --help and mistakes included, goes to the full parser."""
    wants_value = False
    for token in argv:
        if wants_value:
            wants_value = False
            continue
        if token in TUI_FLAGS:
            continue
        option, equals, _ = token.partition("=")
        if option not in GLOBAL_OPTIONS:
            return False
        wants_value = not equals
    return not wants_value
