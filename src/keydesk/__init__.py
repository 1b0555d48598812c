"""keydesk: issue and revoke API keys for OAuth integrations."""

from __future__ import annotations

__version__ = "0.1.0"
