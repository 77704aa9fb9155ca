"""`annotator merge`: several annotators' databases into one (annotator/team/merge.py)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from annotator.cli.main import cli
from annotator.config import ConfigError, parse_config
from annotator.model import Annotation, Span
from annotator.store import (
    CONFIG_SET_ASIDE_META,
    GUIDELINES_UPDATED_META,
    SCHEMA_VERSION,
    AnnotationKey,
    Store,
    StoreError,
)
from annotator.store import db as store_db
from annotator.store.annotations import import_annotations
from annotator.team import merge as merge_module
from annotator.team.merge import MergeReport, merge_databases
from tests.app_data import build_db, config_set
from tests.properties import examples

T0 = "2026-03-01T10:00:00.000000+00:00"
T1 = "2026-03-01T11:00:00.000000+00:00"
T2 = "2026-03-01T12:00:00.000000+00:00"


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo spans (tests/app_data.py), built once and copied for each database."""
    return build_db(tmp_path_factory.mktemp("template") / "template.db")


def _copy(template: Path, path: Path) -> Path:
    shutil.copyfile(template, path)
    return path


def put(path: Path, *annotations: Annotation) -> None:
    """Store annotations keeping the times they carry (as an import does)."""
    with Store.open(path) as store:
        for annotation in annotations:
            import_annotations(store.connection, [annotation], actor=annotation.identifier)


