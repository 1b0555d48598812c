"""A realistic sample store, for `keydesk demo`, screenshots and tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col

from keydesk.keys import KeyPairSource, generate_key_pair
from keydesk.service import KeyService
from keydesk.store.engine import Store
from keydesk.store.models import (
    Account,
    ApiKey,
    AuditEvent,
    Integration,
    Membership,
    Workspace,
)

DEMO_ACCOUNT = "alice"
DEMO_EPOCH = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def seed_demo(store: Store, *, key_pairs: KeyPairSource = generate_key_pair) -> None:
    """Two workspaces, integrations in every status, active and revoked keys.
    Pictures pass a repeatable `key_pairs`; the demo itself uses real ones."""
    alice = KeyService(store, DEMO_ACCOUNT, key_pairs=key_pairs)
    alice.create_workspace("acme")
    alice.create_workspace("globex")
    alice.add_member("acme", "bob", "admin")
    alice.add_member("acme", "carol", "viewer")
    alice.add_member("globex", "bob", "owner")

    alice.add_integration(
        "acme", "github", "GitHub", client_id="Iv1.8a61f9b3a7aba766",
        redirect_uri="https://api.acme.example/oauth/github/callback",
        scopes="read:user repo read:org", configure=True,
    )  # fmt: skip
    alice.add_integration(
        "acme", "google-workspace", "Google", client_id="1044-acme.apps.googleusercontent.com",
        redirect_uri="https://api.acme.example/oauth/google/callback",
        scopes="openid email profile", configure=True,
    )  # fmt: skip
    alice.add_integration("acme", "okta-sso", "Okta", client_id="0oa1b2c3d4")  # a draft
    alice.add_integration(
        "acme", "legacy-slack", "Slack", client_id="2210.9931",
        redirect_uri="https://api.acme.example/oauth/slack/callback", configure=True,
    )  # fmt: skip
    alice.add_integration(
        "globex", "stripe-connect", "Stripe", client_id="ca_globex",
        redirect_uri="https://globex.example/stripe/callback", configure=True,
    )  # fmt: skip

    bob = KeyService(store, "bob", key_pairs=key_pairs)
    for service, integration, label in (
        (alice, "github", "api-gateway-prod"),
        (alice, "github", "api-gateway-staging"),
        (bob, "github", "CI Runner"),
        (alice, "github", "Local Development"),
        (alice, "google-workspace", "Production Backend"),
        (alice, "legacy-slack", "notifier-prod"),
        (bob, "stripe-connect", "billing-worker"),
    ):
        service.create_key(integration, label)
    for label in ("api-gateway-staging", "Local Development"):
        key = next(k for k in alice.keys("github") if k.label == label)
        alice.revoke_key(key.public_key)
    alice.disable_integration("legacy-slack")
    _settle_times(store)


def _settle_times(store: Store) -> None:
    """Spread the sample's timestamps over a fixed past month, so it reads
    like a real history and pictures of it do not change from run to run."""
    with store.engine.begin() as connection:
        rows = (
            connection.execute(sa.select(col(ApiKey.id)).order_by(col(ApiKey.id))).scalars().all()
        )
        for n, key_id in enumerate(rows):
            created = DEMO_EPOCH + timedelta(days=3 * n, hours=n)
            connection.execute(
                sa.update(ApiKey)
                .where(col(ApiKey.id) == key_id)
                .values(
                    created_at=created,
                    last_used_at=created + timedelta(days=2, minutes=17 * n)
                    if n % 3 != 2
                    else None,
                )
            )
            connection.execute(
                sa.update(ApiKey)
                .where(col(ApiKey.id) == key_id, col(ApiKey.revoked_at).is_not(None))
                .values(revoked_at=created + timedelta(days=9))
            )
        _settle_events(connection)
        _date_by_events(connection)


def _settle_events(connection: sa.Connection) -> None:
    """Each event at the time of what it records: a key's creation and
    revocation when its page says they happened, the set-up (workspaces,
    members, integrations) a minute apart from the day the integrations were
    made, and what came after the keys (a disabled integration) after them.
    One story, whichever screen tells it."""
    keys = {
        public_key: (created, revoked)
        for public_key, created, revoked in connection.execute(
            sa.select(col(ApiKey.public_key), col(ApiKey.created_at), col(ApiKey.revoked_at))
        )
    }
    setup = DEMO_EPOCH - timedelta(days=30)
    events = connection.execute(
        sa.select(col(AuditEvent.id), col(AuditEvent.action), col(AuditEvent.target)).order_by(
            col(AuditEvent.id)
        )
    ).all()
    clock = setup  # the latest moment told so far: what follows comes after it
    for event_id, action, target in events:
        at = clock + timedelta(minutes=1)
        if target in keys:
            created, revoked = keys[target]
            at = revoked if action.startswith("key.revoke") and revoked else created
        clock = max(clock, at)
        connection.execute(
            sa.update(AuditEvent).where(col(AuditEvent.id) == event_id).values(at=at)
        )


def _date_by_events(connection: sa.Connection) -> None:
    """Workspaces, memberships and integrations dated by the events that made
    or changed them: an integration's Overview says it was created at its
    integration.add and updated at its last integration event (github's said
    created 09:00 and updated a month later, its trail 09:06 and 09:07)."""
    events = connection.execute(
        sa.select(
            col(AuditEvent.workspace_id),
            col(AuditEvent.integration_id),
            col(AuditEvent.action),
            col(AuditEvent.target),
            col(AuditEvent.at),
        ).order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    for workspace_id, integration_id, action, target, at in events:  # the last change wins
        if action == "workspace.create":
            connection.execute(
                sa.update(Workspace).where(col(Workspace.id) == workspace_id).values(created_at=at)
            )
            # Its creator's membership (the members added after it follow).
            connection.execute(
                sa.update(Membership)
                .where(col(Membership.workspace_id) == workspace_id)
                .values(created_at=at)
            )
        elif action == "member.add":
            account = sa.select(col(Account.id)).where(col(Account.name) == target)
            connection.execute(
                sa.update(Membership)
                .where(
                    col(Membership.workspace_id) == workspace_id,
                    col(Membership.account_id) == account.scalar_subquery(),
                )
                .values(created_at=at)
            )
        elif action.startswith("integration.") and integration_id is not None:
            made = {"created_at": at} if action == "integration.add" else {}
            connection.execute(
                sa.update(Integration)
                .where(col(Integration.id) == integration_id)
                .values(updated_at=at, **made)
            )
