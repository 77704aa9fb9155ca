"""The bench scripts use the package as its users do: `annotator.store`'s public names, never a
store module (lint-imports checks only the package itself, so this checks bench/)."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
# Still importing a store module; each is to move to the public names (search_sql is not
# public yet). Remove a name here when its script is fixed: the test says so.
NOT_YET = {"query_bench.py", "search_bench.py"}


def _store_module_imports(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
    return [module for module in modules if module.startswith("annotator.store.")]


def test_bench_scripts_import_only_the_stores_public_names() -> None:
    offenders = {
        path.name: imports
        for path in sorted(BENCH.glob("*.py"))
        if (imports := _store_module_imports(path))
    }
    assert "phoenix_bench.py" not in offenders
    assert set(offenders) == NOT_YET, offenders
