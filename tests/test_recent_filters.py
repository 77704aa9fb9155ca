"""The store's recent filter expressions (the filter dialog's up/down) and its live count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from annotator.query import SpanFilter, TraceFilter
from annotator.store import Store
from tests.app_data import build_db


def test_recent_expressions_newest_first_once_each_bounded(tmp_path: Path) -> None:
    path = build_db(tmp_path / "r.db")
    with Store.open(path) as store:
        assert store.recent_filters("where") == []
        for index in range(25):
            store.remember_filter("where", f"latency_ms > {index}")
        store.remember_filter("where", "latency_ms > 10")
        store.remember_filter("where", "   ")  # blank: not kept
        store.remember_filter("trace_where", "error_count > 0")
        recent = store.recent_filters("where")
    assert len(recent) == Store.RECENT_FILTERS == 20
    assert recent[:3] == ["latency_ms > 10", "latency_ms > 24", "latency_ms > 23"]
    assert recent.count("latency_ms > 10") == 1
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute(
            "SELECT value FROM meta WHERE key = 'recent_filters:trace_where'"
        ).fetchone()
    assert stored == '["error_count > 0"]'


def test_a_damaged_recent_list_starts_afresh(tmp_path: Path) -> None:
    path = build_db(tmp_path / "r.db")
    with Store.open(path) as store:
        for value in ("{not json", '{"a": 1}', '["ok", 3, null]'):
            store.set_meta("recent_filters:where", value)
            assert store.recent_filters("where") == (["ok"] if value.startswith("[") else [])
        assert store.remember_filter("where", "name == 'x'") == ["name == 'x'", "ok"]


def test_count_selected_ands_the_two_filters(tmp_path: Path) -> None:
    path = build_db(tmp_path / "r.db")
    with Store.open(path, readonly=True) as store:
        assert store.count_selected() == 8
        assert store.count_selected(SpanFilter("span_kind == 'LLM'")) == 4
        assert store.count_selected(None, TraceFilter("error_count > 0")) == 3
        both = store.count_selected(
            SpanFilter("span_kind == 'LLM'"), TraceFilter("error_count > 0")
        )
        assert both == 1
