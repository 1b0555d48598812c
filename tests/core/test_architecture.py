"""The folders are the architecture. import-linter holds the layering (its
contracts are in pyproject.toml, each with its reason); these tests make the
README's test command enforce it too, and check what only a running
interpreter can: that the core really loads without the interface."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_import_contracts_are_kept():
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_core_imports_without_the_interface():
    code = (
        "import sys, keydesk.service, keydesk.verify, keydesk.cli, keydesk.asgi;"
        "assert 'textual' not in sys.modules, 'textual loaded by the core'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# Where the interface holds the service: the app composes, start-up opens the
# store, store_calls is the one door screens, widgets and flows go through.
HOLDS_THE_SERVICE = {"app.py", "startup.py", "store_calls.py"}


def test_screens_reach_the_service_only_through_the_apps_interface():
    """import-linter sees imports only: `self.keydesk.service.x()` would
    reach the service through the app's attribute. No module of the
    interface but those holding it names an attribute `service`."""
    tui = ROOT / "src" / "keydesk" / "tui"
    found = [
        f"{path.relative_to(tui)}:{node.lineno}"
        for path in sorted(tui.rglob("*.py"))
        if str(path.relative_to(tui)) not in HOLDS_THE_SERVICE
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "service"
    ]
    assert found == [], "use the app's typed calls (keydesk.tui.store_calls) instead"
