"""`phoenix` as a user of annotator's ``phoenix`` extra has it: a namespace package.

arize-phoenix-client installs ``phoenix/client/`` and no ``phoenix/__init__.py``, so for the
people who use ``annotator pull`` and ``push`` (the client alone) ``import phoenix.client``
imports the client. The test extra also installs the Phoenix server (arize-phoenix), whose
``phoenix/__init__.py`` imports the whole server - about 5 s, a heap that takes seconds more to
collect and tear down - in every process that imports the client. `use()` makes ``phoenix`` the
namespace package the client expects, over the same directory, before anything imports it: the
tests then run the client as users do, and only the test server's own process imports the
server (``annotator.phoenix.local_server`` starts it in a process of its own).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys


def use() -> None:
    """Make ``phoenix`` a namespace package in this process (nothing when it is imported
    already, or not installed)."""
    if "phoenix" in sys.modules:
        return
    found = importlib.util.find_spec("phoenix")  # finds it without running its __init__
    if found is None or not found.submodule_search_locations:
        return
    spec = importlib.machinery.ModuleSpec("phoenix", None, is_package=True)
    spec.submodule_search_locations = list(found.submodule_search_locations)
    sys.modules["phoenix"] = importlib.util.module_from_spec(spec)
