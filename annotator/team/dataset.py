"""Curating annotated spans into a dataset file that Phoenix takes as it is.

``iter_examples(conn, spec)`` streams one example per matching span (spans are read in chunks;
a database of any size is never loaded at once) and ``write_examples`` writes them as JSON lines
or CSV to a stream (``annotator.output_file`` opens the file). This module is core: no
Textual, no Rich.

Example shape (one JSONL line)
------------------------------
::

    {"input": {...}, "output": {...}, "metadata": {...}, "span_id": "..."}

This is exactly one element of phoenix-client's ``client.datasets.create_dataset(name=...,
examples=[...])`` (its ``input``/``output``/``metadata``/``span_id`` example dict), and
``input``/``output``/``metadata`` are the per-example objects of ``POST /v1/datasets/upload``
(JSON body: ``inputs``/``outputs``/``metadata``/``span_ids`` lists; each must be a JSON
*object*). ``span_id`` links the example back to its span when the spans are in Phoenix too.
Upload it with::

    import orjson
    from phoenix.client import Client
    examples = [orjson.loads(line) for line in open("dataset.jsonl", "rb")]
    Client().datasets.create_dataset(name="bad-answers", examples=examples)

or in the Phoenix UI (JSONL file): input keys ``input``, output keys ``output``, metadata keys
``metadata``, with "collapse"/``flatten_keys`` on those three so that their fields (not the
wrapping object) become the example's fields.

``input`` and ``output`` are built the way Phoenix itself builds an example from a span (its
"add spans to dataset"), so the same span gives the same example either way:

* LLM spans: ``{"messages": [{"role", "content", ...}, ...]}`` from ``llm.input_messages`` /
  ``llm.output_messages`` (``name``, ``tool_call_id``, ``contents``, ``function_call``,
  ``tool_calls`` kept when present); without messages, the generic rule below. Input also gets
  the prompt template variables hoisted to the top level (never replacing a key) and the tool
  definitions (``llm.tools.*.tool.json_schema``) as ``"tools"``.
* RETRIEVER spans, output: ``{"documents": [{"id", "content", "score", ...}, ...]}`` from
  ``retrieval.documents``.
* Otherwise ``input.value`` / ``output.value``: parsed as JSON when ``mime_type`` is
  ``application/json`` or the text is a JSON object; a JSON object is used as it is, anything
  else is wrapped: ``{"input": value}`` / ``{"output": value}``. No value: ``{}``.

``metadata``::

    {"span_id", "trace_id", "session_id", "span_kind", "name", "project",
     "annotations": {NAME: [ANNOTATION, ...]},          # span annotations, by name (as Phoenix)
     "document_annotations": [{"document_position": int,
                               "annotations": {NAME: [ANNOTATION, ...]}}, ...],
     "trace_annotations": {NAME: [ANNOTATION, ...]},    # root spans only, else {}
     "votes": {NAME: {"final": value | null,            # span annotations: the final value
                      "raters": {identifier: value}}}}  # and each person's label (or score)
    ANNOTATION = {"label", "score", "explanation", "annotator_kind", "identifier"}

``session_id`` is left out when the span has no session (not ``null``: a CSV cell cannot tell
null from absent, and both formats must give Phoenix the same examples).

Notes are included (name ``note``): they are often why an example was picked.

CSV
---
One row per example: ``span_id``, then one column per top-level key of ``input``, ``output``
and ``metadata``, named ``input.KEY`` / ``output.KEY`` / ``metadata.KEY`` (in the order first
seen). Text is written as it is; objects and arrays as JSON text; numbers and true/false as
JSON; null as an empty cell. That is what Phoenix's CSV upload (``/v1/datasets/upload``, which
phoenix-client's ``create_dataset(csv_file_path=...)`` and the UI's CSV upload both use) turns
back into the same example as the JSONL line: given dotted keys, it strips the ``input.`` /
``output.`` / ``metadata.`` prefix, parses cells that hold a JSON array or object, and drops
empty cells. Pass every ``input.*`` column as ``input_keys``, every ``output.*`` as
``output_keys``, every ``metadata.*`` as ``metadata_keys`` and ``span_id_key="span_id"``
(``annotator dataset`` prints the exact call); in the UI, leave "collapse top-level keys" off.

What a CSV cannot carry (each counted in one warning line; the JSONL is always exact): numbers
and true/false arrive as text; null and blank text are left out; text that is itself a JSON
array or object arrives parsed; a key with a dot is nested by Phoenix; text starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so that a spreadsheet does
not run it (`annotator.csv_cells`), and Phoenix keeps that quote.

Filters (all AND-ed)
--------------------
* ``--label NAME=LABEL`` (repeatable; several labels for one NAME are OR-ed),
  ``--min-score NAME=X``, ``--max-score NAME=X``. For each NAME the label/score conditions are
  one predicate on one annotation: a span matches NAME when one *counted* annotation of that
  name satisfies all of them.
* Counted annotations: by default every HUMAN annotation; with ``--annotator ID`` only the
  annotations whose identifier is ID (any kind, so an LLM judge's identifier works too).
  Span annotations of the span count; for the root span of a trace, trace annotations count
  too (``--label task_success=failure`` exports the root spans of failed traces).
* Disagreement: by default *any* counted annotation matching is enough (a span that alice
  called ``incorrect`` and bob ``correct`` matches ``--label correctness=incorrect``). With
  ``--agreed`` *every* counted annotation of that name must match (and there must be one).
* ``--span-kind KIND`` (repeatable, OR-ed), ``--project``, ``--limit`` (first N matches).
* ``--where EXPR`` / ``--trace-where EXPR`` / ``--search TEXT``: only spans the filter
  expressions and the full-text search select
  (``DatasetSpec.spans``, an ``annotator.query.Selection``), ANDed with the rest.
* Spans are written in import order (``rowid``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Generator, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import IO, Any

import orjson

from annotator import semconv
from annotator.csv_cells import neutralise
from annotator.model import SpanKind
from annotator.query import Selection, positional
from annotator.store import FINAL, Store, connection_of

__all__ = [
    "FORMATS",
    "DatasetArgumentError",
    "DatasetSpec",
    "NameCondition",
    "WriteResult",
    "build_spec",
    "check_names",
    "example_input",
    "example_output",
    "iter_examples",
    "write_examples",
]

FORMATS = ("jsonl", "csv")
_CHUNK = 500


class DatasetArgumentError(ValueError):
    """A bad filter argument: one line for the user."""


# --------------------------------------------------------------------------------------------
# filters


@dataclass
class NameCondition:
    name: str
    labels: list[str] = field(default_factory=list)
    min_score: float | None = None
    max_score: float | None = None


@dataclass
class DatasetSpec:
    conditions: list[NameCondition] = field(default_factory=list)
    annotator: str | None = None  # identifier; None: the final value (or any HUMAN rater)
    agreed: bool = False
    any_rater: bool = False  # match any HUMAN rater's annotation, not the final value
    # names that have final values (filled from the database by iter_examples / check_names)
    final_names: frozenset[str] | None = None
    span_kinds: list[str] = field(default_factory=list)
    project: str | None = None
    limit: int | None = None
    spans: Selection = field(default_factory=Selection)  # --where / --trace-where


_NAME_VALUE = re.compile(r"^(?P<name>[^=]+)=(?P<value>.*)$", re.S)


def _split(option: str, text: str, what: str) -> tuple[str, str]:
    match = _NAME_VALUE.match(text)
    if not match or not match["name"].strip():
        raise DatasetArgumentError(f"{option} {text!r}: write NAME={what}")
    return match["name"].strip(), match["value"]


def _number(option: str, text: str) -> tuple[str, float]:
    name, raw = _split(option, text, "NUMBER")
    try:
        value = float(raw.strip())
    except ValueError:
        raise DatasetArgumentError(f"{option} {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetArgumentError(f"{option} {text!r}: the score must be a finite number")
    return name, value


def build_spec(
    *,
    labels: Sequence[str] = (),
    min_scores: Sequence[str] = (),
    max_scores: Sequence[str] = (),
    annotator: str | None = None,
    agreed: bool = False,
    span_kinds: Sequence[str] = (),
    project: str | None = None,
    limit: str | int | None = None,
    any_rater: bool = False,
) -> DatasetSpec:
    """Parse the command-line filter values. Raises DatasetArgumentError (one line)."""
    conditions: dict[str, NameCondition] = {}

    def condition(name: str) -> NameCondition:
        return conditions.setdefault(name, NameCondition(name))

    for text in labels:
        name, label = _split("--label", text, "LABEL")
        if label == "":
            raise DatasetArgumentError(f"--label {text!r}: the label is empty")
        found = condition(name)
        if label not in found.labels:
            found.labels.append(label)
    for text in min_scores:
        name, value = _number("--min-score", text)
        found = condition(name)
        found.min_score = value if found.min_score is None else max(found.min_score, value)
    for text in max_scores:
        name, value = _number("--max-score", text)
        found = condition(name)
        found.max_score = value if found.max_score is None else min(found.max_score, value)
    for found in conditions.values():
        if (
            found.min_score is not None
            and found.max_score is not None
            and found.min_score > found.max_score
        ):
            raise DatasetArgumentError(
                f"--min-score {found.name}={found.min_score:g} is above "
                f"--max-score {found.name}={found.max_score:g}: nothing can match"
            )
    kinds: list[str] = []
    valid = [k.value for k in SpanKind]
    for text in span_kinds:
        wanted = text.strip().upper()
        if wanted not in valid:
            raise DatasetArgumentError(
                f"--span-kind {text!r}: unknown span kind (use {', '.join(valid)})"
            )
        if wanted not in kinds:
            kinds.append(wanted)
    parsed_limit: int | None = None
    if limit is not None:
        try:
            parsed_limit = int(str(limit).strip())
        except ValueError:
            raise DatasetArgumentError(f"--limit {limit!r}: not a whole number") from None
        if parsed_limit < 1:
            raise DatasetArgumentError(f"--limit {limit!r}: must be 1 or more")
    if annotator is not None and annotator == "":
        raise DatasetArgumentError("--annotator: the identifier is empty")
    return DatasetSpec(
        conditions=list(conditions.values()),
        annotator=annotator,
        agreed=agreed,
        any_rater=any_rater,
        span_kinds=kinds,
        project=project,
        limit=parsed_limit,
    )


def check_names(database: Store | sqlite3.Connection, spec: DatasetSpec) -> list[str]:
    """Warnings about the filters: names no config or annotation has, labels a categorical
    config does not offer, --agreed without label/score filters."""
    conn = connection_of(database)
    warnings: list[str] = []
    configs = None
    if spec.conditions:  # the configs are read (and parsed: pydantic) only to check them
        from annotator.team.stats import stored_configs

        try:
            configs = stored_configs(conn)
        except Exception:
            configs = None
    present = {row[0] for row in conn.execute("SELECT DISTINCT name FROM annotations")}
    for condition in spec.conditions:
        config = configs.by_name(condition.name) if configs is not None else None
        if config is None and condition.name not in present:
            warnings.append(
                f"no config or annotation is named {condition.name!r}: that filter matches nothing"
            )
            continue
        if config is not None and config.values and condition.labels:
            offered = [v.label for v in config.values]
            for label in condition.labels:
                if label not in offered:
                    warnings.append(
                        f"{label!r} is not a label of {condition.name!r} "
                        f"(labels: {', '.join(offered)})"
                    )
    if spec.agreed and not spec.conditions:
        warnings.append("--agreed has no effect without --label/--min-score/--max-score")
    finals = names_with_finals(conn)
    for condition in spec.conditions:
        if _uses_finals(spec) and condition.name not in finals and condition.name in present:
            warnings.append(
                f"no final values of {condition.name!r} yet: matched on any rater's annotation "
                "(annotator resolve writes final values; --any-rater says this explicitly)"
            )
    return warnings


def names_with_finals(database: Store | sqlite3.Connection) -> frozenset[str]:
    conn = connection_of(database)
    return frozenset(
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT name FROM annotations WHERE identifier = '{FINAL}' "
            "AND annotator_kind = 'HUMAN'"
        )
    )


def _uses_finals(spec: DatasetSpec) -> bool:
    """Label and score filters match the final value, unless told to look at raters."""
    return not (spec.any_rater or spec.agreed or spec.annotator is not None)


def _predicate(condition: NameCondition) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if condition.labels:
        parts.append(f"a.label IN ({','.join('?' * len(condition.labels))})")
        params.extend(condition.labels)
    if condition.min_score is not None or condition.max_score is not None:
        # a score column can hold text (SQLite is dynamically typed); text compares above
        # every number, so it must not pass a numeric bound
        parts.append("typeof(a.score) IN ('integer', 'real')")
    if condition.min_score is not None:
        parts.append("a.score >= ?")
        params.append(condition.min_score)
    if condition.max_score is not None:
        parts.append("a.score <= ?")
        params.append(condition.max_score)
    return " AND ".join(parts) or "1", params


def _condition_sql(condition: NameCondition, spec: DatasetSpec) -> tuple[str, list[Any]]:
    # The unary + keeps SQLite from choosing the (name, identifier) index for these lookups:
    # probing by span (or trace) id finds a handful of rows, while the name index would make
    # every span scan all the annotations of that name (minutes on a big database).
    if spec.annotator is not None:
        who, who_params = "+a.identifier = ?", [spec.annotator]
    elif _uses_finals(spec) and condition.name in (spec.final_names or ()):
        who, who_params = f"+a.identifier = '{FINAL}' AND +a.annotator_kind = 'HUMAN'", []
    else:  # any rater: people, not the final value
        who, who_params = f"+a.annotator_kind = 'HUMAN' AND +a.identifier != '{FINAL}'", []
    predicate, predicate_params = _predicate(condition)
    on_span = "a.span_id = s.span_id AND +a.target = 'span'"
    on_trace = "s.span_id = t.root_span_id AND a.trace_id = s.trace_id AND +a.target = 'trace'"

    def exists(
        where: str, extra: str, extra_params: list[Any], negate: bool = False
    ) -> tuple[str, list[Any]]:
        text = (
            f"{'NOT ' if negate else ''}EXISTS (SELECT 1 FROM annotations a WHERE {where} "
            f"AND +a.name = ? AND {who} AND {extra})"
        )
        return text, [condition.name, *who_params, *extra_params]

    if not spec.agreed:
        span_sql, span_params = exists(on_span, predicate, predicate_params)
        trace_sql, trace_params = exists(on_trace, predicate, predicate_params)
        return f"({span_sql} OR {trace_sql})", [*span_params, *trace_params]
    # every counted annotation matches (NULL comparisons count as not matching), and one exists
    mismatch = f"NOT coalesce(({predicate}), 0)"
    any_span, p1 = exists(on_span, "1", [])
    any_trace, p2 = exists(on_trace, "1", [])
    bad_span, p3 = exists(on_span, mismatch, predicate_params, negate=True)
    bad_trace, p4 = exists(on_trace, mismatch, predicate_params, negate=True)
    return (
        f"(({any_span} OR {any_trace}) AND {bad_span} AND {bad_trace})",
        [*p1, *p2, *p3, *p4],
    )


def select_sql(spec: DatasetSpec) -> tuple[str, list[Any]]:
    """The span query: one row per matching span, in rowid order."""
    where: list[str] = []
    params: list[Any] = []
    if spec.span_kinds:
        where.append(f"s.span_kind IN ({','.join('?' * len(spec.span_kinds))})")
        params.extend(spec.span_kinds)
    if spec.project is not None:
        where.append("s.project = ?")
        params.append(spec.project)
    for condition in spec.conditions:
        text, condition_params = _condition_sql(condition, spec)
        where.append(text)
        params.extend(condition_params)
    if spec.spans:
        text, selected = positional(spec.spans.sql)
        where.append(text)
        params.extend(selected)
    sql = (
        "SELECT s.span_id, s.trace_id, coalesce(s.session_id, t.session_id), s.span_kind, "
        "s.name, s.project, s.attributes, (s.span_id = t.root_span_id) "
        "FROM spans s LEFT JOIN traces t ON t.trace_id = s.trace_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(f"({w})" for w in where)
    sql += " ORDER BY s.rowid"
    if spec.limit is not None:
        sql += " LIMIT ?"
        params.append(spec.limit)
    return sql, params


# --------------------------------------------------------------------------------------------
# input / output


def _attr(attributes: Any, path: str) -> Any:
    found = semconv.lookup(attributes, path)
    return None if found is semconv.MISSING else found


def _loads(text: str | bytes) -> Any:
    """JSON text's value; None when it is not JSON."""
    found = semconv.loads_json(text)
    return None if found is semconv.MISSING else found


