"""`keydesk verify` and `keydesk serve`: checking presented keys."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from keydesk.cli import context
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.output import EXIT_UNAUTHORIZED, fail, print_json
from keydesk.cli.parser import Commands
from keydesk.errors import Unauthorized
from keydesk.validation import shown_literally

API_KEY_ENV = "KEYDESK_API_KEY"


def register(cli: Commands) -> None:
    cli.command(
        "verify",
        verify,
        f"check an API key read from stdin or ${API_KEY_ENV} (never from arguments)",
        json_output=True,
    )
    sub = cli.command(
        "serve", serve, "serve GET /v1/verify (Bearer keys) over HTTP", shared=cli.db_only
    )
    sub.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    sub.add_argument("--port", type=int, default=8080, help="the port (default 8080)")
    sub.add_argument("--access-log", action="store_true", help="log each request (never its key)")
    sub.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help="take the client's address from X-Forwarded-For (or Forwarded) on connections "
        "from ADDRESS, an address or CIDR (repeatable; by default the header is ignored)",
    )
    sub.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics on /metrics (needs keydesk[metrics])",
    )
    sub.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        metavar="N",
        help="answer with N processes sharing the port and the store (default 1)",
    )


def verify(args: argparse.Namespace) -> int:
    from keydesk.verify.verifier import Verifier

    presented = os.environ.get(API_KEY_ENV)
    if presented is None:
        import getpass

        presented = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    verifier = Verifier(context.ready_store_url(args))
    try:
        identity = verifier.verify(presented)
    except Unauthorized as exc:
        if args.json:
            print_json(
                {"valid": False, "status": 401, "reason": exc.reason.value, "message": exc.message}
            )
        print(f"401 Unauthorized: {exc.reason.value} ({exc.message})", file=sys.stderr)
        return EXIT_UNAUTHORIZED
    finally:
        verifier.close()
    if args.proven_ssh_key is not None and not _session_acts_in(args, identity.workspace_id):
        # A session shows nothing of a workspace its key may not act in: not
        # even its name, its integration or the key's label.
        if args.json:
            print_json({"valid": True, "public_key": identity.public_key})
        else:
            print(f"valid: {identity.public_key}")
        return 0
    if args.json:
        print_json({"valid": True, **identity.as_dict()})
    else:
        print(
            f"valid: {identity.public_key} {shown_literally(identity.label)!r} "
            f"integration {shown_literally(identity.integration)} in {shown_literally(identity.workspace)}"
        )
    return 0


def _session_acts_in(args: argparse.Namespace, workspace_id: int) -> bool:
    """Whether the SSH session's key may act in the workspace (approved there)."""
    with context.reads(args) as reads:
        return reads.acts_in(workspace_id)


def serve(args: argparse.Namespace) -> int:
    try:
        from keydesk.http.server import serve as run_server
    except ImportError:
        fail("the server needs its extra: pip install 'keydesk[server]'")
        return EXIT_REFUSED
    if args.metrics and importlib.util.find_spec("prometheus_client") is None:
        fail("--metrics needs its extra: pip install 'keydesk[metrics]'")
        return EXIT_REFUSED
    if args.metrics and args.workers > 1:
        # Each worker counts its own requests: a scrape would see one at random.
        fail("--metrics needs a single worker: each worker counts only its own requests")
        return EXIT_REFUSED
    from keydesk.limits import proxies

    proxies(args.trusted_proxy or ())  # one line now, not a server that answers 500
    run_server(
        context.store(args),
        args.host,
        args.port,
        access_log=args.access_log,
        trusted_proxies=args.trusted_proxy,
        metrics=args.metrics,
        workers=args.workers,
    )
    return 0


def _worker_count(text: str) -> int:
    count = int(text) if text.isdigit() else 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"not a number of workers from 1 to 64: {text!r}")
    return count
