"""The queue (store/queue.py) and the app's marks are one definition: for any annotations and any
filter, the tree's ● / ◐ / ✓ marks and the progress the app shows are exactly what the SQL
queue says. Also: the SQL does not grow with the number of configs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.app.session import AnnotationSession, Item, Mark
from annotator.app.tree_model import DOCUMENT, SPAN
from annotator.config import AnnotationConfig, ConfigSet, parse_config
from annotator.model import Span
from annotator.query import SpanFilter, TraceFilter
from annotator.store import QueueFilter, QueueState, Store
from tests.app_data import _t, build_db, demo_spans
from tests.properties import examples

POOL = """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
    span_kinds: [LLM, CHAIN, AGENT]
  - name: quality
    type: CONTINUOUS
    lower_bound: 0
    upper_bound: 10
    step: 1
    span_kinds: [LLM]
  - name: relevance
    type: CATEGORICAL
    target: document
    values: [relevant, irrelevant]
  - name: task_success
    type: CATEGORICAL
    target: trace
    values: [success, failure]
  - name: session_ok
    type: CATEGORICAL
    target: session
    values: [ok, bad]
  - name: retrieval_trace
    type: CATEGORICAL
    target: trace
    span_kinds: [RETRIEVER]
    values: [good, poor]
  - name: comment
    type: FREEFORM
  - name: summary
    type: FREEFORM
    target: trace
