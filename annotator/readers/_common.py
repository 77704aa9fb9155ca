"""Pieces shared by the trace readers: errors, ids, status codes, kinds, attribute clean-up."""

from __future__ import annotations

import binascii
from pathlib import Path
from typing import Any

from annotator.model import SpanKind, StatusCode

PARQUET_EXTRA_HINT = "install it with  pip install 'annotator[parquet]'"


def one_line(text: object, limit: int = 300) -> str:
    """Collapse whitespace runs (newlines included) so a message stays on one line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class NotATraceFile(Exception):
    """The file is not a trace file this program reads. ``str(e)`` is one line."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = one_line(reason)
        super().__init__(f"{one_line(path)}: not a trace file: {self.reason}")


class MissingExtra(NotATraceFile):
    """The file needs an optional dependency that is not installed (pyarrow for parquet)."""


class BadRecord(Exception):
    """A record that cannot become a span; the message becomes a Problem."""


# ---------------------------------------------------------------- ids

_HEX = "0123456789abcdefABCDEF"


def required_ids(span_id: Any, trace_id: Any, span_field: str, trace_field: str) -> tuple[str, str]:
    """Clean span and trace ids; BadRecord naming the format's field when either is missing."""
    span = clean_id(span_id)
    trace = clean_id(trace_id)
    if span is None:
        raise BadRecord(f"span without {span_field}")
    if trace is None:
        raise BadRecord(f"span {span} without {trace_field}")
    return span, trace


def clean_id(value: Any) -> str | None:
    """Normalise a span/trace id.

    hex -> lowercase; base64 of 8/16 bytes (protobuf ``MessageToJson``) -> lowercase hex;
    UUID text -> hex without hyphens (old Phoenix legacy files, as Phoenix itself does);
    anything else is kept as it is (stripped): Phoenix accepts ids like ``s01``.
    Empty -> None. Non-string ids (numbers) are turned into text.
    """
    if value is None:
        return None
    if type(value) is not str:
        return _clean_id(value)
    found = _IDS.get(value)
    if found is not None:
        return found
    clean = _clean_id(value)
    if clean is not None:
        if len(_IDS) >= 8192:  # ids repeat close together; a small cache keeps memory flat
            _IDS.clear()
        _IDS[value] = clean
    return clean


# raw id text -> clean id: trace ids repeat on every span of a trace, parent ids on siblings.
_IDS: dict[str, str] = {}


def _clean_id(value: Any) -> str | None:
    if type(value) is not str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BadRecord(f"id is a {type(value).__name__}, expected text")
        value = str(value)
    text = value.strip()
    if not text:
        return None
    if not text.strip(_HEX):
        return text.lower()
    if text[-1] == "=":
        try:
            raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = None
        if raw is not None and len(raw) in (8, 16):
            return raw.hex()
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        joined = text.replace("-", "")
        if not joined.strip(_HEX):
            return joined.lower()
    return text


def clean_parent_id(value: Any, *, zero_is_none: bool) -> str | None:
    """Parent ids: empty and missing are None; all-zero ids too where ``zero_is_none``.

    In OTLP an all-zero id means "no parent" (the spec's invalid id). In Phoenix's own JSON
    forms a parent id is a real id even when it is all zeros (Phoenix's test fixtures use
    ``0000000000000000`` as the root span id), so there it is kept.
    """
    parent = clean_id(value)
    if parent is not None and zero_is_none and not parent.strip("0"):
        return None
    return parent


# ---------------------------------------------------------------- enums

_STATUS = {
    0: StatusCode.UNSET,
    1: StatusCode.OK,
    2: StatusCode.ERROR,
    "0": StatusCode.UNSET,
    "1": StatusCode.OK,
    "2": StatusCode.ERROR,
    "UNSET": StatusCode.UNSET,
    "OK": StatusCode.OK,
    "ERROR": StatusCode.ERROR,
    "STATUS_CODE_UNSET": StatusCode.UNSET,
    "STATUS_CODE_OK": StatusCode.OK,
    "STATUS_CODE_ERROR": StatusCode.ERROR,
    None: StatusCode.UNSET,
    "": StatusCode.UNSET,
}


def text_field(value: Any) -> str:
    """A span's name or status message as text: absent (None) is empty, anything else (a
    number, an object) its str()."""
    if value is None:
        return ""
    return value if type(value) is str else str(value)


def status_code(value: Any) -> StatusCode:
    """0/1/2, UNSET/OK/ERROR (any case) or STATUS_CODE_* names; anything else is UNSET."""
    try:
        found = _STATUS.get(value)
    except TypeError:  # unhashable
        return StatusCode.UNSET
    if found is not None:
        return found
    if isinstance(value, str):
        return _STATUS.get(value.strip().upper(), StatusCode.UNSET)
    return StatusCode.UNSET


_KINDS: dict[Any, SpanKind] = {k.value: k for k in SpanKind}


def span_kind(value: Any) -> SpanKind:
    if type(value) is str:
        found = _KINDS.get(value)
        if found is not None:
            return found
    return SpanKind.parse(value)


# ---------------------------------------------------------------- attributes


def kind_from_attributes(attributes: dict[str, Any]) -> Any:
    oi = attributes.get("openinference")
    if type(oi) is dict:
        span = oi.get("span")
        if type(span) is dict:
            return span.get("kind")
    return None


def session_from_attributes(attributes: dict[str, Any]) -> str | None:
    session = attributes.get("session")
    if type(session) is dict:
        value = session.get("id")
        if value is None or value == "":
            return None
        return value if type(value) is str else str(value)
    return None


def set_kind_attribute(attributes: dict[str, Any], kind: str) -> None:
    """Add ``openinference.span.kind`` where an export lifted it out (Phoenix REST)."""
    oi = attributes.get("openinference")
    if oi is None:
        attributes["openinference"] = {"span": {"kind": kind}}
    elif type(oi) is dict:
        span = oi.get("span")
        if span is None:
            oi["span"] = {"kind": kind}
        elif type(span) is dict and "kind" not in span:
            span["kind"] = kind


def fix_token_counts(attributes: dict[str, Any]) -> None:
    """Token counts are integers; DataFrame exports turn them into floats (pandas NaN columns)."""
    llm = attributes.get("llm")
    if type(llm) is dict:
        counts = llm.get("token_count")
        if type(counts) is dict:
            _ints_in_place(counts)


def _ints_in_place(node: dict[str, Any]) -> None:
    for key, value in node.items():
        if type(value) is float:
            if value.is_integer():
                node[key] = int(value)
        elif type(value) is dict:
            _ints_in_place(value)


def drop_nones(value: Any) -> Any:
    """Remove None members of dicts, recursively (parquet structs pad missing fields with null)."""
    if type(value) is dict:
        return {k: drop_nones(v) for k, v in value.items() if v is not None}
    if type(value) is list:
        return [drop_nones(v) for v in value]
    return value


def describe(value: Any) -> str:
    """Short text for a bad value in a message."""
    text = repr(value)
    return one_line(text, 60)
