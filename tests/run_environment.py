"""The test run's environment, set before pytest imports the installed plugins.

pyproject.toml's addopts load this module first (`-p tests.run_environment`: pytest imports the
plugins named with -p after its own modules and before the installed ones); the environment
variables it sets are inherited by the xdist workers and the subprocesses the tests start.
Imported later (by tests/conftest.py, when a command line leaves the -p out), it does the same,
too late for this process's own bytecode only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests import bytecode_cache


def _temporary_files_in_memory() -> None:
    """Temporary files (tmp_path, tempfile, the CLI subprocesses the tests start) on tmpfs when
    the machine has one and TMPDIR does not choose otherwise. The store commits with
    `synchronous = FULL`: on disk, the fsyncs took over half of the suite's time. What the
    tests check survives a killed process, not a power cut, so memory loses no coverage."""
    shm = Path("/dev/shm")
    if "TMPDIR" not in os.environ and shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        os.environ["TMPDIR"] = str(shm)  # inherited by xdist workers and subprocesses
        tempfile.tempdir = None  # gettempdir() looks again


_temporary_files_in_memory()

# The bytecode cache (in the temporary directory: after the above) for the processes the run
# starts and, from now on, for this one: with PYTHONDONTWRITEBYTECODE=1 the controller, started
# without it, compiled this tree's modules and rewrote the asserts of the installed plugins'
# distributions at every run (tests/bytecode_cache.py's use_in_this_process).
BYTECODE_PREFIX = bytecode_cache.use_cache_outside_the_tree()
if BYTECODE_PREFIX is not None:
    bytecode_cache.use_in_this_process(BYTECODE_PREFIX)
