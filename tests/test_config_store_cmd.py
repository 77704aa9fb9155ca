"""`annotator config store` / `config show`: configs into and out of a database without the app
(a lead scripting `import` -> `config store` -> `assign`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.config import bundled_config_path, load_config, parse_config
from annotator.store import Store

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted(str(p) for p in (REPO / "sample_traces").glob("*.otlp.jsonl"))


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_store_then_assign_then_show_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    assert run("import", *SAMPLES, "--db", str(db)).exit_code == 0
    default = str(bundled_config_path("default"))
    stored = run("config", "store", default, "--db", str(db))
    assert (stored.exit_code, stored.stdout) == (0, f"{db}: 4 configs stored (from {default})\n")
    again = run("config", "store", default, "--db", str(db))
    assert again.stdout == f"{db} already stores these configs; nothing changed\n"
    with Store.open(db, readonly=True) as store:
        assert store.load_config_document() == load_config(default).to_document()
    batches = tmp_path / "batches"
    assigned = run(
        "assign", "--db", str(db), "--annotators", "a,b", "--per-item", "1", "--out", str(batches)
    )
    assert assigned.exit_code == 0, assigned.stderr
    shown = run("config", "show", "--db", str(batches / "a.db"))
    assert shown.exit_code == 0
    shown_configs = parse_config(shown.stdout, "shown.yaml")
    assert shown_configs.to_document() == load_config(default).to_document()


def test_a_change_needs_replace_configs_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    run("import", SAMPLES[0], "--db", str(db))
    run("config", "store", str(bundled_config_path("default")), "--db", str(db))
    before = digest(db)
    thumbs = str(bundled_config_path("thumbs"))
    refused = run("config", "store", thumbs, "--db", str(db))
    assert refused.exit_code == 2
    assert "Add --replace-configs to do it" in refused.stderr
    assert digest(db) == before
    replaced = run("config", "store", thumbs, "--db", str(db), "--replace-configs")
    assert replaced.exit_code == 0
    assert replaced.stdout.startswith(f"{db}: add user_feedback; drop correctness (0 annotations)")
    with Store.open(db, readonly=True) as store:
        assert store.load_config_document() == load_config(thumbs).to_document()


def test_bad_inputs_are_one_line(tmp_path: Path) -> None:
    missing = run("config", "show", "--db", str(tmp_path / "none.db"))
    assert (missing.exit_code, missing.stderr) == (2, f"{tmp_path / 'none.db'}: no such database\n")
    assert not (tmp_path / "none.db").exists()
    db = tmp_path / "b.db"
    run("import", SAMPLES[0], "--db", str(db))
    empty = run("config", "show", "--db", str(db))
    assert empty.exit_code == 2
    assert empty.stderr == f"{db} stores no configs; store some: annotator config store FILE\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: a, type: nope}\n", encoding="utf-8")
    before = digest(db)
    refused = run("config", "store", str(bad), "--db", str(db))
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"{bad}:1: ")
    assert digest(db) == before
