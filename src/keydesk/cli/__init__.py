"""The `keydesk` command: a thin shell over the key service for scripts and
CI runners. `keydesk` with no command opens the TUI.

Contract: exit 0 on success; otherwise exit non-zero with one line on stderr.
Private keys are never read from argv: `verify` takes stdin or KEYDESK_API_KEY.

One module per command group; each registers its commands on the parser and
imports the service, the store and the interface only when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from keydesk.cli import (
    audit,
    integrations,
    interface,
    keys,
    members,
    postgres,
    verification,
    workspaces,
)
from keydesk.cli.output import EXIT_ERROR, fail
from keydesk.cli.parser import build_parser
from keydesk.errors import KeydeskError

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None, *, actor: str | None = None) -> int:
    """Run one keydesk command. `actor` is an account a trusted caller has
    already proven (sshd's forced command in `keydesk ssh-session`, tests):
    it never comes from argv or the environment."""
    parser = build_parser(
        interface, workspaces, members, integrations, keys, audit, verification, postgres
    )
    args = parser.parse_args(argv)
    for option in ("db", "account", "json"):  # SUPPRESSed when not given
        setattr(args, option, getattr(args, option, None))
    args.proven_actor = actor  # no option has this dest: argv cannot set it
    handler: Handler = getattr(args, "handler", interface.run_tui)
    try:
        return handler(args)
    except KeydeskError as exc:
        fail(exc.message)
        return EXIT_ERROR
    except KeyboardInterrupt:
        fail("interrupted")
        return 130
