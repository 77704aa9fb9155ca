"""A bytecode cache for the test run's processes when the environment turns bytecode off."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def use_cache_outside_the_tree() -> None:
    """With PYTHONDONTWRITEBYTECODE=1 (this environment, often CI) every xdist worker and CLI
    subprocess compiled the package and pytest rewrote the test modules again: collecting the
    suite took 5.8 CPU-s a process, 1.9 with the caches. The setting keeps .pyc files out of the
    source tree; a cache prefix in the temporary directory keeps them out of it too. Workers and
    subprocesses inherit it (this process has already started without one). Python checks each
    cache against its source (mtime and size) as it does in __pycache__, so the directory must
    be ours alone: one that another user could write to is not used (they could plant code).
    An explicit PYTHONPYCACHEPREFIX is left alone."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    prefix = Path(tempfile.gettempdir()) / f"annotator-pycache-{os.getuid()}"
    try:
        prefix.mkdir(mode=0o700, exist_ok=True)
        found = prefix.lstat()
    except OSError:
        return
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o022:
        return
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