"""
_POOL = parse_config(POOL)
POOL_NAMES = [c.name for c in _POOL.annotations]
# The pool as stored (JSON): parsed once, each example takes a fresh copy to change.
POOL_DOCUMENT = orjson.dumps(_POOL.to_document())
ME = "alice"
# The pool's subsets (their text, as stored) parsed: a config set is frozen, so examples that
# draw the same subset share one.
_POOL_SUBSETS: dict[str, ConfigSet] = {}


def extra_spans() -> list[Span]:
    documents = [{"document": {"id": f"d{i}", "content": f"doc {i}"}} for i in range(2)]
    return [
        # Two roots starting at the same moment: the trace row stands for the store's root
        # (earliest, then smallest id: m0), not the first one inserted (m1).
        Span("m1", "trace-multi", None, "second_root", "LLM", _t(40), _t(41), "OK"),
        Span("m0", "trace-multi", None, "first_root", "CHAIN", _t(40), _t(41), "ERROR"),
        Span("m2", "trace-multi", "m0", "child", "LLM", _t(40.5), _t(40.9), "OK"),
        Span("m3", "trace-multi", "missing-parent", "orphan", "AGENT", _t(40.6), _t(40.8), "OK"),
        # A retriever as the root, in a session.
        Span("d1", "trace-docroot", None, "search", "RETRIEVER", _t(50), _t(51), "OK",
             attributes={"retrieval": {"documents": documents}}, session_id="sess-3"),
        # Nested spans of one kind (`scope: outermost`): LLM > LLM > LLM (LlamaIndex's
        # predict > chat), a sibling chain, LLM > CHAIN > LLM (another kind in between), an
        # orphan under a missing parent, a retriever inside a retriever, and a parent cycle.
        Span("n0", "trace-nest", None, "query", "CHAIN", _t(60), _t(61), "OK"),
        Span("n1", "trace-nest", "n0", "predict", "LLM", _t(60.1), _t(60.5), "OK"),
        Span("n2", "trace-nest", "n1", "chat", "LLM", _t(60.2), _t(60.4), "OK"),
        Span("n3", "trace-nest", "n2", "complete", "LLM", _t(60.3), _t(60.35), "OK"),
        Span("n4", "trace-nest", "n0", "predict", "LLM", _t(60.6), _t(60.9), "OK"),
        Span("n5", "trace-nest", "n4", "tool_chain", "CHAIN", _t(60.65), _t(60.85), "OK"),
        Span("n6", "trace-nest", "n5", "chat", "LLM", _t(60.7), _t(60.8), "OK"),
        Span("n7", "trace-nest", "gone", "lost", "LLM", _t(60.95), _t(60.99), "OK"),
        Span("n8", "trace-nest", "n0", "retrieve", "RETRIEVER", _t(60.01), _t(60.09), "OK",
             attributes={"retrieval": {"documents": documents}}),
        Span("n9", "trace-nest", "n8", "vector", "RETRIEVER", _t(60.02), _t(60.08), "OK",
             attributes={"retrieval": {"documents": documents}}),
        Span("y1", "trace-cycle", "y2", "ping", "LLM", _t(70), _t(71), "OK"),
        Span("y2", "trace-cycle", "y1", "pong", "LLM", _t(70.1), _t(70.9), "OK"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("queue") / "template.db", demo_spans() + extra_spans())


SPANS = {s.span_id: s for s in demo_spans() + extra_spans()}
TRACES = sorted({s.trace_id for s in SPANS.values()})
SESSIONS = ["sess-1", "sess-2", "sess-3"]


@st.composite
def annotation_rows(draw: st.DrawFn) -> tuple:
    target = draw(st.sampled_from(["span", "document", "trace", "session"]))
    span = SPANS[draw(st.sampled_from(sorted(SPANS)))]
    name = draw(st.sampled_from([*POOL_NAMES, "note", "llm_eval"]))
    identifier = draw(st.sampled_from([ME, "bob", "px-span-note:1"]))
    kind = draw(st.sampled_from(["HUMAN", "HUMAN", "LLM"]))
    label = draw(st.sampled_from([None, "correct", "incorrect", "x"]))
    score = draw(st.sampled_from([None, 0.0, 0.5]))
    explanation = draw(st.sampled_from([None, "", "because"]))
    span_id = trace_id = session_id = position = None
    if target in ("span", "document"):
        span_id = span.span_id
        trace_id = draw(st.sampled_from([span.trace_id, None]))  # imported before its span
        position = draw(st.integers(-1, 4)) if target == "document" else None
    elif target == "trace":
        trace_id = span.trace_id
    else:
        session_id = draw(st.sampled_from(SESSIONS))
    return (
        target, span_id, trace_id, session_id, position, name, label, score, explanation, kind,
        identifier,
    )  # fmt: skip


# A small set of filter expressions (None: no expression): kinds, names, roots, annotations,
# and trace filters over rollups and comprehensions.
SPAN_WHERE = [
    None,
    SpanFilter("span_kind == 'LLM'"),
    SpanFilter("parent_span is None"),
    SpanFilter("'o' in name and latency_ms >= 0"),
    SpanFilter("annotations['correctness'] is None"),
    SpanFilter("span_kind in ['RETRIEVER', 'AGENT'] or status_code == 'ERROR'"),
]
TRACE_WHERE = [
    None,
    TraceFilter("error_count > 0"),
    TraceFilter("num_spans >= 2"),
    TraceFilter("any(span.span_kind == 'LLM' for span in spans)"),
]

queues = st.builds(
    QueueFilter,
    where=st.sampled_from(SPAN_WHERE),
    trace_where=st.sampled_from(TRACE_WHERE),
    span_kinds=st.frozensets(
        st.sampled_from(["LLM", "CHAIN", "AGENT", "RETRIEVER", "TOOL"]), max_size=2
    ),
    status=st.sampled_from([None, "OK", "ERROR"]),
    text=st.sampled_from(["", "chat", "o"]),
    state=st.sampled_from(QueueState.CHOICES),
)


# Skips and flags (`Store.skip`, `Store.flag`): (kind, annotator, span id).
item_marks = st.tuples(
    st.sampled_from(["skip", "flag"]), st.sampled_from([ME, "bob"]), st.sampled_from(sorted(SPANS))
)


def make_db(
    template: Path,
    directory: Path,
    rows: list[tuple],
    marks: list[tuple] = (),  # type: ignore[assignment]
) -> Path:
    path = directory / f"case-{len(list(directory.iterdir()))}.db"
    shutil.copy(template, path)
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO item_marks (kind, annotator, span_id, trace_id, reason, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, '', '2026-01-01', '2026-01-01')",
            [(kind, who, span_id, SPANS[span_id].trace_id) for kind, who, span_id in marks],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO annotations (target, span_id, trace_id, session_id, "
            "document_position, name, label, score, explanation, annotator_kind, source, "
            "identifier, metadata, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'API', ?, '{}', '2026-01-01', '2026-01-01')",
            rows,
        )
    return path


def selected(store: Store, queue: QueueFilter) -> set[str]:
    """The spans the queue's expressions select, through the query package alone."""
    spans = {s for (s,) in store.connection.execute("SELECT span_id FROM spans")}
    if queue.where:
        spans &= set(queue.where.span_ids(store.connection))
    if queue.trace_where:
        traces = set(queue.trace_where.trace_ids(store.connection))
        rows = store.connection.execute("SELECT span_id, trace_id FROM spans")
        spans &= {span_id for span_id, trace_id in rows if trace_id in traces}
    return spans


