"""What review mode walks (annotator.team.review.review_items), as a property: exactly the items
whose raters' values differ, plus with per_item N those with fewer than N votes; judges and
final values are never votes, and a final value does not take an item off the list."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.model import Annotation, AnnotatorKind, Source
from annotator.store import Store
from annotator.team.review import review_items
from tests.app_data import build_db, config_set
from tests.properties import examples

SPANS = ("r1", "r3", "a1", "a2")
RATERS = ("alice", "bob", "carol")
LABELS = ("correct", "incorrect", "partial")


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    votes=st.dictionaries(
        st.tuples(st.sampled_from(SPANS), st.sampled_from(RATERS)), st.sampled_from(LABELS)
    ),
    judged=st.sets(st.sampled_from(SPANS)),
    decided=st.sets(st.sampled_from(SPANS)),
    per_item=st.none() | st.integers(1, 3),
)
def test_review_items_are_exactly_the_disagreements_and_the_short_ones(
    tmp_path: Path,
    votes: dict[tuple[str, str], str],
    judged: set[str],
    decided: set[str],
    per_item: int | None,
) -> None:
    db = build_db(tmp_path / f"{uuid4().hex}.db")
    with Store.open(db) as store:
        for (span, who), label in votes.items():
            store.set_annotation(
                Annotation(name="correctness", span_id=span, identifier=who, label=label)
            )
        for span in judged:  # a judge that disagrees with everyone: not a vote
            store.set_annotation(
                Annotation(
                    name="correctness",
                    span_id=span,
                    identifier="gpt-judge",
                    annotator_kind=AnnotatorKind.LLM,
                    source=Source.API,
                    label="judged",
                )
            )
        for span in decided:
            store.set_final(
                Annotation(name="correctness", span_id=span, label="correct"), reviewer="lead"
            )
        items = review_items(store, list(config_set().annotations), per_item=per_item)
    by_span: dict[str, dict[str, str]] = {}
    for (span, who), label in votes.items():
        by_span.setdefault(span, {})[who] = label
    expected = {
        span
        for span, given_votes in by_span.items()
        if len(set(given_votes.values())) > 1
        or (per_item is not None and len(given_votes) < per_item)
    }
    assert {item.target_id for item in items} == expected
    for item in items:
        assert item.votes == dict(sorted(by_span[item.target_id].items()))
