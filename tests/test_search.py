"""Full-text search (issue 10): `/` searches what spans say (name, input, output, messages,
documents, tool calls, exception messages) through SQLite FTS5, kept true by triggers on every
way spans arrive, for databases made before it too; any text typed is a query, never an error;
matches are marked in the span view."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from annotator.app.app import AnnotatorApp
from annotator.importer import import_files
from annotator.store import Store
from annotator.store.db import close_connection, connect, ensure_schema
from annotator.store.queue import fts_query, search_sql
from annotator.store.schema import MIGRATIONS
from annotator.store.spans import SpanWriter
from annotator.team.merge import merge_databases
from tests.app_data import build_db, config_set, demo_spans, settled, wait_for
from tests.properties import examples

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "sample_traces").glob("*.otlp.jsonl"))


def matching(store: Store, text: str) -> set[str]:
    sql = search_sql(text)
    rows = store.connection.execute(f"SELECT s.span_id FROM spans s WHERE {sql.text}", sql.params)
    return {row[0] for row in rows}


SEARCHED_KEYS = {
    "value", "content", "arguments", "message", "stacktrace", "exception.message",
    "exception.stacktrace",
}  # fmt: skip


def words_of(value: object, key: str | None = None) -> list[str]:
    """The texts of a JSON value under the keys the index reads (README: Search)."""
    if isinstance(value, str):
        return [value] if key in SEARCHED_KEYS else []
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in words_of(v, k)]
    if isinstance(value, list):
        return [w for v in value for w in words_of(v, key)]
    return []


def expected(store: Store, word: str) -> set[str]:
    """Spans with a word starting with `word` in their name, status message, or the searched
    texts of their attributes and events (computed in Python, apart from SQLite)."""
    pattern = re.compile(r"(?<![^\W_])" + re.escape(word), re.IGNORECASE)
    found = set()
    for span_id, name, message, attributes, events in store.connection.execute(
        "SELECT span_id, name, status_message, attributes, events FROM spans"
    ):
        texts = [
            name,
            message,
            *words_of(orjson.loads(attributes)),
            *words_of(orjson.loads(events)),
        ]
        if any(pattern.search(text) for text in texts):
            found.add(span_id)
    return found


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search") / "samples.db"
    with Store.open(path) as store:
        import_files(store, SAMPLES)
    return path


@pytest.mark.parametrize(
    "word, count", [("refund", 21), ("worker", 104), ("timeout", 67), ("tasklane", 149)]
)
def test_search_finds_exactly_the_spans_that_say_it(samples: Path, word: str, count: int) -> None:
    with Store.open(samples, readonly=True) as store:
        found = matching(store, word)
        assert found == expected(store, word)
        assert len(found) == count


def test_every_word_must_match_and_the_last_is_a_prefix(samples: Path) -> None:
    with Store.open(samples, readonly=True) as store:
        both = matching(store, "refund worker")
        assert both == matching(store, "refund") & matching(store, "worker")
        assert matching(store, "refu") == expected(store, "refu") > matching(store, "refund")
        assert matching(store, "REFUND") == matching(store, "refund")  # case aside


def test_documents_messages_and_exception_messages_are_searched(tmp_path: Path) -> None:
    db = build_db(tmp_path / "a.db")
    with Store.open(db, readonly=True) as store:
        assert matching(store, "traceback") == {"a3"}  # an exception event's stack trace only
        assert matching(store, "policy part") == {"r2"}  # retrieved documents' content
        assert matching(store, "rag_pipeline") == {"r1"}  # the name (split at _ like FTS)


@pytest.mark.parametrize(
    "typed, query",
    [
        ("refund", '"refund"*'),
        ("foo-bar", '"foo-bar"*'),
        ('say "exact phrase"', '"say" "exact phrase"*'),
        ("NOT x OR (y", '"NOT" "x" "OR" "(y"*'),
        ('"', ""),
        ('0":\n', '"0:"*'),
        ('a "b c', '"a" "b" "c"*'),
        ("   ", ""),
    ],
)
def test_what_people_type_is_quoted_never_syntax(typed: str, query: str) -> None:
    assert fts_query(typed) == query


def test_the_first_search_loads_no_other_library() -> None:
    """Quoting what was typed is a few lines of our own: the library it once came from
    (sqlite-utils) took 0.1-0.45 s to import, on the app's first search, because it imports
    pandas wherever pandas is installed. A fresh process: what the first query adds to
    sys.modules is measured, not whatever other tests loaded before."""
    code = (
        "import sys\n"
        "from annotator.store.queue import search_sql\n"
        "before = set(sys.modules)\n"
        "search_sql('refund policy')\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@settings(max_examples=examples(300), deadline=None)
@given(
    st.text(max_size=40)
    | st.text(alphabet=st.sampled_from(list('ab0 "\n\t*-():^\x00')), max_size=20)
)
@example('0":\n')  # a quote, a line break: quoting the words alone made bad syntax of it
def test_any_text_is_a_query_that_runs(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE span_search USING fts5(name, content, content = '')")
    conn.execute("CREATE TABLE spans (span_id TEXT)")
    sql = search_sql(text)
    conn.execute(f"SELECT count(*) FROM spans s WHERE {sql.text}", sql.params).fetchone()
    conn.close()


def test_an_older_database_is_indexed_when_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    conn = connect(path)
    ensure_schema(conn, path, migrations=MIGRATIONS[:3])  # the schema before the index
    writer = SpanWriter(conn)
    writer.add_all(demo_spans())
    writer.close()
    close_connection(conn)
    with Store.open(path) as store:
        assert matching(store, "traceback") == {"a3"}
        assert len(matching(store, "trace")) == len(expected(store, "trace"))


def test_merged_and_assigned_databases_are_searchable(tmp_path: Path) -> None:
    source = build_db(tmp_path / "a.db")
    merged = tmp_path / "merged.db"
    merge_databases([source], merged)
    with Store.open(merged, readonly=True) as store:
        assert matching(store, "traceback") == {"a3"}
        assert store.connection.execute("SELECT count(*) FROM span_search").fetchone()[0] == 8


async def test_slash_searches_narrows_the_tree_and_marks_the_matches(
    tmp_path: Path,
) -> None:
    db = build_db(tmp_path / "app.db")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(150, 40)) as pilot:
        await settled(pilot, app)
        await pilot.press("slash", *"b0000", "enter")
        await settled(pilot, app)
        screen = app.screen
        await wait_for(pilot, lambda: screen.session.queue.text == "b0000")
        assert screen.session.trace_ids() == ["trace-agent"]
        assert "search b0000" in str(screen.status_line.render())
        # walk to the next match: its words are marked in the span view
        await pilot.press("full_stop")
        await settled(pilot, app)
        marked = screen.span_view.marked_text
        assert marked and all(text.lower() == "b0000" for text in marked), marked
        # leaving the search takes the marks away
        await pilot.press("slash", "end", *["backspace"] * 5, "enter")
        await settled(pilot, app)
        await wait_for(pilot, lambda: screen.session.queue.text == "")
        assert screen.span_view.marked_text == []
