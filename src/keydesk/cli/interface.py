"""`keydesk` (no command) and `keydesk demo`: the TUI."""

from __future__ import annotations

import argparse

from keydesk.cli.parser import Commands
from keydesk.config import acting_account, database_url
from keydesk.errors import InvalidInput


def register(cli: Commands) -> None:
    cli.command("demo", demo, "open the TUI on a throwaway store filled with sample data")


def run_tui(args: argparse.Namespace) -> int:
    from keydesk.tui.app import run  # Textual is loaded only for the TUI

    return run(database_url(args.db), acting_account(args.account))


def demo(args: argparse.Namespace) -> int:
    import tempfile

    if args.db:  # the demo's store is its own, and is thrown away: say so
        raise InvalidInput("keydesk demo uses a throwaway store; to open yours: keydesk --db PATH")

    from keydesk.demo import DEMO_ACCOUNT, seed_demo
    from keydesk.store import open_store
    from keydesk.tui.app import run

    with tempfile.TemporaryDirectory(prefix="keydesk-demo-") as folder:
        url = f"sqlite:///{folder}/demo.db"
        store = open_store(url)
        seed_demo(store)
        store.dispose()
        return run(url, args.account or DEMO_ACCOUNT)
