"""The folders are the architecture: a core that knows nothing of screens,
and screens that do no SQL or hashing of their own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "keydesk"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_textual_is_imported_only_inside_the_tui_package():
    for path in PACKAGE.rglob("*.py"):
        if "tui" in path.relative_to(PACKAGE).parts:
            continue
        leaked = {name for name in _imports(path) if name.split(".")[0] in ("textual", "rich")}
        assert not leaked, f"{path.relative_to(PACKAGE)} imports {leaked}"


def test_the_interface_does_no_sql_or_hashing():
    # keydesk.models is allowed for its enums (Role, IntegrationStatus).
    forbidden = (
        "sqlalchemy",
        "sqlmodel",
        "argon2",
        "hashlib",
        "hmac",
        "keydesk.keys",
        "keydesk.verify",
    )
    for path in (PACKAGE / "tui").rglob("*.py"):
        leaked = {name for name in _imports(path) if name.startswith(forbidden)}
        assert not leaked, f"{path.relative_to(PACKAGE)} imports {leaked}"


def test_screens_talk_to_the_service_only():
    for path in (PACKAGE / "tui" / "screens").rglob("*.py"):
        leaked = {name for name in _imports(path) if name in ("keydesk.store", "keydesk.demo")}
        assert not leaked, f"{path.relative_to(PACKAGE)} imports {leaked}"


def test_the_core_imports_without_the_interface():
    code = (
        "import sys, keydesk.service, keydesk.verify, keydesk.cli, keydesk.asgi;"
        "assert 'textual' not in sys.modules, 'textual loaded by the core'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
