"""One record of an annotation file -> one `Annotation`, whatever shape it came in.

Shapes (told apart per record, so one file may mix them):

* Phoenix annotation records (``GET /v1/projects/P/{span,trace,session}_annotations`` items) and
  ``POST /v1/{span,trace,document,session}_annotations`` items: ``name``, ``annotator_kind``,
  ``result: {label, score, explanation}``, ``metadata``, ``identifier``, and one of ``span_id``
  (+ ``document_position`` for documents), ``trace_id``, ``session_id``.
* Phoenix GraphQL ``documentEvaluations`` items: ``documentPosition``, ``annotatorKind``, flat
  ``label / score / explanation`` (and the ``span_id`` the saving script added).
* Phoenix note request bodies (``POST /v1/span_notes`` ...): ``{"data": {"span_id", "note",
  "identifier"}}`` -> a ``note`` annotation (HUMAN, the text in ``explanation``).
* Evaluation table rows: ``span_id`` / ``context.span_id`` (+ ``document_position`` or
  ``position``), ``trace_id`` / ``context.trace_id`` or ``session_id``, and flat ``label``,
  ``score``, ``explanation``; optional ``name`` / ``annotation_name``, ``annotator_kind``,
  ``identifier``, ``metadata`` (phoenix-client's annotation DataFrame columns).
* This program's own export rows: flat, with ``target`` and ``source`` (see ``_export``).

What decides the target: an explicit ``target`` (own export), else a document position with a
span id -> document, a span id -> span, a trace id -> trace, a session id -> session.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import orjson

from annotator.annotations_io._export import DOCUMENT_IDENTIFIER_KEY
from annotator.model import NOTE_NAME, Annotation, AnnotatorKind, Source, Target
from annotator.readers import BadRecord, clean_id, describe
from annotator.timeutil import iso_from_any

_RESULT_FIELDS = ("label", "score", "explanation")
_FLAT_RESULT_KEYS = tuple(f"result.{field}" for field in _RESULT_FIELDS)
_TARGET_KEYS = (
    "span_id", "context.span_id", "spanId", "trace_id", "context.trace_id", "traceId",
    "session_id", "sessionId",
)  # fmt: skip
_NO_TARGET = "no span_id, trace_id or session_id: nothing says what it is about"
_KINDS = {kind.value: kind.value for kind in AnnotatorKind}
_TARGETS = {target.value: target.value for target in Target}
_SOURCES = {source.value: source.value for source in Source}
_MISSING: Any = object()


class NoName(Exception):
    """The record has no annotation name and none was given (--name)."""


class NoTarget(BadRecord):
    """The record has no span, trace or session id (pandas dropped a DataFrame's index?)."""


NO_RESULT = "no label, score or explanation: an empty annotation is not imported"
# A metadata text that is not JSON is read as a Python literal (pandas' to_csv writes a dict
# column as its repr) only up to this length: ast.literal_eval's cost grows with its input.
PYTHON_LITERAL_LIMIT = 100_000


@dataclass(slots=True)
class Defaults:
    """What fills in a field a record does not have. A record's own value always wins."""

    name: str | None = None  # --name
    annotator_kind: str | None = None  # --annotator-kind
    identifier: str | None = None  # --identifier
    file_name: str | None = None  # the name the file gives (Phoenix Evaluations.save() parquet)
    documents: bool = False  # a DocumentEvaluations file: every row needs a document position


def to_annotation(record: dict[str, Any], defaults: Defaults) -> tuple[Annotation, bool]:
    """The annotation in `record`, and whether its annotator kind was assumed (LLM).

    Raises BadRecord (the message says what is wrong; NoTarget when nothing says what the
    record is about, before NoName) or NoName. The key is not checked here
    (``AnnotationKey.of`` is, by the importer)."""
    data = record.get("data")
    if type(data) is dict and "note" in data:
        return _note(data, defaults), False
    own = is_own_export(record)
    if not own and all(_absent(record.get(key)) for key in _TARGET_KEYS):
        # Before the name: a table without ids cannot be imported whatever --name says.
        raise NoTarget(_NO_TARGET)
    name = _text(_first(record, "name", "annotation_name"), "name")
    if not name:
        name = defaults.file_name or defaults.name
        if not name:
            raise NoName
    values = record
    result = record.get("result", _MISSING)
    if result is not _MISSING and result is not None:
        if type(result) is not dict:
            raise BadRecord(f"result is {_a(result)}, expected an object")
        values = result
    elif any(key in record for key in _FLAT_RESULT_KEYS):
        # phoenix-client's annotation DataFrame: the result object flattened by pandas
        values = {field: record.get(f"result.{field}") for field in _RESULT_FIELDS}
    raw_kind = _first(record, "annotator_kind", "annotatorKind")
    assumed = False
    if _absent(raw_kind):
        kind = defaults.annotator_kind
        if kind is None:
            kind, assumed = AnnotatorKind.LLM.value, True
    else:
        kind = _KINDS.get(str(raw_kind).strip().upper()) if type(raw_kind) is str else None
        if kind is None:
            raise BadRecord(f"annotator_kind {describe(raw_kind)} is not LLM, CODE or HUMAN")
    identifier = record.get("identifier")
    if _absent(identifier):
        identifier = defaults.identifier or ""
    else:
        identifier = _text(identifier, "identifier") or ""
    span_id = clean_id(_blank_none(_first(record, "span_id", "context.span_id", "spanId")))
    trace_id = clean_id(_blank_none(_first(record, "trace_id", "context.trace_id", "traceId")))
    session_id = _text(_first(record, "session_id", "sessionId"), "session_id") or None
    position = _position(_first(record, "document_position", "documentPosition", "position"))
    if own:
        target = _TARGETS.get(str(record.get("target")).strip().lower())
        if target is None:
            raise BadRecord(
                f"target {describe(record.get('target'))} is not span, trace, document or session"
            )
        source = _SOURCES.get(str(record.get("source")).strip().upper())
        if source is None:
            raise BadRecord(f"source {describe(record.get('source'))} is not APP or API")
    else:
        source = Source.API.value
        if span_id and (position is not None or defaults.documents):
            target = Target.DOCUMENT.value
            if position is None:
                raise BadRecord("no document_position (this is a document evaluations file)")
        elif span_id:
            target = Target.SPAN.value
        elif trace_id:
            target = Target.TRACE.value
        elif session_id:
            target = Target.SESSION.value
        else:
            raise NoTarget(_NO_TARGET)
        # The database knows a span's trace and session (and a trace's session): only this
        # program's own export carries them, everything else gets them from the spans.
        if target in (Target.SPAN, Target.DOCUMENT):
            trace_id = session_id = None
        elif target == Target.TRACE:
            span_id = session_id = None
        else:
            span_id = trace_id = None
    label = _text(values.get("label"), "label")
    score = _score(values.get("score"))
    explanation = _text(values.get("explanation"), "explanation")
    if label is None and score is None and explanation is None:
        raise BadRecord(NO_RESULT)
    metadata = _metadata(record.get("metadata"))
    if target == Target.DOCUMENT and not identifier:
        identifier, metadata = _document_identifier(metadata)
    annotation = Annotation(
        name=name,
        target=target,
        span_id=span_id,
        trace_id=trace_id,
        session_id=session_id,
        document_position=position if target == Target.DOCUMENT or own else None,
        label=label,
        score=score,
        explanation=explanation,
        annotator_kind=kind,
        source=source,
        identifier=identifier,
        metadata=metadata,
        created_at=_time(record.get("created_at"), "created_at"),
        updated_at=_time(record.get("updated_at"), "updated_at"),
    )
    return annotation, assumed


def is_own_export(record: dict[str, Any]) -> bool:
    """A row of this program's flat export: its source and times are the stored row's own."""
    return "target" in record and "source" in record and "result" not in record


def _document_identifier(metadata: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Phoenix requires an empty identifier on document annotations, so ``annotator export
    --format phoenix`` moves the annotator's name into metadata; move it back (else every
    annotator's document labels would come back as one nameless rater)."""
    moved = metadata.get(DOCUMENT_IDENTIFIER_KEY)
    if type(moved) is not str or not moved.strip():
        return "", metadata
    return moved, {k: v for k, v in metadata.items() if k != DOCUMENT_IDENTIFIER_KEY}


def _note(data: dict[str, Any], defaults: Defaults) -> Annotation:
    text = data.get("note")
    if type(text) is not str or not text.strip():
        raise BadRecord("a note without text")
    identifier = data.get("identifier")
    if _absent(identifier):
        identifier = defaults.identifier or ""
    else:
        identifier = _text(identifier, "identifier")
    span_id = clean_id(_blank_none(data.get("span_id")))
    trace_id = clean_id(_blank_none(data.get("trace_id")))
    session_id = _text(data.get("session_id"), "session_id") or None
    if span_id:
        target, trace_id, session_id = Target.SPAN.value, None, None
    elif trace_id:
        target, session_id = Target.TRACE.value, None
    elif session_id:
        target = Target.SESSION.value
    else:
        raise BadRecord("a note without span_id, trace_id or session_id")
    return Annotation(
        name=NOTE_NAME,
        target=target,
        span_id=span_id,
        trace_id=trace_id,
        session_id=session_id,
        explanation=text,
        annotator_kind=AnnotatorKind.HUMAN.value,
        source=Source.API.value,
        identifier=identifier or "",
    )


# ---------------------------------------------------------------- values


def _first(record: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = record.get(key)
        if not _absent(value):
            return value
    return None


def _absent(value: Any) -> bool:
    return value is None or (type(value) is float and math.isnan(value))


def _blank_none(value: Any) -> Any:
    if type(value) is float:
        if math.isnan(value):
            return None
        if value.is_integer():
            return int(value)
    return value


def _a(value: Any) -> str:
    if type(value) is list:
        return "a list"
    if type(value) is dict:
        return "an object"
    return f"a {type(value).__name__}"


def _text(value: Any, field: str) -> str | None:
    """Text fields: numbers become text (CSV and pandas turn labels like "1" into numbers)."""
    if _absent(value):
        return None
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    raise BadRecord(f"{field} is {_a(value)}, expected text")


def _score(value: Any) -> float | None:
    if _absent(value):
        return None
    if type(value) is bool:
        raise BadRecord(f"score is not a number: {describe(value)}")
    if type(value) in (int, float):
        number = float(value)
    elif type(value) is str:
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise BadRecord(f"score is not a number: {describe(value)}") from None
        if math.isnan(number):
            return None
    else:
        raise BadRecord(f"score is not a number: {describe(value)}")
    if not math.isfinite(number):
        raise BadRecord(f"score is not a finite number: {describe(value)}")
    return number


def _position(value: Any) -> int | None:
    if _absent(value):
        return None
    number: Any = value
    if type(value) is str:
        text = value.strip()
        if not text:
            return None
        try:
            number = int(text)
        except ValueError:
            raise BadRecord(f"document_position is not a whole number: {describe(value)}") from None
    elif type(value) is float and value.is_integer():
        number = int(value)
    if type(number) is not int:
        raise BadRecord(f"document_position is not a whole number: {describe(value)}")
    if number < 0:
        raise BadRecord(f"document_position {number} is negative")
    return number


def _metadata(value: Any) -> dict[str, Any]:
    if _absent(value):
        return {}
    if type(value) is str:
        if not value.strip():
            return {}
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = _python_literal(value)
    if type(value) is not dict:
        raise BadRecord(f"metadata is {_a(value)}, expected an object")
    if value:
        try:
            orjson.dumps(value)
        except TypeError as exc:  # e.g. a parquet decimal: the store keeps JSON text
            raise BadRecord(f"metadata cannot be written as JSON ({exc})") from None
    return value


def _python_literal(text: str) -> Any:
    """Metadata as pandas' to_csv writes a dict column: its Python repr (``{'model': 'gpt-4o'}``).
    Read with ast.literal_eval (literals only: nothing is evaluated), on a bounded string."""
    if len(text) > PYTHON_LITERAL_LIMIT:
        raise BadRecord(
            f"metadata is not JSON, and too long ({len(text):,} characters) to read as a "
            "Python literal"
        )
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise BadRecord(
            f"metadata is neither a JSON object nor a Python dict literal: {describe(text)}"
        ) from None


def _time(value: Any, field: str) -> str | None:
    try:
        return iso_from_any(_blank_none(value))
    except (ValueError, OverflowError, TypeError):
        raise BadRecord(f"{field} is not a time: {describe(value)}") from None
