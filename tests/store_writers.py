"""What the concurrent writers of tests/test_store_durability.py run, each in a process of its own
(multiprocessing's forkserver: a fresh interpreter imports this module once, then forks a process
for each writer). A module of its own, importing the store and nothing of pytest, so that those
processes load what they run and no more."""

from __future__ import annotations

import time
from typing import Any

from annotator.model import Annotation, Span
from annotator.store import Store
from annotator.store.db import LOCK_NOTICE_AFTER_S

# The bulk import: small batches and commits (the import's own loop, at test size), so that it
# holds the write lock in several transactions the annotation writers wait for, the first one
# for longer than SQLite's own busy handler waits (a slice of LOCK_NOTICE_AFTER_S): the store's
# retries (`wait_for_lock`), not SQLite's, are what keeps the writers from "database is locked".
BULK_BATCH = 500
BULK_COMMIT_EVERY = 2_000
FIRST_HOLD_S = 2 * LOCK_NOTICE_AFTER_S

_barrier: Any = None


def start(barrier: Any) -> None:
    """Each process's initializer: the barrier every writer waits at before its first write."""
    global _barrier
    _barrier = barrier


def write_annotations(path: str, identifier: str, count: int) -> int:
    with Store.open(path) as store:
        _barrier.wait()  # then the first write at once, into the import's lock
        for i in range(count):
            store.set_annotation(
                Annotation(
                    name="quality", span_id=f"s{i % 50}", label=f"v{i}", identifier=identifier
                )
            )
            if i % 3 == 0:  # interleave undo with writes: longer transactions, more log reads
                store.undo(identifier)
    return count


def import_spans(path: str, count: int) -> int:
    """Import `count` spans; the annotation writers are let go once the first batch is written,
    while this import's first transaction holds the write lock (for FIRST_HOLD_S more)."""
    from annotator.store import spans

    spans.BATCH_SIZE, spans.COMMIT_EVERY = BULK_BATCH, BULK_COMMIT_EVERY
    with Store.open(path) as store:
        writer = store.span_writer()
        for i in range(count):
            writer.add(
                Span(f"bulk{i}", f"bulk-trace{i // 20}", None, "bulk", attributes={"x": "y" * 200})
            )
            if i + 1 == BULK_BATCH:
                assert store.connection.in_transaction  # the lock is ours: the writers wait
                _barrier.wait()
                time.sleep(FIRST_HOLD_S)
        return writer.close().new
