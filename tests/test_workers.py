"""`pytest -n auto` starts three workers a core, at most four more than the cores
(tests/conftest.py)."""

from __future__ import annotations

import os

from tests.conftest import auto_workers, pytest_xdist_auto_num_workers


def test_auto_is_three_workers_a_core_and_at_most_four_more(monkeypatch, pytestconfig) -> None:
    assert [auto_workers(n) for n in (1, 2, 4, 16)] == [3, 6, 8, 20]
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert pytest_xdist_auto_num_workers(pytestconfig) == auto_workers(cores)


def test_the_environment_variable_still_decides(monkeypatch, pytestconfig) -> None:
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert pytest_xdist_auto_num_workers(pytestconfig) is None  # left to xdist, which reads it
