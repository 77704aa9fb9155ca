"""`Store.my_contribution_counts`: what one person recorded, annotations and notes apart (what
`annotator annotate` reports when the app closes)."""

from __future__ import annotations

from pathlib import Path

from annotator.model import NOTE_NAME, Annotation, Span
from annotator.store import Contributions, Store


def test_annotations_and_notes_are_counted_apart_and_only_a_persons_own(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as store:
        writer = store.span_writer()
        writer.add_all([Span("s1", "t1", None, "root"), Span("s2", "t1", "s1", "llm")])
        writer.close()
        for span_id in ("s1", "s2"):
            store.set_annotation(
                Annotation("quality", span_id=span_id, label="good", identifier="zoe")
            )
        store.set_annotation(Annotation("quality", span_id="s1", label="bad", identifier="amy"))
        store.set_annotation(
            Annotation(
                "relevance", span_id="s2", label="bad", identifier="zoe", annotator_kind="LLM"
            )
        )
        # a note made here: its own identifier, its author in metadata
        store.set_annotation(
            Annotation(
                NOTE_NAME,
                span_id="s1",
                explanation="odd",
                identifier="px-span-note:1",
                metadata={"author": "zoe"},
            )
        )
        store.set_annotation(  # an older note, identified by its author
            Annotation(NOTE_NAME, span_id="s2", explanation="hm", identifier="zoe")
        )
        store.set_annotation(
            Annotation(
                NOTE_NAME,
                span_id="s2",
                explanation="no",
                identifier="px-span-note:2",
                metadata={"author": "amy"},
            )
        )
        counts = store.my_contribution_counts("zoe")
        assert counts == Contributions(annotations=2, notes=2)
        assert (counts.annotations, counts.notes) == (2, 2)
        assert store.my_contribution_counts("amy") == (1, 1)
        assert store.my_contribution_counts("nobody") == (0, 0)
