"""Ranked full-text search (issue 10), in the store: the search box's live count, bounded, and
the best matches of the queue in bm25 order, checked against bm25 computed here in plain
Python from the spans' words (FTS5's formula, apart from SQLite). The fixture and the Python
bm25 serve the app's tests too (tests/test_app_search.py)."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from annotator.model import Span
from annotator.store import QueueFilter, Store
from tests.app_data import build_db, config_set
from tests.test_search import words_of


def _t(second: int) -> str:
    return f"2026-05-01T10:{second // 60:02d}:{second % 60:02d}.000000+00:00"


def _span(span_id, trace, parent, name, kind, second, said="", answer="", message=""):
    attributes = {}
    if said:
        attributes["input"] = {"value": said}
    if answer:
        attributes["output"] = {"value": answer}
    status = "ERROR" if message else "OK"
    return Span(
        span_id, trace, parent, name, kind, _t(second), _t(second + 1), status,
        status_message=message, attributes=attributes,
    )  # fmt: skip


DRAFT = "the refund was sent near the end to the customer after a long wait of many days"


def ranked_spans() -> list[Span]:
    """Spans saying "refund" more or less often, in longer or shorter texts, in three traces,
    among filler that does not (so the word is rare and its idf positive). In the test config
    the TOOL span is in no config's scope: it matches but is not in the queue."""
    filler = [
        _span(f"f{i}", "t-d", "f0" if i else None, f"step{i}", "CHAIN", 300 + i,
              f"weather report number {i} sunny", "fine")
        for i in range(14)
    ]  # fmt: skip
    return [
        _span("a1", "t-a", None, "pipeline", "CHAIN", 0, "start the job", "done"),
        _span("a2", "t-a", "a1", "answer", "LLM", 1, "refund refund refund policy", "ok"),
        _span("a3", "t-a", "a1", "lookup", "TOOL", 2, "refund", "found"),
        _span("a4", "t-a", "a1", "draft", "LLM", 3, DRAFT, "bold words here"),
        _span("a5", "t-a", "a4", "polish", "LLM", 4, "nothing to see", "calm"),
        _span("b1", "t-b", None, "agent", "AGENT", 100, "customer asks about a refunds desk"),
        _span("b2", "t-b", "b1", "reply", "LLM", 101, "refund", "bold refund refund"),
        _span("b3", "t-b", "b1", "format", "CHAIN", 102, "nothing here", "plain"),
        _span("c1", "t-c", None, "other", "CHAIN", 200, "weather today", "rain"),
        _span("c2", "t-c", "c1", "refund", "LLM", 201, "hello", "", message="refund failed"),
        *filler,
    ]


IN_SCOPE_KINDS = {"LLM", "CHAIN", "AGENT"}  # correctness (tests/app_data.py) applies to them


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "ranked.db", ranked_spans())


# --- bm25, in plain Python -----------------------------------------------------------------------


def _words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"[^\W_]+", folded)


def columns(path: Path) -> dict[str, tuple[int, str, list[str], list[str]]]:
    """span id -> (rowid, kind, name's words, content's words), the content being what the
    index reads: the status message and the texts of attributes and events (README)."""
    with Store.open(path, readonly=True) as store:
        rows = store.connection.execute(
            "SELECT rowid, span_id, span_kind, name, status_message, attributes, events FROM spans"
        ).fetchall()
    result = {}
    for rowid, span_id, kind, name, message, attributes, events in rows:
        texts = [message or "", *words_of(orjson.loads(attributes))]
        texts += words_of(orjson.loads(events))
        result[span_id] = (rowid, kind, _words(name), [w for t in texts for w in _words(t)])
    return result


