"""The test run's bytecode cache (tests/bytecode_cache.py) is used only in a directory that is
ours alone."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import bytecode_cache
from tests.bytecode_cache import use_cache_outside_the_tree


@pytest.fixture
def bytecode_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    return tmp_path / f"annotator-pycache-{os.getuid()}"


def test_a_private_cache_is_made_and_used(bytecode_off: Path) -> None:
    use_cache_outside_the_tree()
    assert os.environ["PYTHONPYCACHEPREFIX"] == str(bytecode_off)
    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert bytecode_off.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_directory_others_can_write_to_is_not_used(bytecode_off: Path, mode: int) -> None:
    bytecode_off.mkdir()
    bytecode_off.chmod(mode)
    use_cache_outside_the_tree()
    assert "PYTHONPYCACHEPREFIX" not in os.environ
    assert os.environ["PYTHONDONTWRITEBYTECODE"] == "1"


def test_a_file_in_its_place_is_not_used(bytecode_off: Path) -> None:
    bytecode_off.write_text("")
    use_cache_outside_the_tree()
    assert "PYTHONPYCACHEPREFIX" not in os.environ


def test_bytecode_on_or_a_prefix_chosen_is_left_alone(
    bytecode_off: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", "/chosen")
    use_cache_outside_the_tree()
    assert os.environ["PYTHONPYCACHEPREFIX"] == "/chosen"
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    use_cache_outside_the_tree()
    assert "PYTHONPYCACHEPREFIX" not in os.environ
    assert not bytecode_off.exists()


def _module_with_bytecode(site: Path, text: str) -> Path:
    """A module and the bytecode its install left beside it (as pip compiles a package)."""
    source = site / "planted.py"
    source.write_text(text)
    compiled = site / "__pycache__" / f"planted.{sys.implementation.cache_tag}.pyc"
    py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    return compiled


def _import_planted(site: Path, prefix: Path) -> str:
    environment = {**os.environ, "PYTHONPATH": str(site), "PYTHONPYCACHEPREFIX": str(prefix)}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-c", "import planted; print(planted.WHICH)"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_installed_bytecode_is_linked_into_the_prefix_and_read_from_there(tmp_path: Path) -> None:
    site, prefix = tmp_path / "site", tmp_path / "prefix"
    site.mkdir()
    prefix.mkdir(mode=0o700)
    compiled = _module_with_bytecode(site, "WHICH = 'compiled'\n")
    # The source now says otherwise but keeps the size and time the bytecode was checked
    # against: only a process that reads the installed bytecode prints "compiled".
    stat_before = (site / "planted.py").stat()
    (site / "planted.py").write_text("WHICH = 'sources!'\n")
    os.utime(site / "planted.py", ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))

    assert bytecode_cache.link_installed_bytecode(prefix, ["", "relative", str(site)]) == 1
    link = prefix / str(site).lstrip(os.sep) / compiled.name
    assert link.is_symlink() and link.resolve() == compiled
    assert _import_planted(site, prefix) == "compiled"
    # Noted as done: a later run walks nothing again.
    assert bytecode_cache.link_installed_bytecode(prefix, [str(site)]) == 0


def test_a_stale_linked_bytecode_is_compiled_again_in_the_prefix_only(tmp_path: Path) -> None:
    site, prefix = tmp_path / "site", tmp_path / "prefix"
    site.mkdir()
    prefix.mkdir(mode=0o700)
    compiled = _module_with_bytecode(site, "WHICH = 'old'\n")
    installed = compiled.read_bytes()
    bytecode_cache.link_installed_bytecode(prefix, [str(site)])
    (site / "planted.py").write_text("WHICH = 'upgraded'\n")  # another size: out of date

    assert _import_planted(site, prefix) == "upgraded"
    link = prefix / str(site).lstrip(os.sep) / compiled.name
    assert not link.is_symlink() and link.is_file()
    assert compiled.read_bytes() == installed  # the install's own file is untouched


def _collection_imports_from() -> list[str]:
    """The directories a bare `pytest --collect-only` imports from: the standard library,
    pytest's packages and the single-module distributions beside them (`py`). Links are made by
    absolute path: a package's directory is linked as it would be from its sys.path entry."""
    site = os.path.dirname(os.path.dirname(pytest.__file__))
    found = [os.path.dirname(os.__file__), os.path.join(site, "__pycache__")]
    names = (
        "pytest",
        "_pytest",
        "pluggy",
        "iniconfig",
        "packaging",
        "pygments",
        "xdist",
        "execnet",
    )
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None:
            found += spec.submodule_search_locations or []
    return found


def test_the_test_modules_are_rewritten_once_before_the_workers_start(tmp_path: Path) -> None:
    tests, prefix = tmp_path / "tests", tmp_path / "prefix"
    tests.mkdir()
    prefix.mkdir(mode=0o700)
    (tests / "test_sample.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    # Phoenix client's plugin loads the whole server (~10 s: the project's settings turn it off
    # too); the others' modules would be rewritten into this empty prefix (~2 CPU-s).
    plugins = ["phoenix", "hypothesispytest", "anyio", "syrupy", "textual-snapshot", "asyncio"]
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = " + " ".join(f"-p no:{name}" for name in plugins) + "\n"
    )
    # As the run does first, for what this collection imports: the standard library and
    # pytest's own packages. All of sys.path would walk and link site-packages' ~16,000 files
    # (0.5 CPU-s) for the ~40 of them it uses.
    bytecode_cache.link_installed_bytecode(prefix, _collection_imports_from())

    assert bytecode_cache.prime_test_bytecode(prefix, tests, pytest.__version__)
    rewritten = list((prefix / str(tests).lstrip(os.sep)).glob("test_sample.*pytest*.pyc"))
    assert len(rewritten) == 1, "pytest's rewritten module is what the workers will read"
    assert bytecode_cache.primed_marker(prefix, tests, pytest.__version__).exists()
    assert not bytecode_cache.prime_test_bytecode(prefix, tests, pytest.__version__)
    assert bytecode_cache.prime_test_bytecode(prefix, tests, "0.0-another-pytest")


def test_the_cache_is_this_process_s_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    bytecode_cache.use_in_this_process(tmp_path)
    assert (sys.pycache_prefix, sys.dont_write_bytecode) == (str(tmp_path), False)


def test_the_run_s_environment_is_set_before_the_installed_plugins_load(
    pytestconfig: pytest.Config,
) -> None:
    """pyproject.toml's addopts name tests/run_environment.py with -p: pytest registers it
    before the installed plugins, so the controller imports and rewrites them with the cache
    (and this process, whichever it is, has the cache when the run uses one)."""
    names = [name for name, _ in pytestconfig.pluginmanager.list_name_plugin()]
    assert names.index("tests.run_environment") < names.index("hypothesispytest")
    assert names.index("tests.run_environment") < names.index("xdist")
    if "PYTHONPYCACHEPREFIX" in os.environ:
        assert sys.pycache_prefix == os.environ["PYTHONPYCACHEPREFIX"]
        assert not sys.dont_write_bytecode
