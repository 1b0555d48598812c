"""`keydesk ssh …`: which SSH keys open keydesk, and as whom; and `keydesk
ssh-session ACCOUNT FINGERPRINT`, the forced command sshd runs for each.

The gitolite pattern: one service account owns the SQLite store, and its
``~/.ssh/authorized_keys`` maps each admin's SSH key to an account name
through a forced command (keydesk.ssh.grant_line writes those lines). sshd proves
who connects; `ssh-session` passes that name and the key's fingerprint to
the TUI or to one keydesk command as proven (`main(argv, actor=…,
ssh_key=…)`), never through argv or the environment, and never runs a shell.
The key acts only in the workspaces where an owner approved it
(keydesk.ssh.gate), checked when the session starts and at every step.

Every session opens the service account's default store, whatever its
environment says: sshd's `AcceptEnv` could let a client set
KEYDESK_DATABASE_URL, KEYDESK_ACCOUNT or XDG_DATA_HOME. `ssh authorize` and
`ssh revoke` check who may on that same store.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from keydesk import validation
from keydesk.cli import context, interface
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.output import fail, print_json, print_table, say
from keydesk.cli.parser import Commands, Parser
from keydesk.config import ACCOUNT_ENV, DATABASE_ENV, backend_of, database_url
from keydesk.errors import InvalidInput, NoTerminal, PermissionDenied, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from keydesk.service import KeyService
    from keydesk.ssh.grant_line import SshGrant
    from keydesk.ssh.public_keys import PublicKey

# keydesk.ssh.grant_line.SESSION_COMMAND, without importing that module for --help.
SESSION_COMMAND = "ssh-session"
# What a session never takes from its environment (the last is the CLI's
# traceback switch, keydesk.cli.DEBUG_ENV: a client must not turn one-line
# errors into tracebacks).
SESSION_IGNORES = (DATABASE_ENV, ACCOUNT_ENV, "XDG_DATA_HOME", "KEYDESK_DEBUG")
PUBLIC_KEY_MAX = 16_384  # bytes: an RSA 16384-bit public key is under 3 kB


def register(cli: Commands) -> None:
    group = cli.group(
        "ssh", "let admins reach keydesk with their SSH keys (this account's authorized_keys)"
    )
    plain = Parser(add_help=False)  # neither --db nor --account: see _session_store
    sub = cli.command(
        "authorize",
        authorize,
        "let an SSH public key open keydesk as an account (owners only; audited)",
        json_output=True,
        parent=group,
        shared=plain,
    )
    sub.add_argument(
        "--account",
        dest="ssh_account",
        required=True,
        metavar="NAME",
        help="the account the key acts as (a member of a workspace you own)",
    )
    sub.add_argument(
        "--key",
        required=True,
        metavar="PATH_OR_-_OR_SHA256:…",
        help="its .pub file, - to read stdin, or the fingerprint of a key already let in",
    )
    sub.add_argument(
        "--workspace",
        metavar="NAME",
        help="approve the key there only (default: in each of the account's workspaces you own)",
    )
    _authorized_keys_option(sub)
    sub = cli.command(
        "list",
        list_,
        "show which SSH key fingerprints open keydesk as which accounts",
        json_output=True,
        parent=group,
        shared=plain,
    )
    _authorized_keys_option(sub)
    sub = cli.command(
        "revoke",
        revoke,
        "stop an SSH key opening keydesk (owners only; audited)",
        json_output=True,
        parent=group,
        shared=plain,
    )
    sub.add_argument(
        "--fingerprint", required=True, metavar="SHA256:…", help="the key's, as `ssh list` shows it"
    )
    _authorized_keys_option(sub)
    _register_session(cli)


def _register_session(cli: Commands) -> None:
    """sshd's forced command: no `help`, so no line in `keydesk --help`."""
    session: Parser = cli.root.add_parser(
        SESSION_COMMAND,
        description="what sshd runs for a key `keydesk ssh authorize` let in; not for people",
    )
    session.internal = True  # nor among the choices, nor completed
    session.add_argument("session_account", metavar="ACCOUNT")
    # Optional so that a line written before approvals gets a one-line refusal.
    session.add_argument("session_key", metavar="FINGERPRINT", nargs="?")
    session.set_defaults(handler=ssh_session, parser=session)


