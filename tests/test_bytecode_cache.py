"""The test run's bytecode cache (tests/bytecode_cache.py) is used only in a directory that is
ours alone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

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
