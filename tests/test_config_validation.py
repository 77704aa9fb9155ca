"""annotator.config validates once, with pydantic, and still reports every problem at its line.

tests/test_config.py pins each message; these pin how validation is organised where a user can
see it: each config is validated once, a problem in one field does not hide the rules that do not
need that field, problems on one line come in a fixed order, and every form of file maps its
problems to the right lines.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from annotator.config import (
    AnnotationConfig,
    ConfigError,
    ConfigSet,
    parse_config,
    parse_config_document,
)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "c.yaml")
    return [str(problem) for problem in caught.value.problems]


# --------------------------------------------------------------------------------------------
# Once


def test_each_config_and_the_keys_map_are_validated_once(monkeypatch) -> None:
    from annotator.config import rules

    calls: dict[str, int] = {"values": 0, "keys": 0, "step": 0}

    def counting(name: str, function: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return function(*args, **kwargs)

        return counted

    monkeypatch.setattr(rules, "categorical_values", counting("values", rules.categorical_values))
    monkeypatch.setattr(rules, "key_remaps", counting("keys", rules.key_remaps))
    monkeypatch.setattr(rules, "continuous_step", counting("step", rules.continuous_step))
    configs = parse_config(
        textwrap.dedent("""
        annotations:
          - {name: a, type: categorical, values: [x, y]}
          - {name: b, type: categorical, values: [{label: z, key: l}]}
          - {name: c, type: continuous, lower_bound: 0, upper_bound: 1}
          - {name: d, type: freeform}
        keys: {next_span: [down, m]}
        """)
    )
    assert [c.name for c in configs.annotations] == ["a", "b", "c", "d"]
    assert calls == {"values": 2, "keys": 1, "step": 1}


# --------------------------------------------------------------------------------------------
# A problem in one place does not hide the others


def test_rules_across_fields_still_run_when_another_field_has_a_problem() -> None:
    assert problems("""
        annotations:
          - name: note
            colour: red
            type: continuous
            description: [not, text]
            lower_bound: 5
            upper_bound: 1
          - name: b
            type: categorical
            span_kinds: [LLM, retriver]
            values: [x, x]
            step: 1
    """) == [
        "c.yaml:3: the name 'note' is reserved for Phoenix span notes: pick another name",
        "c.yaml:4: unknown field 'colour': remove it (see configs/README.md)",
        "c.yaml:6: description must be text, not a list",
        "c.yaml:7: lower_bound (5) must be below upper_bound (1)",
        "c.yaml:11: unknown span kind 'retriver': did you mean 'RETRIEVER'?",
        "c.yaml:12: duplicate label 'x': labels must be unique",
        "c.yaml:13: step is only for CONTINUOUS annotations, not CATEGORICAL: remove it",
    ]


def test_value_keys_are_checked_against_the_remaps_that_could_be_read() -> None:
    # next_span's remap is good and frees j; the misspelt action is the only problem.
    assert problems("""
        annotations:
          - {name: a, type: categorical, values: [{label: x, key: j}]}
        keys:
          nxt_span: q
          next_span: [down, l]
    """) == ["c.yaml:5: unknown action 'nxt_span': did you mean 'next_span'?"]


def test_a_name_taken_by_a_config_with_other_problems_is_still_a_duplicate() -> None:
    assert problems("""
        - {name: a, type: bogus}
        - {name: a, type: continuous, step: 0}
    """) == [
        "c.yaml:2: unknown type 'bogus': use CATEGORICAL, CONTINUOUS or FREEFORM",
        "c.yaml:3: step must be positive, not 0",
        "c.yaml:3: duplicate name 'a' (also on line 2): names must be unique",
    ]


# --------------------------------------------------------------------------------------------
# Problems on one line (flow style, JSON)


def test_problems_on_one_line_come_in_the_order_of_the_checks() -> None:
    # For each config: unknown fields, each field's own value (in the documented order), fields
    # for another type, then values and range; after every config: names, then value keys.
    assert problems(
        "- {auto_advance: maybe, step: 1, values: [a, a, {label: b, key: j}], colour: red,"
        " type: categorical, name: note}\n"
        "- {name: c, type: categorical, values: [{label: x, key: k}]}\n"
        "- {name: c, type: bogus, upper_bound: 1, lower_bound: 5}\n"
    ) == [
        "c.yaml:1: unknown field 'colour': remove it (see configs/README.md)",
        "c.yaml:1: the name 'note' is reserved for Phoenix span notes: pick another name",
        "c.yaml:1: auto_advance must be true or false, not 'maybe'",
        "c.yaml:1: step is only for CONTINUOUS annotations, not CATEGORICAL: remove it",
        "c.yaml:1: duplicate label 'a': labels must be unique",
        (
            "c.yaml:1: key 'j' of label 'b' is already bound to action 'next_span': "
            "pick another key, or remap next_span under keys:"
        ),
        (
            "c.yaml:2: key 'k' of label 'x' is already bound to action 'prev_span': "
            "pick another key, or remap prev_span under keys:"
        ),
        "c.yaml:3: unknown type 'bogus': use CATEGORICAL, CONTINUOUS or FREEFORM",
        "c.yaml:3: lower_bound (5) must be below upper_bound (1)",
        "c.yaml:3: duplicate name 'c' (also on line 2): names must be unique",
    ]


def test_a_one_line_json_document_lists_the_keys_map_first_and_the_set_last() -> None:
    document = {
        "annotations": [
            {"name": "a", "type": "categorical", "values": [{"label": "x", "key": "j"}]},
            {"name": "a", "type": "freeform", "colour": 1, "step": 2},
        ],
        "keys": {"undo": "z", "redo": "z"},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config_document(document, "db")
    assert [str(problem) for problem in caught.value.problems] == [
        "db:1: key 'z' is bound to both 'redo' and 'undo': give one of them another key",
        "db:1: unknown field 'colour': remove it (see configs/README.md)",
        "db:1: step is only for CONTINUOUS annotations, not FREEFORM: remove it",
        "db:1: duplicate name 'a' (also on line 1): names must be unique",
        (
            "db:1: key 'j' of label 'x' is already bound to action 'next_span': "
            "pick another key, or remap next_span under keys:"
        ),
    ]


# --------------------------------------------------------------------------------------------
# Lines in every form a file may take


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # Phoenix's GET /v1/annotation_configs/{name}
            '{"data": {\n "name": "x",\n "type": "categorical",\n'
            ' "values": [{"label": "a", "score": "high"}]}}\n',
            ["c.json:4: score must be a number, not 'high'"],
        ),
        (  # Phoenix's GET /v1/annotation_configs
            '{"data": [\n {"name": "x", "type": "freeform"},\n {"name": "y", "type": "categorical",'
            '\n  "values": []}],\n "next_cursor": null}\n',
            ["c.json:4: values is empty: add at least one {label, score}"],
        ),
        (  # a Phoenix create body: one config on its own
            '{"name": "x",\n "type": "bogus"}\n',
            ["c.json:2: unknown type 'bogus': use CATEGORICAL, CONTINUOUS or FREEFORM"],
        ),
        (  # missing fields point at their config
            '[\n {"name": "x", "type": "freeform"},\n\n {"description": "no name"}\n]\n',
            [
                "c.json:4: missing name: give the annotation a name",
                "c.json:4: missing type: use CATEGORICAL, CONTINUOUS or FREEFORM",
            ],
        ),
    ],
    ids=["phoenix get one", "phoenix list", "create body", "bare list"],
)
def test_problems_have_the_line_of_their_node_in_every_form(text: str, expected: list) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.json")
    assert [str(problem) for problem in caught.value.problems] == expected


# --------------------------------------------------------------------------------------------
# Built in code


def test_a_set_checks_configs_built_on_their_own() -> None:
    with_j = AnnotationConfig(name="c", type="categorical", values=[{"label": "a", "key": "j"}])
    # j is next_span's unless the set moves next_span elsewhere
    configs = ConfigSet(annotations=[with_j], keys={"next_span": ["down", "l"]})
    assert configs.annotations == [with_j]
    with pytest.raises(ValueError, match="key 'j' of label 'a' is already bound"):
        ConfigSet(annotations=[with_j])
    # model_validate, without any context, applies the set's rules too
    with pytest.raises(ValueError, match="duplicate name 'c': names must be unique"):
        ConfigSet.model_validate({"annotations": [with_j, with_j], "keys": {"next_span": "l"}})


def test_validation_errors_of_models_built_in_code_name_the_field() -> None:
    with pytest.raises(ValueError) as caught:
        AnnotationConfig(name="x", type="continuous", lower_bound="low", colour="red")
    assert [(e["loc"], e["msg"]) for e in caught.value.errors()] == [  # type: ignore[attr-defined]
        (("colour",), "unknown field 'colour': remove it (see configs/README.md)"),
        (("lower_bound",), "lower_bound must be a number, not 'low'"),
    ]


# --------------------------------------------------------------------------------------------
# `annotator config check`, as a user runs it (the alias bomb: tests/test_config.py)


CHECKED_FILES = {
    "bad_type.yaml": (
        "annotations:\n  - name: quality\n    type: categoric\n    values: [good, bad]\n",
        ["bad_type.yaml:3: unknown type 'categoric': did you mean 'CATEGORICAL'?"],
    ),
    "duplicate_names.yaml": (
        "annotations:\n  - {name: quality, type: FREEFORM}\n  - {name: tone, type: FREEFORM}\n"
        "  - {name: quality, type: FREEFORM}\n",
        ["duplicate_names.yaml:4: duplicate name 'quality' (also on line 2): names must be unique"],
    ),
    "bad_bounds.yaml": (
        "annotations:\n  - name: score\n    type: CONTINUOUS\n    lower_bound: 10\n"
        "    upper_bound: 0\n",
        ["bad_bounds.yaml:4: lower_bound (10) must be below upper_bound (0)"],
    ),
    "bad_yaml.yaml": (
        "annotations:\n  - name: quality\n    type: [FREEFORM\n  - name: x\n",
        [
            "bad_yaml.yaml:4: YAML syntax error: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence)"
        ],
    ),
    "phoenix.json": (
        '{"data": [\n  {"id": "QW5u", "name": "correctness", "type": "CATEGORICAL",\n'
        '   "values": [{"label": "correct", "score": 1},\n'
        '              {"label": "correct", "score": 0}]}\n], "next_cursor": null}\n',
        ["phoenix.json:4: duplicate label 'correct': labels must be unique"],
    ),
    "bare_list.yaml": (
        "- name: thumbs\n  type: CATEGORICAL\n  values: [up, down]\n- name: remark\n"
        "  type: FREFORM\n",
        ["bare_list.yaml:5: unknown type 'FREFORM': did you mean 'FREEFORM'?"],
    ),
}


@pytest.mark.parametrize("name", list(CHECKED_FILES))
def test_config_check_prints_one_line_per_problem_and_exits_2(
    name: str, tmp_path, monkeypatch
) -> None:
    from click.testing import CliRunner

    from annotator.cli.main import cli

    text, expected = CHECKED_FILES[name]
    (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["config", "check", name])
    assert (result.exit_code, result.output.splitlines()) == (2, expected)


def test_config_check_of_a_good_phoenix_list_exits_0(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from annotator.cli.main import cli

    (tmp_path / "ok.json").write_text(
        '{"data": [{"id": "QW5u", "name": "helpfulness", "type": "CONTINUOUS",'
        ' "optimization_direction": "MAXIMIZE", "threshold": null,'
        ' "lower_bound": 0, "upper_bound": 1}], "next_cursor": null}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["config", "check", "ok.json"])
    assert (result.exit_code, result.output.splitlines()) == (
        0,
        [
            "ok.json: ok, 1 annotation config",
            "  helpfulness (CONTINUOUS, span)  0.0..1.0 step 0.1",
        ],
    )
