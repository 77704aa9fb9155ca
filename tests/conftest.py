"""Fixtures and hooks shared by the whole suite."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests import bytecode_cache, run_environment
from tests.phoenix import client_only
from tests.properties import THOROUGH_EXAMPLES

# Before anything imports Phoenix's client: `phoenix` as users have it (client_only.py).
client_only.use()

# Hypothesis's per-example deadline (200 ms) is a wall-clock assertion: on a loaded machine it
# failed examples that take a millisecond when replayed. Tests bound work, bench/ measures time.
# The default run tries a quarter of the examples (tests/properties.py); the thorough profile
# (`pytest --hypothesis-profile=thorough`) tries them all.
settings.register_profile("thorough", deadline=None, max_examples=THOROUGH_EXAMPLES)
settings.register_profile("annotator", deadline=None, max_examples=THOROUGH_EXAMPLES // 4)
settings.load_profile("annotator")  # before the hypothesis plugin loads one asked for


def _long_lived_objects_out_of_the_cycle_collector() -> None:
    """What pytest, its plugins and the test modules build as they start and collect (modules,
    classes, 1,810 test items: ~150,000 objects) lives as long as the process, yet the cyclic GC
    traversed all of it at each full collection, and five times more at the session's end
    (pytest's unraisable-exception check): 0.5 of the 2.1 CPU-s a process spent collecting the
    suite. Frozen, the collector leaves those objects alone (reference counting still frees
    them); what the tests create is collected as before. Called as this conftest is imported and
    when collection ends; the few cycles already unreachable then (~100 objects, gc.collect())
    are never freed. The app freezes its own long-lived objects the same way (annotate.py)."""
    gc.freeze()


_long_lived_objects_out_of_the_cycle_collector()

REPO = Path(__file__).resolve().parents[1]
_BYTECODE_PREFIX = run_environment.BYTECODE_PREFIX  # loaded first: pyproject.toml's addopts
TEST_DATA = REPO / "tests" / "data"
PHOENIX_TESTS = REPO / "tests" / "phoenix"
_PRESTARTED = pytest.StashKey[bool]()
# The modules loaded when collection ended (tests/test_harness.py checks what is not among them).
LOADED_AT_COLLECTION = pytest.StashKey[frozenset[str]]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _selects_phoenix_tests(config: pytest.Config) -> bool:
    """Whether the command line asks for the Phoenix tests (a directory or file that holds them,
    no -k / -m that may leave them out: then the fixture starts the server if a test needs it)."""
    option = config.option
    if option.keyword or option.markexpr or option.collectonly:
        return False
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == PHOENIX_TESTS or PHOENIX_TESTS in path.parents or path in PHOENIX_TESTS.parents:
            return True
    return False


def _hypothesis_character_tables() -> None:
    """Hypothesis works out once which characters `text()` may draw (a pass over every code
    point, 1.4 CPU-s) and keeps the tables in .hypothesis/unicode_data. Where there are none
    yet (a fresh clone: CI), every xdist worker worked them out at once; the controller does
    it before the workers start, and they read the files (20 ms when they are there)."""
    import warnings

    from hypothesis import strategies as st
    from hypothesis.errors import HypothesisSideeffectWarning, NonInteractiveExampleWarning

    with warnings.catch_warnings():
        # Doing this in pytest_configure is what the side-effect warning is about: on purpose.
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        st.text(min_size=1).example()


def pytest_configure(config: pytest.Config) -> None:
    if not _is_worker(config) and getattr(config.option, "numprocesses", None):
        _hypothesis_character_tables()
    # The controller (or a run without xdist) starts Phoenix in the background at once: its
    # 10-16 s start overlaps the workers' start-up and the other tests (tests/phoenix/server.py).
    if not _is_worker(config) and _selects_phoenix_tests(config):
        from tests.phoenix import server

        server.prestart()
        config.stash[_PRESTARTED] = True
    # Before the workers start (they do after pytest_configure), while Phoenix starts beside.
    if _BYTECODE_PREFIX is not None and getattr(config.option, "numprocesses", None):
        bytecode_cache.link_installed_bytecode(_BYTECODE_PREFIX, sys.path)
        bytecode_cache.prime_test_bytecode(_BYTECODE_PREFIX, REPO / "tests", pytest.__version__)


def auto_workers(cores: int) -> int:
    """The workers `-n auto` starts: three a core, at most 4 more than the cores. The app tests
    wait for the app to go idle after every key and the Phoenix tests wait for the server, so
    with one worker a core the cores sit idle much of the time: on 2 cores beside other work,
    -n 4 ran the suite in 193 s where -n 2 took 253 s (load 1-4), 301 s against 380-399 s (load
    4-6), for 3-9% more CPU. Once the suite's CPU had halved, the Phoenix tests' waits still
    left the cores 10-30% idle with 4 workers (vmstat): on a quiet 2-core machine -n 6 ran it in
    65.6-72.4 s (mean 67.9 of 5) where -n 4 took 68.8-76.0 s (mean 71.5 of 7), for ~9 CPU-s
    more (bench/suite_bench.py, runs interleaved)."""
    return cores + min(2 * cores, 4)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook takes the number given
    return auto_workers(len(os.sched_getaffinity(0)))


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_PRESTARTED, False):
        from tests.phoenix import server

        server.finish()


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[LOADED_AT_COLLECTION] = frozenset(sys.modules)
    _long_lived_objects_out_of_the_cycle_collector()


# Files whose tests wait most (a lock held to its bounded timeout, pilots that wait for the
# app's writer and subprocesses): their tests go to the workers first. Collected in name order,
# they came last and ran on one or two workers after the others had finished: the workers
# ended 58.0-65.0 s into a run, the last 6 s durability tests waiting on locks at 0.2 CPU-s.
WAIT_MOST = ("test_store_durability.py", "test_team_workflow.py", "test_filter_dialog.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in WAIT_MOST)  # stable: order kept otherwise
    # Two xdist groups: with --dist loadgroup each runs on one worker (the server, its session
    # fixture and the shared projects are shared through the run directory), the two beside
    # each other and the other workers running everything else. The commands' tests (the CLI
    # in-process, ~a third of the Phoenix tests' time) are one group, the rest the other: in one
    # group the Phoenix tests were the run's critical path (bench/suite_bench.py's timeline).
    commands = PHOENIX_TESTS / "test_commands.py"
    for item in items:
        if item.path.is_relative_to(PHOENIX_TESTS):
            name = "phoenix-commands" if item.path == commands else "phoenix"
            item.add_marker(pytest.mark.xdist_group(name))
