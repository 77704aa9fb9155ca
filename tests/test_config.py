"""annotator.config: loading, defaults, validation (with line numbers), arithmetic, export."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
import yaml
from pydantic import ValidationError

from annotator import keymap as km
from annotator.config import (
    AnnotationConfig,
    AnnotationType,
    CategoricalValue,
    ConfigError,
    ConfigProblem,
    ConfigSet,
    OptimizationDirection,
    bundled_config_names,
    bundled_config_path,
    keys_table_markdown,
    load_config,
    parse_config,
)
from annotator.model import SpanKind, Target

REPO = Path(__file__).resolve().parents[1]
BUNDLED = [
    "default",
    "thumbs",
    "correctness",
    "hallucination",
    "retrieval_relevance",
    "tool_calls",
    "quality",
]


def parse(text: str) -> ConfigSet:
    return parse_config(textwrap.dedent(text), "c.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return [str(problem) for problem in caught.value.problems]


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------------------------
# Bundled configs


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_config_loads(name: str) -> None:
    path = bundled_config_path(name)
    assert path == REPO / "configs" / f"{name}.yaml"
    configs = load_config(path)
    assert configs.annotations
    assert configs.source == str(path)
    assert path.read_text().startswith("#"), "each bundled config starts with a header comment"


def test_bundled_names_match_the_files() -> None:
    assert sorted(BUNDLED) == bundled_config_names()
    assert sorted(BUNDLED) == sorted(p.stem for p in (REPO / "configs").glob("*.yaml"))


def test_bundled_config_path_accepts_suffix_and_reports_missing() -> None:
    assert bundled_config_path("thumbs.yaml") == bundled_config_path("thumbs")
    assert bundled_config_path() == bundled_config_path("default")
    with pytest.raises(FileNotFoundError, match="bundled: correctness, default"):
        bundled_config_path("nope")


def test_default_config_fits_rag_and_agent_traces() -> None:
    configs = load_config(bundled_config_path())
    correctness = configs.by_name("correctness")
    assert correctness is not None and correctness.auto_advance
    for kind in ("LLM", "AGENT"):
        assert correctness.applies_to("span", kind)
    # LangChain wraps every step in a CHAIN span: judging each of them would bury the model calls.
    assert not correctness.applies_to("span", "CHAIN")
    assert not correctness.applies_to("span", "RETRIEVER")
    relevance = configs.by_name("relevance")
    assert relevance is not None and relevance.target == Target.DOCUMENT
    assert relevance.applies_to("document", "RETRIEVER")
    assert not relevance.applies_to("span", "RETRIEVER")
    quality = configs.by_name("quality")
    assert quality is not None
    assert (quality.lower_bound, quality.upper_bound, quality.step) == (0, 10, 1)
    comment = configs.by_name("comment")
    assert comment is not None and comment.type == AnnotationType.FREEFORM
    assert comment.applies_to("span", "TOOL") and comment.applies_to("span", "RETRIEVER")


def test_bundled_lookup_prefers_the_wheel_copy(tmp_path, monkeypatch) -> None:
    import annotator.config.bundled as bundled_module

    wheel = tmp_path / "annotator"
    (wheel / "_bundled" / "configs").mkdir(parents=True)
    (wheel / "_bundled" / "configs" / "default.yaml").write_text("- {name: x, type: freeform}\n")
    monkeypatch.setattr(bundled_module, "_PACKAGE", wheel)
    assert bundled_config_path() == wheel / "_bundled" / "configs" / "default.yaml"
    assert bundled_config_names() == ["default"]


# --------------------------------------------------------------------------------------------
# Phoenix's own bodies (phoenix_api_examples.md section 1, Phoenix 20.26.1) load unchanged

PHOENIX_CREATE_CATEGORICAL = """
{
  "name": "correctness",
  "type": "CATEGORICAL",
  "description": "Is the answer correct?",
  "optimization_direction": "MAXIMIZE",
  "values": [
    {
      "label": "correct",
      "score": 1
    },
    {
      "label": "incorrect",
      "score": 0
    }
  ]
}
"""
PHOENIX_CREATE_CONTINUOUS = """
{
  "name": "helpfulness",
  "type": "CONTINUOUS",
  "description": "0..1 helpfulness",
  "optimization_direction": "MAXIMIZE",
  "lower_bound": 0,
  "upper_bound": 1
}
"""
PHOENIX_CREATE_FREEFORM = """
{
  "name": "reviewer_notes",
  "type": "FREEFORM",
  "description": "Free text notes"
}
"""
PHOENIX_LIST = """
{
  "data": [
    {
      "name": "reviewer_notes",
      "type": "FREEFORM",
      "description": "Free text notes",
      "optimization_direction": null,
      "threshold": null,
      "lower_bound": null,
      "upper_bound": null,
      "id": "RnJlZWZvcm1Bbm5vdGF0aW9uQ29uZmlnOjQ="
    },
    {
      "name": "helpfulness",
      "type": "CONTINUOUS",
      "description": "0..1 helpfulness",
      "optimization_direction": "MAXIMIZE",
      "lower_bound": 0.0,
      "upper_bound": 1.0,
      "id": "Q29udGludW91c0Fubm90YXRpb25Db25maWc6Mw=="
    },
    {
      "name": "correctness",
      "type": "CATEGORICAL",
      "description": "Is the answer correct?",
      "optimization_direction": "MAXIMIZE",
      "values": [
        {
          "label": "correct",
          "score": 1.0
        },
        {
          "label": "incorrect",
          "score": 0.0
        }
      ],
      "id": "Q2F0ZWdvcmljYWxBbm5vdGF0aW9uQ29uZmlnOjI="
    },
    {
      "name": "user_feedback",
      "type": "CATEGORICAL",
      "description": "User feedback labels for traces.",
      "optimization_direction": "MAXIMIZE",
      "values": [
        {
          "label": "positive",
          "score": 1.0
        },
        {
          "label": "negative",
          "score": 0.0
        }
      ],
      "id": "Q2F0ZWdvcmljYWxBbm5vdGF0aW9uQ29uZmlnOjE="
    }
  ],
  "next_cursor": null
}
"""
PHOENIX_GET_ONE = """
{
  "data": {
    "name": "correctness",
    "type": "CATEGORICAL",
    "description": "Is the answer correct?",
    "optimization_direction": "MAXIMIZE",
    "values": [
      {
        "label": "correct",
        "score": 1.0
      },
      {
        "label": "incorrect",
        "score": 0.0
      }
    ],
    "id": "Q2F0ZWdvcmljYWxBbm5vdGF0aW9uQ29uZmlnOjI="
  }
}
"""


@pytest.mark.parametrize(
    "body", [PHOENIX_CREATE_CATEGORICAL, PHOENIX_CREATE_CONTINUOUS, PHOENIX_CREATE_FREEFORM]
)
def test_phoenix_create_body_loads_and_exports_back_exactly(body: str) -> None:
    configs = parse_config(body)
    assert len(configs.annotations) == 1
    assert configs.annotations[0].phoenix_body() == json.loads(body)
    # also accepted inside an annotations: list and as a bare list
    assert parse_config(f'{{"annotations": [{body}]}}').annotations == configs.annotations
    assert parse_config(f"[{body}]").annotations == configs.annotations


def test_phoenix_list_response_loads_ignoring_id_and_threshold() -> None:
    configs = parse_config(PHOENIX_LIST, "phoenix.json")
    assert [c.name for c in configs.annotations] == [
        "reviewer_notes",
        "helpfulness",
        "correctness",
        "user_feedback",
    ]
    notes, helpfulness, correctness, feedback = configs.annotations
    assert notes.type == AnnotationType.FREEFORM and notes.optimization_direction is None
    assert helpfulness.step == pytest.approx(0.1)
    assert [v.label for v in correctness.values] == ["correct", "incorrect"]
    assert [v.key for v in feedback.values] == ["1", "2"]
    for raw, config in zip(json.loads(PHOENIX_LIST)["data"], configs.annotations, strict=True):
        expected = {k: v for k, v in raw.items() if k not in ("id", "threshold") and v is not None}
        assert config.phoenix_body() == expected


def test_phoenix_response_nulls_load() -> None:
    """A live Phoenix 20.26.1 also returns "description": null and "score": null."""
    body = (
        '{"data": [{"name": "k1", "type": "CATEGORICAL", "description": null,'
        ' "optimization_direction": "NONE", "values": [{"label": "a", "score": null}],'
        ' "id": "Q2F0ZWdvcmljYWxBbm5vdGF0aW9uQ29uZmlnOjM="}], "next_cursor": null}'
    )
    (config,) = parse_config(body).annotations
    assert config.description is None and config.values[0].score is None
    assert config.phoenix_body() == {
        "name": "k1",
        "type": "CATEGORICAL",
        "optimization_direction": "NONE",
        "values": [{"label": "a"}],
    }


def test_phoenix_get_one_response_loads() -> None:
    configs = parse_config(PHOENIX_GET_ONE)
    assert configs.by_name("correctness").optimization_direction == OptimizationDirection.MAXIMIZE


def test_phoenix_body_fills_the_direction_phoenix_requires() -> None:
    configs = parse("""
        annotations:
          - {name: a, type: categorical, values: [x]}
          - {name: b, type: continuous}
          - {name: c, type: freeform, optimization_direction: maximize}
    """)
    a, b, c = configs.annotations
    assert a.phoenix_body() == {
        "name": "a",
        "type": "CATEGORICAL",
        "optimization_direction": "NONE",
        "values": [{"label": "x"}],
    }
    assert b.phoenix_body() == {"name": "b", "type": "CONTINUOUS", "optimization_direction": "NONE"}
    assert c.phoenix_body() == {
        "name": "c",
        "type": "FREEFORM",
        "optimization_direction": "MAXIMIZE",
    }


def test_phoenix_body_has_no_extensions() -> None:
    configs = load_config(bundled_config_path())
    for config in configs.annotations:
        body = config.phoenix_body()
        assert not {"step", "target", "span_kinds", "auto_advance", "key"} & set(body)
        for value in body.get("values", []):
            assert set(value) <= {"label", "score"}


# --------------------------------------------------------------------------------------------
# Defaults and accepted spellings


def test_defaults() -> None:
    config = parse("""
        annotations:
          - name: c
            type: categorical
            values: [{label: a}, {label: b, key: 1}, {label: c}]
    """).annotations[0]
    assert [(v.label, v.score, v.key) for v in config.values] == [
        ("a", None, "2"),
        ("b", None, "1"),
        ("c", None, "3"),
    ]
    assert config.target == Target.SPAN and config.span_kinds is None and not config.auto_advance
    assert config.optimization_direction == OptimizationDirection.NONE
    assert config.step is None and config.description is None


@pytest.mark.parametrize(
    ("bounds", "step"),
    [
        ("lower_bound: 0\n    upper_bound: 10", 1),
        ("lower_bound: 1\n    upper_bound: 6", 1),
        ("lower_bound: -5\n    upper_bound: 5", 1),
        ("lower_bound: 0\n    upper_bound: 1", 0.1),
        ("lower_bound: 1\n    upper_bound: 5", 1),  # a 1-5 Likert scale steps by 1
        ("lower_bound: 0\n    upper_bound: 3", 0.3),  # whole but under 4 apart: a tenth
        ("lower_bound: 0\n    upper_bound: 0.5", 0.05),
        ("lower_bound: 0.5\n    upper_bound: 10.5", 1.0),
        ("lower_bound: 0\n    upper_bound: 100", 1),
        ("lower_bound: 0", 1),
        ("upper_bound: 3", 1),
        ("lower_bound: null\n    upper_bound: null", 1),
        ("", 1),
    ],
)
def test_default_step(bounds: str, step: float) -> None:
    text = f"- name: s\n  type: continuous\n  {bounds.replace(chr(10) + '    ', chr(10) + '  ')}\n"
    config = parse_config(text).annotations[0]
    assert config.step == pytest.approx(step)


def test_case_insensitive_enums_and_span_kinds() -> None:
    config = parse("""
        - name: x
          type: Categorical
          optimization_direction: minimize
          target: TRACE
          span_kinds: [llm, Chain, llm]
          values: [a]
    """).annotations[0]
    assert config.type == AnnotationType.CATEGORICAL
    assert config.optimization_direction == OptimizationDirection.MINIMIZE
    assert config.target == Target.TRACE
    assert config.span_kinds == (SpanKind.LLM, SpanKind.CHAIN)


def test_single_span_kind_may_be_written_without_a_list() -> None:
    config = parse("- {name: x, type: freeform, span_kinds: tool}").annotations[0]
    assert config.span_kinds == (SpanKind.TOOL,)


def test_document_target_defaults_to_retriever_spans() -> None:
    configs = parse("""
        - {name: rel, type: categorical, target: document, values: [relevant, irrelevant]}
        - {name: rel2, type: categorical, target: document, values: [yes], span_kinds: [LLM]}
    """)
    rel, rel2 = configs.annotations
    assert rel.span_kinds == (SpanKind.RETRIEVER, SpanKind.RERANKER)
    assert rel.applies_to("document", "retriever") and rel.applies_to("Document", "RERANKER")
    assert not rel.applies_to("document", "LLM")
    assert rel2.span_kinds == (SpanKind.LLM,)


def test_applies_to() -> None:
    config = parse("- {name: x, type: freeform, span_kinds: [LLM, UNKNOWN]}").annotations[0]
    assert config.applies_to("span", "LLM") and config.applies_to(Target.SPAN, "llm")
    assert config.applies_to("span", "no-such-kind")  # unknown kinds are UNKNOWN
    assert not config.applies_to("trace", "LLM")
    assert not config.applies_to("bogus", "LLM")
    everywhere = parse("- {name: y, type: freeform}").annotations[0]
    assert everywhere.applies_to("span", "RETRIEVER") and not everywhere.applies_to(
        "session", "LLM"
    )


def test_yaml_text_fields_keep_their_text() -> None:
    """YAML 1.1 would read `yes` as true and `1.10` as 1.1; labels and names are text."""
    config = parse("""
        - name: 2024
          type: categorical
          description: 3.10
          values: [yes, no, {label: on, score: 1}, 1.10, null_ish]
    """).annotations[0]
    assert config.name == "2024" and config.description == "3.10"
    assert [v.label for v in config.values] == ["yes", "no", "on", "1.10", "null_ish"]


def test_yaml_anchors_and_merge_keys() -> None:
    configs = parse("""
        annotations:
          - name: a
            <<: &base {type: categorical, values: [good, bad], auto_advance: true}
          - {name: b, <<: *base}
    """)
    assert [c.name for c in configs.annotations] == ["a", "b"]
    assert configs.annotations[1].auto_advance


def test_keys_remap() -> None:
    configs = parse("""
        annotations:
          - {name: x, type: categorical, values: [{label: a, key: j}, {label: b, key: k}]}
        keys:
          next_span: [down, l]
          prev_span: W
          next_trace: "Ctrl+N"
          help: "?"
    """)
    assert configs.keys == {
        "next_span": ("down", "l"),
        "prev_span": ("W",),
        "next_trace": ("ctrl+n",),
        "help": ("question_mark",),
    }
    keymap = configs.keymap()
    assert keymap["next_span"] == ("down", "l")
    assert keymap["prev_trace"] == ("left_square_bracket",)  # untouched default
    assert km.key_owners(keymap).get("j") is None


def test_key_normalisation() -> None:
    configs = parse("""
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a, key: "["}
              - {label: b, key: "Ctrl+Y"}
              - {label: c, key: 0}
              - {label: d, key: "ctrl+]"}
              - {label: e, key: F5}
              - {label: f, key: " "}
              - {label: g, key: A}
              - {label: h, key: "+"}
        keys:  # free "[", ctrl+y and space for the values above
          prev_trace: "{"
          redo: U
          toggle: enter
    """)
    config = configs.annotations[0]
    assert [v.key for v in config.values] == [
        "left_square_bracket",
        "ctrl+y",
        "0",
        "ctrl+right_square_bracket",
        "f5",
        "space",
        "A",
        "plus",
    ]
    assert configs.keys["prev_trace"] == ("left_curly_bracket",)
    # redo owns U and ctrl+y by default; the remap above is what freed ctrl+y
    with pytest.raises(ConfigError, match="already bound to action 'redo'"):
        parse("- {name: x, type: categorical, values: [{label: b, key: ctrl+Y}]}")


def test_shifted_letters_are_spelt_as_textual_reports_them() -> None:
    assert km.normalise_key("shift+u") == "U" and km.normalise_key("Shift+U") == "U"
    assert km.normalise_key("alt+U") == "alt+shift+u" and km.normalise_key("ctrl+U") == "ctrl+u"
    # so a value on shift+u collides with redo's U, as it would at the keyboard
    assert one_problem("- {name: x, type: categorical, values: [{label: a, key: shift+u}]}") == (
        "c.yaml:1: key 'U' of label 'a' is already bound to action 'redo': "
        "pick another key, or remap redo under keys:"
    )


def test_json_escaped_astral_characters_survive() -> None:
    """json.dumps writes emoji as escaped surrogate pairs, which YAML alone would split."""
    document = {"annotations": [{"name": "vibe 😀", "type": "categorical", "values": ["👍", "👎"]}]}
    configs = parse_config(json.dumps(document))
    assert configs.annotations[0].name == "vibe 😀"
    assert [v.label for v in configs.annotations[0].values] == ["👍", "👎"]
    assert parse_config(json.dumps(configs.to_document())).annotations == configs.annotations


def test_value_for_key() -> None:
    configs = parse("""
        annotations: [{name: x, type: categorical, values: [a, {label: b, key: '['}]}]
        keys: {prev_trace: p}
    """)
    config = configs.annotations[0]
    assert config.value_for_key("1").label == "a"
    assert config.value_for_key("[").label == "b"
    assert config.value_for_key("left_square_bracket").label == "b"
    assert config.value_for_key("2") is None
    assert config.value_for_key("ctrl+nonsense") is None


# --------------------------------------------------------------------------------------------
# Continuous arithmetic


def continuous(lower, upper, step=None) -> AnnotationConfig:
    return AnnotationConfig(
        name="s", type="continuous", lower_bound=lower, upper_bound=upper, step=step
    )


def test_step_score_first_press_on_an_unscored_item() -> None:
    quality = continuous(0, 10)
    assert quality.step_score(None, -1) == 0
    assert quality.step_score(None, 1) == 1
    assert quality.step_score(None, -10) == 0
    assert quality.step_score(None, 10) == 10  # shift: ten steps
    assert quality.step_score(None, 20) == 10  # clamped
    likert = continuous(1, 5, step=1)
    assert likert.step_score(None, -1) == 1 and likert.step_score(None, 1) == 2


def test_step_score_moves_and_clamps() -> None:
    quality = continuous(0, 10)
    assert quality.step_score(5, 1) == 6
    assert quality.step_score(5, -1) == 4
    assert quality.step_score(5, 10) == 10
    assert quality.step_score(5, -10) == 0
    assert quality.step_score(10, 1) == 10
    assert quality.step_score(0, -1) == 0


def test_step_score_rounds_away_float_noise() -> None:
    unit = continuous(0, 1)
    assert 0.1 + 0.2 != 0.3
    assert unit.step_score(0.2, 1) == 0.3
    assert unit.step_score(0.1 + 0.2, 1) == 0.4
    score = None
    seen = []
    for _ in range(12):
        score = unit.step_score(score, 1)
        seen.append(score)
    assert seen == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0]
    for _ in range(12):
        score = unit.step_score(score, -1)
    assert score == 0.0
    assert unit.step_score(0.7, -10) == 0.0
    assert continuous(-0.3, 0.3, 0.1).step_score(-0.3, 3) == 0.0  # not 5.5e-17


def test_step_score_snaps_off_grid_scores() -> None:
    quality = continuous(0, 10)
    assert quality.step_score(3.4, 1) == 4
    assert quality.step_score(3.4, -1) == 3
    assert quality.step_score(3.4, 10) == 10
    assert quality.step_score(12, -1) == 10  # outside the bounds (set elsewhere): back inside


def test_step_score_unbounded() -> None:
    open_ended = parse("- {name: s, type: continuous}").annotations[0]
    assert open_ended.step == 1
    assert open_ended.step_score(None, -1) == 0 and open_ended.step_score(None, 3) == 3
    assert open_ended.step_score(-7, -10) == -17 and open_ended.step_score(2.5, 1) == 3
    below_zero = continuous(None, -2, 0.5)
    assert below_zero.step_score(None, 1) == -2  # 0 stands in for the missing lower bound, clamped


def test_step_score_refuses_non_continuous() -> None:
    config = parse("- {name: x, type: freeform}").annotations[0]
    with pytest.raises(ValueError, match="not a CONTINUOUS"):
        config.step_score(None, 1)


def test_clamp() -> None:
    quality = continuous(0, 10)
    assert quality.clamp(-3) == 0 and quality.clamp(11) == 10 and quality.clamp(4.5) == 4.5
    assert continuous(None, None).clamp(1e9) == 1e9
    assert continuous(2, None).clamp(1) == 2


# --------------------------------------------------------------------------------------------
# Round trip


def test_round_trip_of_every_bundled_config() -> None:
    for name in BUNDLED:
        configs = load_config(bundled_config_path(name))
        document = configs.to_document()
        again = parse_config(json.dumps(document), "<db>")
        assert again.annotations == configs.annotations
        assert again.keys == configs.keys
        assert parse_config(yaml.safe_dump(document)).annotations == configs.annotations
        assert json.loads(json.dumps(document)) == document


def test_round_trip_keeps_keys_and_defaults() -> None:
    configs = parse(
        """
        annotations:
          - {name: c, type: categorical, target: document, values: [a, {label: b, key: "["}]}
          - {name: s, type: continuous, lower_bound: 0, upper_bound: 1}
        keys:
          next_trace: ctrl+n
          prev_trace: [ctrl+p2, ctrl+b]
    """.replace("ctrl+p2, ", "")
    )
    document = configs.to_document()
    assert document["keys"] == {"next_trace": ["ctrl+n"], "prev_trace": ["ctrl+b"]}
    assert document["annotations"][0]["span_kinds"] == ["RETRIEVER", "RERANKER"]
    assert document["annotations"][1]["step"] == pytest.approx(0.1)
    again = parse_config(json.dumps(document))
    assert again.annotations == configs.annotations and again.keys == configs.keys


# --------------------------------------------------------------------------------------------
# Direct construction (for other modules and their tests)


def test_direct_construction_fills_defaults_and_validates() -> None:
    config = AnnotationConfig(
        name="c", type="categorical", values=[{"label": "a"}, CategoricalValue(label="b")]
    )
    assert [v.key for v in config.values] == ["1", "2"]
    with pytest.raises(ValueError, match="lower_bound \\(5\\) must be below upper_bound \\(1\\)"):
        AnnotationConfig(name="s", type="continuous", lower_bound=5, upper_bound=1)
    with pytest.raises(ValueError, match="duplicate name 'c'"):
        ConfigSet(annotations=[config, config])
    with pytest.raises(ValueError, match="already bound to action 'next_span'"):
        ConfigSet(
            annotations=[
                AnnotationConfig(name="c", type="categorical", values=[{"label": "a", "key": "j"}])
            ]
        )
    configs = ConfigSet(annotations=[config], keys={"next_span": "l"})
    assert configs.keys == {"next_span": ("l",)} and configs.source == "<config>"


def test_models_are_immutable() -> None:
    config = parse("- {name: x, type: freeform}").annotations[0]
    with pytest.raises(ValidationError):
        config.name = "y"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Validation: every case, with its line


def test_problem_and_error_formatting() -> None:
    assert str(ConfigProblem("a.yaml", 3, "bad")) == "a.yaml:3: bad"
    assert str(ConfigProblem("a.yaml", None, "bad")) == "a.yaml: bad"
    error = ConfigError([ConfigProblem("a.yaml", 9, "second"), ConfigProblem("a.yaml", 2, "first")])
    assert str(error) == "a.yaml:2: first\na.yaml:9: second"
    assert isinstance(error, Exception)


CASES = [
    # (id, yaml, expected "file:line: message")
    (
        "duplicate name",
        """
        annotations:
          - {name: q, type: freeform}
          - name: q
            type: freeform
        """,
        "c.yaml:4: duplicate name 'q' (also on line 3): names must be unique",
    ),
    (
        "reserved note",
        """
        annotations:
          - name: Note
            type: freeform
        """,
        "c.yaml:3: the name 'Note' is reserved for Phoenix span notes: pick another name",
    ),
    (
        "empty name",
        """
        annotations:
          - type: freeform
            name: ""
        """,
        "c.yaml:4: name is empty: give the annotation a name",
    ),
    (
        "missing name",
        """
        annotations:
          - type: freeform
            description: hi
        """,
        "c.yaml:3: missing name: give the annotation a name",
    ),
    (
        "missing type",
        """
        annotations:
          - name: x
        """,
        "c.yaml:3: missing type: use CATEGORICAL, CONTINUOUS or FREEFORM",
    ),
    (
        "empty label",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a}
              - {label: "  "}
        """,
        "c.yaml:7: label is empty: give each value a label",
    ),
    (
        "missing label",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a}
              - {score: 1}
        """,
        "c.yaml:7: missing label: give each value a label",
    ),
    (
        "duplicate label",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - label: a
              - label: b
              - label: a
        """,
        "c.yaml:8: duplicate label 'a': labels must be unique",
    ),
    (
        "categorical without values",
        """
        annotations:
          - name: x
            type: categorical
        """,
        "c.yaml:3: a CATEGORICAL annotation needs values: add a list of {label, score}",
    ),
    (
        "categorical with empty values",
        """
        annotations:
          - name: x
            type: categorical
            values: []
        """,
        "c.yaml:5: values is empty: add at least one {label, score}",
    ),
    (
        "values not a list",
        """
        annotations:
          - name: x
            type: categorical
            values: {label: a}
        """,
        "c.yaml:5: values must be a list of {label, score} entries",
    ),
    (
        "lower >= upper",
        """
        annotations:
          - name: x
            type: continuous
            upper_bound: 1
            lower_bound: 5
        """,
        "c.yaml:6: lower_bound (5) must be below upper_bound (1)",
    ),
    (
        "lower == upper",
        """
        annotations:
          - {name: x, type: continuous, lower_bound: 2.5, upper_bound: 2.5}
        """,
        "c.yaml:3: lower_bound (2.5) must be below upper_bound (2.5)",
    ),
    (
        "step zero",
        """
        annotations:
          - name: x
            type: continuous
            step: 0
        """,
        "c.yaml:5: step must be positive, not 0",
    ),
    (
        "step negative",
        """
        annotations:
          - name: x
            type: continuous
            lower_bound: 0
            upper_bound: 1
            step: -0.1
        """,
        "c.yaml:7: step must be positive, not -0.1",
    ),
    (
        "step larger than range",
        """
        annotations:
          - name: x
            type: continuous
            lower_bound: 0
            upper_bound: 10
            step: 20
        """,
        "c.yaml:7: step 20 is larger than the range 0..10: use a smaller step",
    ),
    (
        "step does not divide",
        """
        annotations:
          - name: x
            type: continuous
            lower_bound: 0
            upper_bound: 10
            step: 3
        """,
        (
            "c.yaml:7: step 3 does not divide the range 0..10 into whole steps: "
            "use a step that divides 10"
        ),
    ),
    (
        # 0.3 - 0.1 is 0.19999999999999998 in floats: the message says what the user reads
        "step does not divide a decimal range",
        """
        annotations:
          - name: x
            type: continuous
            lower_bound: 0.1
            upper_bound: 0.3
            step: 0.15
        """,
        (
            "c.yaml:7: step 0.15 does not divide the range 0.1..0.3 into whole steps: "
            "use a step that divides 0.2"
        ),
    ),
    (
        "more than 9 values without keys",
        """
        annotations:
          - name: x
            type: categorical
            values: [a, b, c, d, e, f, g, h, i,
                     j]
        """,
        (
            "c.yaml:6: no free digit key left for label 'j': "
            "give it a key (only 1-9 are assigned automatically)"
        ),
    ),
    (
        "explicit digit shrinks the pool",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: z, key: 5}
              - a
              - b
              - c
              - d
              - e
              - f
              - g
              - h
              - i
        """,
        (
            "c.yaml:15: no free digit key left for label 'i': "
            "give it a key (only 1-9 are assigned automatically)"
        ),
    ),
    (
        "keys collide within a config",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a, key: y}
              - {label: b, key: Y}
              - {label: c,
                 key: y}
        """,
        "c.yaml:9: key 'y' is already used by label 'a': give this value another key",
    ),
    (
        "value key collides with an action key",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - label: a
                key: j
        """,
        (
            "c.yaml:7: key 'j' of label 'a' is already bound to action 'next_span': "
            "pick another key, or remap next_span under keys:"
        ),
    ),
    (
        "value key collides with a remapped action key",
        """
        annotations:
          - name: x
            type: categorical
            values: [a, b]
        keys:
          help: "2"
        """,
        (
            "c.yaml:5: key '2' of label 'b' is already bound to action 'help': "
            "pick another key, or remap help under keys:"
        ),
    ),
    (
        "value key is reserved",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a, key: Esc}
        """,
        "c.yaml:6: key 'escape' is reserved by the app: pick another key",
    ),
    (
        "unparseable value key",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a, key: hyper+banana}
        """,
        "c.yaml:6: unknown key 'hyper+banana': write a key like j, ctrl+y or '['",
    ),
    (
        "keys: unknown action",
        """
        annotations:
          - {name: x, type: freeform}
        keys:
          nxt_span: s
        """,
        "c.yaml:5: unknown action 'nxt_span': did you mean 'next_span'?",
    ),
    (
        "keys: two actions onto one key",
        """
        annotations:
          - {name: x, type: freeform}
        keys:
          undo: z
          redo: z
        """,
        "c.yaml:6: key 'z' is bound to both 'undo' and 'redo': give one of them another key",
    ),
    (
        "keys: remap onto a default key",
        """
        annotations:
          - {name: x, type: freeform}
        keys:
          note: [m, j]
        """,
        "c.yaml:5: key 'j' is bound to both 'next_span' and 'note': give one of them another key",
    ),
    (
        "keys: unparseable key",
        """
        annotations:
          - {name: x, type: freeform}
        keys:
          undo:
            - z
            - ctrl+
        """,
        "c.yaml:7: 'ctrl+' is not a key: write a key like j, ctrl+y or '['",
    ),
    (
        "keys: reserved key",
        """
        annotations:
          - {name: x, type: freeform}
        keys:
          quit: ctrl+c
        """,
        "c.yaml:5: key 'ctrl+c' is reserved by the app: pick another key",
    ),
    (
        "keys: empty",
        """
        annotations:
          - {name: x, type: freeform}
        keys:
          quit: []
        """,
        "c.yaml:5: give at least one key for 'quit'",
    ),
    (
        "keys: not a mapping",
        """
        annotations:
          - {name: x, type: freeform}
        keys: [j, k]
        """,
        "c.yaml:4: keys must be a mapping of action: key, e.g. {next_span: j}",
    ),
    (
        "unknown type with suggestion",
        """
        annotations:
          - name: x
            type: categorial
        """,
        "c.yaml:4: unknown type 'categorial': did you mean 'CATEGORICAL'?",
    ),
    (
        "unknown type",
        """
        annotations:
          - name: x
            type: BOOLEAN
        """,
        "c.yaml:4: unknown type 'BOOLEAN': use CATEGORICAL, CONTINUOUS or FREEFORM",
    ),
    (
        "unknown direction",
        """
        annotations:
          - name: x
            type: freeform
            optimization_direction: maximise
        """,
        "c.yaml:5: unknown optimization_direction 'maximise': did you mean 'MAXIMIZE'?",
    ),
    (
        "unknown target",
        """
        annotations:
          - name: x
            type: freeform
            target: spans
        """,
        "c.yaml:5: unknown target 'spans': did you mean 'span'?",
    ),
    (
        "unknown target, no suggestion",
        """
        annotations:
          - name: x
            type: freeform
            target: project
        """,
        "c.yaml:5: unknown target 'project': use span, trace, document or session",
    ),
    (
        "unknown span kind",
        """
        annotations:
          - name: x
            type: freeform
            span_kinds:
              - LLM
              - retriver
        """,
        "c.yaml:7: unknown span kind 'retriver': did you mean 'RETRIEVER'?",
    ),
    (
        "empty span kinds",
        """
        annotations:
          - name: x
            type: freeform
            span_kinds: []
        """,
        "c.yaml:5: span_kinds is empty: list span kinds, or remove it to mean all kinds",
    ),
    (
        "unknown field with suggestion",
        """
        annotations:
          - name: x
            type: continuous
            lower_bond: 0
        """,
        "c.yaml:5: unknown field 'lower_bond': did you mean 'lower_bound'?",
    ),
    (
        "unknown field",
        """
        annotations:
          - name: x
            type: freeform
            colour: red
        """,
        "c.yaml:5: unknown field 'colour': remove it (see configs/README.md)",
    ),
    (
        "unknown value field",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - label: a
                scor: 1
        """,
        "c.yaml:7: unknown field 'scor': did you mean 'score'?",
    ),
    (
        "unknown top-level field",
        """
        annotations:
          - {name: x, type: freeform}
        key: {undo: z}
        """,
        "c.yaml:4: unknown field 'key': did you mean 'keys'?",
    ),
    (
        "score not a number",
        """
        annotations:
          - name: x
            type: categorical
            values:
              - {label: a, score: high}
        """,
        "c.yaml:6: score must be a number, not 'high'",
    ),
    (
        "bound is a boolean",
        """
        annotations:
          - name: x
            type: continuous
            lower_bound: yes
        """,
        "c.yaml:5: lower_bound must be a number, not true",
    ),
    (
        "bound is infinite",
        """
        annotations:
          - name: x
            type: continuous
            upper_bound: .inf
        """,
        "c.yaml:5: upper_bound must be a finite number, not inf",
    ),
    (
        "auto_advance not a boolean",
        """
        annotations:
          - name: x
            type: categorical
            values: [a]
            auto_advance: sometimes
        """,
        "c.yaml:6: auto_advance must be true or false, not 'sometimes'",
    ),
    (
        "name not text",
        """
        annotations:
          - name: [a, b]
            type: freeform
        """,
        "c.yaml:3: name must be text, not a list",
    ),
    (
        "values on continuous",
        """
        annotations:
          - name: x
            type: continuous
            values:
              - a
        """,
        "c.yaml:5: values is only for CATEGORICAL annotations, not CONTINUOUS: remove it",
    ),
    (
        "bounds on categorical",
        """
        annotations:
          - name: x
            type: categorical
            values: [a]
            upper_bound: 1
        """,
        "c.yaml:6: upper_bound is only for CONTINUOUS annotations, not CATEGORICAL: remove it",
    ),
    (
        "step on freeform",
        """
        annotations:
          - name: x
            type: freeform
            step: 1
        """,
        "c.yaml:5: step is only for CONTINUOUS annotations, not FREEFORM: remove it",
    ),
    (
        "values on freeform",
        """
        annotations:
          - name: x
            type: freeform
            values: [a]
        """,
        "c.yaml:5: values is only for CATEGORICAL annotations, not FREEFORM: remove it",
    ),
    (
        "auto_advance on continuous",
        """
        annotations:
          - name: x
            type: continuous
            auto_advance: true
        """,
        "c.yaml:5: auto_advance is only for CATEGORICAL annotations, not CONTINUOUS: remove it",
    ),
    (
        "annotation not a mapping",
        """
        annotations:
          - {name: x, type: freeform}
          - just a string
        """,
        "c.yaml:4: each annotation must be a mapping with a name and a type, not 'just a string'",
    ),
    (
        "annotations not a list",
        """
        annotations: correctness
        """,
        "c.yaml:2: annotations must be a list of annotation configs",
    ),
    (
        "annotations empty",
        """
        annotations: []
        """,
        "c.yaml:2: annotations is empty: add at least one annotation config",
    ),
    (
        "no annotations",
        """
        # nothing but a keys map
        keys: {undo: z}
        """,
        "c.yaml:3: no annotations: list: add one (see configs/README.md)",
    ),
    (
        "misspelt annotations",
        """
        annotation:
          - {name: x, type: freeform}
        """,
        "c.yaml:2: unknown field 'annotation': did you mean 'annotations'?",
    ),
    (
        "top level is a scalar",
        """
        hello
        """,
        "c.yaml:2: expected a mapping with an annotations: list, not 'hello'",
    ),
    (
        "top level is an empty list",
        """
        []
        """,
        "c.yaml:2: the list is empty: add at least one annotation config",
    ),
    (
        "duplicate field",
        """
        annotations:
          - name: x
            type: freeform
            name: y
        """,
        "c.yaml:5: duplicate field 'name': keep only one",
    ),
    (
        "yaml syntax error",
        """
        annotations:
          - name: x
            type: freeform
           bad: indent
        """,
        (
            "c.yaml:5: YAML syntax error: expected <block end>, but found '<block mapping start>' "
            "(while parsing a block collection)"
        ),
    ),
    (
        "unclosed flow",
        """
        annotations:
          - {name: x, type: freeform
        """,
        (
            "c.yaml:4: YAML syntax error: expected ',' or '}', but got '<stream end>' "
            "(while parsing a flow mapping)"
        ),
    ),
    (
        "tab indentation",
        "annotations:\n\t- {name: x, type: freeform}\n",
        (
            "c.yaml:2: YAML syntax error: found character '\\t' that cannot start any token "
            "(while scanning for the next token)"
        ),
    ),
    (
        "two documents",
        """
        - {name: x, type: freeform}
        ---
        - {name: y, type: freeform}
        """,
        (
            "c.yaml:3: YAML syntax error: expected a single document in the stream, "
            "but found another document"
        ),
    ),
    (
        "empty file",
        "",
        "c.yaml:1: the file is empty: add an annotations: list (see configs/README.md)",
    ),
    (
        "only comments",
        "# nothing yet\n",
        "c.yaml:1: the file is empty: add an annotations: list (see configs/README.md)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_case(text: str, expected: str) -> None:
    assert one_problem(text) == expected


def test_freeform_accepts_what_phoenix_returns_but_not_values() -> None:
    parse(
        "- {name: x, type: freeform, lower_bound: null, upper_bound: null, threshold: null,"
        " values: null}"
    )
    # Phoenix stores bounds sent with a FREEFORM config and returns them: accepted, ignored.
    config = parse("- {name: x, type: freeform, lower_bound: 0, upper_bound: 1}").annotations[0]
    assert (config.lower_bound, config.upper_bound) == (None, None)
    assert problems("- {name: x, type: freeform, values: [a]}") == [
        "c.yaml:1: values is only for CATEGORICAL annotations, not FREEFORM: remove it",
    ]


def test_step_tolerates_float_error() -> None:
    config = parse(
        "- {name: x, type: continuous, lower_bound: 0, upper_bound: 0.3, step: 0.1}"
    ).annotations[0]
    assert config.step == 0.1
    parse("- {name: x, type: continuous, lower_bound: 0.1, upper_bound: 0.7, step: 0.2}")
    parse("- {name: x, type: continuous, lower_bound: 0, upper_bound: 1, step: 1}")  # step == range


def test_several_errors_are_all_reported_in_line_order() -> None:
    found = problems("""
        annotations:
          - name: note
            type: categoricl
            lower_bond: 3
          - name: a
            type: continuous
            lower_bound: 5
            upper_bound: 1
          - name: a
            type: categorical
            values:
              - {label: x, score: high}
              - {label: x, key: j}
              - {label: y, key: escape}
              - {label: z, key: ctrl+foo}
        keys:
          nxt_span: j
          note: x
    """)
    assert found == [
        "c.yaml:3: the name 'note' is reserved for Phoenix span notes: pick another name",
        "c.yaml:4: unknown type 'categoricl': did you mean 'CATEGORICAL'?",
        "c.yaml:5: unknown field 'lower_bond': did you mean 'lower_bound'?",
        "c.yaml:8: lower_bound (5) must be below upper_bound (1)",
        "c.yaml:10: duplicate name 'a' (also on line 6): names must be unique",
        "c.yaml:13: score must be a number, not 'high'",
        "c.yaml:14: duplicate label 'x': labels must be unique",
        (
            "c.yaml:14: key 'j' of label 'x' is already bound to action 'next_span': "
            "pick another key, or remap next_span under keys:"
        ),
        "c.yaml:15: key 'escape' is reserved by the app: pick another key",
        "c.yaml:16: unknown key 'ctrl+foo': write a key like j, ctrl+y or '['",
        "c.yaml:18: unknown action 'nxt_span': did you mean 'next_span'?",
        "c.yaml:19: key 'x' is bound to both 'clear' and 'note': give one of them another key",
    ]


def test_remapping_frees_a_default_key_for_a_value() -> None:
    configs = parse("""
        annotations:
          - {name: x, type: categorical, values: [{label: a, key: j}, {label: b, key: k}]}
        keys:
          next_span: [down, l]
          prev_span: [up, w]
    """)
    assert configs.annotations[0].value_for_key("j").label == "a"


def test_value_keys_may_repeat_across_configs() -> None:
    configs = parse("""
        - {name: x, type: categorical, values: [a, b]}
        - {name: y, type: categorical, values: [c, d]}
    """)
    assert [v.key for c in configs.annotations for v in c.values] == ["1", "2", "1", "2"]


def test_json_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            '{\n  "annotations": [\n    {"name": "x", "type": "FREEFORM"},,\n  ]\n}', "c.json"
        )
    (problem,) = caught.value.problems
    assert problem.file == "c.json" and problem.line == 3
    assert problem.message.startswith("YAML syntax error")


