"""What a command acts on: the store its options name, as the account it
is run by. Imported by command handlers only when they run."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keydesk.config import acting_account, database_url

if TYPE_CHECKING:
    from keydesk.service import KeyService
    from keydesk.store import Store


def store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The store named by --db / $KEYDESK_DATABASE_URL / the default. Only
    `keydesk init` passes `create`: any other command given a path with no
    store says so instead of making an empty one."""
    from keydesk.store import open_store

    return open_store(database_url(args.db), create=create)


def service(args: argparse.Namespace, *, create: bool = False) -> KeyService:
    from keydesk.service import KeyService

    return KeyService(store(args, create=create), acting_account(args.account))