def _authorized_keys_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--authorized-keys",
        metavar="PATH",
        help="the file to edit (default: ~/.ssh/authorized_keys of the user running keydesk)",
    )


# -- keydesk ssh authorize / list / revoke -------------------------------------------


def authorize(args: argparse.Namespace) -> int:
    """Let a key in (a new line) or approve one already in (a fingerprint,
    or its public key again), in --workspace or in each of the account's
    workspaces the actor owns. A line an older keydesk wrote is rewritten
    to name its fingerprint, which sessions need."""
    from keydesk.ssh import authorized_keys
    from keydesk.ssh.grant_line import running_keydesk_path, validate_account

    account = validate_account(validation.name(args.ssh_account, "the account name"))
    path = _authorized_keys(args)
    keydesk_path = running_keydesk_path()
    existing, key = _key_to_authorize(args.key, account, path)

    def write() -> SshGrant:
        if existing is None:
            return authorized_keys.add_grant(path, account, key, keydesk_path)
        if not existing.pinned:
            authorized_keys.remove_grant(path, key.fingerprint, repin=keydesk_path)
        return authorized_keys.find_grant(path, key.fingerprint)

    done = _service(args).authorize_ssh_key(
        account, key.fingerprint, write, workspace=args.workspace, new_key=existing is None
    )
    grant = done.written
    where = f"approved in {', '.join(done.approved)}" if done.approved else "nothing new approved"
    if done.already:
        where += f" (already approved in {', '.join(done.already)})"
    lines = [
        f"{key.fingerprint} ({key.key_type}) {'now opens' if existing is None else 'opens'} "
        f"keydesk as {account} (line {grant.line_number} of {path}); {where}; they connect "
        f"with: ssh -t {_me()}@{_host()}",
        done.awaiting_note(),
    ]
    data = _grant_json(grant, path) | {"key_type": key.key_type, "bits": key.bits}
    data |= {"approved": done.approved, "already": done.already, "awaiting": done.awaiting}
    say(args, data, "\n".join(line for line in lines if line))
    return 0


def _key_to_authorize(given: str, account: str, path: Path) -> tuple[SshGrant | None, PublicKey]:
    """(keydesk's line for the key if it has one, the key), from --key: a
    fingerprint names a key already let in; a public key may be new."""
    from keydesk.ssh.authorized_keys import find_grant
    from keydesk.ssh.errors import KeyAlreadyAuthorized, KeyNotAuthorized
    from keydesk.ssh.public_keys import parse_public_key

    if given.startswith("SHA256:"):
        grant = find_grant(path, given)
    else:
        key = parse_public_key(_read_public_key(given))
        try:
            grant = find_grant(path, key.fingerprint)
        except KeyNotAuthorized:  # a new key (or a line keydesk did not write)
            return None, key
    if grant.account != account:
        raise KeyAlreadyAuthorized(
            f"key {grant.fingerprint} opens keydesk as {grant.account}, not {account} (line "
            f"{grant.line_number} of {path}); revoke it first to let it in as {account}"
        )
    return grant, grant.key


def list_(args: argparse.Namespace) -> int:
    """Every line keydesk wrote, in file order. No store is opened: the file
    is the service account's, which whoever runs keydesk as it can read."""
    from keydesk.ssh.authorized_keys import read_grants

    path = _authorized_keys(args)
    grants = read_grants(path)
    if args.json:
        print_json([_grant_json(grant, path) for grant in grants])
    else:
        print_table(
            ["FINGERPRINT", "ACCOUNT", "TYPE", "LINE"],
            [[g.fingerprint, g.account, g.key.key_type, str(g.line_number)] for g in grants],
        )
    return 0


