"""The benches are read as often as the code they measure: bench/ keeps the
same size limits as src/ (tests/core/test_architecture.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.core.test_architecture import LIMITS

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_no_bench_module_class_or_function_is_over_its_limit():
    over = []
    for path in sorted(BENCH.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if (lines := len(text.splitlines())) > LIMITS["module"]:
            over.append(f"{path.name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LIMITS[kind]:
                    over.append(f"{path.name}: {kind} {node.name}: {length} lines")
    assert not over, over
