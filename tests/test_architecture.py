"""The folders are the architecture. import-linter holds the layering (its
contracts are in pyproject.toml, each with its reason); these tests make the
README's test command enforce it too, and check what only a running
interpreter can: that the core really loads without the interface."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


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
