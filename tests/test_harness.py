"""What the test run itself costs, outside the tests: every pytest process (the controller, each
xdist worker) imports the plugins and collects every test module before its first test, so what
a module imports at its top is paid six or seven times a run, whether its tests run there or not.
"""

from __future__ import annotations

import pytest

from tests.conftest import LOADED_AT_COLLECTION

# Imported by the few tests that need them, when they run: each was loaded by collecting the
# suite, in every process (CPU-s a process, measured with -X importtime and getrusage).
ONLY_SOME_TESTS_NEED = {
    "pyarrow": "the parquet tests' `pa` fixture (tests/test_annotations_import_times.py); ~0.15",
    "numpy": "pyarrow's",
    "trustme": "the https test's `authority` fixture (tests/phoenix/test_https.py); ~0.05",
    "cryptography": "trustme's",
    "packaging": "the wheel test (tests/test_wheel.py); ~0.03",
    "anyio": "anyio's pytest plugin (-p no:anyio in pyproject.toml: nothing here uses it); ~0.04",
    "httpx": "the Phoenix client's, when a test talks to Phoenix",
}


def test_collecting_the_suite_imports_nothing_only_some_tests_need(
    pytestconfig: pytest.Config,
) -> None:
    loaded = pytestconfig.stash[LOADED_AT_COLLECTION]
    found = {
        module: why
        for module, why in ONLY_SOME_TESTS_NEED.items()
        if any(name == module or name.startswith(module + ".") for name in loaded)
    }
    assert found == {}, "loaded by collection; import these where the tests need them"
