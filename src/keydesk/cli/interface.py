"""`keydesk` (no command) and `keydesk demo`: the TUI."""

from __future__ import annotations

import argparse

from keydesk.cli import context
from keydesk.cli.parser import Commands
from keydesk.config import database_url, typed_account


def register(cli: Commands) -> None:
    cli.command(
        "demo",
        demo,
        "open the TUI on a throwaway store filled with sample data "
        "(--account NAME acts as NAME there, and only there)",
    )


def run_tui(args: argparse.Namespace) -> int:
    context.refuse_typed_account(args)
    from keydesk.tui.app import run  # Textual is loaded only for the TUI

    return run(database_url(args.db), proven=args.proven_actor)


def demo(args: argparse.Namespace) -> int:
    import tempfile

    from keydesk.demo import DEMO_ACCOUNT, seed_demo
    from keydesk.store import open_store
    from keydesk.tui.app import run

    # The demo's store is made here, now, by this process: whoever runs it
    # may act as anyone in it.
    typed = typed_account(args.account)
    with tempfile.TemporaryDirectory(prefix="keydesk-demo-") as folder:
        url = f"sqlite:///{folder}/demo.db"
        store = open_store(url)
        seed_demo(store)
        store.dispose()
        return run(url, proven=typed[0] if typed else DEMO_ACCOUNT)
