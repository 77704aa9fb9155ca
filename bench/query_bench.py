"""Filter expressions on 100k spans: prints how long each takes to count its matches;
asserts nothing.

  python bench/query_bench.py [--db PATH] [--spans 100000] [--runs 5]

Without --db (or when the file does not exist yet) it builds one: the bundled samples cloned
to the requested size with fresh ids (bench/synth.py), imported with `annotator import`'s code,
then ~60k annotations in the shape a team leaves behind (an LLM judge on every LLM span and
every retrieved document, two people on a tenth of the LLM spans, a judge on a third of the
traces). Each filter is compiled once and counted `--runs` times on a warm connection; the
median is printed (the first, colder run beside it), with the number of matches.

`--no-index` times everything again without the two span indexes of schema version 2 (dropped
for the run and created again after it), to show what they bring.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.importer import import_files
from annotator.model import Annotation
from annotator.query import SpanFilter, TraceFilter
from annotator.store import Store
from annotator.store.annotations import import_annotations
from bench.synth import clone_samples

SPAN_FILTERS = [
    # The examples, and what a QA lead types next.
    "span_kind == 'LLM' and llm.model_name == 'scripted-chat-large' and latency_ms > 2000",
    "span_kind == 'RETRIEVER' and annotations['relevance', 'LLM'].label == 'irrelevant'",
    "annotations['correctness'].label == 'incorrect'",
    "span_kind == 'LLM' and annotations['correctness', 'HUMAN'].label is None",
    "status_code == 'ERROR' or llm.token_count.total > 1500",
    "metadata['experiment'] == 'rag-v2' and 'retry' in input.value",
    "'refund' in input.value",
    # Conversions, Python's %, subtree rollups: what once doubled the SQL at every level.
    "llm.token_count.total % 7 == 3",
    "cumulative_token_count.total > 3000",
    (
        "parent_span is None and (name == name and latency_ms == (annotations['correctness'].score"
        " % (latency_ms + cumulative_token_count.total)))"
    ),
]
TRACE_FILTERS = [
    "any(span.status_code == 'ERROR' for span in spans)",
    "any(span.span_kind == 'TOOL' and span.parent_span.span_kind == 'CHAIN' for span in spans)",
    "len([s for s in spans if s.span_kind == 'LLM']) >= 3 and error_count > 0",
    "any(any(c.status_code == 'ERROR' for c in s.children) for s in spans)",
    "'refund' in input and trace_annotations['quality', 'LLM'].label == 'bad'",
    "token_count_total > 3000",
]
# The span filter indexes of schema version 2 (annotator/store/schema.py); --no-index measures
# what they bring.
FILTER_INDEXES = {
    "spans_kind": "CREATE INDEX IF NOT EXISTS spans_kind ON spans(span_kind)",
    "spans_trace_parent": (
        "CREATE INDEX IF NOT EXISTS spans_trace_parent ON spans(trace_id, parent_id, span_kind)"
    ),
}


def build(path: Path, spans: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="annotator-query-bench-"))
    source = work / "spans.jsonl"
    clone_samples(spans, source)
    started = time.perf_counter()
    with Store.open(path) as store:
        report = import_files(store, [source])
        assert not report.problems, report.problems[:3]
        conn = store.connection
        annotations = list(_annotations(conn))
        import_annotations(conn, annotations, actor="bench")
    source.unlink()
    print(
        f"built {path}: {report.spans_new:,} spans, {len(annotations):,} annotations "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _annotations(conn: sqlite3.Connection):
    llm = [
        r[0]
        for r in conn.execute("SELECT span_id FROM spans WHERE span_kind = 'LLM' ORDER BY rowid")
    ]
    for i, span_id in enumerate(llm):
        bad = i % 7 == 0
        yield Annotation(
            name="correctness",
            span_id=span_id,
            label="incorrect" if bad else "correct",
            score=0.0 if bad else 1.0,
            annotator_kind="LLM",
            source="API",
            identifier="judge",
        )
        if i % 10 == 0:
            for who in ("alice", "bob"):
                yield Annotation(
                    name="correctness",
                    span_id=span_id,
                    label="incorrect" if (i // 10) % 3 == 0 else "correct",
                    annotator_kind="HUMAN",
                    source="API",
                    identifier=who,
                )
    for span_id, count in conn.execute(
        "SELECT span_id, document_count FROM spans WHERE document_count > 0"
    ):
        for position in range(count):
            yield Annotation(
                name="relevance",
                target="document",
                span_id=span_id,
                document_position=position,
                label="irrelevant" if position == 2 else "relevant",
                annotator_kind="LLM",
                source="API",
                identifier="judge",
            )
    traces = [r[0] for r in conn.execute("SELECT trace_id FROM traces ORDER BY trace_id")]
    for i, trace_id in enumerate(traces[::3]):
        yield Annotation(
            name="quality",
            target="trace",
            trace_id=trace_id,
            label="bad" if i % 4 == 0 else "good",
            annotator_kind="LLM",
            source="API",
            identifier="judge",
        )


def timed(conn: sqlite3.Connection, flt: SpanFilter | TraceFilter, runs: int):
    times = []
    count = 0
    for _ in range(runs):
        started = time.perf_counter()
        count = flt.count(conn)
        times.append((time.perf_counter() - started) * 1000)
    return count, times[0], statistics.median(times)


def report(conn: sqlite3.Connection, runs: int, title: str, filters, kind) -> None:
    print(f"\n{title}")
    print(f"{'median ms':>10} {'first ms':>9} {'matches':>8}  filter")
    kind("1 == latency_ms")  # the first compile also sets up what every compile reuses
    for text in filters:
        started = time.perf_counter()
        flt = kind(text)
        compile_ms = (time.perf_counter() - started) * 1000
        size = f"{len(flt.sql.text):,} chars of SQL"
        try:
            count, first, median = timed(conn, flt, runs)
        except sqlite3.Error as error:  # (filters that compiled used to fail here)
            print(f"{'fails':>10} {'':>9} {'':>8}  {text}  ({size}; SQLite: {error})")
            continue
        print(
            f"{median:>10.0f} {first:>9.0f} {count:>8,}  {text}  (compiled in "
            f"{compile_ms:.1f} ms, {size})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-index", action="store_true")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="annotator-query-bench-")) / "bench.db"
    if not path.exists():
        build(path, args.spans)
    conn = sqlite3.connect(path)
    spans, traces, annotations = (
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("spans", "traces", "annotations")
    )
    print(f"{path}: {spans:,} spans, {traces:,} traces, {annotations:,} annotations")
    report(
        conn,
        args.runs,
        "span filters (SELECT count(*) FROM spans s WHERE ...)",
        SPAN_FILTERS,
        SpanFilter,
    )
    report(
        conn,
        args.runs,
        "trace filters (SELECT count(*) FROM traces t WHERE ...)",
        TRACE_FILTERS,
        TraceFilter,
    )
    if args.no_index:
        for name in FILTER_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            names = ", ".join(FILTER_INDEXES)
            report(conn, args.runs, f"span filters without {names}", SPAN_FILTERS, SpanFilter)
            report(conn, args.runs, f"trace filters without {names}", TRACE_FILTERS, TraceFilter)
        finally:
            for statement in FILTER_INDEXES.values():
                conn.execute(statement)
    conn.close()


if __name__ == "__main__":
    main()
