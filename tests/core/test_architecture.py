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


# -- sizes and circles: what a reader can hold in one sitting -----------------------------

SRC = ROOT / "src" / "keydesk"
MIGRATIONS = SRC / "store" / "migrations" / "versions"  # released scripts are never reshaped
LIMITS = {"module": 500, "class": 400, "function": 60}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_no_module_class_or_function_is_over_its_limit():
    over = []
    for name, path in _modules().items():
        if path.is_relative_to(MIGRATIONS):
            continue
        text = path.read_text(encoding="utf-8")
        if (lines := len(text.splitlines())) > LIMITS["module"]:
            over.append(f"module {name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LIMITS[kind]:
                    over.append(f"{kind} {name}.{node.name}: {length} lines")
    assert not over, over


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """What a module imports of keydesk when it runs, lazily or not (imports
    under TYPE_CHECKING are for types and never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def test_no_two_modules_import_each_other_even_through_others():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    circles = []
    for start in graph:  # small graph: a walk from each module is enough
        stack, seen = [start], set()
        while stack:
            for target in graph[stack.pop()]:
                if target == start:
                    circles.append(start)
                    stack.clear()
                    break
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
    assert not circles, f"modules on an import circle: {sorted(circles)}"
