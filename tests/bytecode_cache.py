"""A bytecode cache for the test run's processes when the environment turns bytecode off."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

LINKED = "installed-bytecode-linked"


def use_cache_outside_the_tree() -> Path | None:
    """With PYTHONDONTWRITEBYTECODE=1 (this environment, often CI) every xdist worker and CLI
    subprocess compiled the package and pytest rewrote the test modules again: collecting the
    suite took 5.8 CPU-s a process, 1.9 with the caches. The setting keeps .pyc files out of the
    source tree; a cache prefix in the temporary directory keeps them out of it too. Workers and
    subprocesses inherit it (this process has already started without one). Python checks each
    cache against its source (mtime and size) as it does in __pycache__, so the directory must
    be ours alone: one that another user could write to is not used (they could plant code).
    An explicit PYTHONPYCACHEPREFIX is left alone. Returns the prefix chosen, if any."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return None
    prefix = Path(tempfile.gettempdir()) / f"annotator-pycache-{os.getuid()}"
    try:
        prefix.mkdir(mode=0o700, exist_ok=True)
        found = prefix.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o022:
        return None
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    return prefix


def use_in_this_process(prefix: Path) -> None:
    """The prefix for this process too, from now on: Python and pytest's assertion rewriting
    look at these at each import. A process started without the prefix (the run's controller)
    compiled every module it imported that has no bytecode beside it (this tree's, with
    PYTHONDONTWRITEBYTECODE=1) and rewrote the asserts of every module pytest rewrites (the
    installed plugins' whole distributions: hypothesis, xdist, syrupy, the Phoenix client) at
    every run; now it reads them from the prefix, as the workers do."""
    sys.pycache_prefix = str(prefix)
    sys.dont_write_bytecode = False


def link_installed_bytecode(prefix: Path, entries: Iterable[str]) -> int:
    """With a prefix, Python looks for every module's bytecode there only, so each process that
    starts with an empty prefix (all six workers at once, on a fresh machine: CI) compiled the
    standard library and the installed packages again, though pip and the interpreter's own
    install left their bytecode beside them: 1.9 CPU-s a worker. Link that bytecode into the
    prefix instead (once: the entries done are noted in the prefix). A link is only a hint:
    Python checks the bytecode against its source as always, and one out of date (a package
    upgraded in place) is compiled again and replaces the link, not the file it points to.
    How many links were made."""
    done_file = prefix / LINKED
    try:
        done = set(done_file.read_text().splitlines())
    except OSError:
        done = set()
    suffix = f".{sys.implementation.cache_tag}.pyc"
    made = 0
    for entry in entries:
        root = Path(entry)
        if not entry or entry in done or not root.is_absolute() or not root.is_dir():
            continue
        if root == prefix or prefix in root.parents:
            continue
        for directory, subdirectories, files in os.walk(root):
            if os.path.basename(directory) != "__pycache__":
                # Another interpreter's packages, the standard library's own tests, hidden
                # directories (a virtual environment inside the project, .git): not imported
                # from this entry.
                subdirectories[:] = [
                    name
                    for name in subdirectories
                    if name not in ("site-packages", "test") and not name.startswith(".")
                ]
                continue
            target = prefix / os.path.dirname(directory).lstrip(os.sep)
            for name in files:
                if not name.endswith(suffix):
                    continue
                target.mkdir(mode=0o700, parents=True, exist_ok=True)
                try:
                    os.symlink(os.path.join(directory, name), target / name)
                    made += 1
                except FileExistsError:
                    pass
        done.add(entry)
    with contextlib.suppress(OSError):  # then the next run walks again: slower, no harm
        done_file.write_text("".join(f"{entry}\n" for entry in sorted(done)))
    return made


def primed_marker(prefix: Path, tests: Path, pytest_version: str) -> Path:
    key = f"{tests}\0{pytest_version}\0{sys.implementation.cache_tag}".encode()
    return prefix / f"tests-primed-{hashlib.sha256(key).hexdigest()[:16]}"


def prime_test_bytecode(prefix: Path, tests: Path, pytest_version: str) -> bool:
    """pytest rewrites the asserts of every test module as it imports it and keeps the result
    in the prefix. Where there is none yet (a fresh machine: CI, or a new pytest), all the
    workers rewrote all the modules at once, ~4 CPU-s each; one collection here first does it
    once, then they read it (~2 CPU-s a worker less in all, ~8 s less to the first test on
    2 cores). Whether it ran: it runs once per test tree and pytest version (a module changed
    later is rewritten by the first worker to import it, as before)."""
    marker = primed_marker(prefix, tests, pytest_version)
    if marker.exists():
        return False
    environment = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", str(tests)],
        cwd=tests.parent,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode == 0:
        marker.touch()
    return True