def ann(
    name: str = "correctness", *, at: str = T0, created: str | None = None, **fields
) -> Annotation:
    fields.setdefault("span_id", "r3")
    fields.setdefault("identifier", "alice")
    return Annotation(name, created_at=created or at, updated_at=at, **fields)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(paths: Iterable[Path]) -> dict[str, str]:
    """The database file and its pending WAL content. (A read-only open of a WAL database leaves
    an empty -wal and a -shm beside it when there were none: SQLite's doing, no content.)"""
    result = {}
    for path in paths:
        result[str(path)] = digest(path)
        wal = Path(str(path) + "-wal")
        if wal.exists() and wal.stat().st_size:
            result[str(wal)] = digest(wal)
    return result


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection, for reading several things from one file: the helpers below
    take it in place of the path (each open reads the file's schema again)."""
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _read(source: Path | sqlite3.Connection, sql: str) -> list[tuple]:
    if isinstance(source, sqlite3.Connection):
        return source.execute(sql).fetchall()
    with reading(source) as conn:
        return conn.execute(sql).fetchall()


def content(path: Path | sqlite3.Connection) -> set[tuple]:
    """Annotations by key and content (not row id, not the context ids the store fills in)."""
    rows = _read(
        path,
        "SELECT target, CASE target WHEN 'trace' THEN trace_id WHEN 'session' THEN session_id "
        "ELSE span_id END, document_position, name, identifier, label, score, explanation, "
        "annotator_kind, metadata, source, created_at, updated_at FROM annotations",
    )
    return {
        (*row[:9], orjson.dumps(orjson.loads(row[9]), option=orjson.OPT_SORT_KEYS), *row[10:])
        for row in rows
    }


def spans_and_traces(path: Path | sqlite3.Connection) -> tuple[list[tuple], list[tuple]]:
    spans = _read(path, "SELECT * FROM spans ORDER BY span_id")
    traces = _read(path, "SELECT * FROM traces ORDER BY trace_id")
    return spans, traces


def log_rows(path: Path | sqlite3.Connection) -> list[tuple]:
    return _read(
        path,
        "SELECT seq, actor, action, annotation_id, before, after FROM annotation_log ORDER BY seq",
    )


def _counts(report) -> tuple[int, int, int]:
    return report.annotations_new, report.annotations_updated, report.annotations_unchanged


def invoke(*args: str):
    return CliRunner().invoke(cli, ["merge", *args], catch_exceptions=False)


# --- the user story: three annotators ------------------------------------------------------------


def test_three_annotators_union_conflicts_and_newest_wins(template: Path, tmp_path: Path) -> None:
    a, b, c = (_copy(template, tmp_path / f"{n}.db") for n in ("alice", "bob", "carol"))
    for path in (a, b, c):
        with Store.open(path) as store:
            store.save_config_document(config_set().to_document())
    # Each annotator labels under their own identifier (no overlap)...
    with Store.open(a) as store:
        store.set_annotation(
            Annotation("correctness", span_id="r3", label="correct", score=1, identifier="alice")
        )
        store.set_annotation(
            Annotation(
                "relevance",
                target="document",
                span_id="r2",
                document_position=0,
                label="relevant",
                identifier="alice",
            )
        )
    with Store.open(b) as store:
        store.set_annotation(
            Annotation("correctness", span_id="r3", label="incorrect", score=0, identifier="bob")
        )
        store.set_annotation(
            Annotation(
                "task_success",
                target="trace",
                trace_id="trace-agent",
                label="failure",
                identifier="bob",
            )
        )
    with Store.open(c) as store:
        store.set_annotation(
            Annotation("correctness", span_id="r3", label="partial", score=0.5, identifier="carol")
        )
    # ...and the lead's "review" identifier was edited in all three files, in this order of time:
    # alice, then carol (the newest, so it wins), and bob made the same call as alice.
    put(a, ann(label="correct", score=1, identifier="review", at=T0))
    put(b, ann(label="correct", score=1, identifier="review", at=T0))  # identical: no conflict
    put(c, ann(label="incorrect", score=0, identifier="review", at=T1))
    # On a2 alice and bob disagree; bob's is newer.
    put(a, ann(span_id="a2", label="correct", identifier="review", at=T0))
    put(b, ann(span_id="a2", label="incorrect", identifier="review", at=T2))
    before = digests([a, b, c])

    out = tmp_path / "out.db"
    report = merge_databases([a, b, c], out)

    assert digests([a, b, c]) == before
    got = content(out)
    assert len(got) == 7  # 3 correctness + relevance + task_success + 2 review
    by_key = {(row[1], row[3], row[4]): row for row in got}
    assert by_key[("r3", "correctness", "review")][5:7] == ("incorrect", 0.0)
    assert by_key[("a2", "correctness", "review")][5] == "incorrect"
    assert by_key[("r3", "correctness", "carol")][5:7] == ("partial", 0.5)
    assert _counts(report) == (7, 0, 0)
    assert [s.annotations for s in report.inputs] == [4, 4, 2]
    assert all(s.spans == 8 for s in report.inputs)
    assert report.spans_new == 8 and report.spans_existing == 16

    # The conflicts: one per disputed key, every file's value, the winner first.
    assert len(report.conflicts) == 2
    conflicts = {c.key.target_id: c for c in report.conflicts}
    r3 = conflicts["r3"]
    assert r3.key == AnnotationKey("span", "r3", None, "correctness", "review")
    assert r3.winner == str(c)
    assert [(v.source, v.label, v.updated_at, v.won) for v in r3.versions] == [
        (str(c), "incorrect", T1, True),
        (str(a), "correct", T0, False),
        (str(b), "correct", T0, False),
    ]
    assert conflicts["a2"].winner == str(b)

    # Spans and traces: one copy of each, summarised.
    spans, traces = spans_and_traces(out)
    assert (len(spans), len(traces)) == (8, 4)
    assert spans_and_traces(out) == spans_and_traces(a)

    # Configs: all five, one valid stored document.
    with Store.open(out) as store:
        document = store.load_config_document()
    names = [c["name"] for c in document["annotations"]]
    assert names == [c.name for c in config_set().annotations]
    parse_config(orjson.dumps(document).decode())
    assert report.config_conflicts == []

    # The audit trail says where each value came from.
    log = log_rows(out)
    assert len(log) == 7 and {row[2] for row in log} == {"merge"}
    images = {
        (image["identifier"], image["span_id"], image["trace_id"]): (row[1], image)
        for row in log
        for image in [orjson.loads(row[5])]
    }
    assert images[("review", "r3", "trace-rag")][0] == f"merge:{c}"
    assert images[("review", "a2", "trace-agent")][0] == f"merge:{b}"
    assert images[("alice", "r3", "trace-rag")][0] == f"merge:{a}"
    assert images[("bob", None, "trace-agent")][0] == f"merge:{b}"
    after = images[("review", "r3", "trace-rag")][1]
    assert after["label"] == "incorrect" and after["updated_at"] == T1 and after["metadata"] == {}
    assert all(row[4] is None for row in log)  # all new: no before image


def test_merging_again_changes_nothing_and_is_not_undoable(template: Path, tmp_path: Path) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    put(a, ann(label="correct", at=T0), ann(name="comment", explanation="fine", at=T0))
    put(b, ann(label="incorrect", at=T1))
    out = tmp_path / "out.db"
    merge_databases([a, b], out)
    state = (content(out), log_rows(out), spans_and_traces(out), digest(out))
    again = merge_databases([b, a], out)
    assert (again.annotations_new, again.annotations_updated) == (0, 0)
    assert again.annotations_unchanged == 2
    assert again.spans_new == 0
    assert (content(out), log_rows(out), spans_and_traces(out)) == state[:3]
    assert len(again.conflicts) == 1 and again.conflicts[0].winner == f"{out} (existing)"
    # Merge entries are in nobody's undo history.
    with Store.open(out) as store:
        assert store.undo(f"merge:{a}") is None
        assert store.undo(f"merge:{b}") is None
        assert store.undo("alice") is None


def test_tie_on_updated_at_is_broken_by_content_whatever_the_order(
    template: Path, tmp_path: Path
) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    put(a, ann(label="correct", score=1, at=T1))
    put(b, ann(label="incorrect", score=0, at=T1))
    results = []
    for order in ([a, b], [b, a]):
        out = tmp_path / f"out-{order[0].stem}.db"
        report = merge_databases(order, out)
        results.append(content(out))
        assert len(report.conflicts) == 1
        assert [v.won for v in report.conflicts[0].versions] == [True, False]
    assert results[0] == results[1]
    # The greater canonical content wins: ["incorrect", ...] > ["correct", ...].
    assert {row[5] for row in results[0]} == {"incorrect"}


def test_identical_copies_are_not_conflicts_and_metadata_order_does_not_matter(
    template: Path, tmp_path: Path
) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    put(a, ann(label="correct", metadata={"x": 1, "y": 2}, at=T0))
    put(b, ann(label="correct", metadata={"y": 2, "x": 1}, at=T0))
    report = merge_databases([a, b], tmp_path / "out.db")
    assert report.conflicts == []
    assert report.annotations_new == 1


def test_metadata_only_difference_is_resolved_but_not_a_conflict(
    template: Path, tmp_path: Path
) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    put(a, ann(label="correct", metadata={"v": 1}, at=T0))
    put(b, ann(label="correct", metadata={"v": 2}, at=T1))
    out = tmp_path / "out.db"
    report = merge_databases([a, b], out)
    assert report.conflicts == []
    (row,) = content(out)
    assert orjson.loads(row[9]) == {"v": 2}


def test_existing_out_rows_take_part(template: Path, tmp_path: Path) -> None:
    """OUT is an annotator database of its own: its newer rows stay (listed as the winner), its
    older rows are replaced (logged with before and after)."""
    out = _copy(template, tmp_path / "out.db")
    put(out, ann(label="correct", at=T2), ann(span_id="a2", label="correct", at=T0))
    a = _copy(template, tmp_path / "a.db")
    put(a, ann(label="incorrect", at=T1), ann(span_id="a2", label="incorrect", at=T1))
    log_before = len(log_rows(out))
    report = merge_databases([a], out)
    assert _counts(report) == (0, 1, 1)
    winners = sorted((c.key.target_id, c.winner) for c in report.conflicts)
    assert winners == [("a2", str(a)), ("r3", f"{out} (existing)")]
    labels = {row[1]: row[5] for row in content(out)}
    assert labels == {"r3": "correct", "a2": "incorrect"}
    log = log_rows(out)
    assert len(log) == log_before + 1
    _seq, actor, action, annotation_id, before, after = log[-1]
    assert (actor, action) == (f"merge:{a}", "merge")
    assert orjson.loads(before)["label"] == "correct"
    assert orjson.loads(after)["label"] == "incorrect"
    assert orjson.loads(before)["id"] == orjson.loads(after)["id"] == annotation_id


def test_document_trace_and_session_annotations(template: Path, tmp_path: Path) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    document = {"target": "document", "span_id": "r2"}
    put(
        a,
        ann("relevance", **document, document_position=0, label="relevant", at=T0),
        ann("relevance", **document, document_position=1, label="relevant", at=T0),
        ann("task_success", target="trace", span_id=None, trace_id="trace-rag", label="success"),
    )
    put(
        b,
        ann("relevance", **document, document_position=1, label="irrelevant", at=T1),
        ann("helpful", target="session", span_id=None, session_id="sess-2", label="yes"),
    )
    out = tmp_path / "out.db"
    report = merge_databases([a, b], out)
    assert report.annotations_new == 4
    (conflict,) = report.conflicts
    assert conflict.key == AnnotationKey("document", "r2", 1, "relevance", "alice")
    rows = _read(
        out, "SELECT target, document_position, label, trace_id, session_id FROM annotations"
    )
    assert ("document", 1, "irrelevant", "trace-rag", None) in rows  # r2 is in no session
    assert ("trace", None, "success", "trace-rag", "sess-1") in rows


# --- spans -------------------------------------------------------------------------------------


def test_spans_union_and_trace_id_clash_is_reported_independent_of_order(tmp_path: Path) -> None:
    def span(span_id: str, trace_id: str, parent: str | None = None, second: int = 0) -> Span:
        start = f"2026-01-01T00:00:{second:02d}.000000+00:00"
        return Span(span_id, trace_id, parent, span_id, "LLM", start)

    a = build_db(
        tmp_path / "a.db",
        [span("root1", "t1"), span("child1", "t1", "root1", 1), span("x", "t1", "root1", 2)],
    )
    b = build_db(
        tmp_path / "b.db",
        [span("root2", "t2"), span("child2", "t2", "root1", 1), span("x", "t2", "root2", 3)],
    )
    results = []
    for order in ([a, b], [b, a]):
        out = tmp_path / f"out-{order[0].stem}.db"
        report = merge_databases(order, out)
        assert report.spans_new == 5
        (clash,) = report.span_conflicts
        assert clash.startswith("span x: ") and "trace t2" in clash and "trace t1" in clash
        results.append(spans_and_traces(out))
    assert results[0] == results[1]
    spans, traces = results[0]
    assert [s[0] for s in spans] == ["child1", "child2", "root1", "root2", "x"]
    # x stays in t1 (the row that sorts first), whichever file came first.
    assert {t[0]: t[9] for t in traces} == {"t1": 3, "t2": 2}
    # Summaries match the spans: each trace's count is its number of spans.
    counts = dict(
        _read(tmp_path / "out-a.db", "SELECT trace_id, count(*) FROM spans GROUP BY trace_id")
    )
    assert {t[0]: t[9] for t in traces} == counts


def test_span_with_different_content_is_reported_and_kept_whatever_the_order(
    tmp_path: Path,
) -> None:
    def span(value: str) -> Span:
        return Span("s", "t", None, "s", "LLM", attributes={"input": {"value": value}})

    a = build_db(tmp_path / "a.db", [span("first")])
    b = build_db(tmp_path / "b.db", [span("second")])
    results = []
    for order in ([a, b], [b, a]):
        out = tmp_path / f"out-{order[0].stem}.db"
        report = merge_databases(order, out)
        assert len(report.span_conflicts) == 1
        assert "(attributes differ)" in report.span_conflicts[0]
        results.append(spans_and_traces(out))
    assert results[0] == results[1]
    # Merging into an OUT that has the span already: OUT's row stays.
    report = merge_databases([b], tmp_path / "out-a.db")
    assert report.span_conflicts[0].endswith(f"kept {tmp_path / 'out-a.db'} (existing)'s")
    assert spans_and_traces(tmp_path / "out-a.db") == results[0]


def test_new_spans_join_existing_traces_and_fix_orphans(tmp_path: Path) -> None:
    root = Span("root", "t", None, "root", "CHAIN", "2026-01-01T00:00:00.000000+00:00")
    child = Span("child", "t", "root", "child", "LLM", "2026-01-01T00:00:01.000000+00:00")
    a = build_db(tmp_path / "a.db", [child])  # the child alone: an orphan there
    b = build_db(tmp_path / "b.db", [root])
    out = tmp_path / "out.db"
    merge_databases([a, b], out)
    spans = _read(out, "SELECT span_id, orphan FROM spans ORDER BY span_id")
    assert spans == [("child", 0), ("root", 0)]
    traces = _read(out, "SELECT trace_id, root_span_id, span_count, orphan_count FROM traces")
    assert traces == [("t", "root", 2, 0)]


# --- configs -----------------------------------------------------------------------------------


CONFIG_A = """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
  - name: comment
    type: FREEFORM
"""
CONFIG_B = """
annotations:
  - name: correctness
    type: CATEGORICAL
    description: Bob's version
    values: [{label: right, score: 1}, {label: wrong, score: 0}]
  - name: tone
    type: CATEGORICAL
    values: [{label: polite}, {label: rude}]
"""


def save_configs(path: Path, text: str, **times: str) -> None:
    """Store a config document, then give its configs these updated_at times."""
    with Store.open(path) as store:
        store.save_config_document(parse_config(text).to_document())
        for name, at in times.items():
            store.connection.execute(
                "UPDATE annotation_configs SET updated_at = ? WHERE name = ?", (at, name)
            )


def set_aside(path: Path | sqlite3.Connection) -> str | None:
    """The definitions a merge set aside (the `meta` row, as stored)."""
    rows = _read(path, f"SELECT value FROM meta WHERE key = '{CONFIG_SET_ASIDE_META}'")
    return rows[0][0] if rows else None


def guidelines_at(path: Path | sqlite3.Connection, at: str | None = None) -> str | None:
    """When the stored guidelines last changed (the `meta` row); `at` sets it first ("": no
    row, as in a database written before the row was)."""
    if at is not None:
        assert isinstance(path, Path)
        with Store.open(path) as store:
            store.connection.execute("DELETE FROM meta WHERE key = ?", (GUIDELINES_UPDATED_META,))
            if at:
                store.set_meta(GUIDELINES_UPDATED_META, at)
    rows = _read(path, f"SELECT value FROM meta WHERE key = '{GUIDELINES_UPDATED_META}'")
    return rows[0][0] if rows else None


def stored_configs(path: Path | sqlite3.Connection) -> tuple[str, list[tuple]]:
    """The stored config document and every annotation_configs row."""
    (document,) = _read(path, "SELECT value FROM meta WHERE key = 'config_document'")[0]
    return document, _read(
        path, "SELECT name, type, description, config, position, updated_at "
        "FROM annotation_configs ORDER BY position"
    )  # fmt: skip


def test_configs_newest_definition_wins_whatever_the_order(template: Path, tmp_path: Path) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    save_configs(a, CONFIG_A, correctness=T2, comment=T0)
    save_configs(b, CONFIG_B, correctness=T1, tone=T1)
    out_ab, out_ba = tmp_path / "ab.db", tmp_path / "ba.db"
    report = merge_databases([a, b], out_ab)
    reverse = merge_databases([b, a], out_ba)
    assert stored_configs(out_ab) == stored_configs(out_ba)
    with Store.open(out_ab) as store:
        document = store.load_config_document()
    # a's correctness is the newest (T2); order: position in its file, then name
    assert [c["name"] for c in document["annotations"]] == ["correctness", "comment", "tone"]
    assert document["annotations"][0]["values"][0]["label"] == "correct"
    assert [(r[0], r[4], r[5]) for r in stored_configs(out_ab)[1]] == [
        ("correctness", 0, T2), ("comment", 1, T0), ("tone", 2, T1),
    ]  # fmt: skip
    parse_config(orjson.dumps(document).decode())  # still a valid document
    for merged in (report, reverse):
        (conflict,) = merged.config_conflicts
        assert conflict.name == "correctness" and conflict.kept_from == str(a)
        assert conflict.differing == ((str(b), ("description", "values")),)
        assert dict(conflict.updated_at) == {str(a): T2, str(b): T1}
        assert conflict.describe() == (
            f"correctness: kept {a}'s (updated {T2}); {b} (updated {T1}) differs in "
            "description, values"
        )
    assert sorted(report.configs_added) == ["comment", "correctness", "tone"]

    # Merging again changes nothing; OUT's configs are ranked like any input's.
    again = merge_databases([b, a], out_ab)
    assert again.configs_added == []
    assert stored_configs(out_ab) == stored_configs(out_ba)
    assert [c.kept_from for c in again.config_conflicts] == [f"{out_ab} (existing), {a}"]


def test_span_kinds_no_longer_depend_on_the_input_order(template: Path, tmp_path: Path) -> None:
    """Issue 7: `merge a b` and `merge b a` stored different span_kinds."""
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    config = "- {{name: correctness, type: categorical, values: [yes, no], span_kinds: {}}}\n"
    save_configs(a, config.format("[LLM]"), correctness=T0)
    save_configs(b, config.format("[LLM, AGENT]"), correctness=T0)  # a tie: content decides
    for order, name in (([a, b], "ab.db"), ([b, a], "ba.db")):
        report = merge_databases(order, tmp_path / name)
        (conflict,) = report.config_conflicts
        assert (conflict.kept_from, conflict.differing) == (str(a), ((str(b), ("span_kinds",)),))
    assert stored_configs(tmp_path / "ab.db") == stored_configs(tmp_path / "ba.db")
    with Store.open(tmp_path / "ab.db") as store:
        (kept,) = store.load_config_document()["annotations"]
    # '["LLM"]' sorts after '["LLM","AGENT"]': the greater canonical JSON wins a tie
    assert kept["span_kinds"] == ["LLM"]


def test_saving_the_same_definition_keeps_its_time(template: Path, tmp_path: Path) -> None:
    """What 'most recently updated' means: the definition changed, not the file re-saved
    (`annotator annotate --config same.yaml` saves the configs on every start)."""
    a = _copy(template, tmp_path / "a.db")
    save_configs(a, CONFIG_A, correctness=T0, comment=T0)
    with Store.open(a) as store:
        store.save_config_document(parse_config(CONFIG_A).to_document())
        changed = CONFIG_A.replace("type: FREEFORM", "type: FREEFORM\n    description: new")
        store.save_config_document(parse_config(changed).to_document())
        times = dict(store.connection.execute("SELECT name, updated_at FROM annotation_configs"))
    assert times["correctness"] == T0 and times["comment"] > T2


def test_config_that_would_break_the_document_is_not_added(template: Path, tmp_path: Path) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    # a moves the note action onto the key "z" and was updated last; b uses "z" for a label
    save_configs(a, CONFIG_A + "keys:\n  note: z\n", correctness=T1, comment=T1)
    tone = "annotations: [{name: tone, type: CATEGORICAL, values: [{label: a, key: z}]}]"
    save_configs(b, tone, tone=T0)
    out = tmp_path / "out.db"
    report = merge_databases([b, a], out)
    with Store.open(out) as store:
        document = store.load_config_document()
    parse_config(orjson.dumps(document).decode())
    assert [c["name"] for c in document["annotations"]] == ["correctness", "comment"]
    assert document["keys"] == {"note": ["z"]}
    assert report.problems == [
        f"{b}: config 'tone' not added (set aside for a later merge): key 'z' of label 'a' is "
        + "already bound to action 'note': pick another key, or remap note under keys:"
    ]
    assert [(c.name, c.kept_from) for c in report.config_conflicts] == [("keys:", str(a))]
    assert report.configs_set_aside == ["tone"]
    assert "Configs set aside (no definition fits; kept for a later merge): tone." in (
        report.lines()
    )
    # kept out of the document the app uses, with its time, for a later merge
    with Store.open(out) as store:
        assert store.load_config_set_aside() == [
            {
                "name": "tone",
                "updated_at": T0,
                "config": parse_config(tone).to_document()["annotations"][0],
            },
        ]
    # merging again changes nothing, and says nothing new about tone
    before = stored_configs(out), _read(out, "SELECT * FROM meta ORDER BY key")
    again = merge_databases([out], tmp_path / "again.db")
    assert again.problems == [] and again.configs_set_aside == ["tone"]
    assert f"  {out}  8 spans, 0 annotations, 2 configs (+1 set aside)" in again.lines()
    assert merge_databases([b, a], out).problems == report.problems
    assert (stored_configs(out), _read(out, "SELECT * FROM meta ORDER BY key")) == before
    # b updated last: its remap (none) is kept and tone fits
    save_configs(b, tone, tone=T2)
    report = merge_databases([a, b], tmp_path / "out2.db")
    with Store.open(tmp_path / "out2.db") as store:
        document = store.load_config_document()
    assert [c["name"] for c in document["annotations"]] == ["correctness", "tone", "comment"]
    assert "keys" not in document and report.problems == []
    # the merged file that set tone aside offers it again: b's newer tone, chosen, leaves it
    report = merge_databases([out, b], tmp_path / "out3.db")
    with Store.open(tmp_path / "out3.db") as store:
        assert [c["name"] for c in store.load_config_document()["annotations"]] == [
            "correctness", "tone", "comment",
        ]  # fmt: skip
        assert store.load_config_set_aside() == []
        assert store.get_meta(CONFIG_SET_ASIDE_META) is None


def test_set_aside_configs_in_the_store(template: Path, tmp_path: Path) -> None:
    """`Store.save_config_document(set_aside=...)`: merge's list, written with the document;
    any other save leaves it; an empty list removes the row; a damaged row reads as none."""
    a = _copy(template, tmp_path / "a.db")
    document = parse_config(CONFIG_A).to_document()
    entry = {"name": "tone", "updated_at": T0, "config": {"name": "tone", "type": "FREEFORM"}}
    with Store.open(a) as store:
        store.save_config_document(document, set_aside=[entry])
        store.save_config_document(document)  # e.g. `annotate --config`: not merge's business
        assert store.load_config_set_aside() == [entry]
        assert [c["name"] for c in store.load_config_document()["annotations"]] == [
            "correctness", "comment",
        ]  # fmt: skip
        store.save_config_document(document, set_aside=[])
        assert store.get_meta(CONFIG_SET_ASIDE_META) is None
        for damaged in ("[", '{"a": 1}', '[1, {"name": "x", "config": {"name": "y"}}]'):
            store.set_meta(CONFIG_SET_ASIDE_META, damaged)
            assert store.load_config_set_aside() == []


def test_guidelines_are_merged_newest_first(template: Path, tmp_path: Path) -> None:
    """The lead's `guidelines:` were dropped: the merged document was configs and keys only.
    The newest guidelines win (the time the store keeps for them), differing ones are listed,
    and guidelines stored before that time was kept count as the oldest. A file that never had
    guidelines is not listed against them (it was, as differing: noise); one that removed
    them is."""
    lead, alice, bob = (_copy(template, tmp_path / f"{n}.db") for n in ("lead", "alice", "bob"))
    save_configs(lead, CONFIG_A + "guidelines: Judge the answer, not the style.\n")
    save_configs(alice, CONFIG_A, correctness=T2)  # newer configs, but no guidelines
    save_configs(bob, CONFIG_A + "guidelines: Old text.\n")
    guidelines_at(lead, T1)
    guidelines_at(bob, "")  # written before the time was kept: the oldest
    for order, name in (([lead, alice, bob], "ab.db"), ([bob, alice, lead], "ba.db")):
        out = tmp_path / name
        report = merge_databases(order, out)
        with Store.open(out) as store:
            document = store.load_config_document()
            assert document["guidelines"] == "Judge the answer, not the style."
            assert store.guidelines_updated_at() == T1
        (conflict,) = report.config_conflicts
        assert (conflict.name, conflict.kept_from) == ("guidelines:", str(lead))
        assert conflict.differing == ((str(bob), ("guidelines",)),)  # alice never had any
        assert report.lines()[-1] == (
            f"  guidelines: kept {lead}'s (updated {T1}); {bob} differs in guidelines"
        )
    assert stored_configs(tmp_path / "ab.db") == stored_configs(tmp_path / "ba.db")
    # merging again changes nothing; a newer edit anywhere wins, and so does removing them
    before = _read(tmp_path / "ab.db", "SELECT * FROM meta ORDER BY key")
    merge_databases([alice, bob, lead], tmp_path / "ab.db")
    assert _read(tmp_path / "ab.db", "SELECT * FROM meta ORDER BY key") == before
    with Store.open(bob) as store:
        store.save_config_document(parse_config(CONFIG_A + "guidelines: New.\n").to_document())
        assert store.guidelines_updated_at() > T2
    merge_databases([bob], tmp_path / "ab.db")
    with Store.open(tmp_path / "ab.db") as store:
        assert store.load_config_document()["guidelines"] == "New."
    with Store.open(lead) as store:
        store.save_config_document(parse_config(CONFIG_A).to_document())
        assert store.load_config_document().get("guidelines") is None
    report = merge_databases([lead, bob, alice], tmp_path / "ab.db")
    with Store.open(tmp_path / "ab.db") as store:
        assert "guidelines" not in store.load_config_document()
        assert store.guidelines_updated_at() == guidelines_at(lead)
    # the removal, newest, is kept; bob's text (and so OUT's) differs; alice still says nothing
    (conflict,) = report.config_conflicts
    existing = f"{tmp_path / 'ab.db'} (existing)"
    assert (conflict.kept_from, conflict.differing) == (
        str(lead), ((existing, ("guidelines",)), (str(bob), ("guidelines",))),
    )  # fmt: skip


def test_the_store_keeps_when_the_guidelines_changed(template: Path, tmp_path: Path) -> None:
    a = _copy(template, tmp_path / "a.db")
    with Store.open(a) as store:
        store.save_config_document(parse_config(CONFIG_A).to_document())
        assert store.guidelines_updated_at() == ""  # never had any
        document = parse_config(CONFIG_A + "guidelines: Be kind.\n").to_document()
        store.save_config_document(document)
        first = store.guidelines_updated_at()
        assert first > T2
        store.save_config_document(document)  # the same text again: not a change
        assert store.guidelines_updated_at() == first
        store.save_config_document(document, guidelines_updated_at=T0)  # merge's own time
        assert store.guidelines_updated_at() == T0
        store.save_config_document(document, guidelines_updated_at="")
        assert store.get_meta(GUIDELINES_UPDATED_META) is None


def test_a_config_the_user_drops_stays_dropped(template: Path, tmp_path: Path) -> None:
    """`config store FILE --replace-configs` dropping tone from a merged file drops the tone
    definitions that merge set aside too: a later merge offered them again and tone came back."""
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    save_configs(a, CONFIG_B, correctness=T1, tone=T1)
    freeform_tone = "\n  - name: tone\n    type: FREEFORM\n"
    save_configs(b, CONFIG_A + freeform_tone, correctness=T0, comment=T0, tone=T0)
    out = tmp_path / "out.db"
    assert invoke(str(a), str(b), "--into", str(out)).exit_code == 0
    with Store.open(out) as store:
        # b's freeform tone; not b's older correctness: a's needs no other keys, so it always wins
        assert [e["name"] for e in store.load_config_set_aside()] == ["tone"]
    no_tone = tmp_path / "no-tone.yaml"
    comment = "  - name: comment\n    type: FREEFORM\n"
    no_tone.write_text(CONFIG_B.split("  - name: tone")[0] + comment, encoding="utf-8")
    stored = CliRunner().invoke(
        cli, ["config", "store", str(no_tone), "--db", str(out), "--replace-configs"]
    )
    assert stored.exit_code == 0 and "drop tone" in stored.stdout, stored.output
    assert set_aside(out) is None
    c = _copy(template, tmp_path / "c.db")
    save_configs(c, CONFIG_A, correctness=T0, comment=T2)
    assert invoke(str(c), "--into", str(out)).exit_code == 0
    with Store.open(out) as store:
        names = [c["name"] for c in store.load_config_document()["annotations"]]
        assert names == ["correctness", "comment"]
    assert set_aside(out) is None


LATER = "2999-01-01T00:00:00.000000+00:00"  # newer than any "now" a save stamps


def store_config(db: Path, text: str, *flags: str, name: str = "configs.yaml"):
    """`annotator config store` of a config file with `text`."""
    path = db.parent / name
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(
        cli, ["config", "store", str(path), "--db", str(db), *flags], catch_exceptions=False
    )


def aside_names(path: Path) -> list[str]:
    with Store.open(path, readonly=True) as store:
        return [entry["name"] for entry in store.load_config_set_aside()]


def test_a_config_the_user_changes_does_not_fall_back_on_an_older_one(
    template: Path, tmp_path: Path
) -> None:
    """`config store FILE --replace-configs` changing tone in a merged file kept the tone
    definitions that merge had set aside; when a later file's newer keys: remap ruled out the
    user's tone, merge fell back on one of those. The user's definition wins, or none."""
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    save_configs(a, "- {name: tone, type: freeform}\n", tone=T0)
    save_configs(b, "- {name: tone, type: categorical, values: [yes, no]}\n", tone=T1)
    out = tmp_path / "out.db"
    assert invoke(str(a), str(b), "--into", str(out)).exit_code == 0
    assert aside_names(out) == ["tone"]  # a's freeform tone
    mine = "- {name: tone, type: categorical, values: [{label: yes, key: z}, no]}\n"
    stored = store_config(out, mine, "--replace-configs")
    assert stored.exit_code == 0 and "change tone (values" in stored.stdout, stored.output
    assert set_aside(out) is None
    # c's correctness is newer than the user's tone: its remap (note: z) is kept
    c = _copy(template, tmp_path / "c.db")
    save_configs(c, "annotations: [{name: comment, type: freeform}]\nkeys: {note: z}\n")
    with Store.open(c) as store:
        store.connection.execute("UPDATE annotation_configs SET updated_at = ?", (LATER,))
    report = merge_databases([c], out)
    with Store.open(out) as store:
        assert [d["name"] for d in store.load_config_document()["annotations"]] == ["comment"]
    assert report.configs_set_aside == ["tone"]  # the user's tone, for a later merge
    assert aside_names(out) == ["tone"]
    assert report.problems == [
        f"{out} (existing): config 'tone' not added (set aside for a later merge): key 'z' of "
        "label 'yes' is already bound to action 'note': pick another key, or remap note under "
        "keys:"
    ]


def test_a_name_only_set_aside_can_be_dropped(template: Path, tmp_path: Path) -> None:
    """A name that a merge set aside (no definition fitted) was in no config document, so
    `config store FILE --replace-configs` could not drop it: every later merge offered it
    again. Now --replace-configs drops it (and only it); without the flag it stays."""
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    with_keys = CONFIG_A + "keys:\n  note: z\n"
    save_configs(a, with_keys, correctness=T1, comment=T1)
    save_configs(
        b,
        "annotations: [{name: tone, type: CATEGORICAL, values: [{label: a, key: z}]}, "
        "{name: correctness, type: categorical, values: [ok]}]",
        tone=T0,
        correctness=T0,
    )
    out = tmp_path / "out.db"
    assert invoke(str(a), str(b), "--into", str(out)).exit_code == 0
    assert aside_names(out) == ["correctness", "tone"]  # b's correctness needs fewer keys
    kept = store_config(out, with_keys)
    assert kept.stdout == f"{out} already stores these configs; nothing changed\n"
    assert aside_names(out) == ["correctness", "tone"]
    dropped = store_config(out, with_keys, "--replace-configs")
    assert dropped.exit_code == 0, dropped.output
    assert dropped.stdout.startswith(f"{out}: drop set-aside tone (0 annotations) (from ")
    assert aside_names(out) == ["correctness"]
    report = merge_databases([out], tmp_path / "again.db")
    assert report.configs_set_aside == [] and "tone" not in report.configs_added
    assert aside_names(tmp_path / "again.db") == ["correctness"]


def test_set_aside_keeps_only_what_a_later_merge_could_choose(
    template: Path, tmp_path: Path
) -> None:
    """The set-aside list grew by about one definition each time a config was changed and
    merged back. A definition outranked by one that needs no other value keys can never be
    chosen (the other fits wherever it does): it is no longer kept. One that needs fewer keys
    than those above it is, and is chosen when a remap takes a key only they need."""
    lead = _copy(template, tmp_path / "lead.db")
    tone = "- {{name: tone, type: categorical, values: [yes, no], description: {}}}\n"
    assert store_config(lead, tone.format("first")).exit_code == 0
    for round_ in ("second", "third", "fourth"):
        batch = tmp_path / f"batch-{round_}.db"
        shutil.copyfile(lead, batch)  # handed out before the lead's change
        changed = store_config(lead, tone.format(round_), "--replace-configs")
        assert changed.exit_code == 0, changed.output
        assert invoke(str(batch), "--into", str(lead)).exit_code == 0
        assert set_aside(lead) is None, f"round {round_}: {set_aside(lead)}"
    # a third label (key 3): the older definitions need fewer keys, and one of them is kept
    versions = [
        ("[yes, no]", T0),
        ("[yes, no], description: d", T1),
        ("[yes, no, maybe], description: d", T2),
    ]
    inputs = []
    for number, (values, at) in enumerate(versions):
        path = _copy(template, tmp_path / f"in{number}.db")
        save_configs(path, f"- {{name: tone, type: categorical, values: {values}}}\n", tone=at)
        inputs.append(path)
    out = tmp_path / "out.db"
    merge_databases(inputs, out)
    with Store.open(out) as store:
        ((entry, at),) = [(e["config"], e["updated_at"]) for e in store.load_config_set_aside()]
    assert (entry.get("description"), len(entry["values"]), at) == ("d", 2, T1)
    # a newer remap takes key 3: the definition kept aside is chosen, as when merged at once
    remap = _copy(template, tmp_path / "remap.db")
    save_configs(remap, "annotations: [{name: comment, type: freeform}]\nkeys: {note: '3'}\n")
    with Store.open(remap) as store:
        store.connection.execute("UPDATE annotation_configs SET updated_at = ?", (LATER,))
    merge_databases([remap], out)
    at_once = tmp_path / "at-once.db"
    merge_databases([*inputs, remap], at_once)
    for merged in (out, at_once):
        with Store.open(merged) as store:
            chosen = store.load_config_document()["annotations"]
        assert [(c["name"], c.get("description"), len(c.get("values", []))) for c in chosen] == [
            ("comment", None, 0), ("tone", "d", 2),
        ], merged  # fmt: skip
    assert set_aside(out) == set_aside(at_once)


def test_a_definition_left_out_is_left_out_whichever_way_merged(
    template: Path, tmp_path: Path
) -> None:
    """What decides that a set-aside definition can go is a definition ranked above it that
    is valid and needs no other keys, not the one chosen: c's newer remap (note: 1) rules out
    both tones, so merged at once neither is chosen, and b's must be left out then too, as
    merging a and b first (a's chosen) leaves it out."""
    a, b, c = (_copy(template, tmp_path / f"{n}.db") for n in "abc")
    save_configs(a, "- {name: tone, type: categorical, values: [yes, no]}\n", tone=T1)
    save_configs(
        b, "- {name: tone, type: categorical, values: [{label: y, key: z}, n, m]}\n", tone=T0
    )
    save_configs(c, "annotations: [{name: comment, type: freeform}]\nkeys: {note: '1'}\n")
    with Store.open(c) as store:
        store.connection.execute("UPDATE annotation_configs SET updated_at = ?", (T2,))
    at_once, first_two, stepwise, report = _at_once_and_stepwise(tmp_path, [a, b, c])
    assert aside_names(first_two) == []  # a's tone chosen; b's can never be
    assert report.configs_set_aside == ["tone"]
    with Store.open(at_once) as store:
        ((entry, at),) = [(e["config"], e["updated_at"]) for e in store.load_config_set_aside()]
    assert (len(entry["values"]), at) == (2, T1)  # a's
    assert set_aside(stepwise) == set_aside(at_once)
    assert sorted(stored_configs(stepwise)[1]) == sorted(stored_configs(at_once)[1])


def test_a_definition_without_a_time_is_the_oldest_and_stays_so(
    template: Path, tmp_path: Path
) -> None:
    """A definition whose time is not known (its file has no annotation_configs row for it)
    was stamped with the time of the merge that stored it: merging the same file twice
    stored different times, and the copy then beat newer definitions. It is the oldest."""
    a = _copy(template, tmp_path / "a.db")
    save_configs(a, CONFIG_A)
    with Store.open(a) as store:
        store.connection.execute("DELETE FROM annotation_configs WHERE name = 'correctness'")
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    for out in (first, second):
        assert invoke(str(a), "--into", str(out)).exit_code == 0
    assert stored_configs(first) == stored_configs(second)
    assert [r[5] for r in stored_configs(first)[1] if r[0] == "correctness"] == [""]
    b = _copy(template, tmp_path / "b.db")
    save_configs(b, CONFIG_B, correctness=T0, tone=T0)  # older than any merge, but timed
    report = merge_databases([b], first)
    assert [(c.name, c.kept_from) for c in report.config_conflicts] == [("correctness", str(b))]


_DEFINITIONS = {
    "correctness": [
        "{name: correctness, type: categorical, values: [yes, no]}",
        "{name: correctness, type: categorical, values: [yes, no], span_kinds: [LLM]}",
        "{name: correctness, type: categorical, values: [yes, no], span_kinds: [LLM, AGENT]}",
        "{name: correctness, type: categorical, values: [{label: yes, key: z}, no, maybe]}",
    ],
    "quality": [
        "{name: quality, type: continuous, lower_bound: 0, upper_bound: 10}",
        "{name: quality, type: continuous, lower_bound: 0, upper_bound: 5, description: d}",
    ],
    "tone": [
        "{name: tone, type: categorical, values: [{label: a, key: z}, b]}",
        "{name: tone, type: freeform}",
    ],
}
_REMAPS = ["", "keys: {note: z}\n", "keys: {next_span: [down, l]}\n"]
_GUIDELINES = ["", "guidelines: Judge the answer.\n", "guidelines: Judge the sources.\n"]


ConfigSpec = tuple[list[tuple[str, int, str]], int, tuple[int, str]]


def _config_inputs(folder: Path, template: Path, spec: list[ConfigSpec]) -> list[Path]:
    """One database per entry of `spec`: (configs as (name, definition, updated_at), remap,
    (guidelines, when they changed: "" for not recorded))."""
    inputs = []
    for number, (configs, remap, (guidelines, at)) in enumerate(spec):
        path = _copy(template, folder / f"in{number}.db")
        if configs:
            save_configs(
                path, _config_text(configs, remap, guidelines), **{n: t for n, _, t in configs}
            )
            guidelines_at(path, at)
        inputs.append(path)
    return inputs


def _config_text(configs: list[tuple[str, int, str]], remap: int, guidelines: int = 0) -> str:
    choices = [_DEFINITIONS[n][v % len(_DEFINITIONS[n])] for n, v, _ in configs]
    text = "annotations:\n" + "".join(f"  - {d}\n" for d in choices)
    return text + _REMAPS[remap] + _GUIDELINES[guidelines]


def _orders(inputs: list[Path], data: st.DataObject) -> list[list[Path]]:
    """The orders a property test merges `inputs` in: as given, reversed (every pair of inputs
    the other way round, first and last swapped) and one more that Hypothesis draws (and
    shrinks, when it finds one that gives another result). Every one of the 2 to 24 orders
    costs a merge; the examples, run after run, reach the others."""
    drawn = data.draw(st.permutations(inputs), label="another order")
    return [list(inputs), list(reversed(inputs)), drawn]


config_files = st.lists(
    st.tuples(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(_DEFINITIONS)),
                st.integers(0, 3),
                st.sampled_from(["", T0, T1, T2]),  # "": a time not known (the oldest)
            ),
            max_size=3,
            unique_by=lambda item: item[0],
        ),
        st.integers(0, len(_REMAPS) - 1),
        st.tuples(st.integers(0, len(_GUIDELINES) - 1), st.sampled_from(["", T0, T1, T2])),
    ),
    min_size=2,
    max_size=3,
)


