"""What a command acts on: the store its options name, as the account that
runs it. Imported by command handlers only when they run.

Who acts is proven, never typed (`keydesk.identity`): --account and
$KEYDESK_ACCOUNT are refused here with the reason. A trusted caller that
proved an account another way (`keydesk ssh-session`, tests) passes it to
`keydesk.cli.main(argv, actor=…)`, which puts it in `args.proven_actor`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keydesk.config import backend_of, database_url, typed_account
from keydesk.errors import PermissionDenied

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
    from keydesk.identity import acting_account
    from keydesk.service import KeyService

    refuse_typed_account(args)
    opened = store(args, create=create)
    try:
        return KeyService(opened, acting_account(opened, proven=args.proven_actor))
    except BaseException:
        opened.dispose()
        raise


def refuse_typed_account(args: argparse.Namespace) -> None:
    """--account or $KEYDESK_ACCOUNT cannot say who acts: one line saying why."""
    from keydesk.identity import typed_account_refused

    typed = typed_account(args.account)
    if typed is not None:
        raise PermissionDenied(typed_account_refused(backend_of(database_url(args.db)), typed[1]))
