"""`merge` carries what campaigns store: assignments, skips and flags, final values, the same
for any order of the inputs, and merging again changes nothing."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from annotator.model import Annotation
from annotator.store import Assignment, Store
from annotator.team.merge import merge_databases
from tests.app_data import build_db


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _batches(tmp_path: Path) -> list[Path]:
    alice, bob, lead = (build_db(tmp_path / f"{n}.db") for n in ("alice", "bob", "lead"))
    with Store.open(alice) as store:
        store.add_assignments(
            [
                Assignment("alice", "span", "r3", "trace-rag", "c1", False, "2026-01-01T00:00:00"),
                Assignment("alice", "span", "a2", "trace-agent", "c1", True, "2026-01-01T00:00:00"),
            ]
        )
        store.skip("r3", "alice", "no idea")
        store.flag("a2", "alice", "tool output cut")
    with Store.open(bob) as store:
        store.add_assignments(
            [Assignment("bob", "span", "a2", "trace-agent", "c1", True, "2026-01-01T00:00:00")]
        )
        store.flag("a2", "bob", "")
        # the same assignment as alice's file holds, made later by another campaign
        store.add_assignments(
            [Assignment("alice", "span", "r3", "trace-rag", "c2", False, "2026-02-01T00:00:00")]
        )
    with Store.open(lead) as store:
        store.set_annotation(
            Annotation(name="correctness", span_id="r3", label="correct", identifier="bob")
        )
        store.set_final(
            Annotation(name="correctness", span_id="r3", label="correct"), reviewer="lead"
        )
    return [alice, bob, lead]


def test_assignments_marks_and_finals_are_merged_in_any_order(tmp_path: Path) -> None:
    inputs = _batches(tmp_path)
    results = []
    for n, order in enumerate(itertools.permutations(inputs)):
        out = tmp_path / f"out{n}.db"
        report = merge_databases(list(order), out)
        if n == 0:  # alice, bob, lead: bob's later copy of alice's assignment changes nothing
            assert (report.assignments_changed, report.marks_changed) == (3, 3)
        results.append(
            (
                _rows(out, "SELECT * FROM assignments ORDER BY annotator, item_id"),
                _rows(out, "SELECT * FROM item_marks ORDER BY kind, annotator, span_id"),
                _rows(out, "SELECT identifier, label FROM annotations ORDER BY identifier"),
            )
        )
        again = merge_databases(list(order), out)
        assert (again.assignments_changed, again.marks_changed) == (0, 0)
    assignments, marks, annotations = results[0]
    assert all(result == results[0] for result in results)
    assert [(a[0], a[2], a[4]) for a in assignments] == [
        ("alice", "a2", "c1"),
        ("alice", "r3", "c1"),  # the earliest of the two
        ("bob", "a2", "c1"),
    ]
    assert [(m[0], m[1], m[2], m[4]) for m in marks] == [
        ("flag", "alice", "a2", "tool output cut"),
        ("flag", "bob", "a2", ""),
        ("skip", "alice", "r3", "no idea"),
    ]
    assert annotations == [("bob", "correct"), ("final", "correct")]
    # merged marks are not anyone's undo history in OUT
    with Store.open(tmp_path / "out0.db") as store:
        assert store.undo("alice") is None
        assert store.has_assignment("alice")
