"""`semconv.loads_json`: the one reading of JSON text in attribute values (the span view, the
store's previews and `dataset` use it)."""

from __future__ import annotations

from annotator import semconv


def test_json_text_beyond_what_orjson_reads_is_still_read() -> None:
    big = 2**70
    assert semconv.loads_json(f'{{"n": {big}}}') == {"n": big}
    assert semconv.loads_json(b"[1, 2]") == [1, 2]
    assert semconv.loads_json("null") is None


def test_text_that_is_not_json_is_missing_not_none() -> None:
    assert semconv.loads_json("{not json") is semconv.MISSING
    assert semconv.loads_json("[" * 100_000) is semconv.MISSING  # too deep for either reader
    assert semconv.parse_json_value(f"[{2**70}]", semconv.JSON_MIME) == [2**70]
