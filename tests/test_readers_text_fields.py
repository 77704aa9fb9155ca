"""A span's name and status message as text, the same in the OTLP and the Phoenix readers:
absent is empty, a number or an object is its str()."""

from __future__ import annotations

import pytest

from annotator.readers import decode_phoenix_span, decode_span

IDS = {"spanId": "00000000000000aa", "traceId": "000000000000000000000000000000bb"}
CONTEXT = {
    "context": {"span_id": "00000000000000aa", "trace_id": "000000000000000000000000000000bb"}
}


@pytest.mark.parametrize(("given", "shown"), [(None, ""), ("ask", "ask"), (42, "42"), ([1], "[1]")])
def test_name_and_status_message(given: object, shown: str) -> None:
    assert decode_span({**IDS, "name": given}, "p").name == shown
    span = decode_phoenix_span({**CONTEXT, "name": given, "status_message": given}, "p")
    assert (span.name, span.status_message) == (shown, shown)