def test_unreadable_character() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("annotations:\n  - name: x\u0007\n", "c.yaml")
    assert str(caught.value) == "c.yaml:2: unreadable character '\\x07': remove it"


def test_unsupported_tag() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("- {name: !!python/object x, type: freeform}", "c.yaml")
    assert caught.value.problems[0].line == 1
    assert "unsupported YAML value" in caught.value.problems[0].message


def test_recursive_alias_does_not_hang() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("&a [*a]", "c.yaml")
    assert "recursive YAML alias" in str(caught.value)


def _alias_bomb(levels: int) -> str:
    """A "billion laughs" document: each anchor repeats the previous one nine times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join([*lines, f"annotations: *a{levels}", ""])


def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_bound() -> None:
    # a4 repeats 66,430 values, a5 597,871: line 6 crosses the 100,000 bound. Without the
    # bound, ten levels ran 48 s and ended in MemoryError.
    with pytest.raises(ConfigError) as caught:
        parse_config(_alias_bomb(5), "bomb.yaml")
    assert str(caught.value) == (
        "bomb.yaml:6: the YAML expands to more than 100,000 values (aliases are counted as "
        "what they repeat): write the values out, or use fewer aliases"
    )


def test_aliases_below_the_bound_still_work() -> None:
    shared = "- {name: c0, type: categorical, values: &v [good, bad, {label: meh, score: 0.5}]}\n"
    reuse = "- {{name: c{}, type: categorical, values: *v}}\n"
    text = shared + "".join(reuse.format(i) for i in range(1, 9))
    configs = parse_config(text).annotations
    assert [c.name for c in configs] == [f"c{i}" for i in range(9)]
    assert [v.label for v in configs[8].values] == ["good", "bad", "meh"]


# The documents are written when the test runs, not as every xdist worker imports this module
# to collect the suite.
@pytest.mark.parametrize(
    ("write", "line"),
    [
        (lambda: "annotations: " + "[" * 10_000 + "]" * 10_000, 1),  # flow: one line
        # block: 1,000 levels (1 MB; 10,000 made 100 MB) still overflow PyYAML's recursion
        (lambda: "annotations:\n" + "".join("  " * i + "-\n" for i in range(1_000)), 65),
        (lambda: "- " + "{a: " * 10_000 + "1" + "}" * 10_000, 1),
    ],
    ids=["flow", "block", "mappings"],
)
def test_deep_nesting_is_refused_with_its_line(write: Callable[[], str], line: int) -> None:
    # Without the bound: RecursionError (an internal error, exit code 1).
    with pytest.raises(ConfigError) as caught:
        parse_config(write(), "deep.yaml")
    assert str(caught.value) == (
        f"deep.yaml:{line}: nested more than 64 levels deep (counting what aliases repeat): "
        "a config needs a few levels"
    )


def test_aliases_cannot_stack_depth_past_the_bound() -> None:
    # Each anchor is 40 levels deep and nests the previous one: 3 x 40 levels once expanded.
    deep = "[" * 39 + "{}" + "]" * 39
    text = (
        f"a: &a {deep}\n"
        f"b: &b {'[' * 39}*a{']' * 39}\n"
        f"c: &c {'[' * 39}*b{']' * 39}\n"
        "annotations: []\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    assert [(p.line, p.message.split(" (")[0]) for p in caught.value.problems] == [
        (2, "nested more than 64 levels deep")
    ]


def test_config_check_of_an_alias_bomb_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from annotator.cli.main import cli

    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(5), encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{path}:6: the YAML expands to more than 100,000 values (aliases are counted as what "
        + "they repeat): write the values out, or use fewer aliases"
    ]


# --------------------------------------------------------------------------------------------
# load_config


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("- {name: x, type: freeform}\n", encoding="utf-8")
    assert load_config(path).source == str(path)
    assert load_config(str(path)).annotations[0].name == "x"


def test_load_config_reports_problems_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("- {name: x, type: freefrom}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}:1: unknown type 'freefrom': did you mean 'FREEFORM'?"


def test_load_config_unreadable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"{missing}: cannot read the config: No such file or directory"
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(binary)


# --------------------------------------------------------------------------------------------
# Documentation and keymap


def test_readme_keys_table_is_generated_from_the_actions() -> None:
    readme = (REPO / "configs" / "README.md").read_text(encoding="utf-8")
    assert keys_table_markdown() in readme
    for action in km.ACTIONS:
        assert f"`{action.id}`" in readme


def test_readme_examples_load() -> None:
    readme = (REPO / "configs" / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```yaml\n")[1:]
    assert blocks
    for block in blocks:
        text = block.split("```", 1)[0]
        if "# invalid" in text:
            with pytest.raises(ConfigError):
                parse_config(text, "README.md")
        else:
            parse_config(text, "README.md")


def test_readme_invalid_example_gives_the_messages_shown() -> None:
    readme = (REPO / "configs" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Validation messages", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0].strip().splitlines()
    with pytest.raises(ConfigError) as caught:
        parse_config(example, "my.yaml")
    assert [str(problem) for problem in caught.value.problems] == shown


def test_default_keymap_has_no_collisions_or_reserved_keys() -> None:
    owners = km.key_owners(km.default_keymap())
    assert all(len(actions) == 1 for actions in owners.values())
    assert not set(owners) & km.RESERVED_KEYS
    assert not set(owners) & set("123456789")  # the default value keys stay free


# --- the YAML reader: libyaml's parser where it reads as PyYAML does -----------------------------
# Texts the two read differently are the explicit examples of
# tests/test_config_property.py::test_libyaml_reads_config_texts_as_pyyaml_does.


def _document(text: str) -> tuple[object, object, object]:
    from annotator.config.source import Plain, read_document

    def plain(value: object) -> object:
        if isinstance(value, Plain):
            return ("Plain", value.value, value.text, type(value.value))
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return (value, type(value))

    try:
        document = read_document(text, "c.yaml")
    except ConfigError as error:
        return ("error", str(error), None)
    return plain(document.data), document.lines, document.problems


def read_both_ways(text: str) -> tuple[object, object]:
    """What read_document makes of `text` with PyYAML's parser alone, and as it reads configs
    (with libyaml's where PyYAML has it): values with their types, lines, problems, or the
    error. Skips where PyYAML has no libyaml (both would be PyYAML's)."""
    from annotator.config import source

    if source._CBoundedLoader is None:
        pytest.skip("PyYAML without libyaml")
    with mock.patch.object(source, "_CBoundedLoader", None):
        expected = _document(text)
    return expected, _document(text)


@pytest.mark.parametrize("name", BUNDLED)
def test_configs_are_read_by_libyaml_as_pyyaml_reads_them(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config's YAML is scanned and parsed in C (libyaml) when PyYAML has it, composed by the
    same bounded composer: the bundled configs are read without PyYAML's Python scanner, and to
    the same values, lines and problems as PyYAML alone reads them."""
    text = bundled_config_path(name).read_text()
    expected, got = read_both_ways(text)
    assert got == expected

    def refuse(*args: object) -> None:
        raise AssertionError("PyYAML's Python scanner read a config libyaml can read")

    monkeypatch.setattr(yaml.scanner.Scanner, "scan_plain", refuse)
    assert _document(text)[0] != "error"


def test_an_escape_beyond_the_last_unicode_character_is_a_syntax_error() -> None:
    """PyYAML's scanner turns "\\U00110000" into chr(0x110000), a ValueError rather than one
    of its errors: it is reported as a syntax error at its line, not raised."""
    text = 'annotations:\n  - name: "\\U00110000"\n    type: freeform\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    assert [str(problem) for problem in caught.value.problems] == [
        "c.yaml:2: YAML syntax error: found a \\U escape beyond U+10FFFF "
        "(while scanning a double-quoted scalar)"
    ]


def test_values_pyyaml_cannot_construct_are_problems_at_their_lines() -> None:
    """PyYAML's constructors raise ValueError, KeyError, IndexError, AttributeError (a value an
    explicit tag sends them): each is a problem at its value's line, like the values its own
    errors refuse, and the rest of the file is still validated. A plain value that only looks
    like a date or time (2024-02-30: no tag asked for one) is its text: a fine description, and
    a bound that is not a number is said to be one."""
    text = textwrap.dedent(
        """\
        annotations:
          - name: q
            type: freeform
            description: 2024-02-30
          - name: r
            type: continuous
            lower_bound: !!int x
            upper_bound: 2024-01-01 25:00:00
            step: !!bool x
          - name: s
            type: categorical
            values: [{label: !!int "", score: !!timestamp x}, {label: ok, score: nope}]
        """
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    shown = [str(problem) for problem in caught.value.problems]
    unsupported = "unsupported YAML value"
    assert shown[:5] == [
        f"c.yaml:7: {unsupported} 'x' (tag:yaml.org,2002:int): "
        "invalid literal for int() with base 10: 'x'",
        "c.yaml:8: upper_bound must be a number, not '2024-01-01 25:00:00'",
        f"c.yaml:9: {unsupported} 'x' (tag:yaml.org,2002:bool): not a value of this type",
        f"c.yaml:12: {unsupported} '' (tag:yaml.org,2002:int): not a value of this type",
        f"c.yaml:12: {unsupported} 'x' (tag:yaml.org,2002:timestamp): not a value of this type",
    ]
    assert any("c.yaml:12:" in line and "nope" in line for line in shown[5:]), shown
