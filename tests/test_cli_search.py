"""`--search TEXT` on annotate, export, dataset, stats and assign: the app's full-text search
narrows what a command works on, ANDed with `--where` / `--trace-where`. Expected span sets are
computed here in plain Python from the spans' texts (apart from SQLite's index); a search that
matches nothing says so as other empty selections do; a search without a word is one line,
exit code 2, with nothing run or written."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path

import orjson
import pytest

from annotator.config import bundled_config_path, load_config
from annotator.query import Selection
from annotator.store import Store
from tests.query_data import Data, build, digest, fresh_copy
from tests.test_cli_validation import invoke
from tests.test_search import words_of


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Data]:
    path = tmp_path_factory.mktemp("search-cli") / "annotations.db"
    data = build(path)
    with Store.open(path) as store:
        store.save_config_document(load_config(str(bundled_config_path("default"))).to_document())
    return path, data


@pytest.fixture
def db(built: tuple[Path, Data], tmp_path: Path) -> tuple[Path, Data]:
    return fresh_copy(built, tmp_path)


# --- what a search should select, in plain Python ----------------------------------------------


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_TOKENS: dict[str, dict[str, set[str]]] = {}


def tokens_by_span(path: Path) -> dict[str, set[str]]:
    """Each span's words: its name, status message and the texts the index reads of its
    attributes and events (README: Full-text search), split where FTS5 splits. Worked out once
    per database content: the tests' copies of the module's database share it."""
    content = digest(path)
    if content not in _TOKENS:
        _TOKENS[content] = _tokens_by_span(path)
    return _TOKENS[content]


def _tokens_by_span(path: Path) -> dict[str, set[str]]:
    with Store.open(path, readonly=True) as store:
        rows = store.connection.execute(
            "SELECT span_id, name, status_message, attributes, events FROM spans ORDER BY rowid"
        ).fetchall()
    result = {}
    for span_id, name, message, attributes, events in rows:
        texts = [name, message or "", *words_of(orjson.loads(attributes))]
        texts += words_of(orjson.loads(events))
        result[span_id] = {w for text in texts for w in re.findall(r"[^\W_]+", _fold(text))}
    return result


def says(tokens: set[str], search: str) -> bool:
    """Every word of the search is a word of the span; the last may be the start of one."""
    words = re.findall(r"[^\W_]+", _fold(search))
    *whole, last = words
    return all(w in tokens for w in whole) and any(t.startswith(last) for t in tokens)


def found(path: Path, search: str) -> list[str]:
    """The spans that say `search`, in import order."""
    return [span_id for span_id, tokens in tokens_by_span(path).items() if says(tokens, search)]


def dataset_spans(path: Path, *options: str) -> list[str]:
    result = invoke("dataset", "--db", str(path), "--out", "-", "--format", "csv", *options)
    assert result.exit_code == 0, result.stderr
    return [row["span_id"] for row in csv.DictReader(io.StringIO(result.stdout))]


# --- dataset -----------------------------------------------------------------------------------


@pytest.mark.parametrize("search", ["refund", "REFUND", "refu", "return label", "tasklane"])
def test_dataset_search_writes_exactly_the_spans_that_say_it(db, search: str) -> None:
    path, _ = db
    expected = found(path, search)
    assert 0 < len(expected) < len(tokens_by_span(path))
    assert dataset_spans(path, "--search", search) == expected


def test_dataset_search_and_where_and_trace_where_all_hold(db) -> None:
    path, data = db
    refund = set(found(path, "refund"))
    errored = {t.id for t in data.traces if any(s.status == "ERROR" for s in t.spans)}
    llm = [s.id for s in data.spans if s.kind == "LLM" and s.id in refund]
    assert 0 < len(llm) < len(refund)
    assert dataset_spans(path, "--search", "refund", "--where", "span_kind == 'LLM'") == llm
    in_errored = [s.id for s in data.spans if s.id in refund and s.trace in errored]
    assert 0 < len(in_errored) < len(refund)
    assert dataset_spans(path, "--search", "refund", "--trace-where", "error_count > 0") == (
        in_errored
    )


def test_a_search_that_matches_nothing_says_so_like_other_empty_selections(db) -> None:
    path, _ = db
    result = invoke("dataset", "--db", str(path), "--out", "-", "--search", "zzyzx")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Wrote 0 examples" in result.stderr
    where = invoke("dataset", "--db", str(path), "--out", "-", "--where", "name == 'zzyzx'")
    assert where.stderr == result.stderr  # the same words as an expression selecting nothing
    exported = invoke("export", "--db", str(path), "--out", "-", "--search", "zzyzx")
    assert exported.exit_code == 0 and exported.stdout == ""
    assert "Exported 0 annotations" in exported.stderr
    text = invoke("stats", "--db", str(path), "--search", "zzyzx")
    assert text.exit_code == 0, text.stderr
    assert "0 spans, 0 traces, 0 sessions, 0 annotations" in text.stdout
    assert "Selected by --search zzyzx" in text.stdout


# --- export and stats --------------------------------------------------------------------------


def key(a: dict) -> tuple:
    return (a["target"], a["span_id"], a["trace_id"], a["name"], a["identifier"])


def test_export_search_keeps_the_annotations_about_the_spans_found(db) -> None:
    path, data = db
    search = "order"
    selected = set(found(path, search))
    roots = {t.id: t.root.id for t in data.traces if t.root is not None}
    expected = sorted(
        (
            key(a)
            for a in data.annotations
            if (a["target"] in ("span", "document") and a["span_id"] in selected)
            or (a["target"] == "trace" and roots.get(a["trace_id"]) in selected)
        ),
        key=repr,
    )
    assert {e[0] for e in expected} >= {"span", "trace"}
    assert len(expected) < len([a for a in data.annotations if a["target"] != "session"])
    result = invoke("export", "--db", str(path), "--out", "-", "--search", search)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((key(r) for r in rows if r["target"] != "session"), key=repr) == expected


def test_stats_search_counts_the_spans_found(db) -> None:
    path, data = db
    selected = set(found(path, "refund"))
    result = invoke(
        "stats", "--db", str(path), "--json", "--search", "refund", "--where", "span_kind == 'LLM'"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    llm = [s for s in data.spans if s.kind == "LLM" and s.id in selected]
    assert report["search"] == "refund" and report["where"] == "span_kind == 'LLM'"
    assert report["totals"]["spans"] == len(llm)
    assert report["totals"]["traces"] == len({s.trace for s in llm})
    plain = json.loads(invoke("stats", "--db", str(path), "--json").stdout)
    assert plain["search"] is None


# --- assign and annotate -----------------------------------------------------------------------


def assigned(path: Path, out: Path, *options: str) -> set[str]:
    result = invoke(
        "assign", "--db", str(path), "--annotators", "alice,bob", "--per-item", "1",
        "--out", str(out), "--json", *options,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    return {item["id"] for item in manifest["items"]}


def test_assign_search_hands_out_only_the_spans_found_in_scope(db, tmp_path: Path) -> None:
    path, _ = db
    in_scope = assigned(path, tmp_path / "all")
    expected = in_scope & set(found(path, "refund"))
    assert 0 < len(expected) < len(in_scope)
    assert assigned(path, tmp_path / "refund", "--search", "refund") == expected


def test_annotate_search_starts_the_app_on_the_search(db, monkeypatch) -> None:
    from annotator.app.app import AnnotatorApp

    path, _ = db
    queues: list = []

    def run(app: AnnotatorApp) -> None:
        queues.append(app.session.queue)
        app.store.close()

    monkeypatch.setattr(AnnotatorApp, "run", run)
    result = invoke(
        "annotate", "--db", str(path), "--annotator", "zoe", "--search", "refund",
        "--where", "span_kind == 'LLM'",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (queue,) = queues
    assert queue.text == "refund"
    assert queue.where.text == "span_kind == 'LLM'"


# --- bad and odd searches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--out", "out.jsonl"],
        ["dataset", "--out", "out.jsonl"],
        ["stats"],
        ["annotate"],
        ["assign", "--annotators", "a,b", "--per-item", "1", "--out", "batches"],
    ],
)
def test_a_search_without_a_word_is_one_line_and_nothing_runs(db, command) -> None:
    path, _ = db
    before = digest(path)
    result = invoke(*command, "--db", str(path), "--search", '*** "" -', cwd=path.parent)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        """--search: no word in '*** "" -' — a search looks for words (letters and digits)"""
    ]
    assert result.stdout == ""
    assert digest(path) == before
    assert not (path.parent / "out.jsonl").exists()
    assert not (path.parent / "batches").exists()


def test_the_refusal_shows_control_characters_as_escapes(db) -> None:
    path, _ = db
    result = invoke("stats", "--db", str(path), "--search", "\x1b[\u202e--")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "--search: no word in '\\x1b[\\u202e--' — a search looks for words (letters and digits)"
    ]


def test_a_blank_search_is_no_search(db) -> None:
    path, data = db
    assert dataset_spans(path, "--search", "  ") == [s.id for s in data.spans]


@pytest.mark.parametrize(
    "typed, words",
    [
        ('refund"', "refund"),
        ("NEAR(refund", "near refund"),
        ("refund*", "refund"),
        ("-refund", "refund"),
        ("[bold]refund[/bold]", "bold refund bold"),
        ("refund OR zzyzx", "refund or zzyzx"),
    ],
)
def test_fts_syntax_in_a_search_is_text(db, typed: str, words: str) -> None:
    """Operators, quotes and markup are words or separators, never query syntax: `refund OR
    zzyzx` needs the word "or" too (and finds nothing), `-refund` is no negation."""
    path, _ = db
    got = dataset_spans(path, "--search", typed)
    if words == "refund":
        assert got == found(path, "refund")
    else:
        assert got == []  # the phrase or the extra words are said by no span


def test_selection_sql_keeps_each_filter_one_level_deep() -> None:
    """--where, --trace-where and --search side by side: a filter sits inside one pair of
    parentheses, as with two (query.limits checks filters for that depth)."""
    from annotator.query import SpanFilter, TraceFilter

    where, trace_where = SpanFilter("span_kind == 'LLM'"), TraceFilter("error_count > 0")
    sql = Selection(where, trace_where, "refund").sql
    assert sql.text.startswith(f"({where.sql.text}) AND ({trace_where.sql.text}) AND (")
    assert sql.params["search"] == '"refund"*'
