"""The test suite's own rules: what every test may rely on, and may not do."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def test_no_test_module_imports_another_test_modules_helpers() -> None:
    # Shared helpers live in conftest.py: a test module that imports another
    # runs (or breaks with) that module's set-up, and moving either breaks both.
    offenders = []
    for module in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[-1].startswith("test_"):
                    offenders.append(f"{module.relative_to(TESTS)}:{node.lineno} imports {name}")
    assert offenders == []
