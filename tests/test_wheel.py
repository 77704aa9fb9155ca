"""What ships: the wheel holds the bundled samples and configs, installs into a fresh virtual
environment, and `annotator demo` opens on them in a terminal, from a directory far from this
checkout, with nothing of the checkout on the path.

No network: the wheel is built with the hatchling of the test extra (its PEP 517 hook, as pip
calls it without build isolation), and the fresh environment gets the wheel alone
(``--no-deps --no-index``) plus, linked from this test environment, exactly the distributions
the wheel's own metadata requires (its ``Requires-Dist`` and theirs, markers and extras
evaluated), and nothing else: an import the metadata does not declare fails there. ``pip
check`` then confirms every declared version range.
Marked ``wheel``: CI runs it with everything else (``-m "not wheel"`` leaves it out locally).
"""

from __future__ import annotations

import importlib.metadata
import os
import sqlite3
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.test_app_process import Terminal

if TYPE_CHECKING:
    from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
BUNDLED = ("sample_traces", "configs")

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.xdist_group("wheel"),  # one worker builds the wheel and the environment once
    pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty"),
]


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built as pip, build and uv build it: the build backend's PEP 517 hook, in the checkout
    (here called directly, without pip around it)."""
    out = tmp_path_factory.mktemp("dist")
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    built = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [found] = out.glob("annotator-*.whl")
    assert built.stdout.split() == [found.name]
    return found


def _requirements(wheel: Path) -> list[Requirement]:
    # packaging is imported here, not as the suite is collected: only this test needs it.
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(name).decode())
    return [Requirement(text) for text in metadata.get_all("Requires-Dist") or []]


def _closure(requirements: list[Requirement]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions `requirements` need (no optional extra of the wheel's own),
    each checked against every requirement that brings it in."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(requirement, "") for requirement in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        dist = importlib.metadata.distribution(requirement.name)
        assert requirement.specifier.contains(dist.version, prereleases=True), (requirement, dist)
        name = canonicalize_name(requirement.name)
        found[name] = dist
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        for extra in ("", *requirement.extras):
            todo += [(Requirement(text), extra) for text in dist.requires or []]
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel and the distributions it declares."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    _pip("--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel))
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for dist in _closure(_requirements(wheel)).values():
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    checked = _pip("--python", str(python), "check")
    assert checked.stdout.strip() == "No broken requirements found."
    return root


def test_the_wheel_holds_the_bundled_samples_and_configs_byte_for_byte(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for folder in BUNDLED:
            shipped = {
                n.removeprefix(f"annotator/_bundled/{folder}/")
                for n in names
                if n.startswith(f"annotator/_bundled/{folder}/")
            }
            tracked = subprocess.run(
                ["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout.split()
            assert shipped == {t.removeprefix(f"{folder}/") for t in tracked}, folder
            for name in shipped:
                data = archive.read(f"annotator/_bundled/{folder}/{name}")
                assert data == (REPO / folder / name).read_bytes(), name
    assert {"agent.otlp.jsonl", "chat.otlp.jsonl", "rag.otlp.jsonl"} <= {
        Path(n).name for n in names if "/_bundled/sample_traces/" in n
    }
    assert "annotator/_bundled/configs/default.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "__pycache__" in n]


def test_the_installed_demo_opens_on_the_bundled_samples_and_saves(
    venv: Path, tmp_path: Path
) -> None:
    python = venv / "bin" / "python"
    home = tmp_path / "elsewhere"
    home.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "LANG": "C.UTF-8",
    }
    where = subprocess.run(
        [python, "-c", "import annotator, sys; print(annotator.__file__); print(sys.path)"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)) and str(REPO) not in where
    terminal = Terminal([str(venv / "bin" / "annotator"), "demo", "--annotator", "kim"], home,
                        env=env)  # fmt: skip
    try:
        terminal.read_until(b"next to do")  # the footer: the app is up
        terminal.send(".1")  # the next span that needs you, then the first label
        terminal.read_until("✓ saved".encode())
        terminal.send("q")
        assert terminal.wait() == 0, terminal.output[-2000:]
    finally:
        if terminal.process.poll() is None:
            terminal.kill()
    assert b"1 annotation by kim is saved in " in terminal.output
    db = home / "data" / "annotator" / "demo.db"
    with sqlite3.connect(db) as conn:
        spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        projects = conn.execute("SELECT DISTINCT project FROM spans ORDER BY 1").fetchall()
        saved = conn.execute(
            "SELECT s.span_kind, a.name, a.label, a.score, a.identifier FROM annotations a "
            "JOIN spans s USING (span_id)"
        ).fetchall()
    assert spans == 301  # every span of the three bundled samples
    assert projects == [("sample-agent",), ("sample-chat",), ("sample-rag",)]
    assert saved == [("RETRIEVER", "relevance", "relevant", 1.0, "kim")]  # its first document
