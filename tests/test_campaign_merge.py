"""`merge` carries what campaigns store: assignments, skips and flags, final values, the same
for any order of the inputs, and merging again changes nothing."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from random import Random
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.model import Annotation
from annotator.store import Assignment, Store
from annotator.team.merge import merge_databases
from tests.app_data import build_db
from tests.properties import examples


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


def _final_file(path: Path, label: str, updated_at: str, *, reviewer: str | None) -> Path:
    """A file holding one final value on r3's correctness: a reviewer's (`reviewer` given), else
    resolve's majority; its updated_at set to `updated_at`."""
    build_db(path)
    with Store.open(path) as store:
        final = Annotation(name="correctness", span_id="r3", label=label)
        if reviewer is not None:
            store.set_final(final, reviewer=reviewer)
        else:
            store.set_final(final, reviewer="resolve:majority", decided_by="majority")
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(
                "UPDATE annotations SET updated_at = ? WHERE identifier = 'final'", (updated_at,)
            )
    finally:
        conn.close()
    return path


def _final(path: Path) -> tuple:
    return _rows(
        path,
        "SELECT label, json_extract(metadata, '$.decided_by'), json_extract(metadata, "
        "'$.reviewer') FROM annotations WHERE identifier = 'final'",
    )[0]


def test_a_reviewers_final_beats_a_newer_automatic_one_in_any_order(tmp_path: Path) -> None:
    lead = _final_file(tmp_path / "lead.db", "incorrect", "2026-01-01T00:00:00", reviewer="lead")
    auto = _final_file(tmp_path / "auto.db", "correct", "2026-06-01T00:00:00", reviewer=None)
    for n, order in enumerate(([lead, auto], [auto, lead])):
        out = tmp_path / f"out{n}.db"
        report = merge_databases(order, out)
        assert _final(out) == ("incorrect", "reviewer", "lead")
        # the two finals differ: listed as a conflict, the reviewer's file the winner
        assert [(c.key.identifier, c.winner) for c in report.conflicts] == [("final", str(lead))]
        assert [(v.source, v.label) for v in report.conflicts[0].versions] == [
            (str(lead), "incorrect"),
            (str(auto), "correct"),
        ]
    # OUT holding the automatic final already: an older reviewer's final still replaces it
    out = tmp_path / "out-auto.db"
    merge_databases([auto], out)
    assert _final(out) == ("correct", "majority", "resolve:majority")
    merge_databases([lead], out)
    assert _final(out) == ("incorrect", "reviewer", "lead")
    # and a newer automatic final never replaces the reviewer's
    merge_databases([auto], out)
    assert _final(out) == ("incorrect", "reviewer", "lead")


def test_two_reviewers_differing_finals_are_listed_as_a_conflict(tmp_path: Path) -> None:
    lead = _final_file(tmp_path / "lead.db", "incorrect", "2026-01-01T00:00:00", reviewer="lead")
    carol = _final_file(tmp_path / "carol.db", "correct", "2026-02-01T00:00:00", reviewer="carol")
    for n, order in enumerate(([lead, carol], [carol, lead])):
        out = tmp_path / f"out{n}.db"
        report = merge_databases(order, out)
        assert _final(out) == ("correct", "reviewer", "carol")  # the newer reviewer's
        assert len(report.conflicts) == 1
        conflict = report.conflicts[0]
        assert conflict.describe_key() == "span r3 · correctness · final"
        assert [(v.source, v.label, v.updated_at) for v in conflict.versions] == [
            (str(carol), "correct", "2026-02-01T00:00:00"),
            (str(lead), "incorrect", "2026-01-01T00:00:00"),
        ]
        assert [(v.decided_by, v.reviewer) for v in conflict.versions] == [
            ("reviewer", "carol"),
            ("reviewer", "lead"),
        ]
        lines = report.lines()
        at = lines.index("  span r3 · correctness · final")
        assert [line.split(maxsplit=1)[1] for line in lines[at + 1 : at + 3]] == [
            "2026-02-01T00:00:00  label='correct' (decided by reviewer 'carol')  <- won",
            "2026-01-01T00:00:00  label='incorrect' (decided by reviewer 'lead')",
        ]
        assert [
            (v["label"], v["decided_by"], v["reviewer"])
            for v in report.to_dict()["conflicts"][0]["versions"]
        ] == [("correct", "reviewer", "carol"), ("incorrect", "reviewer", "lead")]


@settings(
    max_examples=examples(12),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    finals=st.lists(
        st.tuples(st.booleans(), st.sampled_from(["correct", "incorrect", "partial"])),
        min_size=1,
        max_size=4,
    ),
    order=st.randoms(use_true_random=False),
)
def test_property_merge_keeps_the_newest_reviewer_final_whatever_the_order(
    tmp_path: Path, finals: list[tuple[bool, str]], order: Random
) -> None:
    """Files each holding one final value (a reviewer's or resolve's, distinct times): merged
    in any order, OUT holds the newest reviewer's final when there is one, else the newest."""
    run = tmp_path / uuid4().hex
    run.mkdir()
    files = []
    for n, (reviewed, label) in enumerate(finals):
        at = f"2026-01-{n + 1:02d}T00:00:00"
        files.append(
            _final_file(run / f"f{n}.db", label, at, reviewer="lead" if reviewed else None)
        )
    reviewed = [n for n, (r, _) in enumerate(finals) if r]
    expected = finals[max(reviewed) if reviewed else len(finals) - 1][1]
    order.shuffle(files)
    out = run / "out.db"
    merge_databases(files, out)
    assert _final(out)[:2] == (expected, "reviewer" if reviewed else "majority")
