"""`keydesk integration …`: the OAuth integrations keys are issued for."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keydesk.cli import context
from keydesk.cli.exit_codes import EXIT_REFUSED
from keydesk.cli.output import confirmed, integration_json, print_json, print_table, say
from keydesk.cli.parser import Commands
from keydesk.errors import InvalidInput, UsageError
from keydesk.validation import shown_literally

if TYPE_CHECKING:
    from keydesk.views import IntegrationView


def register(cli: Commands) -> None:
    group = cli.group("integration", "manage OAuth integrations")
    sub = cli.command("add", add, "add an OAuth integration", json_output=True, parent=group)
    sub.add_argument(
        "--workspace", required=True, metavar="NAME", help="the workspace to add it to"
    )
    sub.add_argument(
        "--name", required=True, metavar="NAME", help="its name in the workspace, e.g. github-prod"
    )
    sub.add_argument(
        "--provider", required=True, metavar="NAME", help="who runs the OAuth app: GitHub, Okta…"
    )
    sub.add_argument(
        "--client-id", metavar="ID", help="the OAuth client id (needed to configure it)"
    )
    sub.add_argument(
        "--redirect-uri",
        metavar="URI",
        help="https://… (http://localhost… for development; needed to configure it)",
    )
    sub.add_argument("--scopes", metavar="SCOPES", help="space- or comma-separated")
    sub.add_argument("--configure", action="store_true", help="mark it configured now")
    sub = cli.command(
        "configure",
        configure,
        "mark an integration configured (needs client id and redirect URI)",
        json_output=True,
        parent=group,
    )
    _integration_arguments(sub)
    sub = cli.command("list", list_, "list integrations", json_output=True, parent=group)
    sub.add_argument("--workspace", metavar="NAME", help="only this one (default: all of yours)")
    sub = cli.command(
        "edit", edit, "change an integration's OAuth settings", json_output=True, parent=group
    )
    _integration_arguments(sub)
    sub.add_argument("--client-id", metavar="ID", help="the new OAuth client id")
    sub.add_argument("--redirect-uri", metavar="URI", help="the new redirect URI (https://…)")
    sub.add_argument(
        "--scopes",
        metavar="SCOPES",
        help="space- or comma-separated; keys keep only the ones still listed, never gain any",
    )
    sub = cli.command(
        "disable",
        disable,
        "disable an integration: its keys stop verifying until it is enabled again",
        json_output=True,
        parent=group,
    )
    _integration_arguments(sub)
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub = cli.command(
        "enable",
        enable,
        "enable a disabled integration again: its live keys verify again",
        json_output=True,
        parent=group,
    )
    _integration_arguments(sub)


def _integration_arguments(sub: argparse.ArgumentParser) -> None:
    """The integration a command acts on."""
    sub.add_argument("integration", metavar="NAME_OR_ID", help="its name, or its ID (from list)")
    sub.add_argument(
        "--workspace",
        metavar="NAME",
        help="the integration's workspace, where its name is in more than one of yours",
    )


def add(args: argparse.Namespace) -> int:
    integration = context.service(args).add_integration(
        args.workspace,
        args.name,
        args.provider,
        client_id=args.client_id,
        redirect_uri=args.redirect_uri,
        scopes=args.scopes or "",
        configure=args.configure,
    )
    say(
        args,
        integration_json(integration),
        f"added integration {integration.name} (id {integration.id}, {integration.status})"
        + _draft_hint(integration),
    )
    return 0


def _draft_hint(integration: IntegrationView) -> str:
    """What a draft still needs before keys, in the commands that do it: a
    complete one is only told to configure, a missing setting is named."""
    if integration.status.value != "draft":
        return ""
    name = shown_literally(integration.name)
    if missing := integration.missing_settings():
        return f"; configuring it needs its {missing} (keydesk integration edit {name} …)"
    return f"; no keys until it is configured: keydesk integration configure {name}"


def configure(args: argparse.Namespace) -> int:
    integration = context.service(args).configure_integration(args.integration, args.workspace)
    say(args, integration_json(integration), f"integration {integration.name} is configured")
    return 0


def list_(args: argparse.Namespace) -> int:
    with context.reads(args) as reads:
        integrations = reads.integrations(args.workspace)
    if args.json:
        print_json([integration_json(i) for i in integrations])
    else:
        print_table(
            ["ID", "WORKSPACE", "NAME", "PROVIDER", "STATUS", "ACTIVE KEYS", "EXPIRING SOON"],
            [
                [
                    str(i.id),
                    i.workspace,
                    i.name,
                    i.provider,
                    i.status.value,
                    str(i.active_keys),
                    str(i.expiring_keys),
                ]
                for i in integrations
            ],
        )
    return 0


def edit(args: argparse.Namespace) -> int:
    if args.client_id is None and args.redirect_uri is None and args.scopes is None:
        raise UsageError("nothing to change: give --client-id, --redirect-uri or --scopes")
    integration = context.service(args).update_integration(
        args.integration,
        client_id=args.client_id,
        redirect_uri=args.redirect_uri,
        scopes=args.scopes,
        workspace=args.workspace,
    )
    say(args, integration_json(integration), f"integration {integration.name} updated")
    return 0


def disable(args: argparse.Namespace) -> int:
    service = context.service(args)
    integration = service.integration(args.integration, args.workspace)
    name = shown_literally(integration.name)
    question = (
        f"Disable {name} ({integration.active_keys} active keys)?\n"
        "Every one of its keys gets 401 Unauthorized from the next request until it is\n"
        f"enabled again (keydesk integration enable {name})."
    )
    if not args.yes and not confirmed("disable", "disabled", question):
        return EXIT_REFUSED
    integration = service.disable_integration(integration.id)
    say(args, integration_json(integration), f"integration {integration.name} is disabled")
    return 0


def enable(args: argparse.Namespace) -> int:
    from keydesk.views import IntegrationStatus

    service = context.service(args)
    integration = service.integration(args.integration, args.workspace)
    if integration.status is IntegrationStatus.DRAFT:  # enabling is for what was disabled
        raise InvalidInput(
            f"integration {integration.name!r} is a draft, not disabled; configure it with: "
            f"keydesk integration configure {integration.name}"
        )
    if integration.status is IntegrationStatus.CONFIGURED:
        raise InvalidInput(f"integration {integration.name!r} is already enabled")
    integration = service.configure_integration(integration.id)
    say(args, integration_json(integration), f"integration {integration.name} is enabled")
    return 0
