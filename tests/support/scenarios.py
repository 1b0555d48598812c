"""Scenarios walked through more than one shell, and the store each must leave.

Issue #12 asks for one scenario walked through the CLI and through the TUI
with the resulting stores compared. The scenario's steps are the constants
below; `lifecycle_summary` reads what a walk left in a store, without what
differs between walks (ids, secrets, exact times); and
`expected_lifecycle_summary` is what every walk must leave. The CLI walk is
tests/e2e/test_lifecycle_scenario.py; a TUI walk (Pilot) ends with the same
assertion: `lifecycle_summary(store, actor) == expected_lifecycle_summary(today)`.

The scenario, in a workspace `acme` with a configured integration `github`
(scopes `INTEGRATION_SCOPES`), as its owner:

1. create `PROD_LABEL`, expiring in `PROD_LIFETIME_DAYS`, with `PROD_SCOPES`;
2. rotate it with an overlap of `OVERLAP_HOURS` (the replacement gets the
   dated label, the same scopes and lifetime);
3. set the workspace's policy: keys live at most `POLICY_DAYS`;
4. try to create `CI_LABEL` with no expiry: refused, stating the policy;
5. create `CI_LABEL` expiring in `POLICY_DAYS`, with `CI_SCOPES`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from keydesk.service import KeyService
from keydesk.store.engine import Store
from keydesk.views import replacement_label

WORKSPACE = "acme"
INTEGRATION = "github"
INTEGRATION_SCOPES = ("repo", "read:org", "read:user")
PROD_LABEL = "api-gateway-prod"
PROD_LIFETIME_DAYS = 90
PROD_SCOPES = ("repo", "read:user")
OVERLAP_HOURS = 24
POLICY_DAYS = 30
CI_LABEL = "ci"
CI_SCOPES = ("read:org",)
POLICY_REFUSAL = f"keys in {WORKSPACE} must expire within {POLICY_DAYS} days (its owners' policy)"

# The audit events the scenario itself makes (its set-up's are left out:
# shells may set up differently).
SCENARIO_ACTIONS = ("key.create", "key.rotate", "key.revoke", "workspace.policy")


def lifecycle_summary(store: Store, actor: str) -> dict[str, Any]:
    """What the scenario left in `store`, read through the service as
    `actor`: the keys by label (scopes, status, lifetime, rotation links by
    label, how long the old key outlived its replacement's creation), the
    workspace's policy, and the scenario's audit events with keys named by
    label."""
    service = KeyService(store, actor)
    keys = service.keys(INTEGRATION, workspace=WORKSPACE)
    label_of = {k.public_key: k.label for k in keys}
    by_public = {k.public_key: k for k in keys}

    def hours(span: timedelta) -> int:
        return round(span.total_seconds() / 3600)

    summary_keys = {}
    for key in keys:
        replacement = by_public.get(key.replaced_by or "")
        summary_keys[key.label] = {
            "scopes": list(key.scopes),
            "status": key.status.value,
            "lifetime_days": key.lifetime_days,
            "expires_after_days": (
                None
                if key.expires_at is None
                else round(hours(key.expires_at - key.created_at) / 24)
            ),
            "replaces": label_of.get(key.replaces or ""),
            "replaced_by": label_of.get(key.replaced_by or ""),
            "stops_hours_after_replacement": (
                hours(key.expires_at - replacement.created_at)
                if replacement is not None and key.expires_at is not None
                else None
            ),
        }
    (workspace,) = [w for w in service.workspaces() if w.name == WORKSPACE]
    events = [
        {
            "action": e.action,
            "target": label_of.get(e.target, e.target),
            "related": label_of.get(e.related or "", e.related),
        }
        for e in service.audit(WORKSPACE, limit=1000, oldest_first=True)
        if e.action in SCENARIO_ACTIONS
    ]
    return {
        "keys": dict(sorted(summary_keys.items())),
        "max_key_lifetime_days": workspace.max_key_lifetime_days,
        "events": events,
    }


def expected_lifecycle_summary(today: date) -> dict[str, Any]:
    """What every walk of the scenario must leave (`today`: the day it ran,
    which dates the replacement's label)."""
    replacement = replacement_label(PROD_LABEL, today)
    return {
        "keys": dict(
            sorted(
                {
                    PROD_LABEL: {
                        "scopes": list(PROD_SCOPES),
                        "status": "active",  # until the overlap ends
                        "lifetime_days": PROD_LIFETIME_DAYS,
                        "expires_after_days": 1,  # brought forward by the rotation
                        "replaces": None,
                        "replaced_by": replacement,
                        "stops_hours_after_replacement": OVERLAP_HOURS,
                    },
                    replacement: {
                        "scopes": list(PROD_SCOPES),
                        "status": "active",
                        "lifetime_days": PROD_LIFETIME_DAYS,
                        "expires_after_days": PROD_LIFETIME_DAYS,
                        "replaces": PROD_LABEL,
                        "replaced_by": None,
                        "stops_hours_after_replacement": None,
                    },
                    CI_LABEL: {
                        "scopes": list(CI_SCOPES),
                        "status": "active",
                        "lifetime_days": POLICY_DAYS,
                        "expires_after_days": POLICY_DAYS,
                        "replaces": None,
                        "replaced_by": None,
                        "stops_hours_after_replacement": None,
                    },
                }.items()
            )
        ),
        "max_key_lifetime_days": POLICY_DAYS,
        "events": [
            {"action": "key.create", "target": PROD_LABEL, "related": None},
            {"action": "key.rotate", "target": PROD_LABEL, "related": replacement},
            {"action": "workspace.policy", "target": WORKSPACE, "related": None},
            {"action": "key.create", "target": CI_LABEL, "related": None},
        ],
    }