_VALID: dict[str, bool] = {}  # config text -> it parses: the examples draw the same files again


def _valid(text: str) -> bool:
    if text not in _VALID:
        try:
            parse_config(text)
        except ConfigError:
            _VALID[text] = False
        else:
            _VALID[text] = True
    return _VALID[text]


@settings(max_examples=examples(25), deadline=None)
@given(spec=config_files, data=st.data())
def test_property_any_input_order_stores_the_same_configs(
    template: Path, spec: list[ConfigSpec], data: st.DataObject
) -> None:
    for configs, remap, _ in spec:
        if configs:
            assume(_valid(_config_text(configs, remap)))  # each annotator's own are valid
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = _config_inputs(folder, template, spec)
        results = set()
        for number, order in enumerate(_orders(inputs, data)):
            out = folder / f"out{number}.db"
            merge_databases(order, out)
            with reading(out) as conn:
                document, rows = (
                    stored_configs(conn)
                    if _read(conn, "SELECT 1 FROM meta WHERE key = 'config_document'")
                    else ("", [])
                )
                results.add((document, tuple(rows), set_aside(conn), guidelines_at(conn)))
        assert len(results) == 1
        (document, rows, aside, at) = next(iter(results))
        if document:
            parse_config(document)  # a valid config set, whatever was merged (in every order)
        # the newest guidelines (untimed: the oldest), a tie going to the greater text
        newest, text = max(
            (when, _GUIDELINES[g].removeprefix("guidelines: ").strip())
            for configs, _, (g, when) in spec
            if configs
        ) if document else ("", "")  # fmt: skip
        assert (orjson.loads(document or "{}").get("guidelines"), at) == (
            text or None, newest or None,
        )  # fmt: skip
        # merging the result with the inputs again changes nothing
        again = folder / "again.db"
        merge_databases(inputs, again)
        merge_databases(list(reversed(inputs)), again)
        with reading(again) as conn:
            got = stored_configs(conn) if document else ("", [])
            assert (got[0], tuple(got[1]), set_aside(conn), guidelines_at(conn)) == (
                document, rows, aside, at,
            )  # fmt: skip
        # merge(merge(A, B), C) and merge(A, merge(B, C)) keep the same definitions with the
        # same times and remap as merge(A, B, C), and set the same ones aside; only their order
        # may differ (positions come from the files merged)
        first_two, last_two = folder / "first-two.db", folder / "last-two.db"
        merge_databases(inputs[:2], first_two)
        merge_databases(inputs[1:], last_two)
        for number, steps in enumerate(([first_two, *inputs[2:]], [inputs[0], last_two])):
            stepwise = folder / f"stepwise{number}.db"
            merge_databases(steps, stepwise)
            with reading(stepwise) as conn:
                assert (set_aside(conn), guidelines_at(conn)) == (aside, at)
                stepwise_document, stepwise_rows = stored_configs(conn) if document else ("", [])
            if document:
                assert sorted(r[:4] + r[5:] for r in stepwise_rows) == sorted(
                    r[:4] + r[5:] for r in rows
                )
                for top in ("keys", "guidelines"):
                    assert orjson.loads(stepwise_document).get(top) == orjson.loads(document).get(
                        top
                    )


