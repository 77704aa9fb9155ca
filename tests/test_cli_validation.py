"""Commands that fail change nothing: everything is checked before the database is touched, no
database is created unless something is written to it, stored configs are changed only on
purpose, and `demo --reset` deletes work only when the user said so."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from annotator.cli.main import cli
from annotator.config import load_config
from annotator.model import Annotation
from annotator.store import Store
from tests.app_data import CONFIG_YAML, build_db, config_set

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO / "sample_traces" / "chat.otlp.jsonl"


def invoke(*args: str, cwd: Path | None = None) -> Result:
    env = {"ANNOTATOR_DB": None, "COLUMNS": "200"}
    if cwd is None:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(previous)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def app_runs(monkeypatch: pytest.MonkeyPatch) -> list:
    """The app is not started: each would-be start is recorded (db path, configs, annotator)."""
    from annotator.app.app import AnnotatorApp

    started: list = []

    def run(app: AnnotatorApp) -> None:
        started.append((app.store.path, app.session.config_set, app.session.annotator))
        app.writer.stop()  # its own connection, as the app's exit does
        app.store.close()

    monkeypatch.setattr(AnnotatorApp, "run", run)
    return started


# --- checked first, nothing created --------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (tmp_path / "bad.yaml").write_text("annotations:\n  - name: q\n    type: CATEGORICL\n")
    return tmp_path


@pytest.mark.parametrize(
    "inputs, lines",
    [
        (["nosuch.jsonl"], ["nosuch.jsonl: no such file (nothing was imported)"]),
        (
            ["pic.png"],
            ["pic.png: not a trace file: binary data, not JSON text (nothing was imported)"],
        ),
        (
            [str(TRACES), "nosuch.jsonl", "pic.png"],
            [
                "nosuch.jsonl: no such file",
                "pic.png: not a trace file: binary data, not JSON text",
                "Nothing was imported: 2 of the files cannot be imported.",
            ],
        ),
    ],
)
def test_import_refuses_bad_files_before_creating_or_changing_a_database(
    files: Path, inputs: list[str], lines: list[str]
) -> None:
    result = invoke("import", *inputs, "--db", "new.db", cwd=files)
    assert (result.exit_code, result.stderr.splitlines()) == (2, lines)
    assert not (files / "new.db").exists()
    existing = build_db(files / "old.db")
    before = digest(existing)
    result = invoke("import", *inputs, "--db", "old.db", cwd=files)
    assert result.exit_code == 2
    assert digest(existing) == before


def test_annotate_with_a_bad_config_imports_nothing(files: Path, app_runs: list) -> None:
    result = invoke("annotate", str(TRACES), "--config", "bad.yaml", cwd=files)
    assert result.exit_code == 2
    assert result.stderr.startswith("bad.yaml:3: unknown type 'CATEGORICL'")
    assert not (files / "annotations.db").exists()
    existing = build_db(files / "annotations.db")
    before = digest(existing)
    result = invoke("annotate", str(TRACES), "--config", "bad.yaml", cwd=files)
    assert result.exit_code == 2
    assert digest(existing) == before and app_runs == []


def test_the_identifier_of_final_values_is_not_an_annotator_name(
    tmp_path: Path, app_runs: list
) -> None:
    db = build_db(tmp_path / "t.db")
    result = invoke("annotate", "--db", str(db), "--annotator", "final")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "--annotator final: the identifier of final values (a reviewer's or resolve's "
        "decisions), not a rater's name; choose another name"
    ]
    assert app_runs == []


def test_bare_annotate_in_an_empty_folder_creates_nothing(tmp_path: Path) -> None:
    result = invoke("annotate", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        (
            "annotations.db: no such database here; give trace files (annotator annotate FILE...) "
            "or the database (--db PATH)"
        )
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_file_of_bad_records_only_leaves_no_database(tmp_path: Path, app_runs: list) -> None:
    bad = tmp_path / "spans.jsonl"
    bad.write_text(
        '{"name": "a", "context": {"span_id": "s1"}}\n{"name": "b", "context": {"span_id": "s2"}}\n'
    )
    imported = invoke("import", str(bad), "--db", "x.db", cwd=tmp_path)
    assert imported.exit_code == 0, imported.stderr
    assert imported.stdout.startswith("Imported 0 new spans in 0 traces")
    assert imported.stdout.rstrip().endswith("2 problems. No database was created (x.db).")
    annotated = invoke("annotate", str(bad), "--db", "y.db", cwd=tmp_path)
    assert annotated.exit_code == 2
    assert annotated.stderr.splitlines()[-1].startswith("y.db: no spans to annotate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spans.jsonl"]
    assert app_runs == []


# --- stored configs change only on purpose -------------------------------------------------------

NEW_CONFIG = """
annotations:
  - name: correctness
    type: CATEGORICAL
    description: Is it right?
    optimization_direction: MAXIMIZE
    values:
      - {label: correct, score: 1}
      - {label: incorrect, score: 0}
    span_kinds: [LLM, CHAIN, AGENT]
    auto_advance: true
  - name: quality
    type: CONTINUOUS
    lower_bound: 0
    upper_bound: 10
    step: 1
    span_kinds: [LLM]
  - name: tone
    type: CATEGORICAL
    values: [friendly, rude]
