from __future__ import annotations

from keydesk.cli import main

raise SystemExit(main())