def _at_once_and_stepwise(folder: Path, inputs: list[Path]) -> tuple[Path, Path, Path, MergeReport]:
    """merge(all inputs) and merge(merge(first two), the rest): the two outputs, the first
    step's output and the second step's report."""
    at_once = folder / "at-once.db"
    merge_databases(inputs, at_once)
    first_two = folder / "first-two.db"
    merge_databases(inputs[:2], first_two)
    stepwise = folder / "stepwise.db"
    report = merge_databases([first_two, *inputs[2:]], stepwise)
    return at_once, first_two, stepwise, report


def test_a_config_that_does_not_fit_is_kept_for_a_later_merge(
    template: Path, tmp_path: Path
) -> None:
    """Found by the property test below: in0 and in2 tie for the newest config, so the remap of
    the greater content (in2's: none) is kept and tone fits; merging in0 and in1 first kept
    in0's remap (note: z), with which tone's key z clashes, and tone was dropped for good."""
    spec = [
        ([("correctness", 0, T1)], 1, (0, "")),  # keys: {note: z}
        ([("tone", 0, T0)], 0, (0, "")),  # a label on key z
        ([("correctness", 0, T1)], 0, (0, "")),
    ]
    at_once, _, stepwise, _ = _at_once_and_stepwise(
        tmp_path, _config_inputs(tmp_path, template, spec)
    )
    assert stored_configs(stepwise) == stored_configs(at_once)
    with Store.open(at_once) as store:
        document = store.load_config_document()
    assert [c["name"] for c in document["annotations"]] == ["correctness", "tone"]


