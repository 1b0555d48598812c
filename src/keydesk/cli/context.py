"""What a command acts on: the store its options name, as the account that
runs it. Imported by command handlers only when they run.

Who acts is proven, never typed (`keydesk.identity`): --account and
$KEYDESK_ACCOUNT are refused here with the reason. A trusted caller that
proved an account another way (`keydesk ssh-session`, tests) passes it to
`keydesk.cli.main(argv, actor=…)`, which puts it in `args.proven_actor` (and
the SSH key it was proven with, which acts only where approved, in
`args.proven_ssh_key`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from keydesk.config import backend_of, database_url, typed_account
from keydesk.errors import PermissionDenied

if TYPE_CHECKING:
    from keydesk.service import KeyService
    from keydesk.store.engine import Store
    from keydesk.store.queries import Reads


def store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The store named by --db / $KEYDESK_DATABASE_URL / the default. Only
    `keydesk init` passes `create`: any other command given a path with no
    store says so instead of making an empty one."""
    from keydesk.store.engine import open_store

    return open_store(database_url(args.db), create=create)


def ready_store_url(args: argparse.Namespace) -> str:
    """The URL of the store named by the options, once it is known to be an
    up-to-date keydesk store: checked bare on SQLite (no SQLAlchemy), else
    opened the full way, which upgrades it or says in one line what is wrong."""
    from keydesk.store.sqlite_file import open_for_reading

    url = database_url(args.db)
    with open_for_reading(url) as up_to_date:
        if up_to_date is None:
            store(args).dispose()
    return url


def service(args: argparse.Namespace, *, create: bool = False) -> KeyService:
    from keydesk.identity import acting_account
    from keydesk.service import KeyService

    refuse_typed_account(args)
    opened = store(args, create=create)
    try:
        actor = acting_account(opened, proven=args.proven_actor)
        return KeyService(opened, actor, ssh_key=args.proven_ssh_key)
    except BaseException:
        opened.discard()  # a store this command just made goes with it
        raise


@contextmanager
def reads(args: argparse.Namespace) -> Iterator[Reads]:
    """The list reads as the account that runs the command. On an
    up-to-date SQLite store they run on a bare sqlite3 connection, so a
    command that only lists starts without SQLAlchemy; any other store goes
    through the service (which migrates, or says what is wrong)."""
    from keydesk.store.queries import bare_sqlite_reads

    refuse_typed_account(args)
    url = database_url(args.db)
    with bare_sqlite_reads(url, args.proven_actor, args.proven_ssh_key) as bare:
        if bare is not None:
            yield bare
            return
    keys = service(args)
    try:
        with keys.reading() as opened:
            yield opened
    finally:
        keys.store.dispose()


def refuse_typed_account(args: argparse.Namespace) -> None:
    """--account or $KEYDESK_ACCOUNT cannot say who acts: one line saying why."""
    from keydesk.identity import typed_account_refused

    typed = typed_account(args.account)
    if typed is not None:
        raise PermissionDenied(typed_account_refused(backend_of(database_url(args.db)), typed[1]))