def _json_decode(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str):
        return None
    return _loads(value)


def _generic(io: semconv.IOValue, kind: str) -> dict[str, Any]:
    value = io.value if io.node is semconv.MISSING else io.node
    if value is semconv.MISSING or value is None:
        return {}
    if isinstance(value, dict):
        return value
    parsed = semconv.parse_json_value(value, io.mime_type)
    if isinstance(parsed, dict):
        return parsed
    if parsed is not semconv.MISSING and parsed is not None:
        return {kind: parsed}
    return {kind: value}


def _message(raw: Any) -> dict[str, Any] | None:
    """One message in the shape Phoenix gives dataset examples (None: not a message object)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("message", raw), dict):
        return None
    message = semconv.message(raw)
    out: dict[str, Any] = {"role": message.role}
    for key, value in (
        ("content", message.content),
        ("name", message.name),
        ("tool_call_id", message.tool_call_id),
    ):
        if value is not None:
            out[key] = value
    if message.contents:
        out["contents"] = message.contents
    if message.function_call is not None:
        call = message.function_call
        out["function_call"] = {"name": call.name, "arguments": call.arguments}
    tool_calls = []
    for raw_call, call in zip(_listed(_tool_call_items(raw)), message.tool_calls, strict=False):
        if not isinstance(raw_call, dict):
            continue
        converted: dict[str, Any] = {} if call.id is None else {"id": call.id}
        converted["function"] = {"name": call.name, "arguments": call.arguments}
        tool_calls.append(converted)
    if tool_calls:
        out["tool_calls"] = tool_calls
    return out


def _tool_call_items(raw: dict[str, Any]) -> Any:
    return semconv.fields(raw, "message").get("tool_calls")


def _listed(value: Any) -> list[Any]:
    return semconv.as_list(value) or []


def _messages(raw: Any) -> list[dict[str, Any]]:
    return [m for m in (_message(item) for item in _listed(raw)) if m is not None]


def example_input(span_kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
    io = semconv.io_value(attributes, "input")
    if span_kind != SpanKind.LLM:
        return _generic(io, "input")
    result: dict[str, Any] = {}
    messages = _messages(_attr(attributes, "llm.input_messages"))
    if messages:
        result["messages"] = messages
    else:
        result = dict(_generic(io, "input"))
    variables = _json_decode(_attr(attributes, "llm.prompt_template.variables"))
    if isinstance(variables, dict):
        for key, variable in variables.items():
            result.setdefault(key, variable)
    tools = semconv.as_list(_attr(attributes, "llm.tools"))
    if tools:
        definitions = []
        for tool in tools:
            schema = semconv.fields(tool, "tool").get("json_schema")
            if schema is not None:
                decoded = _json_decode(schema)
                definitions.append(decoded if decoded is not None else schema)
        if definitions:
            result.setdefault("tools", definitions)
    return result


def example_output(span_kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
    io = semconv.io_value(attributes, "output")
    if span_kind == SpanKind.LLM:
        messages = _messages(_attr(attributes, "llm.output_messages"))
        if messages:
            return {"messages": messages}
    elif span_kind == SpanKind.RETRIEVER:
        documents = _listed(_attr(attributes, "retrieval.documents"))
        if documents and all(isinstance(d, dict) for d in documents):
            unwrapped = [semconv.fields(d, "document") for d in documents]
            if all(unwrapped):
                return {"documents": unwrapped}
    return _generic(io, "output")


# --------------------------------------------------------------------------------------------
# streaming examples


def _annotation_dict(label: Any, score: Any, explanation: Any, kind: str, ident: str) -> dict:
    return {
        "label": label,
        "score": score,
        "explanation": explanation,
        "annotator_kind": kind,
        "identifier": ident,
    }


# (+target: look rows up by the span / trace id index, not by the target column of the unique
# key, which would scan every span annotation for each chunk.)
_ANNOTATION_ORDER = "ORDER BY name, coalesce(document_position, -1), annotator_kind, identifier"


def _span_annotations(
    conn: sqlite3.Connection, span_ids: list[str]
) -> dict[str, tuple[dict[str, list], dict[int, dict[str, list]]]]:
    marks = ",".join("?" * len(span_ids))
    found: dict[str, tuple[dict[str, list], dict[int, dict[str, list]]]] = {}
    for span_id, target, position, name, label, score, explanation, kind, ident in conn.execute(
        "SELECT span_id, target, document_position, name, label, score, explanation, "
        f"annotator_kind, identifier FROM annotations WHERE span_id IN ({marks}) "
        f"AND +target IN ('span', 'document') {_ANNOTATION_ORDER}",
        span_ids,
    ):
        spans, documents = found.setdefault(span_id, ({}, {}))
        entry = _annotation_dict(label, score, explanation, kind, ident)
        if target == "document":
            documents.setdefault(position, {}).setdefault(name, []).append(entry)
        else:
            spans.setdefault(name, []).append(entry)
    return found


def _trace_annotations(
    conn: sqlite3.Connection, trace_ids: list[str]
) -> dict[str, dict[str, list]]:
    if not trace_ids:
        return {}
    marks = ",".join("?" * len(trace_ids))
    found: dict[str, dict[str, list]] = defaultdict(dict)
    for trace_id, name, label, score, explanation, kind, ident in conn.execute(
        "SELECT trace_id, name, label, score, explanation, annotator_kind, identifier "
        f"FROM annotations WHERE trace_id IN ({marks}) AND +target = 'trace' {_ANNOTATION_ORDER}",
        trace_ids,
    ):
        found[trace_id].setdefault(name, []).append(
            _annotation_dict(label, score, explanation, kind, ident)
        )
    return found


def _example(row: tuple, spans: dict, traces: dict) -> dict[str, Any]:
    span_id, trace_id, session_id, kind, name, project, attributes_text, is_root = row
    attributes = _loads(attributes_text) if attributes_text else {}
    if not isinstance(attributes, dict):
        attributes = {}
    on_span, on_documents = spans.get(span_id, ({}, {}))
    metadata: dict[str, Any] = {"span_id": span_id, "trace_id": trace_id}
    if session_id is not None:  # left out, not null: a CSV cannot tell null from absent
        metadata["session_id"] = session_id
    metadata |= {
        "span_kind": kind,
        "name": name,
        "project": project,
        "annotations": on_span,
        "document_annotations": [
            {"document_position": position, "annotations": on_documents[position]}
            for position in sorted(on_documents)
        ],
        "trace_annotations": traces.get(trace_id, {}) if is_root else {},
        "votes": _votes(on_span),
    }
    return {
        "input": example_input(kind, attributes),
        "output": example_output(kind, attributes),
        "metadata": metadata,
        "span_id": span_id,
    }


def _votes(on_span: dict[str, list[dict]]) -> dict[str, dict[str, Any]]:
    """Per span annotation name: the final value and each person's vote (label, else
    score), for names with either."""
    result: dict[str, dict[str, Any]] = {}
    for name, entries in on_span.items():
        final = None
        raters: dict[str, Any] = {}
        for entry in entries:
            if entry["annotator_kind"] != "HUMAN":
                continue
            value = entry["label"] if entry["label"] is not None else entry["score"]
            if value is None:
                continue
            if entry["identifier"] == FINAL:
                final = value
            else:
                raters[entry["identifier"]] = value
        if final is not None or raters:
            result[name] = {"final": final, "raters": raters}
    return result


def iter_examples(
    database: Store | sqlite3.Connection, spec: DatasetSpec
) -> Generator[dict[str, Any], None, None]:
    """One example per matching span, streamed: spans are fetched `_CHUNK` at a time and the
    annotations of each chunk with one query."""
    conn = connection_of(database)
    if spec.final_names is None:
        spec = replace(spec, final_names=names_with_finals(conn))
    sql, params = select_sql(spec)
    cursor = conn.execute(sql, params)
    try:
        while True:
            rows = cursor.fetchmany(_CHUNK)
            if not rows:
                return
            spans = _span_annotations(conn, [row[0] for row in rows])
            traces = _trace_annotations(conn, sorted({row[1] for row in rows if row[7]}))
            for row in rows:
                yield _example(row, spans, traces)
    finally:
        # closed by the garbage collector after its database (a write failed): nothing to do
        with suppress(sqlite3.ProgrammingError):
            cursor.close()


# --------------------------------------------------------------------------------------------
# writing


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):  # lone surrogates, integers beyond 64 bits
        return json.dumps(value, ensure_ascii=True, default=str).encode()


@dataclass
class WriteResult:
    """What `write_examples` wrote. For CSV: the ``input.*`` / ``output.*`` / ``metadata.*``
    columns (what to pass as Phoenix's input_keys / output_keys / metadata_keys), and how many
    examples Phoenix's CSV upload would read back differently from the JSONL, by reason."""

    count: int = 0
    columns: dict[str, list[str]] = field(
        default_factory=lambda: {bucket: [] for bucket in CSV_BUCKETS}
    )
    inexact: dict[str, int] = field(default_factory=dict)


def write_examples(
    examples: Iterable[dict[str, Any]],
    stream: IO[bytes],
    fmt: str,
    *,
    spool_dir: str | None = None,
) -> WriteResult:
    """Write `examples` to a binary stream as JSON lines or CSV. CSV needs every example's
    keys before its header, so its rows are first spooled to an unnamed temporary file in
    `spool_dir` (default: the system's temporary directory), deleted by the OS however the
    process ends."""
    if fmt not in FORMATS:
        raise DatasetArgumentError(f"unknown format {fmt!r}: use {' or '.join(FORMATS)}")
    result = WriteResult()
    if fmt == "jsonl":
        for example in examples:
            stream.write(_dumps(example) + b"\n")
            result.count += 1
        return result
    with tempfile.TemporaryFile(dir=spool_dir) as spool:
        seen: dict[str, None] = {}
        for example in examples:
            reasons: set[str] = set()
            cells = {"span_id": _csv_text(str(example["span_id"]), reasons)}
            for bucket in CSV_BUCKETS:
                for key, value in example[bucket].items():
                    column = f"{bucket}.{key}"
                    if column not in seen:
                        seen[column] = None
                        result.columns[bucket].append(column)
                    cells[column] = _csv_cell(key, value, reasons)
            spool.write(_dumps(cells) + b"\n")
            for reason in reasons:
                result.inexact[reason] = result.inexact.get(reason, 0) + 1
            result.count += 1
        header = ["span_id", *(c for bucket in CSV_BUCKETS for c in result.columns[bucket])]
        spool.seek(0)
        # errors="replace": a lone surrogate from a broken trace becomes "?" instead of failing
        text = io.TextIOWrapper(
            stream, encoding="utf-8", errors="replace", newline="", write_through=True
        )
        try:
            writer = csv.writer(text)
            writer.writerow(header)
            for line in spool:
                cells = _loads(line)
                writer.writerow([cells.get(column, "") for column in header])
            text.flush()
        finally:
            text.detach()
    return result


CSV_BUCKETS: tuple[str, ...] = ("input", "output", "metadata")

# Why Phoenix's CSV upload would read an example differently from the JSONL (warning text).
INEXACT_NUMBER = "numbers or true/false (Phoenix reads them as text)"
INEXACT_EMPTY = "null or blank values (Phoenix leaves them out)"
INEXACT_QUOTED = "text starting with = + - @, a tab or CR (written with a leading ')"
INEXACT_JSON_TEXT = "text that is itself a JSON array or object (Phoenix parses it)"
INEXACT_DOTTED = "keys containing a dot (Phoenix nests them)"


def _csv_cell(key: str, value: Any, reasons: set[str]) -> str:
    """One input/output/metadata value as the cell Phoenix's CSV upload reads it from: text
    as it is, objects and arrays as JSON text (Phoenix parses those), scalars as JSON."""
    if "." in key:
        reasons.add(INEXACT_DOTTED)
    if type(value) is str:
        return _csv_text(value, reasons)
    if value is None:
        reasons.add(INEXACT_EMPTY)
        return ""
    if isinstance(value, (dict, list)):
        return _dumps(value).decode()
    reasons.add(INEXACT_NUMBER)  # numbers stay numbers for a spreadsheet: never quoted
    return _dumps(value).decode()


# First characters that need a closer look: formula triggers, quotes, JSON brackets.
_SPECIAL_FIRST = frozenset("=+-@'[{")


def _csv_text(value: str, reasons: set[str]) -> str:
    first = value[:1]
    if first and first not in _SPECIAL_FIRST and not first.isspace():
        return value  # the common case, decided by one character
    cell = neutralise(value)
    if not value.strip():
        reasons.add(INEXACT_EMPTY)
    elif len(cell) != len(value):
        reasons.add(INEXACT_QUOTED)
    else:
        stripped = value.strip()
        ends = (stripped[0], stripped[-1])
        if ends in (("[", "]"), ("{", "}")) and _loads(stripped) is not None:
            reasons.add(INEXACT_JSON_TEXT)
    return cell