def revoke(args: argparse.Namespace) -> int:
    from keydesk.ssh.authorized_keys import find_grant, remove_grant

    path = _authorized_keys(args)
    grant = find_grant(path, args.fingerprint)  # whose key it is, for the check
    service = _service(args)
    removed = service.revoke_ssh_key(
        grant.account, grant.fingerprint, lambda: remove_grant(path, grant.fingerprint)
    )
    accounts = ", ".join(sorted({r.account for r in removed}))
    say(
        args,
        _grant_json(grant, path) | {"removed": True},
        f"{grant.fingerprint} no longer opens keydesk (it opened it as {accounts}); "
        "sessions already open go on until they end",
    )
    return 0


def _grant_json(grant: SshGrant, path: Path) -> dict[str, Any]:
    return {
        "fingerprint": grant.fingerprint,
        "account": grant.account,
        "key_type": grant.key.key_type,
        "line": grant.line_number,
        "keydesk": grant.keydesk_path,
        "authorized_keys": str(path),
    }


def _authorized_keys(args: argparse.Namespace) -> Path:
    from keydesk.ssh.authorized_keys import default_authorized_keys_path

    given: str | None = args.authorized_keys
    if given is None:
        return default_authorized_keys_path()
    from pathlib import Path

    return Path(_printable_path(given, "--authorized-keys")).absolute()


def _printable_path(path: str, option: str) -> str:
    """`path`, or a one-line refusal of one no file name has (a NUL, an
    escape sequence) or of an empty one."""
    if not path or not path.isprintable():
        raise InvalidInput(f"{option} needs a file path in printable characters")
    return path


def _read_public_key(source: str) -> str:
    """The text of `--key`: a file, or stdin for `-`. Never echoed: a
    private key given by mistake is refused by its shape, unseen."""
    if source == "-":
        data = sys.stdin.read(PUBLIC_KEY_MAX + 1)
    else:
        _printable_path(source, "--key")
        try:
            with open(source, encoding="utf-8", errors="replace") as handle:
                data = handle.read(PUBLIC_KEY_MAX + 1)
        except OSError as exc:
            denied = exc.errno == errno.EACCES
            hint = f"; pipe it in instead: --key - < {source}" if denied else ""
            raise InvalidInput(f"cannot read {source}: {exc.strerror}{hint}") from None
    if len(data) > PUBLIC_KEY_MAX:
        raise InvalidInput(f"that is more than {PUBLIC_KEY_MAX} bytes: not one public key")
    return data


def _service(args: argparse.Namespace) -> KeyService:
    """The service on the store SSH sessions open, as the admin running
    this (never over SSH: `ssh` is refused there)."""
    url = session_store_url()
    for value, source in ((args.db, "--db"), (os.environ.get(DATABASE_ENV), DATABASE_ENV)):
        if value and database_url(value) != url:
            where = url.removeprefix("sqlite:///")
            if backend_of(database_url(value)) == "postgresql":
                raise PermissionDenied(
                    f"{source} names a PostgreSQL store; SSH access shares the service account's "
                    f"SQLite store ({where}): on PostgreSQL each admin connects as their own role"
                )
            raise UsageError(
                f"{source} names another store than the one SSH sessions open ({where}); "
                f"leave {source} out"
            )
    args.db = url
    return context.service(args)


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _host() -> str:
    import socket

    return socket.gethostname() or "HOST"


# -- keydesk ssh-session ACCOUNT ---------------------------------------------------


