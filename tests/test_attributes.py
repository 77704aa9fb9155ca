"""annotator.attributes: Phoenix-style unflatten / flatten / get_path."""

from __future__ import annotations

import copy
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.attributes import (
    _unflatten_general,
    flatten,
    get_path,
    unflatten,
    unflatten_dict,
)
from tests.properties import examples


def test_openinference_messages_become_lists_of_nested_dicts() -> None:
    flat = {
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "hi",
        "llm.input_messages.1.message.role": "assistant",
        "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "lookup",
        "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": "{}",
        "llm.token_count.total": 12,
        "openinference.span.kind": "LLM",
    }
    assert unflatten(flat) == {
        "llm": {
            "input_messages": [
                {"message": {"role": "user", "content": "hi"}},
                {
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {"tool_call": {"function": {"name": "lookup", "arguments": "{}"}}}
                        ],
                    }
                },
            ],
            "token_count": {"total": 12},
        },
        # Phoenix keeps the kind in the attributes too.
        "openinference": {"span": {"kind": "LLM"}},
    }


def test_dataframe_lists_of_flat_dicts_are_unflattened_element_by_element() -> None:
    flat = {
        "llm.input_messages": [
            {"message.role": "user", "message.content": "hi"},
            {"message.role": "assistant", "message.tool_calls": [{"tool_call.id": "c1"}]},
        ],
        "tag.tags": ["a", "b"],
    }
    assert unflatten(flat) == {
        "llm": {
            "input_messages": [
                {"message": {"role": "user", "content": "hi"}},
                {"message": {"role": "assistant", "tool_calls": [{"tool_call": {"id": "c1"}}]}},
            ]
        },
        "tag": {"tags": ["a", "b"]},
    }


def test_nested_dicts_are_merged_with_flat_keys_and_the_input_is_left_alone() -> None:
    flat = {"llm": {"model_name": "m", "token_count": {"prompt": 1}}, "llm.token_count.total": 3}
    before = copy.deepcopy(flat)
    assert unflatten(flat) == {"llm": {"model_name": "m", "token_count": {"prompt": 1, "total": 3}}}
    assert flat == before


@pytest.mark.parametrize(
    ("flat", "expected"),
    [
        # leaf and prefix: both kept, the deeper one under a joined key (Phoenix does the same)
        ({"a.b": 1, "a.b.c": 2}, {"a": {"b": 1, "b.c": 2}}),
        ({"a.b.c": 2, "a.b": 1}, {"a": {"b": 1, "b.c": 2}}),
        ({"a": "x", "a.0.b": 1}, {"a": "x", "a.0": {"b": 1}}),
        # indices and names on one node: a dict with string indices
        ({"a.0.x": 1, "a.name": 2}, {"a": {"name": 2, "0": {"x": 1}}}),
        # sparse indices are compacted in order, like Phoenix
        ({"a.5.x": 2, "a.0.x": 1}, {"a": [{"x": 1}, {"x": 2}]}),
        # a digit at the end is a plain key
        ({"a.0": 1}, {"a": {"0": 1}}),
        # top-level digits cannot make the root a list
        ({"0.a": 1}, {"0": {"a": 1}}),
        # None is absent
        ({"a.b": None, "c": 1}, {"c": 1}),
        # odd but legal keys
        ({"a..b": 1, "": 2}, {"a": {"": {"b": 1}}, "": 2}),
    ],
)
def test_edge_cases(flat: dict, expected: dict) -> None:
    assert unflatten(flat) == expected
    assert unflatten(list(flat.items())) == expected


def test_json_string_attributes_are_decoded_like_phoenix_does_on_ingestion() -> None:
    flat = {
        "metadata": '{"user": "u1", "n": 2}',
        "retrieval.documents.0.document.metadata": '{"source": "a.md"}',
        "llm.prompt_template.variables": '{"q": "why"}',
        "tool.parameters": "{}",  # empty: dropped, as Phoenix drops it
        "input.value": '{"not": "decoded"}',
        "my_metadata": '{"not": "a whole segment"}',
        "metadata.note": "plain text stays",
    }
    result = unflatten(flat, json_strings=True)
    assert result["metadata"] == {"user": "u1", "n": 2, "note": "plain text stays"}
    assert result["retrieval"]["documents"][0]["document"]["metadata"] == {"source": "a.md"}
    assert result["llm"]["prompt_template"]["variables"] == {"q": "why"}
    assert "tool" not in result
    assert result["input"]["value"] == '{"not": "decoded"}'
    assert result["my_metadata"] == '{"not": "a whole segment"}'
    # without the option nothing is decoded
    assert unflatten({"metadata": "{}"}) == {"metadata": "{}"}