def bm25_order(path: Path, search: str, kinds: set[str] = IN_SCOPE_KINDS) -> list[str]:
    """The spans of `kinds` matching `search` (single words; the last a prefix), best first by
    FTS5's bm25: k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when not
    positive), each word's frequency over both columns, the row's length in tokens over both;
    score = -Σ idf · f·(k1 + 1) / (f + k1·(1 - b + b·D / avgdl)). Ties in import order."""
    k1, b = 1.2, 0.75
    rows = columns(path)
    count = len(rows)
    avgdl = sum(len(name) + len(content) for _, _, name, content in rows.values()) / count
    *whole, last = _words(search)

    def frequency(tokens: list[str], word: str, prefix: bool) -> int:
        return sum(1 for t in tokens if (t.startswith(word) if prefix else t == word))

    phrases = [(w, False) for w in whole] + [(last, True)]
    freq = {
        span_id: [frequency(name + content, w, p) for w, p in phrases]
        for span_id, (_, _, name, content) in rows.items()
    }
    idf = []
    for i in range(len(phrases)):
        hits = sum(1 for f in freq.values() if f[i])
        value = math.log((count - hits + 0.5) / (hits + 0.5))
        idf.append(value if value > 0 else 1e-6)
    scored = []
    for span_id, (rowid, kind, name, content) in rows.items():
        if kind not in kinds or not all(freq[span_id]):
            continue
        length = len(name) + len(content)
        score = -sum(
            idf[i] * f * (k1 + 1) / (f + k1 * (1 - b + b * length / avgdl))
            for i, f in enumerate(freq[span_id])
        )
        scored.append((score, rowid, span_id))
    return [span_id for _, _, span_id in sorted(scored)]


# --- the store -----------------------------------------------------------------------------------


def test_ranked_matches_are_the_queue_s_matches_in_bm25_order(db: Path) -> None:
    configs = config_set().annotations
    expected = bm25_order(db, "refund")
    assert expected[0] in {"a2", "b2"} and "a3" not in expected  # the TOOL span: not in scope
    assert len(expected) == 5
    with Store.open(db, readonly=True) as store:
        ranked = store.ranked_matches(QueueFilter(text="refund"), configs, "alice")
        assert [m.span_id for m in ranked] == expected
        assert [m.score for m in ranked] == sorted(m.score for m in ranked)
        two = store.ranked_matches(QueueFilter(text="customer refu"), configs, "alice")
        assert [m.span_id for m in two] == bm25_order(db, "customer refu") == ["b1", "a4"]
        llm = store.ranked_matches(
            QueueFilter(text="refund", span_kinds=frozenset({"LLM"})), configs, "alice"
        )
        assert [m.span_id for m in llm] == bm25_order(db, "refund", {"LLM"})
        assert store.ranked_matches(QueueFilter(text="zzyzx"), configs, "alice") == []
        assert store.ranked_matches(QueueFilter(text="***"), configs, "alice") == []


def test_ranking_is_bounded_and_stays_exact_when_the_queue_keeps_few(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index hands over only its best RANK_POOL_FACTOR × limit matches to be checked
    against the queue; only when the queue keeps fewer than `limit` of them (and the index had
    more) is every match checked. Either way the answer is exact."""
    import annotator.store.store as store_module

    monkeypatch.setattr(store_module, "RANK_POOL_FACTOR", 1)  # a pool as small as the answer
    configs = config_set().annotations
    everything = bm25_order(db, "refund", IN_SCOPE_KINDS | {"TOOL"})
    assert everything == ["b2", "a2", "c2", "a3", "b1", "a4"]  # a3: the TOOL span, out of scope
    expected = bm25_order(db, "refund")
    with Store.open(db, readonly=True) as store:
        statements: list[str] = []
        store.connection.set_trace_callback(statements.append)

        def ranked(queue: QueueFilter, limit: int) -> tuple[list[str], int]:
            statements.clear()
            got = store.ranked_matches(queue, configs, "alice", limit=limit)
            return [m.span_id for m in got], sum("ORDER BY hits.rank" in s for s in statements)

        queue = QueueFilter(text="refund")
        assert ranked(queue, 3) == (expected[:3], 1)  # the best 3 are all in the queue
        assert ranked(queue, 4) == (expected[:4], 2)  # a3 is not: every match checked
        assert ranked(queue, 10) == (expected, 1)  # the pool held every match
        agent = replace(queue, span_kinds=frozenset({"AGENT"}))
        assert ranked(agent, 1) == (["b1"], 2)


def test_the_live_count_is_the_queue_s_and_stops_at_its_limit(db: Path) -> None:
    configs = config_set().annotations
    with Store.open(db, readonly=True) as store:
        assert store.count_matches(QueueFilter(text="refund"), configs, "alice") == 5
        assert store.count_matches(QueueFilter(text="refund"), configs, "alice", limit=3) == 3
        assert store.count_matches(QueueFilter(text="weather"), configs, "alice") == 15
        assert store.count_matches(QueueFilter(text="weather"), configs, "alice", limit=15) == 15
        assert store.count_matches(QueueFilter(text='""'), configs, "alice") == 0
