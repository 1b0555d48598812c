"""The `keydesk` command: a thin shell over the key service for scripts and
CI runners. `keydesk` with no command opens the TUI.

Contract: exit 0 on success; otherwise exit non-zero with one line on stderr.
Private keys are never read from argv: `verify` takes stdin or KEYDESK_API_KEY.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from keydesk import __version__
from keydesk.config import ACCOUNT_ENV, DATABASE_ENV, acting_account, database_url
from keydesk.errors import KeydeskError, Unauthorized
from keydesk.service import IntegrationView, KeyService, KeyView
from keydesk.validation import shown_literally

API_KEY_ENV = "KEYDESK_API_KEY"
EXIT_ERROR = 2
EXIT_UNAUTHORIZED = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for option in ("db", "account", "json"):  # SUPPRESSed when not given
        setattr(args, option, getattr(args, option, None))
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", _run_tui)
    try:
        return handler(args)
    except KeydeskError as exc:
        _fail(exc.message)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130


# -- commands --------------------------------------------------------------------


def _run_tui(args: argparse.Namespace) -> int:
    from keydesk.tui.app import run  # Textual is loaded only for the TUI

    return run(database_url(args.db), acting_account(args.account))


def _demo(args: argparse.Namespace) -> int:
    import tempfile

    from keydesk.demo import DEMO_ACCOUNT, seed_demo
    from keydesk.store import open_store
    from keydesk.tui.app import run

    with tempfile.TemporaryDirectory(prefix="keydesk-demo-") as folder:
        url = f"sqlite:///{folder}/demo.db"
        store = open_store(url)
        seed_demo(store)
        store.dispose()
        return run(url, args.account or DEMO_ACCOUNT)


def _init(args: argparse.Namespace) -> int:
    ws = _service(args).create_workspace(args.workspace)
    _say(
        args,
        {"workspace": ws.name, "owner": acting_account(args.account)},
        f"created workspace {ws.name}; you are its owner",
    )
    return 0


def _member_add(args: argparse.Namespace) -> int:
    member = _service(args).add_member(args.workspace, args.member, args.role)
    _say(
        args,
        {"workspace": args.workspace, "account": member.account, "role": member.role.value},
        f"{member.account} is now {member.role} in {args.workspace}",
    )
    return 0


def _integration_add(args: argparse.Namespace) -> int:
    integration = _service(args).add_integration(
        args.workspace,
        args.name,
        args.provider,
        client_id=args.client_id,
        redirect_uri=args.redirect_uri,
        scopes=args.scopes or "",
        configure=args.configure,
    )
    _say(
        args,
        _integration_json(integration),
        f"added integration {integration.name} (id {integration.id}, {integration.status})",
    )
    return 0


def _integration_configure(args: argparse.Namespace) -> int:
    integration = _service(args).configure_integration(args.integration, args.workspace)
    _say(args, _integration_json(integration), f"integration {integration.name} is configured")
    return 0


def _integration_list(args: argparse.Namespace) -> int:
    integrations = _service(args).integrations(args.workspace)
    if args.json:
        _print_json([_integration_json(i) for i in integrations])
    else:
        _print_table(
            ["ID", "WORKSPACE", "NAME", "PROVIDER", "STATUS", "ACTIVE KEYS"],
            [
                [str(i.id), i.workspace, i.name, i.provider, i.status.value, str(i.active_keys)]
                for i in integrations
            ],
        )
    return 0


def _key_create(args: argparse.Namespace) -> int:
    created = _service(args).create_key(args.integration, args.label)
    key = created.key
    if args.json:
        _print_json({"api_key": created.private_key.reveal(), **_key_json(key)})
        return 0
    print(f"Created API key {key.label!r} for integration {key.integration}.")
    print(f"Public key:  {key.public_key}")
    print(f"API key:     {created.private_key.reveal()}")
    print()
    print("Copy the API key now: it will never be shown again. keydesk keeps only its hash.")
    return 0


def _key_list(args: argparse.Namespace) -> int:
    keys = _service(args).keys(args.integration)
    if args.json:
        _print_json([_key_json(k) for k in keys])
    else:
        _print_table(
            ["PUBLIC KEY", "LABEL", "STATUS", "CREATED", "BY", "LAST USED"],
            [
                [
                    k.public_key,
                    k.label,
                    k.status,
                    _when(k.created_at),
                    k.created_by,
                    _when(k.last_used_at),
                ]
                for k in keys
            ],
        )
    return 0


def _key_revoke(args: argparse.Namespace) -> int:
    service = _service(args)
    key = service.key(args.public_key)
    if not args.yes:
        if not sys.stdin.isatty():
            _fail("refusing to revoke without confirmation: pass --yes when not at a terminal")
            return EXIT_ERROR
        print(
            f"Revoke {key.public_key} ({shown_literally(key.label)}) of {shown_literally(key.integration)}?\n"
            "Revocation is immediate and cannot be undone: every service still using this key\n"
            "will get 401 Unauthorized on its next request. Deploy a replacement first.",
            file=sys.stderr,
        )
        if input("Type 'revoke' to confirm: ").strip().lower() != "revoke":
            _fail("not revoked")
            return EXIT_ERROR
    key = service.revoke_key(key.public_key)
    _say(args, _key_json(key), f"revoked {key.public_key} ({shown_literally(key.label)})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from keydesk.store import open_store
    from keydesk.verify import Verifier

    presented = os.environ.get(API_KEY_ENV)
    if presented is None:
        presented = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    store = open_store(database_url(args.db))
    verifier = Verifier(store.engine)
    try:
        identity = verifier.verify(presented)
    except Unauthorized as exc:
        if args.json:
            _print_json(
                {"valid": False, "status": 401, "reason": exc.reason.value, "message": exc.message}
            )
        print(f"401 Unauthorized: {exc.reason.value} ({exc.message})", file=sys.stderr)
        return EXIT_UNAUTHORIZED
    finally:
        verifier.close()
        store.dispose()
    if args.json:
        _print_json({"valid": True, **identity.as_dict()})
    else:
        print(
            f"valid: {identity.public_key} {shown_literally(identity.label)!r} "
            f"integration {shown_literally(identity.integration)} in {shown_literally(identity.workspace)}"
        )
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        from keydesk.server import serve
    except ImportError:
        _fail("the server needs its extra: pip install 'keydesk[server]'")
        return EXIT_ERROR
    from keydesk.store import open_store

    serve(open_store(database_url(args.db)), args.host, args.port, access_log=args.access_log)
    return 0


# -- helpers -----------------------------------------------------------------------


def _service(args: argparse.Namespace) -> KeyService:
    from keydesk.store import open_store

    return KeyService(open_store(database_url(args.db)), acting_account(args.account))


def _integration_json(i: IntegrationView) -> dict[str, Any]:
    return {
        "id": i.id,
        "workspace": i.workspace,
        "name": i.name,
        "provider": i.provider,
        "client_id": i.client_id,
        "redirect_uri": i.redirect_uri,
        "scopes": i.scopes.split(),
        "status": i.status.value,
        "active_keys": i.active_keys,
        "created_at": _iso(i.created_at),
        "updated_at": _iso(i.updated_at),
    }


def _key_json(k: KeyView) -> dict[str, Any]:
    return {
        "public_key": k.public_key,
        "label": k.label,
        "integration": k.integration,
        "integration_id": k.integration_id,
        "status": k.status,
        "created_at": _iso(k.created_at),
        "created_by": k.created_by,
        "revoked_at": _iso(k.revoked_at),
        "revoked_by": k.revoked_by,
        "expires_at": _iso(k.expires_at),
        "last_used_at": _iso(k.last_used_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


def _say(args: argparse.Namespace, data: dict[str, Any], message: str) -> None:
    if getattr(args, "json", False):
        _print_json(data)
    else:
        print(message)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    rows = [[shown_literally(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    for row in [headers, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _fail(message: str) -> None:
    print(f"keydesk: {shown_literally(message)}", file=sys.stderr)


# -- the parser --------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    # Global options work before or after the command (`keydesk --db X key list`
    # or `keydesk key list --db X`): each subparser shares them, with SUPPRESS so
    # a subparser's default does not erase a value given earlier.
    db_only = argparse.ArgumentParser(add_help=False)
    db_only.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help=f"database URL (default: ${DATABASE_ENV}, else a SQLite file in your data folder)",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[db_only])
    common.add_argument(
        "--account",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help=f"act as this account (default: ${ACCOUNT_ENV}, else your login name)",
    )

    parser = argparse.ArgumentParser(
        prog="keydesk",
        parents=[common],
        description="Issue and revoke API keys for OAuth integrations. With no command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"keydesk {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(parent, name: str, handler, help: str, json_output: bool = False, shared=common):
        sub = parent.add_parser(name, parents=[shared], help=help, description=help)
        sub.set_defaults(handler=handler)
        if json_output:
            sub.add_argument("--json", action="store_true", help="print JSON")
        return sub

    def group(name: str, help: str):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=lambda _args: (sub.print_help(), EXIT_ERROR)[1])
        return sub.add_subparsers(title="commands", metavar="COMMAND")

    command(commands, "demo", _demo, "open the TUI on a throwaway store filled with sample data")

    sub = command(commands, "init", _init, "create a workspace; you become its owner", True)
    sub.add_argument("--workspace", required=True, metavar="NAME")

    members = group("member", "manage workspace members")
    # Here --account names the member; the acting account goes before the
    # command (`keydesk --account alice member add ...`) or in $KEYDESK_ACCOUNT.
    sub = command(
        members,
        "add",
        _member_add,
        "add an account to a workspace, or change its role",
        True,
        shared=db_only,
    )
    sub.add_argument("--workspace", required=True, metavar="NAME")
    sub.add_argument(
        "--account",
        dest="member",
        required=True,
        metavar="NAME",
        help="the account to add or change",
    )
    sub.add_argument("--role", required=True, choices=["owner", "admin", "member", "viewer"])

    integrations = group("integration", "manage OAuth integrations")
    sub = command(integrations, "add", _integration_add, "add an OAuth integration", True)
    sub.add_argument("--workspace", required=True, metavar="NAME")
    sub.add_argument("--name", required=True)
    sub.add_argument("--provider", required=True, metavar="NAME")
    sub.add_argument("--client-id", metavar="ID")
    sub.add_argument("--redirect-uri", metavar="URI")
    sub.add_argument("--scopes", metavar="SCOPES", help="space- or comma-separated")
    sub.add_argument("--configure", action="store_true", help="mark it configured now")
    sub = command(
        integrations,
        "configure",
        _integration_configure,
        "mark an integration configured (needs client id and redirect URI)",
        True,
    )
    sub.add_argument("integration", metavar="NAME_OR_ID")
    sub.add_argument("--workspace", metavar="NAME")
    sub = command(integrations, "list", _integration_list, "list integrations", True)
    sub.add_argument("--workspace", metavar="NAME")

    keys = group("key", "create, list and revoke API keys")
    sub = command(
        keys, "create", _key_create, "create an API key (its private key is shown once)", True
    )
    sub.add_argument("--integration", required=True, metavar="NAME_OR_ID")
    sub.add_argument("--label", required=True, help="e.g. api-gateway-prod, CI Runner")
    sub = command(keys, "list", _key_list, "list an integration's keys (never secrets)", True)
    sub.add_argument("--integration", required=True, metavar="NAME_OR_ID")
    sub = command(keys, "revoke", _key_revoke, "revoke a key now, irreversibly", True)
    sub.add_argument("public_key", metavar="PUBLIC_KEY")
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    command(
        commands,
        "verify",
        _verify,
        f"check an API key read from stdin or ${API_KEY_ENV} (never from arguments)",
        True,
    )
    sub = command(
        commands, "serve", _serve, "serve GET /v1/verify (Bearer keys) over HTTP", shared=db_only
    )
    sub.add_argument("--host", default="127.0.0.1")
    sub.add_argument("--port", type=int, default=8080)
    sub.add_argument("--access-log", action="store_true", help="log each request (never its key)")
    return parser
