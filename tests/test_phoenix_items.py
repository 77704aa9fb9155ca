"""One set of Phoenix rules: ``push`` sends exactly the items ``export --format phoenix`` writes
(`annotator.annotations_io.phoenix_items`), each refused annotation counted with push's words.
No Phoenix needed: this is what push would send."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from annotator.annotations_io import ExportFilter, export_annotations
from annotator.model import Annotation, Span
from annotator.phoenix.pushing import ANNOTATION_ENDPOINTS, NOTE_ENDPOINTS, pending_items
from annotator.store import Store, import_annotations

T0 = "2026-01-01T00:00:00.000000+00:00"
DOCS = {"retrieval": {"documents": [{"document": {"id": "d0"}}, {"document": {"id": "d1"}}]}}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "a.db") as opened:
        writer = opened.span_writer()
        writer.add_all(
            [
                Span("root", "t1", None, "agent", "CHAIN", T0, session_id="s1", project="p1"),
                Span("retr", "t1", "root", "search", "RETRIEVER", T0, attributes=DOCS),
                Span("solo", "t2", None, "chat", "LLM", T0, project="p2"),
            ]
        )
        writer.close()
        rows = [
            Annotation(name="q", span_id="root", label="good", identifier="al"),
            Annotation(name="q", span_id="solo", score=0.5, identifier="al", metadata={"k": 1}),
            Annotation(name="q", target="trace", trace_id="t1", label="ok"),
            Annotation(name="q", target="session", session_id="s1", label="ok"),
            Annotation(
                name="rel",
                target="document",
                span_id="retr",
                document_position=1,
                label="yes",
                identifier="al",
                updated_at=T0,
            ),
            Annotation(
                name="rel",
                target="document",
                span_id="retr",
                document_position=1,
                label="no",
                identifier="bo",
                updated_at="2026-01-02T00:00:00+00:00",
            ),
            Annotation(
                name="rel",
                target="document",
                span_id="retr",
                document_position=5,
                label="yes",
                identifier="al",
            ),
            Annotation(
                name="note", span_id="root", explanation="look here", identifier="px-span-note:1"
            ),
            Annotation(name="note", span_id="solo", explanation="  ", identifier="px-span-note:2"),
            Annotation(name="q", span_id="gone", label="good"),  # not in the database
            Annotation(name="q", span_id="root", score=float("inf"), identifier="inf"),
            Annotation(name=" ", span_id="root", label="blank name", identifier="al"),
        ]
        import_annotations(opened.connection, rows, actor="test")
        yield opened


def _exported(store: Store, selection: ExportFilter | None = None) -> dict:
    out = io.BytesIO()
    export_annotations(store.connection, "phoenix", None, selection or ExportFilter(), stdout=out)
    return orjson.loads(out.getvalue())


def test_push_sends_exactly_the_exported_items(store: Store) -> None:
    exported = _exported(store)
    skipped: dict[str, int] = {}
    pending = list(pending_items(store.connection, skipped=skipped))
    for endpoint in ANNOTATION_ENDPOINTS:
        sent = [p.item for p in pending if p.endpoint == endpoint]
        assert sent == exported[endpoint]["data"], endpoint
    for endpoint in NOTE_ENDPOINTS:
        assert [p.item for p in pending if p.endpoint == endpoint] == exported[endpoint]
    assert len(pending) == 6
    assert skipped == {
        "annotations about a span that is not in this database": 1,
        "annotations whose score is not a finite number": 1,
        "annotations with an empty name (Phoenix refuses them)": 1,
        "document annotations beyond the span's documents (Phoenix: 422)": 1,
        "document annotations by a second annotator on one document and name "
        "(Phoenix keeps one; the final value, else the newest, was sent: choose with "
        "--annotator)": 1,
        "notes without text (Phoenix requires the text)": 1,
    }


def test_push_to_one_project_leaves_the_others_out_silently(store: Store) -> None:
    skipped: dict[str, int] = {}
    pending = list(pending_items(store.connection, project="p2", skipped=skipped))
    assert [(p.endpoint, p.item.get("span_id")) for p in pending] == [("span_annotations", "solo")]
    assert skipped == {"notes without text (Phoenix requires the text)": 1}
    exported = _exported(store, ExportFilter(project="p2"))
    assert exported["span_annotations"]["data"] == [pending[0].item]
