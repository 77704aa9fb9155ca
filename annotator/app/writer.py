"""ONE ordered writer: every change the annotator makes is committed by this thread, in the
order the keys were pressed, on a connection of its own. No Textual here.

The screen never waits for the disk: it decides what a key means, records the change as pending
in the session (what the panel, the tree marks and auto-advance see) and hands it over. When
the database cannot take the write - another process holds the write lock, the disk is full,
the file turned read-only - the writer says so at once and keeps the change and every change
queued behind it, retrying with backoff, until the write succeeds or the app gives up
(`stop`). It never drops a change silently and never reorders: a change that cannot be written
for a reason retrying will not fix (a constraint the row breaks) is reported as failed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from annotator.model import Annotation
from annotator.store import AnnotationError, AnnotationKey, Change, LockTimeout, Store

BUSY_TIMEOUT_MS = 100  # how long one attempt waits for the lock before the user is told
BACKOFF_START = 0.05
BACKOFF_MAX = 1.0

_sequence = count(1)
MARK_OPS = ("skip", "unskip", "flag", "unflag")


@dataclass(eq=False)
class WriteOp:
    """One change, decided when its key was read. `kind`: set (write `annotation`), delete
    (remove `key`), undo, redo; skip, unskip, flag, unflag (a mark on `span_id`, with
    `reason`)."""

    kind: str
    key: AnnotationKey | None = None
    annotation: Annotation | None = None
    what: str = ""  # what it is about, for messages: "correctness", "note"
    trace_id: str | None = None
    span_id: str | None = None  # the span (tree row) it changes; the root for trace targets
    seq: int = field(default_factory=lambda: next(_sequence))
    submitted_at: float = field(default_factory=time.monotonic)
    late: bool = False  # shown as unsaved (slow, or the writer is waiting)
    key_time: float | None = None  # perf_counter of the key press, for the latency figures
    reason: str = ""  # a skip's or flag's reason


@dataclass(frozen=True)
class Committed:
    op: WriteOp
    result: Annotation | Change | None  # the stored row, the removed row, or the undo/redo step
    committed_at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class Failed:
    """Retrying cannot help; the change is not in the database."""

    op: WriteOp
    reason: str


@dataclass(frozen=True)
class Waiting:
    """The database refuses writes for now (`reason`); `op` and everything after it is kept."""

    op: WriteOp
    reason: str


WriterEvent = Committed | Failed | Waiting


def trouble(error: BaseException) -> str:
    """A store error in a few words a person can act on."""
    text = str(error)
    lower = text.lower()
    if "locked" in lower or "busy" in lower:
        return "locked by another process"
    if "full" in lower:
        return "disk full"
    if "readonly" in lower or "read-only" in lower:
        return "the database file is read-only"
    if "disk i/o" in lower:
        return "disk I/O error"
    return text or type(error).__name__


def _retryable(error: BaseException) -> bool:
    # Lock contention, a full disk, a read-only file, I/O errors: all can clear up. A broken
    # row (constraint, bad key) will not.
    return isinstance(error, (sqlite3.OperationalError, LockTimeout))


class Writer:
    """Commits `WriteOp`s one at a time, first in first out, reporting each outcome through
    `report` (called on the writer thread: hand it to the UI thread-safely)."""

    def __init__(
        self,
        store: Store,
        actor: str,
        report: Callable[[WriterEvent], None],
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self.store = store
        self.actor = actor
        self.report = report
        self._queue: deque[WriteOp] = deque()
        self._condition = threading.Condition()
        self._stopping = False
        self._busy_op: WriteOp | None = None
        # A short lock wait per attempt: the user hears about a held lock within a tenth of a
        # second instead of after the connection's minute-long busy timeout.
        store.set_busy_timeout(busy_timeout_ms)
        self._thread = threading.Thread(target=self._run, name="annotator-writer", daemon=True)
        self._thread.start()

    def submit(self, op: WriteOp) -> None:
        with self._condition:
            if self._stopping:
                raise RuntimeError("the writer has stopped")
            self._queue.append(op)
            self._condition.notify_all()

    def unsaved(self) -> list[WriteOp]:
        """Changes not committed yet, in order (the one being written first)."""
        with self._condition:
            busy = [self._busy_op] if self._busy_op is not None else []
            return busy + list(self._queue)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted change is committed or failed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._busy_op is not None:
                if not self._thread.is_alive():
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def stop(self, timeout: float = 2.0) -> list[WriteOp]:
        """Stop after the change in hand (retries end); returns what was not written."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout)
        left = self.unsaved()
        if not self._thread.is_alive():
            self.store.close()
        return left

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._stopping:
                    self._condition.wait()
                if not self._queue:
                    return  # stopping with nothing left
                op = self._queue.popleft()
                self._busy_op = op
            done = self._write_until_done(op)
            with self._condition:
                if done:
                    self._busy_op = None
                else:  # stopping: put it back so that `unsaved` lists it
                    self._queue.appendleft(op)
                    self._busy_op = None
                self._condition.notify_all()
            if not done:
                return

    def _write_until_done(self, op: WriteOp) -> bool:
        delay = BACKOFF_START
        waiting_said = None
        while True:
            try:
                result = apply_change(self.store, self.actor, op)
            except Exception as error:
                self._rollback()
                if not _retryable(error):
                    self.report(Failed(op, trouble(error)))
                    return True
                reason = trouble(error)
                if reason != waiting_said:
                    waiting_said = reason
                    self.report(Waiting(op, reason))
                with self._condition:
                    if self._stopping:
                        return False
                    self._condition.wait(delay)
                    if self._stopping:
                        return False
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            self.report(Committed(op, result))
            return True

    def _rollback(self) -> None:
        # A COMMIT refused for a full disk can leave the transaction open.
        self.store.rollback()


def apply_change(store: Store, actor: str, op: WriteOp) -> Annotation | Change | None:
    """Commit one change on `store` (each store call is one transaction)."""
    if op.kind == "set":
        assert op.annotation is not None
        return store.set_annotation(op.annotation, actor=actor)
    if op.kind == "delete":
        assert op.key is not None
        return store.delete_annotation(op.key, actor=actor)
    if op.kind in MARK_OPS:
        assert op.span_id is not None
        if op.kind == "skip":
            store.skip(op.span_id, actor, op.reason)
        elif op.kind == "flag":
            store.flag(op.span_id, actor, op.reason)
        elif op.kind == "unskip":
            store.unskip(op.span_id, actor)
        else:
            store.unflag(op.span_id, actor)
        return None
    if op.kind == "undo":
        return store.undo(actor)
    if op.kind == "redo":
        return store.redo(actor)
    raise AnnotationError(f"unknown change {op.kind!r}")


def run_now(store: Store, actor: str, op: WriteOp) -> WriterEvent:
    """Apply one change synchronously (for code without a UI thread: tests, scripts)."""
    try:
        result = apply_change(store, actor, op)
    except Exception as error:
        store.rollback()
        return Failed(op, trouble(error))
    return Committed(op, result)
