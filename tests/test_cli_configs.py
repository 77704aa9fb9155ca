"""`annotator.cli.configs`: the config file read once, and the check-then-write rule that
`annotate --config` and `config store` share."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from annotator.cli.main import cli

CONFIG = textwrap.dedent("""\
    annotations:
      - name: helpful
        type: categorical
        values: [yes, no]
    """)


def test_config_check_reads_and_parses_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation and the Phoenix warnings come from one reading: the warnings' lines are
    those of the text that was validated, even if the file changes meanwhile."""
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    composed: list[str] = []
    compose = yaml.compose

    def counting(stream, *args, **kwargs):  # type: ignore[no-untyped-def]
        composed.append(stream)
        return compose(stream, *args, **kwargs)

    monkeypatch.setattr(yaml, "compose", counting)
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: ok, 1 annotation config\n")
    assert f"{path}:3: warning (Phoenix): config 'helpful': type 'categorical'" in result.stderr
    assert composed == [CONFIG]


def test_config_store_refuses_a_change_then_stores_it_with_replace(tmp_path: Path) -> None:
    from annotator.store import Store

    db = tmp_path / "a.db"
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(CONFIG, encoding="utf-8")
    second.write_text(CONFIG.replace("[yes, no]", "[yes, no, maybe]"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "store", str(first), "--db", str(db)]).exit_code == 0
    again = runner.invoke(cli, ["config", "store", str(first), "--db", str(db)])
    assert again.stdout == f"{db} already stores these configs; nothing changed\n"
    refused = runner.invoke(cli, ["config", "store", str(second), "--db", str(db)])
    assert refused.exit_code == 2
    assert "nothing was changed. Add --replace-configs" in refused.stderr
    with Store.open(db, readonly=True) as store:
        assert len(store.load_config_document()["annotations"][0]["values"]) == 2
    replaced = runner.invoke(
        cli, ["config", "store", str(second), "--db", str(db), "--replace-configs"]
    )
    assert replaced.exit_code == 0, replaced.output
    with Store.open(db, readonly=True) as store:
        assert len(store.load_config_document()["annotations"][0]["values"]) == 3
