"""`annotator stats`: progress, annotators, distributions, agreement (humans, and humans vs an LLM
judge), the JSON structure and the Rich tables, on a small database with known values."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.model import Annotation
from annotator.store import Store
from annotator.team import agreement as ag
from annotator.team.stats import Rater, StatsError, compute_stats
from tests.app_data import build_db, config_set

SPANS = ["r1", "r3", "a1", "a2", "c1", "c2"]  # the spans `correctness` applies to (LLM/CHAIN/AGENT)
C, I, P = "correct", "incorrect", "partial"  # noqa: E741 (the labels' initials)
CORRECTNESS = {
    "alice": [C, I, C, P, C, I],
    "bob": [C, I, I, P, C, C],
    "carol": [C, C, C, None, C, I],  # did not rate a2
}
JUDGE = [C, I, C, C, C, I]  # LLM judge-gpt4
QUALITY = {"alice": {"r3": 2, "a2": 5, "c1": 7, "c2": 9}, "bob": {"r3": 3, "a2": 5, "c1": 6}}
# bob's seconds_spent on correctness: a2 has none, c1 has a non-number (both ignored)
BOB_SECONDS = {"r1": 10, "r3": 20, "a1": 30, "a2": None, "c1": "abc", "c2": 40}


def _add(store: Store, **fields) -> None:
    store.set_annotation(Annotation(**fields))


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = build_db(tmp_path_factory.mktemp("stats") / "team.db")
    with Store.open(path) as store:
        store.save_config_document(config_set().to_document())
        for who, labels in CORRECTNESS.items():
            for span, label in zip(SPANS, labels, strict=True):
                if label is None:
                    continue
                if who == "alice":
                    metadata = {"seconds_spent": 4.0}
                elif who == "bob":
                    secs = BOB_SECONDS[span]
                    metadata = {} if secs is None else {"seconds_spent": secs}
                else:
                    metadata = {}
                _add(
                    store,
                    name="correctness",
                    span_id=span,
                    label=label,
                    identifier=who,
                    metadata=metadata,
                )
        for span, label in zip(SPANS, JUDGE, strict=True):
            _add(
                store,
                name="correctness",
                span_id=span,
                label=label,
                annotator_kind="LLM",
                source="API",
                identifier="judge-gpt4",
                metadata={"seconds_spent": 1.0},
            )
        for who, scores in QUALITY.items():
            for span, score in scores.items():
                metadata = {"seconds_spent": 2.0} if who == "alice" else {}
                _add(
                    store,
                    name="quality",
                    span_id=span,
                    score=score,
                    identifier=who,
                    metadata=metadata,
                )
        # document and trace targets, a note (ignored), imported LLM / CODE evals (no config)
        _add(
            store,
            name="relevance",
            target="document",
            span_id="r2",
            document_position=0,
            label="relevant",
            identifier="alice",
        )
        _add(
            store,
            name="relevance",
            target="document",
            span_id="r2",
            document_position=1,
            label="irrelevant",
            identifier="alice",
        )
        _add(
            store,
            name="relevance",
            target="document",
            span_id="r2",
            document_position=1,
            label="irrelevant",
            identifier="bob",
        )
        _add(
            store,
            name="task_success",
            target="trace",
            trace_id="trace-rag",
            label="failure",
            identifier="alice",
        )
        _add(store, name="note", span_id="r3", explanation="look again", identifier="alice")
        for span, label in (("r3", "yes"), ("c1", "no")):
            _add(
                store,
                name="hallucination",
                span_id=span,
                label=label,
                score=1.0 * (label == "yes"),
                annotator_kind="LLM",
                source="API",
                identifier="phoenix-evals",
            )
        for span, score in (("r3", 0.25), ("c1", 0.75)):
            _add(
                store,
                name="toxicity",
                span_id=span,
                score=score,
                annotator_kind="CODE",
                source="API",
            )
    return path


@pytest.fixture(scope="module")
def report(db: Path) -> dict:
    with Store.open(db, readonly=True) as store:
        return compute_stats(store, database=str(db))


def _config(report: dict, name: str) -> dict:
    return next(c for c in report["configs"] if c["name"] == name)


def _annotator(report: dict, rater: str) -> dict:
    return next(a for a in report["annotators"] if a["rater"] == rater)


def _pair(pairs: list[dict], a: str, b: str) -> dict:
    return next(p for p in pairs if (p["rater_a"], p["rater_b"]) == (a, b))


def _ratings(labels_by_rater: dict[str, list]) -> dict[str, dict]:
    return {
        who: {span: v for span, v in zip(SPANS, labels, strict=True) if v is not None}
        for who, labels in labels_by_rater.items()
    }


# --- progress and annotators -------------------------------------------------------------------


def test_progress_counts(report):
    progress = {c["name"]: c["progress"] for c in report["configs"]}
    assert progress["correctness"]["applicable"] == 6  # r1 CHAIN, a1 AGENT, 4 LLM spans
    assert progress["correctness"]["annotated"] == 6
    assert progress["correctness"]["annotated_by_human"] == 6
    by_rater = {r["rater"]: r["items"] for r in progress["correctness"]["by_rater"]}
    assert by_rater == {"alice": 6, "bob": 6, "carol": 5, "LLM judge-gpt4": 6}
    assert (progress["quality"]["applicable"], progress["quality"]["annotated"]) == (4, 4)
    # documents: r2 retrieved 3 (document configs default to RETRIEVER/RERANKER spans)
    assert (progress["relevance"]["applicable"], progress["relevance"]["annotated"]) == (3, 2)
    assert (progress["task_success"]["applicable"], progress["task_success"]["annotated"]) == (4, 1)
    assert progress["comment"]["annotated"] == 0 and progress["comment"]["applicable"] == 8
    # names without a stored config: applicable unknown, type inferred
    hallucination, toxicity = _config(report, "hallucination"), _config(report, "toxicity")
    assert hallucination["progress"]["applicable"] is None and not hallucination["stored"]
    assert hallucination["type"] == "CATEGORICAL" and toxicity["type"] == "CONTINUOUS"
    assert hallucination["progress"]["annotated_by_human"] == 0
    assert "note" not in {c["name"] for c in report["configs"]}
    # stored configs first, in their order; then the others, sorted
    names = [c["name"] for c in report["configs"]]
    assert names == [
        "correctness", "quality", "relevance", "task_success", "comment", "hallucination",
        "toxicity",
    ]  # fmt: skip


def test_per_annotator(report):
    alice = _annotator(report, "alice")
    # 6 correctness + 4 quality + 2 relevance + 1 task_success (the note is not counted)
    assert alice["annotations"] == 13
    assert alice["items"] == 6 + 2 + 1  # quality is on spans she already judged
    # per item: correctness 4 s, plus 2 s of quality on r3/a2/c1/c2 -> [4, 6, 4, 6, 6, 6]
    assert alice["median_seconds_per_item"] == 6.0
    bob = _annotator(report, "bob")
    assert bob["median_seconds_per_item"] == 25.0  # 10, 20, 30, 40 (missing / "abc" ignored)
    assert _annotator(report, "carol")["median_seconds_per_item"] is None
    judge = _annotator(report, "LLM judge-gpt4")
    assert (judge["annotator_kind"], judge["identifier"]) == ("LLM", "judge-gpt4")
    assert judge["median_seconds_per_item"] is None  # humans only
    assert judge["annotations"] == 6
    code = _annotator(report, "CODE")
    assert (code["identifier"], code["annotations"]) == ("", 2)
    assert alice["first_activity"] <= alice["last_activity"]
    assert [a["annotator_kind"] for a in report["annotators"]] == [
        "HUMAN", "HUMAN", "HUMAN", "LLM", "LLM", "CODE",
    ]  # fmt: skip
    assert report["totals"] == {"spans": 8, "traces": 4, "sessions": 2, "annotations": 38}


def test_rater_display_names_are_unique():
    assert Rater("HUMAN", "alice").display == "alice"
    assert Rater("LLM", "judge-gpt4").display == "LLM judge-gpt4"
    assert Rater("CODE", "").display == "CODE"
    assert Rater("HUMAN", "").display == "HUMAN"
    assert Rater("HUMAN", "LLM judge-gpt4").display == "HUMAN LLM judge-gpt4"


# --- distributions -------------------------------------------------------------------------


def test_label_distribution(report):
    dist = _config(report, "correctness")["distribution"]
    assert dist["kind"] == "labels"
    assert dist["labels"] == [C, I, P]  # config order
    by_rater = {r["rater"]: r["counts"] for r in dist["by_rater"]}
    assert by_rater["alice"] == {C: 3, I: 2, P: 1}
    assert by_rater["carol"] == {C: 4, I: 1}
    assert by_rater["LLM judge-gpt4"] == {C: 4, I: 2}
    assert dist["overall"] == {"n": 23, "counts": {C: 14, I: 7, P: 2}, "unlabeled": 0}


def test_score_distribution(report):
    dist = _config(report, "quality")["distribution"]
    assert dist["kind"] == "scores"
    by_rater = {r["rater"]: r for r in dist["by_rater"]}
    assert by_rater["alice"] == {
        "rater": "alice",
        "n": 4,
        "min": 2,
        "median": 6,
        "mean": 5.75,
        "max": 9,
    }
    assert by_rater["bob"]["median"] == 5 and math.isclose(by_rater["bob"]["mean"], 14 / 3)
    assert dist["overall"]["n"] == 7 and dist["overall"]["max"] == 9
    assert _config(report, "comment")["distribution"] is None  # freeform


# --- agreement -------------------------------------------------------------------------------


def test_pairwise_human_agreement(report):
    agreement = _config(report, "correctness")["agreement"]
    assert agreement["level"] == "nominal"
    assert agreement["raters"] == ["alice", "bob", "carol"]
    alice_bob = _pair(agreement["pairs"], "alice", "bob")
    assert alice_bob["n"] == 6
    assert alice_bob["percent_agreement"] == pytest.approx(4 / 6)
    # by hand: p_o = 4/6, both raters 3 correct / 2 incorrect / 1 partial -> p_e = 14/36
    assert alice_bob["cohen_kappa"] == pytest.approx(5 / 11)
    assert alice_bob["confusion"] == {
        "labels": [C, I, P],
        "counts": [[2, 1, 0], [1, 1, 0], [0, 0, 1]],
    }
    alice_carol = _pair(agreement["pairs"], "alice", "carol")
    assert alice_carol["n"] == 5  # carol skipped a2
    ratings = _ratings(CORRECTNESS)
    pairs = [(ratings["alice"][s], ratings["carol"][s]) for s in ratings["carol"]]
    assert alice_carol["cohen_kappa"] == pytest.approx(ag.cohen_kappa(pairs))


def test_group_agreement(report):
    agreement = _config(report, "correctness")["agreement"]
    units = [
        [CORRECTNESS[w][i] for w in CORRECTNESS if CORRECTNESS[w][i] is not None]
        for i in range(len(SPANS))
    ]
    assert agreement["n"] == 6 and agreement["n_single_rated"] == 0
    assert agreement["krippendorff_alpha"] == pytest.approx(ag.krippendorff_alpha(units))
    assert agreement["fleiss_kappa"] == pytest.approx(ag.fleiss_kappa(units))
    assert agreement["krippendorff_alpha"] is not None and agreement["problem"] is None


def test_continuous_agreement(report):
    agreement = _config(report, "quality")["agreement"]
    assert agreement["level"] == "interval" and agreement["fleiss_kappa"] is None
    (pair,) = agreement["pairs"]
    assert pair["n"] == 3
    shared = [(2, 3), (5, 5), (7, 6)]
    assert pair["mean_abs_diff"] == pytest.approx(2 / 3)
    assert pair["pearson_r"] == pytest.approx(ag.pearson_r(shared))
    assert pair["krippendorff_alpha"] == pytest.approx(
        ag.krippendorff_alpha([list(p) for p in shared], "interval")
    )
    assert agreement["krippendorff_alpha"] == pytest.approx(pair["krippendorff_alpha"])
    assert pair["percent_agreement"] is None and pair["confusion"] is None


def test_human_vs_llm(report):
    config = _config(report, "correctness")
    vs = config["human_vs_machine"]
    assert [(p["rater_a"], p["rater_b"]) for p in vs] == [
        ("alice", "LLM judge-gpt4"), ("bob", "LLM judge-gpt4"), ("carol", "LLM judge-gpt4"),
    ]  # fmt: skip
    alice = vs[0]
    assert alice["n"] == 6
    assert alice["percent_agreement"] == pytest.approx(5 / 6)
    # by hand: (n * agree - S) / (n^2 - S), S = 3*4 + 2*2 = 16 -> (30 - 16) / (36 - 16)
    assert alice["cohen_kappa"] == pytest.approx(0.7)
    assert alice["confusion"] == {"labels": [C, I, P], "counts": [[3, 0, 0], [0, 2, 0], [1, 0, 0]]}
    assert vs[2]["n"] == 5
    # the LLM judge is not one of the humans whose group agreement is reported
    assert "LLM judge-gpt4" not in config["agreement"]["raters"]
    # no machine on quality; no human on the imported evals
    assert _config(report, "quality")["human_vs_machine"] == []
    assert _config(report, "hallucination")["human_vs_machine"] == []


def test_level_override_uses_scores(db):
    with Store.open(db, readonly=True) as store:
        report = compute_stats(store, names=["correctness"], level="interval")
    (config,) = report["configs"]
    agreement = config["agreement"]
    assert agreement["level"] == "interval" and agreement["fleiss_kappa"] is None
    score = {C: 1.0, I: 0.0, P: 0.5}  # the config's scores for the labels
    units = [
        [score[CORRECTNESS[w][i]] for w in CORRECTNESS if CORRECTNESS[w][i] is not None]
        for i in range(len(SPANS))
    ]
    expected = ag.krippendorff_alpha(units, "interval")
    assert agreement["krippendorff_alpha"] == pytest.approx(expected)
    assert _pair(agreement["pairs"], "alice", "bob")["cohen_kappa"] is None


def test_unknown_name_and_level(db):
    with Store.open(db, readonly=True) as store:
        with pytest.raises(StatsError, match="no config or annotation named 'nope'"):
            compute_stats(store, names=["nope"])
        with pytest.raises(StatsError, match="unknown level"):
            compute_stats(store, level="fuzzy")


def test_no_stored_configs_falls_back_to_annotation_names(tmp_path):
    path = build_db(tmp_path / "bare.db")
    with Store.open(path) as store:
        for who, labels in (("ann", ["good", "bad"]), ("ben", ["good", "good"])):
            for span, label in zip(["r1", "r3"], labels, strict=True):
                _add(store, name="verdict", span_id=span, label=label, identifier=who)
    with Store.open(path, readonly=True) as store:
        report = compute_stats(store)
    assert report["configs_source"] == "annotations"
    (config,) = report["configs"]
    assert (config["name"], config["type"], config["stored"]) == ("verdict", "CATEGORICAL", False)
    assert config["progress"]["applicable"] is None
    pair = config["agreement"]["pairs"][0]
    assert (pair["n"], pair["percent_agreement"]) == (2, 0.5)


# --- the command ---------------------------------------------------------------------------


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, ["stats", *args], env={"COLUMNS": "100"})


def test_json_output(db, report):
    result = _run("--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert data["format"] == "annotator-stats/1"
    assert set(data) == {
        "format", "database", "configs_source", "level", "where", "trace_where", "search", "totals",
        "annotators", "configs", "assignments",
    }  # fmt: skip
    config = next(c for c in data["configs"] if c["name"] == "correctness")
    assert set(config) == {
        "name", "type", "stored", "target", "span_kinds", "level", "annotations", "progress",
        "distribution", "agreement", "human_vs_machine", "final", "calibration",
    }  # fmt: skip
    agreement = config["agreement"]
    for key in ("n", "fleiss_kappa", "krippendorff_alpha", "pairs"):
        assert key in agreement
    pair_keys = {
        "rater_a", "rater_b", "n", "percent_agreement", "cohen_kappa", "krippendorff_alpha",
        "mean_abs_diff", "pearson_r", "confusion",
    }  # fmt: skip
    assert all(set(p) == pair_keys for p in agreement["pairs"] + config["human_vs_machine"])
    assert agreement["pairs"][0]["cohen_kappa"] == pytest.approx(5 / 11)
    comment = next(c for c in data["configs"] if c["name"] == "comment")
    assert comment["agreement"] is None and comment["level"] is None  # None -> null
    assert data["configs"] == orjson.loads(orjson.dumps(report["configs"]))


def test_json_name_filter(db):
    result = _run("--db", str(db), "--json", "--name", "quality")
    data = orjson.loads(result.output)
    assert [c["name"] for c in data["configs"]] == ["quality"]
    assert data["totals"]["annotations"] == 7


def test_rich_output(db):
    result = _run("--db", str(db))
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "Progress",
        "Annotators",
        "alice",
        "bob",
        "carol",
        "LLM judge-gpt4",
        "correctness",
        "Human vs LLM/CODE",
        "Cohen's κ",
        "Krippendorff's α",
        "0.455",
    ):
        assert text in out, text
    assert max(len(line) for line in out.splitlines()) <= 100


def test_bad_arguments_exit_2_with_one_line(db, tmp_path):
    for args in (
        ["--db", str(db), "--name", "nope"],
        ["--db", str(db), "--level", "fuzzy"],
        ["--db", str(tmp_path / "missing.db")],
    ):
        result = _run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output


HOSTILE_LABELS = ["[bold", "[@click=app.quit]x[/]", "[/]", "\x1b[2Jclear", "ok"]


def test_hostile_labels_and_names_render_literally(tmp_path):
    path = build_db(tmp_path / "hostile.db")
    with Store.open(path) as store:
        for who in ("[red]eve", "mallory[/]", "\x1b]0;title\x07zed"):
            for span, label in zip(SPANS[:5], HOSTILE_LABELS, strict=True):
                _add(store, name="[b]verdict", span_id=span, label=label, identifier=who)
        _add(
            store,
            name="[b]verdict",
            span_id="r1",
            label="[bold",
            annotator_kind="LLM",
            identifier="[link=http://x]j[/link]",
        )
    result = _run("--db", str(path))
    assert result.exit_code == 0, result.output
    out = result.output
    for text in (
        "[bold",
        "[@click=app.quit]x[/]",
        "[red]eve",
        "mallory[/]",
        "[b]verdict",
        "[link=http://x]j[/link]",
        "\\x1b[2Jclear",
    ):
        assert text in out, text
    assert "\x1b" not in out and "\x07" not in out  # escapes shown, never sent to the terminal
    data = orjson.loads(_run("--db", str(path), "--json").output)
    (config,) = data["configs"]
    assert config["distribution"]["labels"] == sorted(HOSTILE_LABELS)
    assert config["agreement"]["pairs"][0]["percent_agreement"] == 1.0


def test_empty_database(tmp_path):
    path = tmp_path / "empty.db"
    Store.open(path).close()
    data = orjson.loads(_run("--db", str(path), "--json").output)
    assert (data["configs"], data["annotators"]) == ([], [])
    result = _run("--db", str(path))
    assert result.exit_code == 0 and "Nothing to report" in result.output