def test_an_outranked_definition_is_kept_for_a_later_merge(template: Path, tmp_path: Path) -> None:
    """Merged at once, in2's remap (note: z, newest) rules out in0's tone (key z) and in1's
    older tone is kept instead. Merging in0 and in1 first chose in0's tone; a merged file that
    forgot in1's definition had nothing left to fall back on."""
    spec = [
        ([("tone", 0, T1)], 0, (0, "")),  # a label on key z
        ([("tone", 1, T0)], 0, (0, "")),  # freeform: no value keys
        ([("correctness", 0, T2)], 1, (0, "")),  # keys: {note: z}
    ]
    at_once, first_two, stepwise, report = _at_once_and_stepwise(
        tmp_path, _config_inputs(tmp_path, template, spec)
    )
    # first_two offered in1's tone again, from the definitions it kept aside, and says so
    tone, keys = report.config_conflicts
    assert (tone.name, tone.kept_from, tone.differing, keys.name) == (
        "tone",
        f"{first_two} (set aside)",
        ((str(first_two), ("auto_advance", "optimization_direction", "type", "values")),),
        "keys:",
    )
    assert report.problems == [
        f"{first_two}: config 'tone': its newest definition does not fit (key 'z' of label 'a' "
        "is already bound to action 'note': pick another key, or remap note under keys:); "
        f"kept {first_two} (set aside)'s"
    ]
    with Store.open(at_once) as store:
        document = store.load_config_document()
    assert [(c["name"], c["type"]) for c in document["annotations"]] == [
        ("correctness", "CATEGORICAL"), ("tone", "FREEFORM"),
    ]  # fmt: skip
    assert sorted(stored_configs(stepwise)[1]) == sorted(stored_configs(at_once)[1])
    assert set_aside(stepwise) == set_aside(at_once) is not None  # in0's tone, kept aside


