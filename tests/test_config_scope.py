"""`scope:` (our extension, default `all`): read in any case, refused with file:line when it is
not `all` or `outermost`, stored only when not the default, never sent to Phoenix."""

from __future__ import annotations

from pathlib import Path

from annotator.config import SpanScope, parse_config, parse_config_document
from tests.test_cli_validation import invoke

SCOPED = """annotations:
  - name: answer
    type: CATEGORICAL
    optimization_direction: NONE
    values: [{label: good}, {label: bad}]
    span_kinds: [LLM]
    scope: OUTERMOST
  - name: why
    type: FREEFORM
"""


def test_scope_is_read_and_stored_only_when_not_the_default() -> None:
    configs = parse_config(SCOPED, "scoped.yaml")
    answer, why = configs.annotations
    assert (answer.scope, why.scope) == (SpanScope.OUTERMOST, SpanScope.ALL)
    document = configs.to_document()
    assert document["annotations"][0]["scope"] == "outermost"
    assert "scope" not in document["annotations"][1]  # documents stored before stay unchanged
    assert parse_config_document(document, "stored").annotations == configs.annotations


def test_push_never_sends_scope() -> None:
    answer, why = parse_config(SCOPED).annotations
    assert answer.phoenix_body() == {
        "name": "answer",
        "type": "CATEGORICAL",
        "optimization_direction": "NONE",
        "values": [{"label": "good"}, {"label": "bad"}],
    }
    assert why.phoenix_body() == {"name": "why", "type": "FREEFORM"}


def test_config_check_accepts_scope_and_says_it(tmp_path: Path) -> None:
    path = tmp_path / "scoped.yaml"
    path.write_text(SCOPED)
    result = invoke("config", "check", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # no Phoenix warning: push leaves scope out
    assert "  answer (CATEGORICAL, span, outermost spans)  1=good  2=bad\n" in result.stdout
    assert "  why (FREEFORM, span)\n" in result.stdout


def test_config_check_refuses_a_bad_scope_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "annotations:\n"
        "  - name: answer\n"
        "    type: CATEGORICAL\n"
        "    values: [good, bad]\n"
        "    scope: outer\n"
        "  - name: why\n"
        "    type: FREEFORM\n"
        "    scope: [all]\n"
        "  - name: how\n"
        "    type: FREEFORM\n"
        "    scope: x\n"
    )
    result = invoke("config", "check", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"{path}:5: unknown scope 'outer': did you mean 'outermost'?\n"
        f"{path}:8: scope must be text, not a list\n"
        f"{path}:11: unknown scope 'x': use all or outermost\n"
    )


def test_the_guidelines_screen_says_a_config_is_for_outermost_spans() -> None:
    from annotator.app.screens.guidelines import config_summary

    answer, why = parse_config(SCOPED).annotations
    assert config_summary(answer, focused=True).plain.splitlines()[0] == (
        "▶ answer  categorical · outermost span of nested ones of a kind"
    )
    assert config_summary(why, focused=False).plain.splitlines()[0] == "  why  freeform"
