"""`stats --where/--trace-where` with `scope: outermost` configs: the applicable count is what the
queue offers under the same filter. A span the filter selects keeps its place in its trace:
whether it is outermost depends on its parent, selected or not (the queue's own rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.config import parse_config
from annotator.query import Selection, SpanFilter, TraceFilter
from annotator.store import QueueFilter, Store
from annotator.team.stats import compute_stats
from tests.test_queue import SCOPED, make_db, offered_items, template  # noqa: F401 (a fixture)

CASES = [
    # (span filter, trace filter)
    ("span_kind == 'LLM'", ""),
    # The inner LLM spans of a nested chain are selected, their outer parent is not: they are
    # still not outermost, so nothing of `answer` applies to them.
    ("parent_id is not None", ""),
    ("'child' in name", ""),
    ("", "num_spans > 3"),
    ("span_kind != 'CHAIN'", "llm_span_count >= 1"),
]


@pytest.mark.parametrize(("where", "trace_where"), CASES)
def test_applicable_under_a_filter_is_what_the_queue_offers(
    template: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    where: str,
    trace_where: str,
) -> None:
    configs = parse_config(SCOPED).annotations
    selection = Selection(SpanFilter(where), TraceFilter(trace_where))
    queue_filter = QueueFilter(
        where=selection.where or None, trace_where=selection.trace_where or None
    )
    with Store.open(make_db(template, tmp_path, [])) as store:
        store.save_config_document(parse_config(SCOPED).to_document())
        report = {
            c["name"]: c["progress"]["applicable"]
            for c in compute_stats(store, spans=selection)["configs"]
        }
        counts = [offered_items(store, config, queue_filter) for config in configs]
        for config, expected in zip(configs, counts, strict=True):
            assert report[config.name] == expected, (config.name, where, trace_where)
        assert any(counts), "the case selects nothing a config applies to: it proves nothing"
