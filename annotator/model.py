"""The canonical data model every reader produces and every other part consumes.

Plain slotted dataclasses (not pydantic): readers build hundreds of thousands of spans and
validation lives at the file-format edges, not here. The names and value sets follow Phoenix /
OpenInference so that records round-trip to Phoenix unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SpanKind(StrEnum):
    """OpenInference span kinds (``openinference.span.kind``)."""

    CHAIN = "CHAIN"
    LLM = "LLM"
    RETRIEVER = "RETRIEVER"
    RERANKER = "RERANKER"
    EMBEDDING = "EMBEDDING"
    TOOL = "TOOL"
    AGENT = "AGENT"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    PROMPT = "PROMPT"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> SpanKind:
        """Any-case kind name; anything unrecognised is UNKNOWN (never an error)."""
        if isinstance(value, str):
            try:
                return cls(value.strip().upper())
            except ValueError:
                pass
        return cls.UNKNOWN


class StatusCode(StrEnum):
    OK = "OK"
    ERROR = "ERROR"
    UNSET = "UNSET"


class Target(StrEnum):
    """What an annotation is about (Phoenix has one endpoint per target)."""

    SPAN = "span"
    TRACE = "trace"
    DOCUMENT = "document"
    SESSION = "session"


class AnnotatorKind(StrEnum):
    HUMAN = "HUMAN"
    LLM = "LLM"
    CODE = "CODE"


class Source(StrEnum):
    """Phoenix's ``source``: APP for values entered in the app, API for imported ones."""

    APP = "APP"
    API = "API"


# Phoenix stores span notes as annotations with this reserved name.
NOTE_NAME = "note"


@dataclass(slots=True)
class Span:
    """One span, normalised.

    ``attributes`` is nested the way Phoenix stores it
    (``{"llm": {"input_messages": [{"message": {"role": ..., "content": ...}}]}}``) whatever shape
    the input file used. Times are ISO-8601 UTC strings (``2026-11-26T19:56:47.742336+00:00``),
    which sort correctly as text and read well in sqlite3 / Datasette.
    """

    span_id: str
    trace_id: str
    parent_id: str | None
    name: str
    span_kind: str = SpanKind.UNKNOWN
    start_time: str | None = None
    end_time: str | None = None
    status_code: str = StatusCode.UNSET
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    project: str = "default"
    session_id: str | None = None

    @property
    def latency_ms(self) -> float | None:
        from annotator.timeutil import latency_ms

        return latency_ms(self.start_time, self.end_time)


@dataclass(slots=True, frozen=True)
class Problem:
    """Something wrong at a place in a file (``line`` 1-based; None: the file as a whole).
    Readers yield these for records they cannot use instead of raising; config validation
    reports them too."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Annotation:
    """One annotation record, Phoenix's shape flattened (``result`` fields at top level)."""

    name: str
    target: str = Target.SPAN
    span_id: str | None = None
    trace_id: str | None = None
    session_id: str | None = None
    document_position: int | None = None
    label: str | None = None
    score: float | None = None
    explanation: str | None = None
    annotator_kind: str = AnnotatorKind.HUMAN
    source: str = Source.APP
    identifier: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
