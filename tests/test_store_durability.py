"""Durability and concurrency of annotation writes, across real processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from annotator.model import Annotation, Span
from annotator.store import Store

WRITERS = 4
WRITES_EACH = 150


def _prepare(path: Path, spans: int = 50) -> None:
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add_all(Span(f"s{i}", f"t{i % 5}", None, f"span {i}") for i in range(spans))
        writer.close()


def _write_annotations(path: str, identifier: str, count: int, barrier) -> int:
    barrier.wait()
    with Store.open(path) as store:
        for i in range(count):
            store.set_annotation(
                Annotation(name="quality", span_id=f"s{i % 50}", label=f"v{i}", identifier=identifier)
            )
            if i % 3 == 0:  # interleave undo with writes: longer transactions, more log reads
                store.undo(identifier)
    return count


def _import_spans(path: str, count: int, barrier) -> int:
    barrier.wait()
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add_all(
            Span(f"bulk{i}", f"bulk-trace{i // 20}", None, "bulk", attributes={"x": "y" * 200})
            for i in range(count)
        )
        return writer.close().new


def test_concurrent_writers_lose_nothing_and_never_see_locked(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    _prepare(path)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(WRITERS + 1)
        with context.Pool(WRITERS + 1) as pool:
            jobs = [
                pool.apply_async(_write_annotations, (str(path), f"ann{n}", WRITES_EACH, barrier))
                for n in range(WRITERS)
            ]
            bulk = pool.apply_async(_import_spans, (str(path), 30_000, barrier))
            results = [job.get(timeout=300) for job in jobs]  # re-raises "database is locked"
            assert bulk.get(timeout=300) == 30_000
    assert results == [WRITES_EACH] * WRITERS
    with Store.open(path) as store:
        conn = store.connection
        sets = conn.execute("SELECT count(*) FROM annotation_log WHERE action = 'set'").fetchone()[0]
        undos = conn.execute("SELECT count(*) FROM annotation_log WHERE action = 'undo'").fetchone()[0]
        assert sets == WRITERS * WRITES_EACH
        assert undos == WRITERS * len(range(0, WRITES_EACH, 3))
        # Every annotator ends with exactly the state its own history implies.
        for n in range(WRITERS):
            rows = conn.execute(
                "SELECT count(*) FROM annotations WHERE identifier = ?", (f"ann{n}",)
            ).fetchone()[0]
            assert 0 < rows <= 50
        assert store.counts()["spans"] == 50 + 30_000
        assert store.integrity_check() == "ok"


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from annotator.model import Annotation
    from annotator.store import Store
    store = Store.open(sys.argv[1])
    i = 0
    while True:
        store.set_annotation(Annotation(name="q", span_id=f"s{i % 50}", label=f"v{i}",
                                        identifier=f"k{i}"))
        print(i, flush=True)  # only after the call returned: the row must be on disk
        i += 1
    """
)


def test_kill_minus_nine_loses_nothing_that_was_reported_saved(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    _prepare(path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    confirmed = -1
    assert process.stdout is not None
    for line in process.stdout:
        confirmed = int(line)
        if confirmed >= 200:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Store.open(path) as store:
        labels = {row[0] for row in store.connection.execute("SELECT label FROM annotations")}
        assert {f"v{i}" for i in range(confirmed + 1)} <= labels
        assert store.integrity_check() == "ok"
