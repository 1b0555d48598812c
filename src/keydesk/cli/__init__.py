"""The `keydesk` command: a thin shell over the key service for scripts and
CI runners. `keydesk` with no command opens the TUI.

Contract: exit 0 on success; otherwise one line on stderr, never a
traceback (argparse's usage errors included), and a status a script can
tell apart (keydesk.cli.exit_codes: 1 refused or not found, 2 usage, 3 the
store unavailable or busy, 70 a bug, 130 interrupted, 141 stdout closed). Private keys are never
read from argv (`verify` takes stdin or KEYDESK_API_KEY), and one pasted into
any argument by mistake is redacted wherever it would be echoed.

One module per command group; each registers its commands on the parser and
imports the service, the store and the interface only when a command runs, so
`keydesk --help` loads no database or screen library.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from keydesk.cli import (
    audit,
    completion,
    integrations,
    interface,
    keys,
    members,
    notify,
    postgres,
    scanning,
    ssh,
    store,
    verification,
    workspaces,
)
from keydesk.cli.exit_codes import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_USAGE,
    exit_code,
)
from keydesk.cli.output import fail, silence_stdout
from keydesk.cli.parser import (
    GLOBAL_OPTIONS,
    CommandGroup,
    build_parser,
    opens_tui,
    unrecognized,
)
from keydesk.errors import KeydeskError
from keydesk.tui.held_keys import let_go

Handler = Callable[[argparse.Namespace], int]

# Every command group, in the order --help lists them.
GROUPS = (
    interface,
    workspaces,
    members,
    integrations,
    keys,
    audit,
    notify,
    verification,
    scanning,
    postgres,
    store,
    ssh,
    completion,
)
# The group that registers each command: a completion request whose line
# names one builds only that group's parsers (tests/cli/test_completion.py
# checks this against what the groups register).
GROUP_OF: dict[str, CommandGroup] = {
    "demo": interface,
    "init": workspaces,
    "workspace": workspaces,
    "member": members,
    "integration": integrations,
    "key": keys,
    "audit": audit,
    "notify": notify,
    "verify": verification,
    "serve": verification,
    "scan": scanning,
    "postgres": postgres,
    "store": store,
    "ssh": ssh,
    "ssh-session": ssh,
    "completion": completion,
}
DEBUG_ENV = "KEYDESK_DEBUG"


def _groups(argv: list[str]) -> tuple[CommandGroup, ...]:
    """The command groups whose parsers `argv` needs. The TUI's needs none,
    a command's only its own group (building them all costs the TUI's first
    frame ~20 ms, and every command as much); --help or a mistake, all."""
    if opens_tui(argv):
        return ()
    takes_value = False
    for word in argv:
        if word in ("-h", "--help"):
            return GROUPS
        if takes_value or word.startswith("-"):
            takes_value = word in GLOBAL_OPTIONS and not takes_value
            continue
        group = GROUP_OF.get(word)
        return GROUPS if group is None else (group,)
    return GROUPS


# The TUI's commands: held_keys takes over the keys held since keydesk started.
_TAKING_HELD_KEYS: tuple[Handler, ...] = (interface.run_tui, interface.demo, ssh.ssh_session)


def main(
    argv: Sequence[str] | None = None, *, actor: str | None = None, ssh_key: str | None = None
) -> int:
    """Run one keydesk command. `actor` is an account a trusted caller has
    already proven (sshd's forced command in `keydesk ssh-session`, tests),
    and `ssh_key` the fingerprint of the SSH key it was proven with (which
    acts only where an owner approved it): neither comes from argv or the
    environment."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if completion.asked(argv, actor):  # the shell's completion script: it reads fd 8
        completion.complete(build_parser(*completion.groups_for(GROUPS, GROUP_OF)))
    parser = build_parser(*_groups(argv))
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the command's own parser: its exit status, its --help
            command: argparse.ArgumentParser = getattr(args, "parser", parser)
            command.error(unrecognized(command, extra))
    except SystemExit as exit_:  # --help, --version, or a usage error already reported
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    for option in ("db", "account", "json"):  # SUPPRESSed when not given
        setattr(args, option, getattr(args, option, None))
    args.proven_actor = actor  # no option has this dest: argv cannot set it
    args.proven_ssh_key = ssh_key
    args.run_command = main  # how an SSH session runs the command it was sent
    handler: Handler = getattr(args, "handler", interface.run_tui)
    if handler not in _TAKING_HELD_KEYS:  # keydesk.__main__ held the keys typed at once
        let_go()  # the terminal as the shell had it
    try:
        return handler(args)
    except KeydeskError as exc:  # the one place a typed error becomes an exit status
        fail(exc.message)
        return exit_code(exc)
    except BrokenPipeError:  # `keydesk key list | head`: the reader has gone
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        fail("interrupted")
        return EXIT_INTERRUPTED
    except EOFError:  # stdin closed while a question was asked: as a "no"
        fail("no answer (standard input is closed); nothing was changed")
        return EXIT_REFUSED
    except Exception as exc:  # the contract holds for bugs too: one line, no traceback
        if os.environ.get(DEBUG_ENV):
            raise
        fail(
            f"internal error ({type(exc).__name__}); please report it (set {DEBUG_ENV}=1 for details)"
        )
        return EXIT_INTERNAL
