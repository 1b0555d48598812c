"""What `keydesk COMMAND` exits with, so a script can tell a refusal from a
mistake in how it called keydesk, from a store to try again later. The one
table from keydesk's typed errors to exit statuses (the README's "Exit
status" table says the same). `scan` and `verify` keep their own statuses
for what they found (keydesk.cli.scanning, keydesk.cli.verification).

Kept out of keydesk.errors: the service and the HTTP server raise the same
errors and map them their own way.
"""

from __future__ import annotations

from keydesk.errors import KeydeskError, StoreUnavailable, TooManyAttempts, UsageError

EXIT_OK = 0
EXIT_REFUSED = 1  # refused or not found: a valid request keydesk said no to
EXIT_USAGE = 2  # the command line is wrong: argparse's errors, options that do not go together
EXIT_UNAVAILABLE = 3  # the store is missing, unsafe, unreachable or busy: fix it or try again
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, reported in one line
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `yes | head` leaves behind

# Most specific first is not needed: the error's own class, then its bases,
# are looked up in order (a NoTerminal is a UsageError before an InvalidInput).
_BY_ERROR: dict[type[KeydeskError], int] = {
    UsageError: EXIT_USAGE,
    StoreUnavailable: EXIT_UNAVAILABLE,
    TooManyAttempts: EXIT_UNAVAILABLE,  # busy with this key: try again after a pause
}


def exit_code(error: KeydeskError) -> int:
    """The status for `error`: its nearest class in the table, else refused
    (PermissionDenied, NotFound, AlreadyExists, AlreadyRevoked, InvalidInput:
    a value keydesk's rules refuse, and every other KeydeskError)."""
    for kind in type(error).__mro__:
        if kind in _BY_ERROR:
            return _BY_ERROR[kind]
    return EXIT_REFUSED
