"""`keydesk` (no command) and `keydesk demo`: the TUI."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from keydesk.cli import context
from keydesk.cli.parser import NO_MOUSE_HELP, Commands, Parser
from keydesk.config import DATABASE_ENV, database_url, typed_account
from keydesk.errors import NoTerminal, StoreNotFound, UsageError

if TYPE_CHECKING:
    from keydesk.tui.held_keys import HeldKeys


def register(cli: Commands) -> None:
    # The demo's store is its own: --db is not offered (and, given, refused
    # with the reason, by `demo`), as `keydesk demo --help` listed it.
    options = Parser(add_help=False, parents=[cli.account_only])
    options.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = cli.command(
        "demo",
        demo,
        "open the TUI on a throwaway store filled with sample data "
        "(--account NAME acts as NAME there, and only there)",
        shared=options,
    )
    # SUPPRESS: `keydesk --no-mouse demo` keeps the top-level flag's value.
    sub.add_argument(
        "--no-mouse", action="store_true", default=argparse.SUPPRESS, help=NO_MOUSE_HELP
    )


def _mouse(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_mouse", False)


def run_tui(args: argparse.Namespace) -> int:
    context.refuse_typed_account(args)
    require_terminal()
    from keydesk.tui.held_keys import held_keys

    with held_keys() as keys:  # keys typed from here on are the TUI's
        from keydesk.tui.app import run  # Textual is loaded only for the TUI

        url = database_url(args.db)
        named = bool(args.db or os.environ.get(DATABASE_ENV))
        created = _first_run(url, named=named, keys=keys)
        keys.started()
        # never over SSH: ssh-session opens its own
        return run(url, proven=args.proven_actor, mouse=_mouse(args), notice=created)


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_terminal() -> None:
    """The TUI draws on a terminal and reads keys from one. Without one (cron,
    a pipe, `ssh -T`) Textual would spin writing escape codes nobody reads,
    for ever: say what to run instead, at once, before anything is made."""
    if has_terminal():
        return
    missing = [
        name
        for name, stream in (("input", sys.stdin), ("output", sys.stdout))
        if not stream.isatty()
    ]
    raise NoTerminal(
        f"keydesk's screens need a terminal (standard {' and '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not one): "
        "run it in a terminal (over SSH: ssh -t), or give a command: keydesk --help lists them"
    )


def _first_run(url: str, *, named: bool, keys: HeldKeys) -> str | None:
    """The TUI's first run is the one place besides `init` and `demo` that
    creates a store, and it says where. A SQLite file named with --db or
    $KEYDESK_DATABASE_URL is created only after the user agrees at the
    terminal (a typo must not make an empty store); the default one is simply
    created. A PostgreSQL database without a schema is left to `keydesk init`.
    Returns what to tell in the TUI when a store was made (stderr is hidden
    behind the screen until keydesk ends)."""
    from keydesk.store.path import checked_store_path
    from keydesk.store.sqlite_file import sqlite_file_of

    path = sqlite_file_of(url)
    # Checked first: an unsafe or unreadable store is said as such, never
    # as "no store here", and before anything is asked or made.
    if path is None or checked_store_path(path).exists():
        return None
    if named:
        if not sys.stdin.isatty():
            raise StoreNotFound(
                f"no keydesk store at {path} (create one with: keydesk init --workspace NAME)"
            )
        answer = keys.ask(f"There is no keydesk store at {path}.\nCreate a new one there? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise StoreNotFound(f"no keydesk store at {path}; nothing was created")
    from keydesk.store.engine import open_store

    open_store(url, create=True).dispose()
    return f"Created your store at {path} (readable by you only)."


def demo(args: argparse.Namespace) -> int:
    import tempfile

    if args.db:  # the demo's store is its own, and is thrown away: say so
        raise UsageError("keydesk demo uses a throwaway store; to open yours: keydesk --db PATH")
    typed = typed_account(args.account)  # a bad --account is the first thing to hear of
    require_terminal()

    from keydesk.tui.held_keys import held_keys

    # The demo's store is made here, now, by this process: whoever runs it
    # may act as anyone in it. Keys typed meanwhile are the TUI's.
    with held_keys() as keys, tempfile.TemporaryDirectory(prefix="keydesk-demo-") as folder:
        from keydesk.demo import DEMO_ACCOUNT, seed_demo
        from keydesk.store.engine import open_store
        from keydesk.tui.app import run

        url = f"sqlite:///{folder}/demo.db"
        store = open_store(url, create=True)
        seed_demo(store)
        store.dispose()
        keys.started()
        return run(url, proven=typed[0] if typed else DEMO_ACCOUNT, mouse=_mouse(args))
