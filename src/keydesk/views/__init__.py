"""Read-models: what the service hands to the CLI, the TUI and scripts.

Frozen, detached from any database session, and never carrying a secret
or a hash. The rules about what a view allows live on the view, so every
shell asks the same question the same way. Imports nothing of the ORM:
the interface can show views before SQLAlchemy is loaded.

One module per concern (workspaces and members, integrations, keys, the
key-lifetime policy, leaks, usage, the audit trail, words); import from
here: `from keydesk.views import KeyView`.
"""

from keydesk.views.audit import AuditView
from keydesk.views.integrations import IntegrationStatus, IntegrationView, missing_settings
from keydesk.views.keys import (
    EXPIRING_SOON,
    REFUSED_WHILE_DISABLED,
    STALE_AFTER,
    CreatedKey,
    KeyStatus,
    KeyView,
    RotatedKey,
    key_status,
    replacement_label,
)
from keydesk.views.leaks import OTHER_WORKSPACE, UNKNOWN_KEY, UNVERIFIED, FoundKey, UnprovenKey
from keydesk.views.policy import (
    EXPIRY_CHOICES_DAYS,
    default_expiry_days,
    lifetime_policy_text,
    why_not_lifetime,
)
from keydesk.views.usage import (
    ACCEPTED,
    HOUR,
    USAGE_RANGE_MAX,
    WRONG_SECRET,
    UsageHour,
    UsageView,
)
from keydesk.views.words import counted, in_words, stop_time, utcnow
from keydesk.views.workspaces import ROLE_ORDER, MembersView, MemberView, Role, WorkspaceView

__all__ = [
    "ACCEPTED",
    "EXPIRING_SOON",
    "EXPIRY_CHOICES_DAYS",
    "HOUR",
    "OTHER_WORKSPACE",
    "REFUSED_WHILE_DISABLED",
    "ROLE_ORDER",
    "STALE_AFTER",
    "UNKNOWN_KEY",
    "UNVERIFIED",
    "USAGE_RANGE_MAX",
    "WRONG_SECRET",
    "AuditView",
    "CreatedKey",
    "FoundKey",
    "IntegrationStatus",
    "IntegrationView",
    "KeyStatus",
    "KeyView",
    "MemberView",
    "MembersView",
    "Role",
    "RotatedKey",
    "UnprovenKey",
    "UsageHour",
    "UsageView",
    "WorkspaceView",
    "counted",
    "default_expiry_days",
    "in_words",
    "key_status",
    "lifetime_policy_text",
    "missing_settings",
    "replacement_label",
    "stop_time",
    "utcnow",
    "why_not_lifetime",
]
