"""The layers hold at run time and in the source (pyproject.toml's import-linter contracts check
the import graph statically; `lint-imports` runs in CI):

* the core (every module but annotator.app and annotator.cli) works without Textual, the app or
  the command line: it is what scripts, the CLI and other tools import;
* no module imports another package's private module or name;
* the app and the command line never run SQL nor touch `Store.connection`: they call the
  store's methods, or hand the Store to a core function."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import annotator

ROOT = Path(__file__).resolve().parents[1]
OUTER = ("annotator.app", "annotator.cli", "annotator.__main__")


def _all_modules() -> list[str]:
    found = ["annotator"]
    for info in pkgutil.walk_packages(annotator.__path__, "annotator."):
        found.append(info.name)
    return sorted(found)


def _core_modules() -> list[str]:
    return [
        name
        for name in _all_modules()
        if not any(name == outer or name.startswith(outer + ".") for outer in OUTER)
    ]


def test_every_core_module_is_covered() -> None:
    """Discovered, not listed: a new core module is checked without anyone adding it here."""
    core = _core_modules()
    for expected in (
        "annotator.store.annotations",
        "annotator.readers._otlp",
        "annotator.team.merge",
        "annotator.annotations_io._export",
        "annotator.phoenix.pushing",
        "annotator.query.compile",
        "annotator.output_file",
        "annotator.semconv",
    ):
        assert expected in core
    assert not [name for name in core if name.startswith(("annotator.app", "annotator.cli"))]


def test_the_import_contracts_name_every_core_package() -> None:
    """pyproject.toml's import-linter contract lists the core by its top-level packages and
    modules: a new one must be added there (and to the README's layers)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(
        c for c in config["contracts"] if "annotator.app" in c.get("forbidden_modules", ())
    )
    top_level = {_package_of(name) for name in _core_modules()} - {"annotator"}
    assert set(contract["source_modules"]) == top_level
    assert contract["forbidden_modules"] == ["textual", "annotator.app", "annotator.cli"]


def test_core_never_imports_textual_the_app_or_the_cli() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "outer = ('textual', 'annotator.app', 'annotator.cli')\n"
        "loaded = sorted(m for m in sys.modules if m in outer or m.startswith(tuple(o + '.' "
        "for o in outer)))\n"
        "print(loaded)\n"
        "raise SystemExit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _package_of(module: str) -> str:
    """annotator.store.db -> annotator.store; a top-level module is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _source_files() -> list[tuple[str, Path]]:
    files = []
    for path in sorted((ROOT / "annotator").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files.append((".".join(parts), path))
    return files


def _imports(module: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every import in the file, relative ones resolved."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
    return found


def test_no_module_imports_another_packages_private_module_or_name() -> None:
    offenders = []
    for module, path in _source_files():
        for line, target, names in _imports(module, path):
            if not target.startswith("annotator") or _package_of(target) == _package_of(module):
                continue
            private = [p for p in target.split(".") if _private(p)] + [
                n for n in names if _private(n)
            ]
            if private:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {target} {private}")
    assert offenders == []


def test_the_app_and_the_cli_run_no_sql() -> None:
    offenders = []
    for module, path in _source_files():
        if not module.startswith(("annotator.app", "annotator.cli")):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in (
                "connection",
                "execute",
                "executemany",
                "executescript",
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert offenders == []