def test_repeated_shapes_give_the_same_result_as_the_general_builder() -> None:
    flat = {
        "session.id": "s",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.1.message.role": "assistant",
        "metadata": '{"a": 1}',
        "tag.tags": ["x"],
    }
    expected = _unflatten_general(flat.items(), True)
    results = [unflatten_dict(dict(flat), True) for _ in range(4)]
    assert all(r == expected for r in results)
    # the values of the shape change from call to call
    other = dict(flat, **{"session.id": "t", "metadata": "{}"})
    assert unflatten_dict(other, True) == _unflatten_general(other.items(), True)


def test_flatten_is_the_phoenix_rest_form() -> None:
    nested = {
        "llm": {"input_messages": [{"message": {"role": "user"}}], "token_count": {"total": 3}},
        "tag": {"tags": ["a"]},
        "empty": {},
        "gone": None,
    }
    assert flatten(nested) == {
        "llm.input_messages.0.message.role": "user",
        "llm.token_count.total": 3,
        "tag.tags": ["a"],
    }


def test_get_path() -> None:
    nested = unflatten(
        {
            "llm.input_messages.1.message.content": "second",
            "llm.input_messages.0.message.content": "first",
            "llm.model_name": "m",
            "a.b": 1,
            "a.b.c": 2,
        }
    )
    assert get_path(nested, "llm.model_name") == "m"
    assert get_path(nested, "llm.input_messages.1.message.content") == "second"
    assert get_path(nested, "llm.input_messages.7.message.content") is None
    assert get_path(nested, "llm.input_messages.x") is None
    assert get_path(nested, "llm.model_name.deeper", "dflt") == "dflt"
    assert get_path(nested, "a.b.c") == 2  # found under the joined key
    assert get_path(None, "a") is None


# ---------------------------------------------------------------- properties

_NAME = st.text(
    alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=6
).filter(lambda s: not s.isdigit())
_SCALAR = st.text(max_size=8) | st.integers() | st.floats(allow_nan=False) | st.booleans()
_LEAF = _SCALAR | st.lists(_SCALAR, max_size=3)


def _nested(children):
    return st.dictionaries(_NAME, children, min_size=1, max_size=4)


_TREE = st.recursive(
    _LEAF,
    lambda inner: _nested(inner) | st.lists(_nested(inner), min_size=1, max_size=3),
    max_leaves=8,
)
_ROOTS = st.dictionaries(_NAME, _TREE, min_size=1, max_size=3)


@settings(max_examples=examples(300), deadline=None)
@given(_ROOTS)
def test_round_trip_on_well_formed_attributes(nested: dict) -> None:
    """Well formed: names are not all digits, no dots, list indices contiguous, no empty dicts."""
    flat = flatten(nested)
    assert unflatten(flat) == nested
    assert flatten(unflatten(flat)) == flat


_SEGMENT = st.sampled_from(["a", "b", "0", "1", "2", ""])
_ODD_FLAT = st.dictionaries(
    st.lists(_SEGMENT, min_size=1, max_size=4).map(".".join), st.integers(0, 9), max_size=7
)


@settings(max_examples=examples(300), deadline=None)
@given(_ODD_FLAT)
def test_conflicting_keys_never_crash_and_do_not_depend_on_order(flat: dict) -> None:
    result = unflatten(flat)
    assert unflatten(dict(reversed(list(flat.items())))) == result
    # nothing is lost, and flattening again is stable
    back = flatten(result)
    assert sorted(back.values()) == sorted(flat.values())
    assert unflatten(back) == result
    # the compiled-shape path agrees with the general builder
    for _ in range(3):
        assert unflatten_dict(flat) == result
