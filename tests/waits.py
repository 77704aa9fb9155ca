"""Waiting in app tests for a condition the app reaches by itself (a count computed after a
pause in the typing, a change saved by the writer thread, a screen pushed): a condition, never a
fixed sleep.

The app runs on the test's own event loop, so a plain `asyncio.sleep` between two looks at the
condition is all the app needs to get on with its work. `pilot.pause(delay)` (what
`tests.app_data.wait_for` polls with) also asks every widget of the screen to acknowledge each
poll: ~2 ms CPU a poll against ~0.2 ms, and a count or a save takes 10 to 30 polls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds, which only a
    hang reaches. (`pilot` is unused: the same call as `tests.app_data.wait_for`.)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
