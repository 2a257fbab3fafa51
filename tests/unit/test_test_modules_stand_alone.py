"""No test module imports another (issue 19, item 6): what tests share is in conftest.py files and plain helper
modules, so a test module can be read, moved or deleted alone."""
from __future__ import annotations

import ast

from common.config import PROJECT_ROOT


def test_no_module_imports_a_test_module():
    found = []
    for path in (PROJECT_ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.relative_to(PROJECT_ROOT)}: {n}" for n in names
                      if n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith("test_")]
    assert found == []
