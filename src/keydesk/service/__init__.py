"""The key service: everything keydesk does, with permission checks and an
audit trail, for the CLI, the TUI and scripts alike. Knows nothing of screens.

`KeyService` (facade.py) is the one entry point; the modules beside it hold
one concern each, over one shared acting context (context.py)."""

from keydesk.service.facade import AUDIT_PAGE, KeyService
from keydesk.views import IntegrationView  # tests import it from here

__all__ = ["AUDIT_PAGE", "IntegrationView", "KeyService"]