# --- inputs: WAL, older versions, refusals ---------------------------------------------------


def test_wal_input_with_pending_content_is_read_and_left_alone(
    template: Path, tmp_path: Path
) -> None:
    a = _copy(template, tmp_path / "a.db")
    writer = Store.open(a)  # kept open: its writes stay in the -wal, not yet in the file
    try:
        writer.connection.execute("PRAGMA wal_autocheckpoint = 0")
        writer.set_annotation(Annotation("correctness", span_id="r3", label="correct"))
        wal = Path(str(a) + "-wal")
        assert wal.stat().st_size > 0
        before = digests([a])
        out = tmp_path / "out.db"
        report = merge_databases([a], out)
        assert digests([a]) == before
        assert report.inputs[0].read_from == "file"
        assert [row[5] for row in content(out)] == ["correct"]
    finally:
        writer.close()


def test_wal_input_that_cannot_be_opened_in_place_is_read_from_a_copy(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _copy(template, tmp_path / "a.db")
    writer = Store.open(a)
    try:
        writer.connection.execute("PRAGMA wal_autocheckpoint = 0")
        writer.set_annotation(Annotation("correctness", span_id="r3", label="correct"))
        before = digests([a])
        real = merge_module._connect_readonly

        def refuse_in_place(path: Path) -> sqlite3.Connection:
            if path.resolve() == a.resolve():  # e.g. the -shm cannot be created there
                raise sqlite3.OperationalError("unable to open database file")
            return real(path)

        monkeypatch.setattr(merge_module, "_connect_readonly", refuse_in_place)
        out = tmp_path / "out.db"
        report = merge_databases([a], out)
        assert report.inputs[0].read_from == "copy"
        assert [row[5] for row in content(out)] == ["correct"]
        assert digests([a]) == before
    finally:
        writer.close()


def test_older_schema_input_is_upgraded_on_a_copy(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _copy(template, tmp_path / "a.db")
    put(a, ann(label="correct", at=T0))
    before = digests([a])
    # Pretend this annotator knows a version 2 that adds a column: `a` is now an older file.
    version_2 = "ALTER TABLE annotations ADD COLUMN reviewer TEXT;"
    monkeypatch.setattr(store_db, "MIGRATIONS", [*store_db.MIGRATIONS, version_2])
    out = tmp_path / "out.db"
    report = merge_databases([a], out)
    assert report.inputs[0].read_from == "upgraded copy"
    assert report.inputs[0].schema_version == SCHEMA_VERSION
    assert [row[5] for row in content(out)] == ["correct"]
    assert _read(out, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]
    assert digests([a]) == before
    assert _read(a, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def _newer(template: Path, path: Path) -> Path:
    _copy(template, path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    return path


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE things (x)")
    conn.close()
    return path


def _text(path: Path, data: str | bytes) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda t, p: _newer(t, p), "made by a newer annotator"),
        (lambda t, p: _text(p, "span_id,trace_id\n1,2\n"), "not a SQLite database"),
        (lambda t, p: _text(p, b""), "an empty file"),
        (lambda t, p: _foreign(p), "did not create"),
        (lambda t, p: p, "no such file"),
        (lambda t, p: p.mkdir() or p, "is a directory"),
    ],
    ids=["newer", "text", "empty", "foreign", "missing", "directory"],
)
def test_bad_input_is_refused_before_anything_is_written(
    template: Path, tmp_path: Path, make, reason: str
) -> None:
    good = _copy(template, tmp_path / "good.db")
    put(good, ann(label="correct"))
    bad = tmp_path / "bad.db"
    make(template, bad)
    existing = _copy(template, tmp_path / "existing.db")
    out_before = digest(existing)
    for out in (tmp_path / "new-out.db", existing):
        result = invoke(str(good), str(bad), "--into", str(out))
        assert result.exit_code == 2
        assert result.stderr.strip() == result.stderr.strip().splitlines()[0]  # one line
        assert result.stderr.startswith(f"{bad}: ") and reason in result.stderr
        assert result.stdout == ""
    assert not (tmp_path / "new-out.db").exists()
    assert digest(existing) == out_before


def test_every_bad_input_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    missing, notes, out = tmp_path / "missing.db", tmp_path / "notes.txt", tmp_path / "out.db"
    result = invoke(str(missing), str(notes), "--into", str(out))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{missing}: no such file",
        f"{notes}: not a SQLite database, not an annotator database",
    ]
    assert not out.exists()