def check_agreement(store: Store, config: str | ConfigSet, queue: QueueFilter) -> None:
    """The session's marks and progress agree with the store's queue SQL for `config` (a
    config's text, or the set parsed from it: a test with hundreds of configs parses once)."""
    config_set = parse_config(config) if isinstance(config, str) else config
    configs = config_set.annotations
    session = AnnotationSession(store, config_set, ME)
    session.set_queue(queue)
    done = total = 0
    # The spans the queue's filters select (the same for every trace).
    filtered = selected(store, queue) if queue.where or queue.trace_where else None
    for trace_id in TRACES:
        marks = session.trace_marks(trace_id)
        spans = {span_id: mark for (span_id, position), mark in marks.items() if position is None}
        sql = store.queue_marks(trace_id, queue, configs, ME)
        assert {s for s, m in spans.items() if m.state != Mark.NONE} == set(sql), trace_id
        for span_id, needs in sql.items():
            assert (spans[span_id].state in (Mark.TODO, Mark.PARTIAL)) == needs, (trace_id, span_id)
        for (span_id, position), mark in marks.items():  # a document row is done or not, in queue
            if position is not None and span_id in sql:
                assert mark.state in (Mark.TODO, Mark.DONE, Mark.SKIPPED)
            if mark.state == Mark.PARTIAL:  # its own configs are done, a document is not
                documents = [m for (s, p), m in marks.items() if s == span_id and p is not None]
                assert any(m.state == Mark.TODO for m in documents)
        # A span I skipped needs nothing more from me: done, for progress.
        trace_done = sum(1 for m in spans.values() if m.state in (Mark.DONE, Mark.SKIPPED))
        trace_total = sum(1 for m in spans.values() if m.state != Mark.NONE)
        assert session.trace_progress(trace_id) == (trace_done, trace_total)
        counted = store.trace_progress([trace_id], configs, ME, queue)[trace_id]
        assert counted == (trace_done, trace_total)
        done, total = done + trace_done, total + trace_total
        if filtered is not None:  # the queue holds only spans the filters select
            assert set(sql) <= filtered, trace_id
    assert store.queue_progress(queue, configs, ME) == (done, total)
    assert session.progress() == (done, total)


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(annotation_rows(), max_size=30),
    queue=queues,
    chosen=st.sets(st.sampled_from(POOL_NAMES), min_size=1),
    outermost=st.sets(st.sampled_from(POOL_NAMES)),
    marks=st.lists(item_marks, max_size=6),
)
def test_marks_and_progress_agree_with_the_sql_queue(
    template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple],
    queue: QueueFilter,
    chosen: set[str],
    outermost: set[str],
    marks: list[tuple],
) -> None:
    document = orjson.loads(POOL_DOCUMENT)
    document["annotations"] = [c for c in document["annotations"] if c["name"] in chosen]
    for config in document["annotations"]:
        if config["name"] in outermost:
            config["scope"] = "outermost"
    config_text = orjson.dumps(document).decode()
    if config_text not in _POOL_SUBSETS:  # the examples draw a few dozen subsets, again and again
        _POOL_SUBSETS[config_text] = parse_config(config_text)
    path = make_db(template, tmp_path_factory.mktemp("case"), rows, marks)
    with Store.open(path) as store:
        check_agreement(store, _POOL_SUBSETS[config_text], queue)


def test_a_half_annotated_retriever_is_not_done_under_any_filter(
    template: Path, tmp_path: Path
) -> None:
    """The reported case: one of three documents labelled showed ✓ on the span."""
    rows = [
        ("document", "r2", "trace-rag", None, 0, "relevance", "relevant", 1.0, None, "HUMAN", ME)
    ]
    with Store.open(make_db(template, tmp_path, rows)) as store:
        for state in QueueState.CHOICES:
            queue = QueueFilter(state=state)
            check_agreement(store, POOL, queue)
            session = AnnotationSession(store, parse_config(POOL), ME)
            session.set_queue(queue)
            mark = session.trace_marks("trace-rag")[("r2", None)]
            assert mark.state in (Mark.NONE, Mark.PARTIAL), state
            assert session.trace_marks("trace-rag")[("r2", 0)].state in (Mark.NONE, Mark.DONE)


# --- scope: outermost -----------------------------------------------------------------------

SCOPED = """
annotations:
  - name: answer
    type: CATEGORICAL
    values: [good, bad]
    span_kinds: [LLM]
    scope: outermost
  - name: step
    type: CATEGORICAL
    values: [good, bad]
    span_kinds: [CHAIN]
    scope: outermost
  - name: relevance
    type: CATEGORICAL
    target: document
    values: [relevant, irrelevant]
    scope: outermost
"""


