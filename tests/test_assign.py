"""`annotator assign`: exactly --per-item annotators per item, balanced loads, a pure function of
inputs and seed, --overlap-all, and a second run that never moves work already handed out; the
batches hold what their annotator needs and their queue is the assignment."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.cli.main import cli
from annotator.config import bundled_config_path, load_config
from annotator.model import Annotation
from annotator.resources import sample_trace_files
from annotator.store import QueueFilter, QueueState, Store
from annotator.team.assign import AssignError, Item, distribute
from tests.properties import examples

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank"]


def _items(count: int) -> list[Item]:
    return [Item(f"s{i:04d}", f"t{i // 3}") for i in range(count)]


def _loads(holders: dict[str, list[str]], annotators: list[str]) -> Counter:
    loads = Counter(dict.fromkeys(annotators, 0))
    for names in holders.values():
        loads.update(names)
    return loads


# --- the pure function ---------------------------------------------------------------------------


@settings(max_examples=examples(150), deadline=None)
@given(
    count=st.integers(0, 120),
    n=st.integers(1, 6),
    data=st.data(),
    seed=st.integers(0, 10**6),
)
def test_every_item_has_exactly_per_item_annotators_and_loads_are_balanced(
    count: int, n: int, data: st.DataObject, seed: int
) -> None:
    annotators = NAMES[:n]
    per_item = data.draw(st.integers(1, n))
    overlap = data.draw(st.integers(0, count))
    sample = data.draw(st.none() | st.integers(max(overlap, 1), max(count, 1)))
    result = distribute(
        _items(count),
        annotators,
        per_item=per_item,
        seed=seed,
        sample=sample,
        overlap_all=overlap,
    )
    selected = count if sample is None else min(sample, count)
    assert len(result.holders) == selected
    assert len(result.overlap) == overlap
    for item_id, names in result.holders.items():
        assert len(set(names)) == len(names)
        assert len(names) == (n if item_id in result.overlap else per_item)
    loads = _loads(result.holders, annotators)
    assert max(loads.values()) - min(loads.values()) <= 1
    # a pure function: the same inputs (in any order) give the same assignment
    again = distribute(
        list(reversed(_items(count))),
        annotators,
        per_item=per_item,
        seed=seed,
        sample=sample,
        overlap_all=overlap,
    )
    assert again.holders == result.holders and again.overlap == result.overlap


@settings(max_examples=examples(100), deadline=None)
@given(
    first=st.integers(1, 60),
    added=st.integers(0, 60),
    n=st.integers(2, 5),
    joined=st.integers(0, 2),
    data=st.data(),
)
def test_a_second_run_never_moves_work_already_handed_out(
    first: int, added: int, n: int, joined: int, data: st.DataObject
) -> None:
    annotators = NAMES[:n]
    per_item = data.draw(st.integers(1, n))
    raised = data.draw(st.integers(per_item, n))
    before = distribute(_items(first), annotators, per_item=per_item, seed=7)
    later = NAMES[: n + joined]
    after = distribute(
        _items(first + added),
        later,
        per_item=raised,
        seed=7,
        previous=before.holders,
        previous_items=before.items.values(),
    )
    for item_id, names in before.holders.items():
        assert set(names) <= set(after.holders[item_id])  # nothing taken away or moved
    assert {len(names) for names in after.holders.values()} == {raised}
    new = [i for i in after.holders if i not in before.holders]
    assert len(new) == added
    if raised == per_item:
        # new work goes to the least loaded: a newcomer (who starts with none) never ends
        # with more than one item above anyone
        loads = _loads(after.holders, later)
        for name in later[n:]:
            assert loads[name] <= min(loads.values()) + 1


def test_the_sample_grows_stably_with_n() -> None:
    small = distribute(_items(100), NAMES[:3], per_item=2, seed=3, sample=10)
    large = distribute(_items(100), NAMES[:3], per_item=2, seed=3, sample=20)
    assert set(small.holders) < set(large.holders)
    other_seed = distribute(_items(100), NAMES[:3], per_item=2, seed=4, sample=10)
    assert set(other_seed.holders) != set(small.holders)


def test_a_known_assignment_is_pinned() -> None:
    """Worked by hand: by sha256("0\\x00" + id) the items rank s0002, s0001, s0003, s0005,
    s0000, s0004 and the names (ties) alice, carol, bob. s0002 is the overlap item (loads
    1/1/1); then each item to the two least loaded: s0001 alice+carol, s0003 bob+alice,
    s0005 carol+bob, s0000 alice+carol, s0004 bob+alice (loads 5/5/4)."""
    result = distribute(_items(6), ["alice", "bob", "carol"], per_item=2, seed=0, overlap_all=1)
    assert result.overlap == {"s0002"}
    assert result.holders == {
        "s0002": ["alice", "bob", "carol"],
        "s0001": ["alice", "carol"],
        "s0003": ["alice", "bob"],
        "s0005": ["bob", "carol"],
        "s0000": ["alice", "carol"],
        "s0004": ["alice", "bob"],
    }


@pytest.mark.parametrize(
    ("annotators", "per_item", "message"),
    [
        ([], 1, "--annotators: give at least one name"),
        (["alice", "alice"], 1, "--annotators: 'alice' is given twice"),
        (["final"], 1, "--annotators: 'final' is reserved for final values"),
        (["../x"], 1, "--annotators: '../x' cannot name a batch file"),
        (["alice", "bob"], 3, "--per-item 3: must be between 1 and the number of annotators"),
    ],
)
def test_bad_arguments_are_one_line(annotators: list[str], per_item: int, message: str) -> None:
    with pytest.raises(AssignError, match="^" + message.replace("(", r"\(")):
        distribute(_items(3), annotators, per_item=per_item)


# --- the command ---------------------------------------------------------------------------------


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def team_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("team") / "team.db"
    result = run("import", *map(str, sample_trace_files()), "--db", str(path), "-q")
    assert result.exit_code == 0, result.output
    with Store.open(path) as store:
        store.save_config_document(load_config(str(bundled_config_path("default"))).to_document())
        # a judge's label, to be handed out with the traces
        span = store.connection.execute(
            "SELECT span_id FROM spans WHERE span_kind = 'LLM' ORDER BY span_id LIMIT 1"
        ).fetchone()[0]
        store.set_annotation(
            Annotation(
                name="correctness",
                span_id=span,
                label="correct",
                identifier="judge",
                annotator_kind="LLM",
            )
        )
        store.set_annotation(
            Annotation(name="correctness", span_id=span, label="incorrect", identifier="zed")
        )
    return path


@pytest.fixture
def team(team_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "team.db"
    path.write_bytes(team_template.read_bytes())
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_assign_writes_one_batch_per_annotator_holding_what_they_need(
    team: Path, tmp_path: Path
) -> None:
    out = tmp_path / "batches"
    result = run(
        "assign", "--db", str(team), "--annotators", "alice,bob,carol", "--per-item", "2",
        "--out", str(out), "--where", "span_kind == 'LLM'", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    llm_spans = _rows(team, "SELECT span_id, trace_id FROM spans WHERE span_kind = 'LLM'")
    assert report["candidates"] == report["selected"] == len(llm_spans) == 57
    assert [(b["annotator"], b["items"]) for b in report["batches"]] == [
        ("alice", 38),
        ("bob", 38),
        ("carol", 38),
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["campaign"] == report["campaign"]
    assert {len(item["annotators"]) for item in manifest["items"]} == {2}
    trace_of = dict(llm_spans)
    for name in ("alice", "bob", "carol"):
        batch = out / f"{name}.db"
        mine = sorted(i["id"] for i in manifest["items"] if name in i["annotators"])
        assert sorted(r[0] for r in _rows(batch, "SELECT item_id FROM assignments")) == mine
        # only the traces they need, whole
        traces = {trace_of[i] for i in mine}
        assert {r[0] for r in _rows(batch, "SELECT trace_id FROM traces")} == traces
        assert _rows(batch, "SELECT count(*) FROM spans") == _rows(
            team,
            "SELECT count(*) FROM spans WHERE trace_id IN "
            f"({','.join(repr(t) for t in sorted(traces))})",
        )
        # configs and guidelines come along, the judge's labels too, nobody else's
        with Store.open(batch, readonly=True) as store:
            with Store.open(team, readonly=True) as lead:
                assert store.load_config_document() == lead.load_config_document()
                assert store.config_times() == lead.config_times()
                assert store.guidelines_updated_at() == lead.guidelines_updated_at() != ""
            assert store.batch_owner() == name
            people = {r[0] for r in _rows(batch, "SELECT identifier FROM annotations")}
            assert "zed" not in people
            # the queue is the assignment
            configs = load_config(str(bundled_config_path("default"))).annotations
            todo = QueueFilter(state=QueueState.TODO)
            done, total = store.queue_progress(todo, configs, name)
            assert (done, total) == (0, len(mine))
            assert store.queue_progress(todo, configs, "zed")[1] > len(mine)


def test_a_second_assign_adds_annotators_and_items_and_keeps_what_was_done(
    team: Path, tmp_path: Path
) -> None:
    out = tmp_path / "batches"
    first = run(
        "assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "1",
        "--out", str(out), "--sample", "10", "--seed", "5",
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    manifest = json.loads((out / "manifest.json").read_text())
    before = {i["id"]: i["annotators"] for i in manifest["items"]}
    alice_item = next(i for i, names in before.items() if names == ["alice"])
    with Store.open(out / "alice.db") as store:
        store.set_annotation(
            Annotation(name="correctness", span_id=alice_item, label="correct", identifier="alice")
        )
    again = run(
        "assign", "--db", str(team), "--annotators", "alice,bob,carol", "--per-item", "1",
        "--out", str(out), "--sample", "16", "--seed", "5",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0].startswith("16 spans assigned (6 new; 84 candidates")
    manifest = json.loads((out / "manifest.json").read_text())
    after = {i["id"]: i["annotators"] for i in manifest["items"]}
    assert {k: after[k] for k in before} == before
    assert Counter(n for names in after.values() for n in names) == {
        "alice": 5,
        "bob": 5,
        "carol": 6,
    }
    # alice's work is still there, in her batch
    assert _rows(out / "alice.db", "SELECT label FROM annotations WHERE identifier = 'alice'") == [
        ("correct",)
    ]
    # the same command again changes nothing
    third = run(
        "assign", "--db", str(team), "--annotators", "alice,bob,carol", "--per-item", "1",
        "--out", str(out), "--sample", "16", "--seed", "5",
    )  # fmt: skip
    assert third.output.splitlines()[0].startswith("16 spans assigned (0 new;")


def test_assign_never_writes_into_a_database_that_is_not_its_batch(
    team: Path, tmp_path: Path
) -> None:
    out = tmp_path / "batches"
    out.mkdir()
    stranger = out / "alice.db"
    stranger.write_bytes(team.read_bytes())
    before = stranger.read_bytes()
    result = run(
        "assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "1",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{out}: holds databases (alice.db) but no manifest.json: not a campaign folder of "
        "assign; use an empty or new folder"
    ]
    assert stranger.read_bytes() == before
    # with a manifest of another campaign's folder: the file is checked for the campaign
    ok = tmp_path / "ok"
    assert run(
        "assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "1",
        "--out", str(ok),
    ).exit_code == 0  # fmt: skip
    (ok / "bob.db").unlink()
    (ok / "bob.db").write_bytes(before)
    result = run(
        "assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "1",
        "--out", str(ok),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "bob.db: a database that is not bob's batch of this campaign" in result.stderr
    assert (ok / "bob.db").read_bytes() == before


def test_trace_target_and_a_bad_filter(team: Path, tmp_path: Path) -> None:
    out = tmp_path / "traces"
    result = run(
        "assign", "--db", str(team), "--annotators", "alice,bob,carol", "--per-item", "2",
        "--out", str(out), "--target", "trace", "--overlap-all", "2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # 39 traces, one of which has no span a config applies to
    assert _rows(team, "SELECT count(*) FROM traces") == [(39,)]
    assert report["selected"] == 38
    assert report["overlap"] == 2
    assert [b["items"] for b in report["batches"]] == [26, 26, 26]  # 2 x 36 + 3 x 2 = 78
    bad = run(
        "assign", "--db", str(team), "--annotators", "alice", "--per-item", "1",
        "--out", str(tmp_path / "x"), "--where", "span_kind ==",
    )  # fmt: skip
    assert bad.exit_code == 2
    assert bad.stderr.startswith("--where: col ")
    assert not (tmp_path / "x").exists()
    other = run(
        "assign", "--db", str(team), "--annotators", "alice", "--per-item", "1",
        "--out", str(out),
    )  # fmt: skip
    assert other.exit_code == 2
    assert other.stderr.splitlines() == [
        f"{out / 'manifest.json'}: this campaign assigns traces; use --target trace or "
        "another --out folder"
    ]


def test_annotate_on_a_batch_is_its_owner_unless_told_otherwise(
    team: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator.app.app import AnnotatorApp

    started: list[str] = []

    def fake_run(app: AnnotatorApp) -> None:
        started.append(app.session.annotator)
        app.store.close()

    monkeypatch.setattr(AnnotatorApp, "run", fake_run)
    monkeypatch.delenv("ANNOTATOR_NAME", raising=False)
    out = tmp_path / "b"
    run("assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "1",
        "--out", str(out))  # fmt: skip
    assert run("annotate", "--db", str(out / "bob.db")).exit_code == 0
    other = run("annotate", "--db", str(out / "bob.db"), "--annotator", "zoe")
    assert other.exit_code == 0
    assert started == ["bob", "zoe"]
    assert (
        f"{out / 'bob.db'} is bob's batch; annotating as zoe, who has no assignment in it "
        "(every item is in the queue)"
    ) in other.stderr


def test_blind_leaves_the_judges_annotations_out_of_every_batch(team: Path, tmp_path: Path) -> None:
    judged = _rows(team, "SELECT span_id, trace_id FROM annotations WHERE identifier = 'judge'")
    assert len(judged) == 1
    span, trace = judged[0]
    for blind in (False, True):
        out = tmp_path / ("blind" if blind else "open")
        result = run(
            "assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "2",
            "--out", str(out), "--where", f"span_id == '{span}'",
            *(["--blind"] if blind else []),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        for name in ("alice", "bob"):
            batch = out / f"{name}.db"
            assert _rows(batch, "SELECT trace_id FROM traces") == [(trace,)]
            # the judge's label travels only without --blind; zed's (another rater) never
            assert _rows(
                batch, "SELECT identifier, annotator_kind, label FROM annotations ORDER BY id"
            ) == ([] if blind else [("judge", "LLM", "correct")])
        manifest = json.loads((out / "manifest.json").read_text())
        assert [r["blind"] for r in manifest["runs"]] == [blind]


def test_a_blind_campaign_stays_blind_when_run_again_without_blind(
    team: Path, tmp_path: Path
) -> None:
    span, trace = _rows(
        team, "SELECT span_id, trace_id FROM annotations WHERE identifier = 'judge'"
    )[0]
    other = _rows(
        team, f"SELECT span_id FROM spans WHERE span_kind = 'LLM' AND trace_id != '{trace}' LIMIT 1"
    )[0][0]
    out = tmp_path / "batches"
    for where, extra in ((f"span_id == '{other}'", ["--blind"]), (f"span_id == '{span}'", [])):
        result = run(
            "assign", "--db", str(team), "--annotators", "alice,bob", "--per-item", "2",
            "--out", str(out), "--where", where, *extra,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    for name in ("alice", "bob"):
        batch = out / f"{name}.db"
        assert len(_rows(batch, "SELECT trace_id FROM traces")) == 2  # the judged trace came too
        assert _rows(batch, "SELECT count(*) FROM annotations") == [(0,)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["blind"] for r in manifest["runs"]] == [True, True]
