"""`config check` warns where a valid config is not what Phoenix accepts, and says what push
sends instead (that the warnings are true is checked against a live Phoenix in
tests/phoenix/test_config_warnings.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.config import bundled_config_names, bundled_config_path, parse_config
from annotator.config import phoenix_warnings as warnings_of

HAND_WRITTEN = textwrap.dedent("""\
    annotations:
      - name: helpful
        type: categorical
        values: [yes, no, maybe, unsure]
      - name: quality
        type: continuous
        lower_bound: 0
        upper_bound: 5
        optimization_direction: maximize
      - {name: remark, type: freeform}
      - name: ok
        type: CATEGORICAL
        optimization_direction: MAXIMIZE
        values: [{label: good, score: 1}, bad]
    """)


def check(tmp_path: Path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path, CliRunner().invoke(cli, ["config", "check", str(path)])


def test_each_spelling_phoenix_refuses_is_one_warning_with_its_line(tmp_path: Path) -> None:
    path, result = check(tmp_path, HAND_WRITTEN)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{path}: ok, 4 annotation configs\n")
    p = f"{path}"
    assert result.stderr.splitlines() == [
        f"{p}:2: warning (Phoenix): config 'helpful': no optimization_direction, which Phoenix "
        "requires on CATEGORICAL configs; push sends 'NONE' (say MAXIMIZE or MINIMIZE if a "
        "higher or lower score is better)",
        f"{p}:3: warning (Phoenix): config 'helpful': type 'categorical' is read here, but "
        "Phoenix accepts only 'CATEGORICAL'; push sends 'CATEGORICAL'",
        f"{p}:4: warning (Phoenix): config 'helpful': 4 of its values are bare labels, which "
        "Phoenix does not accept (it wants {label, score} mappings); push sends "
        '[{"label":"yes"},{"label":"no"},{"label":"maybe"}, ... (4 values)]',
        f"{p}:6: warning (Phoenix): config 'quality': type 'continuous' is read here, but "
        "Phoenix accepts only 'CONTINUOUS'; push sends 'CONTINUOUS'",
        f"{p}:9: warning (Phoenix): config 'quality': optimization_direction 'maximize' is read "
        "here, but Phoenix accepts only 'MAXIMIZE'; push sends 'MAXIMIZE'",
        f"{p}:10: warning (Phoenix): config 'remark': type 'freeform' is read here, but Phoenix "
        "accepts only 'FREEFORM'; push sends 'FREEFORM'",
        f"{p}:14: warning (Phoenix): config 'ok': 1 of its values are bare labels, which "
        "Phoenix does not accept (it wants {label, score} mappings); push sends "
        '[{"label":"good","score":1.0},{"label":"bad"}]',
    ]


def test_a_config_in_phoenix_form_gets_no_warning(tmp_path: Path) -> None:
    _, result = check(
        tmp_path,
        "- {name: a, type: CATEGORICAL, optimization_direction: NONE, values: [{label: x}]}\n"
        "- {name: b, type: CONTINUOUS, optimization_direction: MINIMIZE}\n"
        "- {name: c, type: FREEFORM}\n",
    )
    assert (result.exit_code, result.stderr) == (0, "")


@pytest.mark.parametrize("name", bundled_config_names())
def test_the_bundled_configs_are_in_phoenix_form(name: str) -> None:
    path = bundled_config_path(name)
    text = path.read_text(encoding="utf-8")
    assert warnings_of(text, str(path), parse_config(text, str(path))) == []


def test_an_invalid_config_gets_its_errors_and_no_warnings(tmp_path: Path) -> None:
    _, result = check(tmp_path, "- {name: a, type: categorical, values: [x, x]}\n")
    assert result.exit_code == 2
    assert "warning" not in result.stderr
    assert "duplicate" in result.stderr