def ssh_session(args: argparse.Namespace) -> int:
    """The TUI as ACCOUNT, or the one keydesk command in SSH_ORIGINAL_COMMAND
    as ACCOUNT. Refuses to run but as sshd's forced command."""
    from keydesk.ssh.grant_line import validate_account
    from keydesk.ssh.public_keys import normalize_fingerprint
    from keydesk.ssh.session_command import REMOTE_COMMANDS, parse_session_command

    _never_a_python_prompt()
    if args.db is not None or args.account is not None:
        raise PermissionDenied(
            f"keydesk {SESSION_COMMAND} takes neither --db nor --account: the store is the "
            "service account's and the account is the forced command's"
        )
    if os.environ.get("SUDO_USER"):
        raise PermissionDenied(
            f"keydesk {SESSION_COMMAND} runs only as sshd's forced command, never through sudo "
            "(it would let whoever runs it act as any account)"
        )
    if not os.environ.get("SSH_CONNECTION"):
        raise PermissionDenied(
            f"keydesk {SESSION_COMMAND} runs only as sshd's forced command (no SSH connection); "
            "admins connect with: ssh -t SERVICE_ACCOUNT@HOST"
        )
    account = validate_account(args.session_account)
    if args.session_key is None:
        raise PermissionDenied(
            f"this SSH key's line in authorized_keys was written before keys were approved per "
            f"workspace and does not name the key; an owner upgrades it with: keydesk ssh "
            f"authorize --account {account} --key SHA256:… (its fingerprint: keydesk ssh list)"
        )
    ssh_key = normalize_fingerprint(args.session_key)
    original = os.environ.get("SSH_ORIGINAL_COMMAND")
    for name in SESSION_IGNORES:
        os.environ.pop(name, None)
    url = session_store_url()
    os.environ[DATABASE_ENV] = url  # what every command of this session opens
    if original is None:
        return _session_tui(url, account, ssh_key)
    _require_any_approval(url, account, ssh_key)
    argv = parse_session_command(original, REMOTE_COMMANDS)
    run_command: Callable[..., int] = args.run_command  # keydesk.cli.main
    return run_command(argv, actor=account, ssh_key=ssh_key)


def _require_any_approval(url: str, account: str, ssh_key: str) -> None:
    """At the start of every session: a key approved in no workspace of its
    account ends it at once (each step checks its own workspace too)."""
    from keydesk.store.queries import bare_sqlite_reads

    with bare_sqlite_reads(url, account, ssh_key) as bare:
        if bare is not None:
            bare.require_any_approval()
            return
    args = argparse.Namespace(db=url, account=None, proven_actor=account, proven_ssh_key=ssh_key)
    service = context.service(args)  # an older store: upgraded on open
    try:
        with service.reading() as reads:
            reads.require_any_approval()
    finally:
        service.store.dispose()


def _never_a_python_prompt() -> None:
    """Python's inspect mode (PYTHONINSPECT, which an sshd whose AcceptEnv
    lets it through takes from the client) opens a Python prompt when the
    program ends, however it ends: a shell in all but name. So end here,
    without returning to the interpreter."""
    if not sys.flags.inspect:
        return
    fail(
        f"keydesk {SESSION_COMMAND} refuses to run with PYTHONINSPECT set (it would end at a "
        "Python prompt); let sshd's AcceptEnv pass no PYTHON* variable"
    )
    sys.stderr.flush()
    os._exit(EXIT_REFUSED)


def _session_tui(url: str, account: str, ssh_key: str) -> int:
    if not interface.has_terminal():
        raise NoTerminal(
            "no terminal for the TUI: connect with ssh -t, or give a command, e.g. "
            "ssh … key list --integration NAME --json"
        )
    from keydesk.tui.held_keys import held_keys

    # As `keydesk` does (keydesk.cli.interface.run_tui): keys typed while the
    # session starts are the TUI's, unechoed; refused, they are dropped.
    with held_keys() as keys:
        _require_any_approval(url, account, ssh_key)
        from keydesk.tui.app import run  # Textual is loaded only for the TUI

        keys.started()
        return run(url, proven=account, ssh_key=ssh_key)


def session_store_url() -> str:
    """sqlite:///…: the default store of the user running keydesk (the
    service account), located as under sshd: from the home directory in the
    user database, and nothing the environment names."""
    with _environment(HOME=service_home(), **dict.fromkeys(SESSION_IGNORES)):
        return database_url()


def service_home() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_dir


@contextlib.contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """os.environ with `values` set (None: unset), restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