"""


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A database annotated under the stored configs: 2 'partial' correctness labels, 3
    relevance labels, 1 comment."""
    db = build_db(tmp_path / "team.db")
    with Store.open(db) as store:
        store.save_config_document(config_set().to_document())
        for span, label in (("r1", "partial"), ("r3", "partial"), ("a2", "correct")):
            store.set_annotation(
                Annotation("correctness", span_id=span, label=label, identifier="ann")
            )
        for position in range(3):
            store.set_annotation(
                Annotation(
                    "relevance",
                    span_id="r2",
                    label="relevant",
                    target="document",
                    document_position=position,
                    identifier="ann",
                )
            )
        store.set_annotation(
            Annotation("comment", span_id="r3", explanation="hm", identifier="ann")
        )
    (tmp_path / "new.yaml").write_text(NEW_CONFIG)
    (tmp_path / "more.yaml").write_text(
        CONFIG_YAML + "  - name: tone\n    type: CATEGORICAL\n    values: [friendly, rude]\n"
    )
    (tmp_path / "same.yaml").write_text(CONFIG_YAML)
    return db


def stored_names(db: Path) -> list[str]:
    with Store.open(db, readonly=True) as store:
        return [c["name"] for c in store.load_config_document()["annotations"]]


def test_a_config_that_would_change_or_drop_stored_ones_is_refused_and_explained(
    stored: Path, app_runs: list
) -> None:
    before = digest(stored)
    result = invoke("annotate", "--db", "team.db", "--config", "new.yaml", cwd=stored.parent)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        (
            "new.yaml: would add tone; change correctness (description, values: labels 'partial' "
            "removed (2 annotations have them)); drop relevance (3 annotations), task_success (0 "
            "annotations), comment (1 annotation) in team.db's stored configs; nothing was "
            "changed. "
            "Add --replace-configs to do it (annotations under dropped names stay in the database)"
        )
    ]
    assert digest(stored) == before and app_runs == []


def test_replace_configs_applies_the_change_and_says_what_it_did(
    stored: Path, app_runs: list
) -> None:
    # definitions an earlier merge set aside: of names the file changes, drops, defines or
    # keeps, and of one only set aside ("extra", not in the file)
    aside = [
        {"name": name, "updated_at": "", "config": {"name": name, "type": "FREEFORM"}}
        for name in ("correctness", "extra", "quality", "relevance", "tone")
    ]
    with Store.open(stored) as store:
        store.save_config_document(store.load_config_document(), set_aside=aside)
    result = invoke(
        "annotate",
        "--db",
        "team.db",
        "--config",
        "new.yaml",
        "--replace-configs",
        "--annotator",
        "kim",
        cwd=stored.parent,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        (
            "Stored configs replaced: add tone; change correctness (description, values: labels "
            "'partial' removed (2 annotations have them)); drop relevance (3 annotations), "
            "task_success (0 annotations), comment (1 annotation); drop set-aside extra (0 "
            "annotations)."
        )
    ]
    assert stored_names(stored) == ["correctness", "quality", "tone"]
    with Store.open(stored, readonly=True) as store:  # the user's definitions win
        assert [entry["name"] for entry in store.load_config_set_aside()] == ["quality"]
    ((db, configs, who),) = app_runs
    assert (db.name, who) == (stored.name, "kim")
    assert [c.name for c in configs.annotations] == ["correctness", "quality", "tone"]
    with Store.open(stored, readonly=True) as store:  # the annotations themselves stay
        assert store.counts()["annotations"] == 7


def test_adding_configs_needs_no_flag_and_the_same_file_changes_nothing(
    stored: Path, app_runs: list
) -> None:
    result = invoke("annotate", "--db", "team.db", "--config", "more.yaml", cwd=stored.parent)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == ["Stored configs changed: add tone."]
    assert stored_names(stored)[-1] == "tone"
    saved = config_rows(stored)
    result = invoke("annotate", "--db", "team.db", "--config", "more.yaml", cwd=stored.parent)
    assert (result.exit_code, result.stderr) == (0, "")
    assert config_rows(stored) == saved  # not even written again
    with Store.open(stored, readonly=True) as store:
        document = store.load_config_document()
    assert document == load_config(stored.parent / "more.yaml").to_document()
    assert len(app_runs) == 2


def config_rows(db: Path) -> list[tuple]:
    with Store.open(db, readonly=True) as store:
        return store.connection.execute(
            "SELECT name, position, updated_at FROM annotation_configs ORDER BY name"
        ).fetchall()


