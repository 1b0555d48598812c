"""The package's one logger. Its lines are named `keydesk.verify` whichever
module writes them: operators filter on that name (README)."""

from __future__ import annotations

import logging

log = logging.getLogger("keydesk.verify")
log.addHandler(logging.NullHandler())  # a library: its host decides where logs go
