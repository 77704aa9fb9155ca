"""A real Phoenix for the tests in this directory (see `tests.phoenix.server`: one per test run,
started early by the pytest controller, shared by every xdist worker, stopped by the last user).

These tests are never skipped: without Phoenix installed they fail with what to install (the
README's test command installs it with the test extra). They are two xdist groups (tests/
conftest.py): with ``--dist loadgroup`` each runs on one worker while the others run the rest.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator.phoenix import connect, local_server
from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.local_server import LocalPhoenix
from annotator.phoenix.otlp import wait_for_spans
from tests.phoenix import server as run_server
from tests.phoenix.helpers import PhoenixProject, load_samples


@pytest.fixture(scope="session")
def phoenix_server() -> Iterator[LocalPhoenix]:
    try:  # installed? (asked of its metadata: importing Phoenix here would cost seconds)
        importlib.metadata.version("arize-phoenix")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            "arize-phoenix is not installed: the Phoenix tests need it (pip install -e '.[test]')",
            pytrace=False,
        )
    directory = run_server.run_dir()
    me = str(os.getpid())
    try:
        server = run_server.acquire(directory, me)
    except local_server.LocalPhoenixError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    run_server.release(directory, me)


@pytest.fixture
def phoenix(phoenix_server: LocalPhoenix) -> Iterator[PhoenixClient]:
    """A client for the shared server (short retry delays: faults are injected in tests)."""
    with connect(phoenix_server.url, backoff=0.05) as client:
        yield client


def _shared(server: LocalPhoenix, few: bool) -> PhoenixProject:
    described = run_server.shared_samples(server, run_server.run_dir(), few=few)
    with connect(server.url, backoff=0.05) as client:
        wait_for_spans(client, described["name"], described["spans"])
    return PhoenixProject(
        name=described["name"],
        files=[Path(p) for p in described["files"]],
        spans=described["spans"],
    )


@pytest.fixture(scope="session")
def shared_samples(phoenix_server: LocalPhoenix) -> PhoenixProject:
    """All the bundled samples (301 spans) in one project, for the tests that only READ from
    Phoenix and need them all (every shape, the sample-specific counts): sent once per run
    (usually by the controller, before any test needs it)."""
    return _shared(phoenix_server, few=False)


@pytest.fixture(scope="session")
def shared_few(phoenix_server: LocalPhoenix) -> PhoenixProject:
    """The covering traces of the three samples (24 spans of every kind) in one project, for the
    tests that only READ from Phoenix and need some spans, not all (among them pushes that must
    write nothing: a dry run, one every request of which is refused): sent once per run."""
    return _shared(phoenix_server, few=True)


@pytest.fixture
def samples(phoenix: PhoenixClient, tmp_path: Path) -> PhoenixProject:
    """The agent sample's covering traces (`helpers.covering_traces`: an LLM span with messages,
    a tool call, a retriever with documents, a session, an error; 12 spans) in a project of its
    own, for a test that WRITES to Phoenix (annotations, configs): nothing another test does can
    change what it reads back. Counts come from `PhoenixProject.spans`, what was sent."""
    return load_samples(phoenix, tmp_path / "samples", names=("agent",), few=True)
