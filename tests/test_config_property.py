"""Property tests for annotator.config: random valid configs load, and round-trip through
to_document (as JSON and as YAML) to equal configs; stepping stays on the grid and in bounds."""

from __future__ import annotations

import json
import math

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator import keymap as km
from annotator.config import AnnotationConfig, ConfigSet, parse_config
from annotator.model import NOTE_NAME, SpanKind, Target
from tests.properties import examples

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), min_size=1, max_size=20
).filter(lambda s: s.strip() != "")
SCORES = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)
REMAPS = {"filter": ["F"], "raw": "R"}
# Keys no action uses (and not reserved, nor a digit handed out by default): explicit value keys.
_USED = set(km.key_owners(km.default_keymap())) | km.RESERVED_KEYS | {"F", "R"}
FREE_KEYS = sorted(
    {k for k in "abcdghilmpstvwyz0ABCDEGHILMNOPQSTVWXYZ" if k not in _USED}
    | {"ctrl+a", "ctrl+b", "alt+1", "f5", "left_curly_bracket", "ctrl+left_square_bracket"}
)
SPAN_KINDS = st.none() | st.lists(
    st.sampled_from(list(SpanKind)), min_size=1, max_size=4, unique=True
)
CASES = st.sampled_from([str.upper, str.lower, str.title])


@st.composite
def categorical(draw) -> dict:
    labels = draw(st.lists(TEXT, min_size=1, max_size=12, unique=True))
    explicit_pool = draw(st.permutations(FREE_KEYS))
    n_without = 0
    values = []
    for index, label in enumerate(labels):
        value: dict = {"label": label}
        score = draw(SCORES)
        if score is not None:
            value["score"] = score
        if n_without == 9 or draw(st.booleans()):  # only 1-9 are handed out by default
            value["key"] = explicit_pool[index]
        else:
            n_without += 1
        values.append(value)
    config = {"type": draw(CASES)("categorical"), "values": values}
    if draw(st.booleans()):
        config["auto_advance"] = draw(st.booleans())
    return config


@st.composite
def continuous(draw) -> dict:
    config: dict = {"type": draw(CASES)("continuous")}
    shape = draw(st.sampled_from(["bounded", "stepped", "open", "lower", "upper"]))
    lower = draw(st.integers(-100, 100)) / draw(st.sampled_from([1, 2, 10]))
    if shape in ("bounded", "stepped"):
        step = draw(st.sampled_from([0.1, 0.25, 0.5, 1, 2, 5]))
        count = draw(st.integers(1, 40))
        upper = round(lower + count * step, 6)
        config.update(lower_bound=lower, upper_bound=upper)
        if shape == "stepped":
            config["step"] = step
    elif shape == "lower":
        config["lower_bound"] = lower
    elif shape == "upper":
        config["upper_bound"] = lower
    return config


@st.composite
def annotation(draw) -> dict:
    config = draw(st.one_of(categorical(), continuous(), st.just({"type": "FREEFORM"})))
    if draw(st.booleans()):
        config["description"] = draw(TEXT)
    if draw(st.booleans()):
        config["optimization_direction"] = draw(CASES)(
            draw(st.sampled_from(["maximize", "minimize", "none"]))
        )
    if draw(st.booleans()):
        config["target"] = draw(CASES)(draw(st.sampled_from(list(Target))).value)
    kinds = draw(SPAN_KINDS)
    if kinds is not None:
        config["span_kinds"] = [draw(CASES)(k.value) for k in kinds]
    return config


@st.composite
def config_file(draw) -> dict:
    names = draw(
        st.lists(
            TEXT.filter(lambda s: s.strip().lower() != NOTE_NAME),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    annotations = [{"name": name, **draw(annotation())} for name in names]
    document: dict = {"annotations": annotations}
    if draw(st.booleans()):  # move a couple of actions onto keys nobody else uses
        document["keys"] = REMAPS
    return document


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_file(), st.sampled_from(["json", "yaml"]))
def test_random_valid_configs_load_and_round_trip(document: dict, syntax: str) -> None:
    text = (
        json.dumps(document) if syntax == "json" else yaml.safe_dump(document, allow_unicode=True)
    )
    configs = parse_config(text, "random.yaml")
    assert [c.name for c in configs.annotations] == [a["name"] for a in document["annotations"]]
    for raw, config in zip(document["annotations"], configs.annotations, strict=True):
        for value_raw, value in zip(raw.get("values", []), config.values, strict=True):
            assert value.label == value_raw["label"]
            if "key" in value_raw:
                assert value.key == km.normalise_key(value_raw["key"])
        assert len({v.key for v in config.values}) == len(config.values)

    stored = configs.to_document()
    for again in (
        parse_config(json.dumps(stored), "<db>"),
        parse_config(yaml.safe_dump(stored), "<db>"),
    ):
        assert again.annotations == configs.annotations
        assert again.keys == configs.keys
        assert again.to_document() == stored
    assert (
        ConfigSet(annotations=configs.annotations, keys=configs.keys).annotations
        == configs.annotations
    )


@settings(max_examples=examples(200), deadline=None)
@given(
    lower=st.integers(-50, 50),
    step=st.sampled_from([0.1, 0.2, 0.25, 0.5, 1, 2, 5]),
    count=st.integers(1, 60),
    moves=st.lists(st.sampled_from([-10, -1, 1, 10]), min_size=1, max_size=30),
)
def test_stepping_stays_on_the_grid_and_in_bounds(
    lower: int, step: float, count: int, moves: list[int]
) -> None:
    upper = round(lower + count * step, 9)
    config = AnnotationConfig(
        name="s", type="continuous", lower_bound=lower, upper_bound=upper, step=step
    )
    score = None
    for move in moves:
        new = config.step_score(score, move)
        assert lower <= new <= upper
        k = (new - lower) / step
        assert math.isclose(k, round(k), abs_tol=1e-6)
        assert new == round(new, 9)  # no float noise
        if score is not None:
            expected = min(upper, max(lower, score + move * step))
            assert math.isclose(new, expected, abs_tol=1e-9)
        score = new
