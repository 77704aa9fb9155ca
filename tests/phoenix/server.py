"""The one real Phoenix of a test run: where it is, who uses it, and its early start.

ONE server per test run, shared by every xdist worker, stopped by its PID when the last user is
done. A run directory (``$TMPDIR/annotator-phoenix-<run>``) holds a lock, the server's address
(``server.json``), one file per user (``users/``) and the shared read-only sample projects
(``shared.json``, ``shared-few.json`` and their files). Whoever needs the server first starts
it under the lock; the others find it there. The server watches the owner's PID and ends itself
when it is gone, so a killed run leaves no server behind.

Phoenix takes 10-16 s to start and ingests about 200 spans a second, so the pytest controller
starts it in a background thread as the session begins (`prestart`) and sends it the shared
samples right after: by the time a worker reaches the Phoenix tests (all on one worker: they
are one xdist group), the server is up and the samples are in, and the waiting overlapped the
other tests. The controller is a user like any worker; it finishes last and stops the server.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from annotator.phoenix import local_server
from annotator.phoenix.local_server import LocalPhoenix

# Set by the controller for its workers (they inherit its environment): one directory per run.
RUN_DIR_ENV = "ANNOTATOR_TEST_PHOENIX_RUN_DIR"
SHARED_PROJECT = "samples-shared"


def run_dir() -> Path:
    chosen = os.environ.get(RUN_DIR_ENV)
    if chosen:
        return Path(chosen)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    return Path(tempfile.gettempdir()) / f"annotator-phoenix-{run}"


def template() -> Path:
    """The database a server starts from (`local_server.start`: no migrations to run), made by
    the first run on this machine, one per Phoenix version."""
    version = importlib.metadata.version("arize-phoenix")
    return Path(tempfile.gettempdir()) / f"annotator-phoenix-template-{version}.db"


def owner_pid() -> int:
    # xdist workers are children of the controller; without xdist this process is the owner.
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory/lock``, re-taken if the last user removed the directory
    while this process waited. (flock: a second open of the file in the same process waits
    too, so the controller's background thread and a fixture in that process take turns.)"""
    while True:
        directory.mkdir(parents=True, exist_ok=True)
        lock = directory / "lock"
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


def acquire(directory: Path, user: str) -> LocalPhoenix:
    """The run's server (started now if there is none yet), with `user` registered on it.
    Raises LocalPhoenixError when it cannot start."""
    with locked(directory):
        state = directory / "server.json"
        server = None
        if state.exists():
            found = LocalPhoenix.from_json(state.read_text())
            if local_server.is_ours(found.pid) and local_server.healthy(found.url):
                server = found
        if server is None:
            server = local_server.start(
                directory / "work", owner_pid=owner_pid(), template=template()
            )
            state.write_text(server.to_json())
        users = directory / "users"
        users.mkdir(exist_ok=True)
        (users / user).touch()
        return server


def release(directory: Path, user: str) -> None:
    """`user` is done; the last one stops the server and removes the run directory."""
    with locked(directory):
        (directory / "users" / user).unlink(missing_ok=True)
        users = directory / "users"
        if users.is_dir() and any(users.iterdir()):
            return
        state = directory / "server.json"
        if state.exists():
            local_server.stop(LocalPhoenix.from_json(state.read_text()).pid)
        shutil.rmtree(directory, ignore_errors=True)


def shared_samples(server: LocalPhoenix, directory: Path, *, few: bool = False) -> dict:
    """A read-only sample project of this run: sent once (by whoever comes first), then only
    described: ``{"name", "files", "spans"}``. All three samples, or with `few` only their
    covering traces (`helpers.covering_traces`: 24 spans, for the tests that need some spans of
    every kind, not all 301). Tests that only read from Phoenix share them; tests that write to
    Phoenix get a project of their own."""
    from annotator.phoenix import connect
    from annotator.phoenix.otlp import send_otlp_file
    from tests.phoenix.helpers import remapped_samples

    kind = "shared-few" if few else "shared"
    with locked(directory):
        state = directory / f"{kind}.json"
        if state.exists():
            return json.loads(state.read_text())
        salt = os.urandom(4).hex()
        name = f"{SHARED_PROJECT}{'-few' if few else ''}-{salt}"
        files = remapped_samples(directory / f"{kind}-samples", salt, name, few=few)
        with connect(server.url, backoff=0.05) as client:
            spans = sum(send_otlp_file(client, path) for path in files)
        described = {"name": name, "files": [str(p) for p in files], "spans": spans}
        state.write_text(json.dumps(described))
        return described


# --- the controller's early start -----------------------------------------------------------

_CONTROLLER = "controller"
_early: threading.Thread | None = None


def prestart() -> None:
    """Start the server and send the shared samples in a background thread of the controller
    (the fixtures wait for them under the run's lock). The few first: most tests read them, and
    Phoenix ingests in the order it receives, so they are in a fraction of a second after the
    start while the 301 spans of all the samples (two tests) follow."""
    global _early
    directory = Path(tempfile.gettempdir()) / f"annotator-phoenix-pid{os.getpid()}"
    os.environ[RUN_DIR_ENV] = str(directory)

    def start() -> None:
        try:
            server = acquire(directory, _CONTROLLER)
            shared_samples(server, directory, few=True)
            shared_samples(server, directory)
        except Exception:  # the fixture tries again, and says what went wrong
            return

    _early = threading.Thread(target=start, name="phoenix-prestart", daemon=True)
    _early.start()


def finish() -> None:
    """The controller is done: wait for its thread, then release its hold on the server."""
    if _early is None:
        return
    _early.join(timeout=180)
    release(Path(os.environ[RUN_DIR_ENV]), _CONTROLLER)
