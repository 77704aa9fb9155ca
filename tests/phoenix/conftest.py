"""A real Phoenix server for the tests in this directory: ONE per test run, shared by every
xdist worker, stopped by its PID when the last worker is done.

The first worker that needs it takes a file lock in a directory keyed by the test run
(``PYTEST_XDIST_TESTRUNUID``, the same in every worker of a run; the process id without xdist),
starts Phoenix there (``annotator.phoenix.local_server``: loopback only, free ports, a fresh
working directory) and writes its address to ``server.json``; the others find it under the same
lock. Each worker registers itself as a user; the last one to finish stops the server and
removes the directory. The server also watches the pytest controller's PID and ends itself when
the controller is gone, so a killed run leaves no server behind.

These tests are never skipped: without Phoenix installed they fail with what to install (the
README's test command installs it with the test extra).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from annotator.phoenix import connect, local_server
from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.local_server import LocalPhoenix
from tests.phoenix.helpers import PhoenixProject, load_samples


def _run_dir() -> Path:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    return Path(tempfile.gettempdir()) / f"annotator-phoenix-{run}"


def _owner_pid() -> int:
    # xdist workers are children of the controller; without xdist this process is the owner.
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


@contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """An exclusive lock on ``run_dir/lock``, re-taken if the last user removed the directory
    while this process waited."""
    while True:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = run_dir / "lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield
                return
        finally:
            os.close(fd)


@pytest.fixture(scope="session")
def phoenix_server() -> Iterator[LocalPhoenix]:
    try:
        import phoenix.server.main  # noqa: F401
    except ImportError:
        pytest.fail(
            "arize-phoenix is not installed: the Phoenix tests need it (pip install -e '.[test]')",
            pytrace=False,
        )
    run_dir = _run_dir()
    me = str(os.getpid())
    with _locked(run_dir):
        state = run_dir / "server.json"
        server = None
        if state.exists():
            found = LocalPhoenix.from_json(state.read_text())
            if local_server.is_ours(found.pid) and local_server.healthy(found.url):
                server = found
        if server is None:
            try:
                server = local_server.start(run_dir / "work", owner_pid=_owner_pid())
            except local_server.LocalPhoenixError as exc:
                pytest.fail(str(exc), pytrace=False)
            state.write_text(server.to_json())
        users = run_dir / "users"
        users.mkdir(exist_ok=True)
        (users / me).touch()
    yield server
    with _locked(run_dir):
        (run_dir / "users" / me).unlink(missing_ok=True)
        if not any((run_dir / "users").iterdir()):
            local_server.stop(server.pid)
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def phoenix(phoenix_server: LocalPhoenix) -> Iterator[PhoenixClient]:
    """A client for the shared server (short retry delays: faults are injected in tests)."""
    with connect(phoenix_server.url, backoff=0.05) as client:
        yield client


@pytest.fixture
def samples(phoenix: PhoenixClient, tmp_path: Path) -> PhoenixProject:
    """The bundled samples in a project of their own on the shared server."""
    return load_samples(phoenix, tmp_path / "samples")