# --- demo --reset ---------------------------------------------------------------------------------


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    db = build_db(tmp_path / "demo.db")
    with Store.open(db) as store:
        for span, who in (("r1", "alice"), ("r3", "alice"), ("a2", "bob")):
            store.set_annotation(
                Annotation("correctness", span_id=span, label="correct", identifier=who)
            )
    return db


def test_demo_reset_without_a_terminal_needs_yes(demo_db: Path, app_runs: list) -> None:
    before = digest(demo_db)
    result = invoke("demo", "--db", str(demo_db), "--reset")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        (
            f"--reset would delete {demo_db} with its 3 annotations (alice: 2, bob: 1); add --yes "
            "to "
            "confirm (there is no terminal to ask on). Nothing was deleted"
        )
    ]
    assert digest(demo_db) == before and app_runs == []
    result = invoke("demo", "--db", str(demo_db), "--reset", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"Deleted {demo_db} with its 3 annotations (alice: 2, bob: 1)."
    )
    with Store.open(demo_db, readonly=True) as store:  # started again from the samples
        assert store.counts()["annotations"] == 0 and store.counts()["spans"] > 0
    assert len(app_runs) == 1


def test_demo_reset_of_a_demo_never_run_just_starts_it(tmp_path: Path, app_runs: list) -> None:
    fresh = tmp_path / "share" / "annotator" / "demo.db"  # not even its folder exists yet
    result = invoke("demo", "--db", str(fresh), "--reset")
    assert result.exit_code == 0, result.stderr
    assert len(app_runs) == 1 and fresh.exists()


def test_demo_reset_never_deletes_a_file_that_is_not_ours(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    other.write_text("my notes\n")
    result = invoke("demo", "--db", str(other), "--reset", "--yes")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{other}: a text file, not an annotator database"]
    assert other.read_text() == "my notes\n"


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
@pytest.mark.parametrize("answer", ["n", "y"])
def test_demo_reset_asks_on_a_terminal(demo_db: Path, answer: str) -> None:
    from tests.test_app_process import Terminal

    terminal = Terminal(
        [sys.executable, "-m", "annotator", "demo", "--db", str(demo_db), "--reset"],
        cwd=demo_db.parent,
    )
    try:
        terminal.read_until(
            f"--reset deletes {demo_db} with its 3 annotations (alice: 2, bob: 1). "
            "Delete it? [y/N]: ".encode()
        )
        terminal.send(answer + "\r")
        if answer == "n":
            terminal.read_until(b"Nothing was deleted.")
            assert terminal.process.wait(timeout=30) == 1
        else:
            terminal.read_until(b"next to do")  # deleted, samples imported, the app is up
            assert f"Deleted {demo_db} with its 3 annotations".encode() in terminal.output
            terminal.send("q")
            terminal.read_until(b"annotations by")
            assert terminal.process.wait(timeout=30) == 0
    finally:
        if terminal.process.poll() is None:
            terminal.kill()
    with Store.open(demo_db, readonly=True) as store:
        assert store.counts()["annotations"] == (3 if answer == "n" else 0)


@pytest.mark.parametrize(
    "made, said",
    [
        ((0, 0), "0 annotations by alice are saved in "),
        ((1, 0), "1 annotation by alice is saved in "),
        ((2, 1), "2 annotations and 1 note by alice are saved in "),
        ((1, 3), "1 annotation and 3 notes by alice are saved in "),
    ],
)
def test_the_exit_line_counts_annotations_and_notes_apart(
    app_runs: list, tmp_path: Path, made: tuple[int, int], said: str
) -> None:
    from annotator.model import NOTE_NAME, Annotation
    from annotator.store import Store

    db = tmp_path / "a.db"
    assert invoke("import", str(TRACES), "--db", str(db)).exit_code == 0
    annotations, notes = made
    with Store.open(db) as store:
        span = store.connection.execute("SELECT span_id FROM spans LIMIT 1").fetchone()[0]
        for i in range(annotations):
            store.set_annotation(Annotation(name=f"c{i}", span_id=span, identifier="alice"))
        for i in range(notes):  # as the app writes them: an identifier of their own, the author
            store.set_annotation(Annotation(name=NOTE_NAME, span_id=span, explanation=f"n{i}",
                identifier=f"px-span-note:{i}", metadata={"author": "alice"}))  # fmt: skip
        # someone else's annotation and note are not alice's
        store.set_annotation(Annotation(name="c", span_id=span, identifier="bob"))
        store.set_annotation(Annotation(name=NOTE_NAME, span_id=span, explanation="b",
            identifier="px-span-note:b", metadata={"author": "bob"}))  # fmt: skip
    result = invoke("annotate", "--db", str(db), "--annotator", "alice")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{said}{db}\n"