def test_awkward_paths_and_an_input_given_twice(template: Path, tmp_path: Path) -> None:
    folder = tmp_path / "we?ird #dir 100%"
    folder.mkdir()
    a = _copy(template, folder / "a b.db")
    put(a, ann(label="correct"))
    report = merge_databases([a, str(a)], folder / "out #1.db")
    assert report.problems == [f"{a}: given more than once; read once"]
    assert len(report.inputs) == 1 and report.annotations_new == 1


def test_input_that_is_the_output_is_refused(template: Path, tmp_path: Path) -> None:
    out = _copy(template, tmp_path / "out.db")
    before = digest(out)
    link = tmp_path / "link.db"
    link.symlink_to(out)
    for argument in (str(out), str(link)):
        result = invoke(argument, "--into", str(out))
        assert result.exit_code == 2
        assert "is the output database" in result.stderr
    assert digest(out) == before


def test_output_that_is_not_ours_is_refused(template: Path, tmp_path: Path) -> None:
    a = _copy(template, tmp_path / "a.db")
    out = _foreign(tmp_path / "out.db")
    before = digest(out)
    with pytest.raises(StoreError, match="did not create"):
        merge_databases([a], out)
    assert digest(out) == before


# --- the command ----------------------------------------------------------------------------


def test_cli_summary_json_and_dry_run(template: Path, tmp_path: Path) -> None:
    a, b = _copy(template, tmp_path / "a.db"), _copy(template, tmp_path / "b.db")
    put(a, ann(label="correct", at=T0), ann(span_id="a2", label="correct", at=T0))
    put(b, ann(label="incorrect", at=T1))
    out = tmp_path / "out.db"

    dry = invoke(str(a), str(b), "--into", str(out), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert not out.exists()
    assert "Would merge 2 files" in dry.stdout and "Dry run: nothing was written" in dry.stdout
    assert "Annotations: 2 new, 0 updated, 0 unchanged; 1 conflict." in dry.stdout

    result = invoke(str(a), str(b), "--into", str(out))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"Merged 2 files into {out}" in text
    assert f"{a}  8 spans, 2 annotations, 0 configs" in text
    assert "Spans: 8 new, 8 already present; 4 traces summarised." in text
    assert "Annotations: 2 new, 0 updated, 0 unchanged; 1 conflict." in text
    assert "span r3 · correctness · alice" in text
    assert f"{b}  {T1}  label='incorrect'  <- won" in text

    # Dry run against an existing OUT: reports, leaves the file as it was.
    c = _copy(template, tmp_path / "c.db")
    put(c, ann(label="partial", at=T2))
    before = digest(out)
    dry = invoke(str(c), "--into", str(out), "--dry-run", "--json")
    assert dry.exit_code == 0
    assert digest(out) == before
    report = orjson.loads(dry.stdout)
    assert report["dry_run"] is True
    assert report["totals"]["annotations_updated"] == 1

    result = invoke(str(a), str(b), str(c), "--into", str(out), "--json")
    assert result.exit_code == 0
    report = orjson.loads(result.stdout)
    assert set(report) >= {
        "out",
        "dry_run",
        "inputs",
        "totals",
        "conflicts",
        "config_conflicts",
        "span_conflicts",
        "problems",
    }
    assert set(report["totals"]) >= {
        "spans_read",
        "spans_new",
        "annotations_read",
        "annotations_new",
        "annotations_updated",
        "annotations_unchanged",
        "conflicts",
        "config_conflicts",
    }
    assert report["totals"]["annotations_updated"] == 1
    assert [i["file"] for i in report["inputs"]] == [str(a), str(b), str(c)]
    (conflict,) = report["conflicts"]
    assert conflict["key"] == {
        "target": "span",
        "target_id": "r3",
        "document_position": None,
        "name": "correctness",
        "identifier": "alice",
    }
    assert conflict["winner"] == str(c)
    assert [(v["source"], v["label"], v["won"]) for v in conflict["versions"]] == [
        (str(c), "partial", True),
        (f"{out} (existing)", "incorrect", False),
        (str(b), "incorrect", False),
        (str(a), "correct", False),
    ]


def test_cli_needs_into_and_inputs(tmp_path: Path) -> None:
    assert invoke("--into", str(tmp_path / "out.db")).exit_code == 2
    assert invoke(str(tmp_path / "a.db")).exit_code == 2


# --- properties -------------------------------------------------------------------------------

KEYS = [
    {"target": "span", "span_id": "r3"},
    {"target": "span", "span_id": "a2"},
    {"target": "document", "span_id": "r2", "document_position": 0},
    {"target": "trace", "trace_id": "trace-agent"},
]
rows = st.fixed_dictionaries(
    {
        "key": st.sampled_from(range(len(KEYS))),
        "name": st.sampled_from(["correctness", "comment"]),
        "identifier": st.sampled_from(["alice", "bob"]),
        "label": st.sampled_from([None, "correct", "incorrect"]),
        "score": st.sampled_from([None, 0.0, 1.0]),
        "explanation": st.sampled_from([None, "because"]),
        "annotator_kind": st.sampled_from(["HUMAN", "LLM"]),
        "metadata": st.sampled_from([{}, {"a": 1, "b": 2}, {"b": 2, "a": 1}]),
        "source": st.sampled_from(["APP", "API"]),
        "updated_at": st.sampled_from([T0, T1, T2]),
        "created_at": st.sampled_from([T0, T1]),
    }
)
files = st.lists(st.lists(rows, max_size=6), min_size=2, max_size=4)


def _annotation(row: dict) -> Annotation:
    fields = {k: v for k, v in row.items() if k not in ("key", "name")}
    return Annotation(row["name"], **KEYS[row["key"]], **fields)


def _key(row: dict) -> tuple:
    return (row["key"], row["name"], row["identifier"])


def _write_inputs(template: Path, folder: Path, spec: list[list[dict]]) -> list[Path]:
    paths = []
    for index, file_rows in enumerate(spec):
        path = _copy(template, folder / f"in{index}.db")
        by_key = {_key(row): row for row in file_rows}  # one row per key in a file
        put(path, *(_annotation(row) for row in by_key.values()))
        paths.append(path)
    return paths


def _expected(spec: list[list[dict]]) -> tuple[dict, set]:
    """The rule, written independently: per key the greatest (updated_at, canonical content,
    created_at, source); a conflict where label/score/explanation differ."""
    candidates: dict[tuple, list[dict]] = {}
    for file_rows in spec:
        for row in {_key(r): r for r in file_rows}.values():
            candidates.setdefault(_key(row), []).append(row)

    def order(row: dict) -> tuple:
        canonical = orjson.dumps(
            [row[f] for f in ("label", "score", "explanation", "annotator_kind", "metadata")],
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        return (row["updated_at"], canonical, row["created_at"], row["source"])

    winners = {key: max(rows_, key=order) for key, rows_ in candidates.items()}
    conflicts = {
        key
        for key, rows_ in candidates.items()
        if len({(r["label"], r["score"], r["explanation"]) for r in rows_}) > 1
    }
    return winners, conflicts


def _conflict_keys(report) -> set[tuple]:
    return {c.key for c in report.conflicts}


PROPERTY_SETTINGS = settings(max_examples=examples(20), deadline=None)


@PROPERTY_SETTINGS
@given(spec=files, data=st.data())
def test_property_order_independent_and_follows_the_rule(
    template: Path, spec: list[list[dict]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = _write_inputs(template, folder, spec)
        before = digests(inputs)
        winners, conflict_keys = _expected(spec)
        results = set()
        for number, order in enumerate(_orders(inputs, data)):
            out = folder / f"out{number}.db"
            report = merge_databases(order, out)
            got = content(out)
            results.add(frozenset(got))
            assert len(_conflict_keys(report)) == len(conflict_keys)
            assert report.annotations_new == len(winners)
            out.unlink()
        assert len(results) == 1  # every order gives the same annotations
        got = next(iter(results))
        assert len(got) == len(winners)
        by_key = {(row[0], row[1], row[3], row[4]): row for row in got}
        for (key_index, name, identifier), row in winners.items():
            key = KEYS[key_index]
            target_id = key.get("span_id") if key["target"] != "trace" else key["trace_id"]
            stored = by_key[(key["target"], target_id, name, identifier)]
            expected = (row["label"], row["score"], row["explanation"], row["annotator_kind"])
            assert stored[5:9] == expected
            assert orjson.loads(stored[9]) == row["metadata"]
            assert stored[10:] == (row["source"], row["created_at"], row["updated_at"])
        assert digests(inputs) == before


@PROPERTY_SETTINGS
@given(spec=files)
def test_property_idempotent_and_associative(template: Path, spec: list[list[dict]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = _write_inputs(template, folder, spec)
        before = digests(inputs)
        everything = folder / "all.db"
        merge_databases(inputs, everything)

        def state_of(path: Path) -> tuple:
            with reading(path) as conn:
                return content(conn), log_rows(conn), spans_and_traces(conn)

        state = state_of(everything)

        # Merging the same inputs again, or any one of them, changes nothing.
        again = merge_databases(inputs, everything)
        assert (again.annotations_new, again.annotations_updated) == (0, 0)
        one = merge_databases([inputs[-1]], everything)
        assert (one.annotations_new, one.annotations_updated) == (0, 0)
        assert state_of(everything) == state

        # merge(merge(A, B), C, ...) == merge(A, B, C, ...), into a new file or in place.
        first_two = folder / "first-two.db"
        merge_databases(inputs[:2], first_two)
        stepwise = folder / "stepwise.db"
        merge_databases([first_two, *inputs[2:]], stepwise)
        with reading(stepwise) as conn:
            assert content(conn) == state[0]
            assert spans_and_traces(conn) == state[2]
        if inputs[2:]:
            merge_databases(inputs[2:], first_two)
            assert content(first_two) == state[0]
        assert digests(inputs) == before