def test_outermost_offers_a_config_on_the_top_span_of_each_same_kind_chain(
    template: Path, tmp_path: Path
) -> None:
    """Nested LLM spans (n1 > n2 > n3): only n1; a sibling chain (n4): its top; LLM > CHAIN >
    LLM (n6): a chain of its own; an orphan (n7, m3) and the span cut from a cycle (y1): at the
    top of their trace, so outermost; y2 (child of y1 after the cut) is not. The queue, the
    marks, progress and what the panel offers say the same."""
    config_set = parse_config(SCOPED)
    configs = config_set.annotations
    with Store.open(make_db(template, tmp_path, [])) as store:
        check_agreement(store, SCOPED, QueueFilter())
        check_agreement(store, SCOPED, QueueFilter(state=QueueState.TODO))
        in_scope = {
            span_id
            for trace_id in TRACES
            for span_id in store.queue_marks(trace_id, QueueFilter(), configs, ME)
        }
        llm = {"r3", "a2", "c1", "c2", "m1", "m2", "n1", "n4", "n6", "n7", "y1"}
        chain = {"r1", "m0", "n0", "n5"}
        retriever = {"r2", "d1", "n8"}
        assert in_scope == llm | chain | retriever
        assert store.queue_progress(QueueFilter(), configs, ME) == (0, 18)
        session = AnnotationSession(store, config_set, ME)

        def offered(kind: str, span_id: str, position: int | None = None) -> list[str]:
            span = SPANS[span_id]
            item = Item(kind, span.trace_id, span_id, span.span_kind, None, position)
            return [configs[i].name for i in session.applicable(item)]

        spans = ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "y1", "y2"]
        assert [offered(SPAN, s) for s in spans] == [
            ["answer"], [], [], ["answer"], ["step"], ["answer"], ["answer"], ["answer"], [],
        ]  # fmt: skip
        assert offered(DOCUMENT, "n8", 0) == ["relevance"]
        assert offered(DOCUMENT, "n9", 0) == []


def test_scope_all_is_every_span_of_the_kinds(template: Path, tmp_path: Path) -> None:
    text = SCOPED.replace("    scope: outermost\n", "")
    configs = parse_config(text).annotations
    with Store.open(make_db(template, tmp_path, [])) as store:
        assert store.queue_progress(QueueFilter(), configs, ME) == (
            0,
            14 + 4 + 4,
        )  # LLM, CHAIN, RETRIEVER


# --- the SQL does not grow with the number of configs -------------------------------------------


def many_configs(count: int) -> str:
    lines = ["annotations:"]
    kinds = ["LLM", "CHAIN", "AGENT", "RETRIEVER", "TOOL"]
    for i in range(count):
        target = ["span", "span", "trace", "document"][i % 4]
        lines += [
            f"  - name: c{i:04d}",
            "    type: CATEGORICAL",
            "    values: [{label: yes, key: '1'}, {label: no, key: '2'}]",
            f"    target: {target}",
        ]
        if target == "span":
            lines.append(f"    span_kinds: [{kinds[i % len(kinds)]}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("count", [80, 500])
def test_hundreds_of_configs_in_every_queue_query(
    template: Path, tmp_path: Path, count: int
) -> None:
    config_set = parse_config(many_configs(count))  # once: 500 configs' YAML takes ~1 s
    configs = config_set.annotations
    with Store.open(make_db(template, tmp_path, [])) as store:
        for state in QueueState.CHOICES:
            queue = QueueFilter(state=state, span_kinds=frozenset({"LLM", "CHAIN", "RETRIEVER"}))
            store.trace_ids(queue, configs, ME)
            store.next_queue_trace(None, queue, configs, ME)
            check_agreement(store, config_set, queue)
        # Nothing annotated: every span some config applies to is to do (TOOL spans have
        # span configs too, every root has trace configs, retrievers have document configs).
        assert store.queue_progress(QueueFilter(), configs, ME) == (0, len(SPANS))
        every = store.trace_ids(QueueFilter(), configs, ME)
        assert store.trace_ids(QueueFilter(state="todo"), configs, ME) == every


def test_stats_counts_as_applicable_what_the_queue_offers_under_scope(
    template: Path, tmp_path: Path
) -> None:
    """`stats`' applicable count of a `scope: outermost` config is the queue's own: spans at
    the top of a same-kind chain (documents: those of such spans), not every span of the kind."""
    from annotator.team.stats import compute_stats

    configs = parse_config(SCOPED).annotations
    with Store.open(make_db(template, tmp_path, [])) as store:
        store.save_config_document(parse_config(SCOPED).to_document())
        report = {c["name"]: c["progress"]["applicable"] for c in compute_stats(store)["configs"]}
        for config in configs:
            assert report[config.name] == offered_items(store, config, QueueFilter()), config.name
        assert (report["answer"], report["step"]) == (11, 4)


def offered_items(store: Store, config: AnnotationConfig, queue: QueueFilter) -> int:
    """How many items the queue offers `config` on under `queue`: its spans, or for a document
    config the documents of those spans."""
    offered = [
        span_id
        for trace_id in TRACES
        for span_id in store.queue_marks(trace_id, queue, [config], ME)
    ]
    if config.target.value != "document":
        return len(offered)
    return sum(
        store.connection.execute(
            "SELECT document_count FROM spans WHERE span_id = ?", (span_id,)
        ).fetchone()[0]
        for span_id in offered
    )
