#!/usr/bin/env python3
"""Generate the bundled sample traces (``sample_traces/*.otlp.jsonl``).

Every span in the output is produced by real OpenInference instrumentation
(``openinference-instrumentation-langchain``) around real LangChain / LangGraph code.
Only the language model is scripted (``ScriptedChatModel`` below returns prepared
answers, tool calls and failures), the vector store is LangChain's ``InMemoryVectorStore``
with a small deterministic hashing embedding, and the tools are plain Python functions.
No network is used and no real model is called.

The run is deterministic: span/trace ids come from a seeded OpenTelemetry ``IdGenerator``,
time comes from a virtual clock, the UUIDs that LangChain/LangGraph put into payloads come
from seeded generators, and ``PYTHONHASHSEED`` is pinned.  Running it twice with the same
package versions (see README.md) gives byte-identical files.

Usage (from the repository root, in a venv with the pinned packages from README.md)::

    python sample_traces/generate.py                 # all projects
    python sample_traces/generate.py --only rag      # one project (rag, agent, chat)
    python sample_traces/generate.py --out-dir /tmp/x
"""

from __future__ import annotations

import os
import sys

# --- determinism that must be in place before anything else is imported -------------------
if os.environ.get("PYTHONHASHSEED") != "0":
    env = dict(os.environ, PYTHONHASHSEED="0")
    os.execve(sys.executable, [sys.executable, *sys.argv], env)
for _k in list(os.environ):
    if _k.startswith(("OTEL_", "LANGSMITH_", "LANGCHAIN_")):
        del os.environ[_k]

import argparse
import base64
import datetime as _dt
import hashlib
import json
import math
import random
import re
import sysconfig
import types
import uuid
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import langchain_core.callbacks.manager  # loaded so its `uuid7` gets patched
import langchain_core.tracers.core
import langchain_core.tracers.langchain
import langchain_core.utils.uuid
import langgraph.checkpoint.base.id as lg_id
import opentelemetry.sdk.trace as otel_sdk_trace
from google.protobuf.json_format import MessageToDict
from langchain.agents import create_agent
from langchain.agents.middleware import ToolErrorMiddleware
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.vectorstores import InMemoryVectorStore, VectorStoreRetriever
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from openinference.instrumentation import using_attributes
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator

HERE = Path(__file__).resolve().parent

# OpenInference's attribute masking calls callables; langchain-core 1.x's `message.text` is a
# callable str that warns when called. Harmless, and the value is the same.
warnings.filterwarnings("ignore", message=r"Calling \.text\(\) as a method is deprecated")

# Spans per exported line, like BatchSpanProcessor's max_export_batch_size: a line holds the
# spans that ended one after the other, so several traces share a line and traces that
# straddle a boundary are split across two lines (children first, as a real exporter does).
MAX_EXPORT_BATCH_SIZE = 32


# ============================================================================================
# Determinism: virtual clock, seeded UUIDs, seeded span/trace ids
# ============================================================================================


class VirtualClock:
    """Monotonic fake wall clock in Unix nanoseconds.

    Every read moves time forward a little (the cost of the code between two callbacks);
    ``advance`` simulates real work such as a model call or a network round trip.
    """

    def __init__(self) -> None:
        self.ns = 0
        self.rng = random.Random(0)

    def reset(self, start: _dt.datetime, seed: int) -> None:
        self.ns = int(start.timestamp()) * 1_000_000_000
        self.rng = random.Random(seed)

    def now_ns(self) -> int:
        self.ns += self.rng.randint(40_000, 700_000)
        return self.ns

    def advance_ms(self, ms: float) -> None:
        self.ns += int(ms * 1_000_000)

    def jump_to(self, when: _dt.datetime) -> None:
        target = int(when.timestamp()) * 1_000_000_000
        self.ns = max(self.ns, target)


CLOCK = VirtualClock()


class _VirtualDatetime(_dt.datetime):
    """Stand-in for ``datetime`` inside langchain_core.tracers.core (run start/end times)."""

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
        ns = CLOCK.now_ns()
        return _dt.datetime.fromtimestamp(ns / 1e9, tz or _dt.UTC)


class SeededUUIDs:
    def __init__(self) -> None:
        self.rng = random.Random(0)

    def reset(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def uuid7(self, nanoseconds: int | None = None) -> uuid.UUID:
        ns = CLOCK.now_ns() if nanoseconds is None else nanoseconds
        ms = ns // 1_000_000
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= self.rng.getrandbits(12) << 64
        value |= 0b10 << 62
        value |= self.rng.getrandbits(62)
        return uuid.UUID(int=value)


UUIDS = SeededUUIDs()
_ORIGINAL_UUID4 = uuid.uuid4
_ORIGINAL_UUID7 = langchain_core.utils.uuid.uuid7


def _install_determinism_patches() -> None:
    """Route every clock and UUID source that reaches the spans through seeded versions."""
    langchain_core.tracers.core.datetime = _VirtualDatetime  # run.start_time / run.end_time
    langchain_core.tracers.langchain.datetime = _VirtualDatetime  # chat model run.start_time
    otel_sdk_trace.time_ns = CLOCK.now_ns  # exception event timestamps
    lg_id.time = types.SimpleNamespace(time_ns=lambda: CLOCK.ns)  # LangGraph checkpoint ids
    lg_id.random = UUIDS.rng
    lg_id._last_v6_timestamp = None
    uuid.uuid4 = UUIDS.uuid4
    # modules that did `from uuid import uuid4` / `from ... import uuid7`
    for module in list(sys.modules.values()):
        for attr, original, replacement in (
            ("uuid4", _ORIGINAL_UUID4, UUIDS.uuid4),
            ("uuid7", _ORIGINAL_UUID7, UUIDS.uuid7),
        ):
            if getattr(module, attr, None) is original:
                setattr(module, attr, replacement)


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded PRNG (OpenInference's OITracer uses a provider's
    id generator whenever it is not the default RandomIdGenerator)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def generate_span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.rng.getrandbits(128) or 1


class CollectingExporter(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


# ============================================================================================
# OTLP/JSON (as the OpenTelemetry Collector file exporter writes it)
# ============================================================================================

_ID_KEYS = ("traceId", "spanId", "parentSpanId")

# Stack traces name the files they pass through; rewrite this machine's locations so that the
# output does not depend on where the generator runs.
_PATH_REWRITES = [
    (sysconfig.get_paths()["purelib"], "/srv/app/.venv/lib/python3.11/site-packages"),
    (sysconfig.get_paths()["stdlib"], "/usr/lib/python3.11"),
    (str(HERE), "/srv/app"),
]


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


# `Future.result()` appears in stack traces at one of two lines depending on whether the worker
# thread had already finished (a race); both lines read `return self.__get_result()`.
_FUTURE_RESULT_RACE = re.compile(r'(concurrent/futures/_base\.py", line )449(, in result\n)')


def _fix_ids(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key in _ID_KEYS and isinstance(value, str):
                out[key] = _b64_to_hex(value)
            else:
                out[key] = _fix_ids(value)
        return out
    if isinstance(obj, list):
        return [_fix_ids(v) for v in obj]
    if isinstance(obj, str):
        for old, new in _PATH_REWRITES:
            if old in obj:
                obj = obj.replace(old, new)
        return _FUTURE_RESULT_RACE.sub(r"\g<1>456\g<2>", obj)
    return obj


def to_otlp_json_lines(spans: list[ReadableSpan]) -> list[str]:
    lines = []
    for start in range(0, len(spans), MAX_EXPORT_BATCH_SIZE):
        request = encode_spans(spans[start : start + MAX_EXPORT_BATCH_SIZE])
        as_dict = MessageToDict(request, use_integers_for_enums=True)
        lines.append(json.dumps(_fix_ids(as_dict), separators=(",", ":"), ensure_ascii=False))
    return lines


# ============================================================================================
# The scripted chat model
# ============================================================================================

_TOKEN_RE = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]")


def count_tokens(text: str) -> int:
    """A rough, deterministic stand-in for a BPE tokenizer (about 0.75 words per token)."""
    words = _TOKEN_RE.findall(text)
    return sum(1 + len(w) // 7 for w in words)


@dataclass
class Call:
    """One tool call requested by the model."""

    name: str
    args: dict[str, Any]


@dataclass
class Turn:
    """What the scripted model answers to one request."""

    text: str = ""
    calls: list[Call] = field(default_factory=list)
    error: BaseException | None = None
    latency_ms: float | None = None  # overrides the computed latency


class RateLimitError(Exception):
    """HTTP 429 from the model gateway."""


class ServiceUnavailableError(Exception):
    """HTTP 503/529 from the model gateway."""


class APITimeoutError(TimeoutError):
    """The model gateway did not answer in time."""


for _cls in (RateLimitError, ServiceUnavailableError, APITimeoutError):
    _cls.__module__ = "llm_gateway.errors"


class Script:
    """The queue of prepared model turns, consumed in order by every ScriptedChatModel."""

    def __init__(self) -> None:
        self.turns: deque[Turn] = deque()
        self.rng = random.Random(0)
        self.call_ids = random.Random(0)

    def reset(self, seed: int) -> None:
        self.turns.clear()
        self.rng = random.Random(seed)
        self.call_ids = random.Random(seed + 1)

    def push(self, *turns: Turn | str) -> None:
        for t in turns:
            self.turns.append(Turn(text=t) if isinstance(t, str) else t)

    def pop(self) -> Turn:
        if not self.turns:
            raise RuntimeError("the script ran out of model turns")
        return self.turns.popleft()

    def assert_empty(self) -> None:
        if self.turns:
            raise RuntimeError(f"unused model turns left in the script: {list(self.turns)!r}")

    def call_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "call_" + "".join(self.call_ids.choice(alphabet) for _ in range(24))


SCRIPT = Script()


def _message_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return json.dumps(content)


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers from ``SCRIPT`` (no network, no weights).

    It reports token usage, a model name, a finish reason and bound tools the way real
    provider integrations do, and it takes (virtual) time proportional to its output.
    """

    model_name: str = "scripted-chat-small"
    temperature: float = 0.2
    max_tokens: int = 1024
    ms_per_token: float = 14.0
    first_token_ms: float = 380.0
    prompt_cache: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "scripted"
        params["ls_model_name"] = self.model_name
        params["ls_temperature"] = self.temperature
        params["ls_max_tokens"] = self.max_tokens
        return params

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn = SCRIPT.pop()
        prompt_tokens = 3 + sum(4 + count_tokens(_message_text(m)) for m in messages)
        if kwargs.get("tools"):
            prompt_tokens += count_tokens(json.dumps(kwargs["tools"]))
        if turn.error is not None:
            CLOCK.advance_ms(turn.latency_ms or 250 + SCRIPT.rng.random() * 200)
            raise turn.error
        tool_calls = [
            {"name": c.name, "args": c.args, "id": SCRIPT.call_id(), "type": "tool_call"}
            for c in turn.calls
        ]
        completion_tokens = count_tokens(turn.text) + sum(
            8 + count_tokens(json.dumps(c.args)) for c in turn.calls
        )
        latency = turn.latency_ms or (
            self.first_token_ms * (0.8 + 0.5 * SCRIPT.rng.random())
            + prompt_tokens * 0.05
            + completion_tokens * self.ms_per_token * (0.85 + 0.3 * SCRIPT.rng.random())
        )
        CLOCK.advance_ms(latency)
        finish_reason = "tool_calls" if tool_calls else "stop"
        usage: dict[str, Any] = {
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if self.prompt_cache and prompt_tokens >= 400:
            # the conversation so far is a cached prefix, in blocks of 64 tokens
            usage["input_token_details"] = {"cache_read": (prompt_tokens * 2 // 3) // 64 * 64}
        message = AIMessage(
            content=turn.text,
            tool_calls=tool_calls,
            usage_metadata=usage,
            response_metadata={"model_name": self.model_name, "finish_reason": finish_reason},
        )
        return ChatResult(
            generations=[
                ChatGeneration(message=message, generation_info={"finish_reason": finish_reason})
            ],
            llm_output={"model_name": self.model_name},
        )


# ============================================================================================
# Retrieval: a small deterministic embedding and a retriever that keeps the scores
# ============================================================================================

_COMMON_WORDS = """
a an the and or but if then else of to in on at by for with from as is are was were be been being
do does did doing have has had having i me my we our you your it its this that these those there
here what which who whom how why when where can could should would will shall may might must not
no yes so than too very just also about into over under again any all each both few more most
other some such only own same up down out off once get got use using used want let like need
"""
# plus words that occur in nearly every chunk of this corpus and so carry no signal
_STOPWORDS = frozenset([*_COMMON_WORDS.split(), "tasklane", "task", "job"])


def _terms(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9_]+", text.lower())
    out = []
    for w in words:
        if w in _STOPWORDS or len(w) < 2:
            continue
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


class HashingEmbeddings(Embeddings):
    """Deterministic bag-of-words feature-hashing embedding (no model, no network).

    Unlike a random fake embedding, texts that share words end up close together, so
    retrieval is mostly sensible, with the occasional irrelevant hit a real system has.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def _embed(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        counts: dict[str, int] = {}
        for term in _terms(text):
            counts[term] = counts.get(term, 0) + 1
        for term, n in counts.items():
            digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "big") % self.dim
            sign = 1.0 if digest[4] & 1 else -1.0
            vec[index] += sign * (1.0 + math.log(n))
        # a small shared component, so unrelated texts are not exactly orthogonal
        vec[0] += 0.35
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


FAULTS: dict[str, BaseException | None] = {"vector_index": None}


class ScoredRetriever(VectorStoreRetriever):
    """Similarity search that records each hit's score and id in its metadata."""

    index_name: str = "docs"

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        CLOCK.advance_ms(35 + 60 * SCRIPT.rng.random())  # embedding + vector search
        if (error := FAULTS["vector_index"]) is not None:
            CLOCK.advance_ms(5000)
            raise error
        k = self.search_kwargs.get("k", 4)
        hits = self.vectorstore.similarity_search_with_score(query, k=k)
        docs = []
        for doc, score in hits:
            metadata = {"doc_id": doc.id, **doc.metadata, "score": round(float(score), 4)}
            docs.append(Document(id=doc.id, page_content=doc.page_content, metadata=metadata))
        return docs


def build_store(chunks: list[dict[str, Any]]) -> InMemoryVectorStore:
    store = InMemoryVectorStore(HashingEmbeddings())
    docs = [
        Document(
            id=c["id"],
            page_content=(
                c["text"].strip()
                if c["text"].lstrip().startswith("#")
                else f"## {c['title']}\n\n{c['text'].strip()}"
            ),
            metadata={k: v for k, v in c.items() if k not in ("id", "text")},
        )
        for c in chunks
    ]
    store.add_documents(docs, ids=[d.id for d in docs])
    return store


# ============================================================================================
# Project plumbing
# ============================================================================================


@dataclass
class Project:
    key: str
    name: str
    service_name: str
    service_version: str
    seed: int
    start: _dt.datetime


def utc(*args: int) -> _dt.datetime:
    return _dt.datetime(*args, tzinfo=_dt.UTC)


def run_project(project: Project, body: Any, out_dir: Path) -> Path:
    exporter = CollectingExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": project.service_name,
                "service.version": project.service_version,
                "service.instance.id": str(
                    uuid.UUID(int=random.Random(project.seed + 7).getrandbits(128), version=4)
                ),
                "deployment.environment.name": "demo",
                "openinference.project.name": project.name,
            }
        ),
        id_generator=SeededIdGenerator(project.seed),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Reset every seeded source only now: creating the Resource above may draw a UUID once per
    # process, and each file must come out the same whether or not other projects ran first.
    CLOCK.reset(project.start, project.seed)
    UUIDS.reset(project.seed)
    SCRIPT.reset(project.seed)
    _install_determinism_patches()
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        body()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    lines = to_otlp_json_lines(exporter.spans)
    path = out_dir / f"{project.key}.otlp.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"{path}: {len(exporter.spans)} spans in {len(lines)} lines")
    return path


def run_turn(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Invoke one traced request; failures are part of the sample, so report and go on."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        print(f"    (expected failure: {type(exc).__name__}: {exc})")
        SCRIPT.turns.clear()
        return None
    finally:
        SCRIPT.assert_empty()


# ============================================================================================
# Project 1: sample-rag — documentation Q&A bot for "Tasklane" (a fictional job-queue library)
# ============================================================================================

TASKLANE_DOCS: list[dict[str, Any]] = [
    {
        "id": "tl-install-01",
        "source": "docs/getting-started/install.md",
        "title": "Installation",
        "text": """
Tasklane requires Python 3.10+ and a broker: Redis 6.2+ or PostgreSQL 14+. Install the extra
for your broker, pip install "tasklane[redis]" or pip install "tasklane[postgres]", and set
TASKLANE_BROKER_URL, e.g. redis://localhost:6379/0 or postgresql://tasklane@localhost/jobs.
""",
    },
    {
        "id": "tl-first-task-01",
        "source": "docs/getting-started/first-task.md",
        "title": "Your first task",
        "text": """
Decorate a function with @app.task and enqueue it:

    app = Tasklane("shop")

    @app.task
    def send_receipt(order_id: int) -> None: ...

    send_receipt.enqueue(order_id=42)

Start a worker with tasklane worker shop.tasks:app. By default it consumes the "default" queue.
""",
    },
    {
        "id": "tl-retries-01",
        "source": "docs/guide/retries.md",
        "title": "Retries and backoff",
        "text": """
Tasks are not retried unless you ask: @app.task(max_retries=5). With retry=True the default is
max_retries=3. Retries use exponential backoff: 2 s, 4 s, 8 s, ... capped at 10 minutes
(retry_backoff_max=600), with full jitter on every delay (disable with retry_jitter=False).
""",
    },
    {
        "id": "tl-retries-02",
        "source": "docs/guide/retries.md",
        "title": "Retrying only some exceptions",
        "text": """
retry_on limits retries to some exception types; others fail the job at once:
@app.task(max_retries=4, retry_on=(TimeoutError, ConnectionError)). Raise
tasklane.Retry(countdown=30) to choose the next delay yourself. Jobs that exhaust their retries
go to the dead-letter queue "tasklane.dead" for 7 days.
""",
    },
    {
        "id": "tl-sched-01",
        "source": "docs/guide/scheduling.md",
        "title": "Periodic tasks",
        "text": """
Declare periodic tasks with a cron expression: @app.periodic(cron="*/5 * * * *"). They are
enqueued by the scheduler, tasklane beat shop.tasks:app; run exactly one beat per app. Cron
expressions are evaluated in UTC unless you pass timezone to the app, e.g.
Tasklane("shop", timezone="Europe/Berlin"). The server's local time zone is never used.
""",
    },
    {
        "id": "tl-sched-02",
        "source": "docs/guide/scheduling.md",
        "title": "Delayed jobs",
        "text": """
Run a job later with countdown (seconds) or eta (a datetime): send_reminder.enqueue(user_id=7,
countdown=3600). eta must be timezone-aware; a naive datetime raises ValueError. Delayed jobs
live in the broker and survive worker restarts.
""",
    },
    {
        "id": "tl-concurrency-01",
        "source": "docs/guide/concurrency.md",
        "title": "Worker concurrency",
        "text": """
--concurrency sets how many jobs a worker runs at once; the default is the number of CPU cores.
--pool picks processes (default), threads or async. Each slot prefetches --prefetch jobs
(default 4), so 8 slots may reserve 32 jobs. Use --prefetch 1 for long CPU-bound jobs.
""",
    },
    {
        "id": "tl-results-01",
        "source": "docs/guide/results.md",
        "title": "Job results",
        "text": """
Results are stored only when TASKLANE_RESULT_BACKEND is set; job.result(timeout=10) then waits
for the value. Results expire after 24 hours; change it with result_ttl in seconds, on the app
or per task (@app.task(result_ttl=600)). result_ttl=0 keeps results forever.
""",
    },
    {
        "id": "tl-queues-01",
        "source": "docs/guide/queues.md",
        "title": "Queues and priorities",
        "text": """
Route a task with @app.task(queue="emails") and consume it with -Q emails,default. Priorities
0-9 (@app.task(priority=8)) work on the Redis broker only; the PostgreSQL broker ignores them
and processes each queue in FIFO order. Use separate queues instead.
""",
    },
    {
        "id": "tl-ratelimit-01",
        "source": "docs/guide/rate-limits.md",
        "title": "Rate limits",
        "text": """
@app.task(rate_limit="10/m") is enforced per worker process, not across the cluster: four
workers can start 40 jobs a minute. For a global limit, give the task its own queue and one
worker.
""",
    },
    {
        "id": "tl-monitoring-01",
        "source": "docs/operations/monitoring.md",
        "title": "Dashboard and metrics",
        "text": """
tasklane dashboard shop.tasks:app serves the dashboard on http://127.0.0.1:9181 (--port to
change). It shows queues, running and failed jobs, and can retry dead-lettered jobs. Workers
expose Prometheus metrics with --metrics-port 9464.
""",
    },
    {
        "id": "tl-deploy-01",
        "source": "docs/operations/deployment.md",
        "title": "Graceful shutdown",
        "text": """
On SIGTERM a worker stops taking jobs and waits up to --shutdown-timeout seconds (default 30)
for running jobs. Jobs still running are interrupted and, since jobs are acknowledged only
when they finish (acks_late), delivered again to another worker. Make tasks idempotent.
""",
    },
    {
        "id": "tl-testing-01",
        "source": "docs/guide/testing.md",
        "title": "Testing tasks",
        "text": """
In tests set app.conf.eager = True: enqueue() then runs the task in-process, without broker or
worker, and exceptions propagate to the caller. The pytest plugin's tasklane_app fixture turns
eager mode on for one test.
""",
    },
    {
        "id": "tl-upgrade-30",
        "source": "docs/changelog/3.0.md",
        "title": "Upgrading to 3.0",
        "text": """
Breaking changes in 3.0:
- Python 3.9 support dropped; 3.10 is the minimum.
- @app.job renamed to @app.task.
- max_attempts renamed to max_retries, which counts retries: max_attempts=4 is max_retries=3.
- JSON is the default serializer; enable pickle with serializer="pickle".
- tasklane scheduler renamed to tasklane beat.
""",
    },
    {
        "id": "tl-troubleshoot-01",
        "source": "docs/operations/troubleshooting.md",
        "title": "Jobs stay queued",
        "text": """
Jobs enqueued but never run? Check that a worker consumes that queue (-Q), that worker and web
app share TASKLANE_BROKER_URL, and that the worker can import the task module (its startup log
lists "registered tasks").
""",
    },
    {
        "id": "tl-contrib-01",
        "source": "CONTRIBUTING.md",
        "title": "Contributing",
        "text": """
Thanks for helping! Run nox -s tests and ruff before opening a pull request, and add a line to
docs/changelog/unreleased.md for user-visible changes.
""",
    },
    {
        "id": "tl-config-ref",
        "source": "docs/reference/configuration.md",
        "title": "Configuration reference",
        "text": """
# Configuration reference

Settings come from keyword arguments to Tasklane(...), app.conf, or environment variables.
Environment variables win over app.conf, which wins over the defaults.

| Setting | Environment variable | Default | Description |
|---|---|---|---|
| broker_url | TASKLANE_BROKER_URL | redis://localhost:6379/0 | redis:// or postgresql:// URL of the broker. |
| result_backend | TASKLANE_RESULT_BACKEND | (none) | Where results are stored; not stored when unset. |
| result_ttl | TASKLANE_RESULT_TTL | 86400 | Seconds a result is kept; 0 keeps it forever. |
| default_queue | TASKLANE_DEFAULT_QUEUE | default | Queue for tasks that name none. |
| serializer | TASKLANE_SERIALIZER | json | json or pickle. |
| timezone | TASKLANE_TIMEZONE | UTC | Time zone of cron schedules. |
| retry_backoff_max | TASKLANE_RETRY_BACKOFF_MAX | 600 | Longest delay between retries (s). |
| retry_jitter | TASKLANE_RETRY_JITTER | true | Full jitter on retry delays. |
| visibility_timeout | TASKLANE_VISIBILITY_TIMEOUT | 3600 | Redis only: seconds before an unacknowledged job is redelivered. |
| worker_concurrency | TASKLANE_CONCURRENCY | CPU cores | Default for --concurrency. |
| worker_prefetch | TASKLANE_PREFETCH | 4 | Jobs reserved per worker slot. |
| shutdown_timeout | TASKLANE_SHUTDOWN_TIMEOUT | 30 | Seconds to wait for running jobs on SIGTERM. |
| log_format | TASKLANE_LOG_FORMAT | text | text or json. |
| metrics_port | TASKLANE_METRICS_PORT | (off) | Prometheus port of each worker. |

## Broker URLs

Redis URLs take the database number as path (redis://host:6379/2); use rediss:// for TLS.
PostgreSQL URLs go to psycopg unchanged, e.g. postgresql://tasklane@db.internal/jobs?sslmode=require.
Run tasklane db upgrade after upgrading the library to migrate the broker tables.

## Connections

Each worker process opens one broker connection per slot plus one for heartbeats; plan for
workers x (concurrency + 1) connections. There is no separate pool setting: the pool size
follows the concurrency.
""",
    },
]

RAG_SYSTEM_TEMPLATE = """You are the documentation assistant for Tasklane {version}, a Python job-queue library.
Answer only from the excerpts below; if they don't contain the answer, say so. Cite sources as [path]. Use Markdown.

Documentation excerpts:
{context}"""

CONDENSE_SYSTEM = (
    "Given the conversation so far and a follow-up question, rewrite the follow-up as a "
    "standalone search query for the Tasklane documentation. Return only the query."
)


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in docs)


@dataclass
class RagTurn:
    question: str
    answer: str = ""
    standalone: str | None = None  # condensed query the model writes for follow-ups
    failure: str | None = None  # "rate_limit", "timeout" or "vector_index"
    after_s: int = 60  # seconds since the previous turn of the session
    in_history: bool = True  # failed turns never make it into the chat history


@dataclass
class RagSession:
    session_id: str
    user_id: str
    channel: str
    experiment: str
    start: _dt.datetime
    turns: list[RagTurn]


RAG_SESSIONS: list[RagSession] = [
    RagSession(
        "docs-5c1e0a",
        "user-1042",
        "web",
        "rag-v1",
        utc(2026, 11, 16, 9, 14, 3),
        [
            RagTurn(
                "How do I make a task retry automatically when it fails?",
                """Retries are opt-in. Give the task a `max_retries` and Tasklane will retry it whenever it raises [docs/guide/retries.md]:

```python
@app.task(max_retries=5)
def sync_inventory(sku: str) -> None:
    ...
```

If you only write `retry=True`, the default of `max_retries=3` applies. To retry only for certain errors, use `retry_on`:

```python
@app.task(max_retries=4, retry_on=(TimeoutError, ConnectionError))
def fetch_rates() -> dict:
    ...
```

A job that still fails after its last retry is moved to the dead-letter queue `tasklane.dead` [docs/guide/retries.md].""",
            ),
            RagTurn(
                "and what's the default wait between attempts?",
                """Tasklane uses exponential backoff [docs/guide/retries.md]:

- 1st retry after **2 s**, then 4 s, 8 s, 16 s, …
- the delay is capped at **10 minutes** (`retry_backoff_max=600`)
- full jitter is applied to every delay, so the real wait is somewhere between 0 and that value; turn it off with `retry_jitter=False`

Both settings can also be set for the whole app through `TASKLANE_RETRY_BACKOFF_MAX` and `TASKLANE_RETRY_JITTER` [docs/reference/configuration.md].""",
                standalone="Tasklane default delay between retry attempts backoff",
                after_s=48,
            ),
        ],
    ),
    RagSession(
        "docs-8a27f4",
        "user-2210",
        "slack",
        "rag-v2",
        utc(2026, 11, 16, 11, 2, 41),
        [
            RagTurn(
                "How do I run a job every 5 minutes, like a cron job?",
                """Use a periodic task with a cron expression [docs/guide/scheduling.md]:

```python
@app.periodic(cron="*/5 * * * *")
def refresh_search_index() -> None:
    ...
```

Periodic jobs are enqueued by the scheduler, so besides your workers you need to run **one** beat process:

```bash
tasklane beat shop.tasks:app
```

Don't run two beat processes for the same app, or every job will be enqueued twice.""",
            ),
            RagTurn(
                "Does the cron use my server's local timezone?",
                """Yes. Cron expressions are evaluated in the local time zone of the machine that runs `tasklane beat`, so `0 9 * * *` fires at 09:00 server time. If your servers run in UTC that's what you'll get; otherwise set `TZ` in the beat process's environment to pin it [docs/guide/scheduling.md].""",
                standalone="Tasklane periodic cron schedule time zone: server local time or UTC",
                after_s=130,
            ),
        ],
    ),
    RagSession(
        "docs-03bd99",
        "user-0877",
        "web",
        "rag-v1",
        utc(2026, 11, 16, 14, 37, 12),
        [
            RagTurn(
                "How many jobs does one worker run at the same time?",
                failure="rate_limit",
                in_history=False,
            ),
            RagTurn(
                "How many jobs does one worker run at the same time?",
                """By default, one job per CPU core: `--concurrency` defaults to the number of cores of the machine [docs/guide/concurrency.md]. You can set it explicitly:

```bash
tasklane worker shop.tasks:app --concurrency 8 --pool threads
```

Keep in mind that each slot also **prefetches** jobs (`--prefetch`, default 4), so a worker with 8 slots may have up to 32 jobs reserved. For long CPU-bound jobs use `--prefetch 1` [docs/guide/concurrency.md].""",
                after_s=21,
            ),
            RagTurn(
                "What happens to jobs that are running when our deploy sends SIGTERM to the worker?",
                """They are stopped immediately. On SIGTERM the worker exits right away and any job that was running is lost, so it will not run again unless the task has retries enabled. To avoid losing work, drain the queue before deploying or enable `max_retries` on long-running tasks [docs/operations/deployment.md].""",
                standalone="Tasklane what happens to running jobs when the worker receives SIGTERM during a deploy",
                after_s=212,
            ),
        ],
    ),
    RagSession(
        "docs-e4f210",
        "user-3315",
        "web",
        "rag-v2",
        utc(2026, 11, 17, 8, 51, 30),
        [
            RagTurn(
                "Which environment variables configure the broker and the result backend?",
                """Two variables [docs/reference/configuration.md]:

| Variable | Default | What it does |
|---|---|---|
| `TASKLANE_BROKER_URL` | `redis://localhost:6379/0` | Where jobs are queued (`redis://` or `postgresql://`) |
| `TASKLANE_RESULT_BACKEND` | *(none)* | Where results are stored; results are not stored when unset |

Examples:

```bash
export TASKLANE_BROKER_URL=postgresql://tasklane@localhost/jobs
export TASKLANE_RESULT_BACKEND=redis://localhost:6379/1
```

Environment variables take precedence over values set on `app.conf` [docs/reference/configuration.md].""",
            ),
            RagTurn(
                "Can you give me a complete production config for the Postgres broker?",
                """A production setup for a PostgreSQL broker [docs/reference/configuration.md]:

```bash
TASKLANE_BROKER_URL=postgresql://tasklane@db.internal:5432/jobs?sslmode=require
TASKLANE_RESULT_BACKEND=redis://cache.internal:6379/1
TASKLANE_CONCURRENCY=8
TASKLANE_PREFETCH=1
TASKLANE_POOL_SIZE=20
TASKLANE_SHUTDOWN_TIMEOUT=120
TASKLANE_LOG_FORMAT=json
TASKLANE_METRICS_PORT=9464
```

- `TASKLANE_POOL_SIZE` caps the broker connections per worker; 20 is a good start.
- Run `tasklane db upgrade` after every library upgrade [docs/reference/configuration.md].""",
                standalone="Tasklane complete production configuration example PostgreSQL broker environment variables",
                after_s=154,
            ),
        ],
    ),
    RagSession(
        "docs-71aa3c",
        "user-4501",
        "slack",
        "rag-v1",
        utc(2026, 11, 17, 10, 5, 9),
        [
            RagTurn(
                "We're upgrading from Tasklane 2.x to 3.0. What are the breaking changes?",
                """From the 3.0 changelog [docs/changelog/3.0.md]:

1. **Python 3.10+** is required (3.9 support was dropped).
2. `@app.job` → `@app.task`.
3. `max_attempts` → `max_retries`, and it now counts *retries*: `max_attempts=4` becomes `max_retries=3`.
4. The default serializer is now **JSON**; pass `serializer="pickle"` if you relied on pickle.
5. `tasklane scheduler` was renamed to `tasklane beat`.

Item 3 is the easy one to miss, since the old value still "works" but gives you one extra attempt.""",
            ),
        ],
    ),
    RagSession(
        "docs-b6d5e2",
        "user-0931",
        "web",
        "rag-v2",
        utc(2026, 11, 17, 15, 42, 55),
        [
            RagTurn(
                "Is there a dashboard where I can see failed jobs?",
                failure="vector_index",
                in_history=False,
            ),
            RagTurn(
                "Is there a dashboard where I can see failed jobs?",
                failure="timeout",
                in_history=False,
                after_s=118,
            ),
            RagTurn(
                "Is there a dashboard where I can see failed jobs?",
                """Yes. Start it with [docs/operations/monitoring.md]:

```bash
tasklane dashboard shop.tasks:app            # http://127.0.0.1:9181
tasklane dashboard shop.tasks:app --port 8080
```

It lists queues and running and **failed** jobs, and you can retry dead-lettered jobs from there.""",
                after_s=74,
            ),
        ],
    ),
    RagSession(
        "docs-2f9c47",
        "user-5120",
        "web",
        "rag-v1",
        utc(2026, 11, 18, 9, 20, 18),
        [
            RagTurn(
                "Does Tasklane have a Django integration?",
                "None of the documentation excerpts I found mention Django, so I can't confirm that there is a dedicated integration. Tasklane itself is framework-agnostic: tasks are decorated functions you enqueue from any Python code, and in tests they can run in-process with eager mode [docs/guide/testing.md]. For Django specifics, such as enqueueing only after a transaction commits, check the docs' search or the project's discussions.",
            ),
            RagTurn(
                "ok. can I set job priorities when using the Postgres broker?",
                """Yes. Priorities from 0 (lowest) to 9 (highest) work with both brokers:

```python
@app.task(priority=8, queue="emails")
def send_password_reset(user_id: int) -> None:
    ...
```

Higher-priority jobs in a queue are picked up first [docs/guide/queues.md].""",
                standalone="Tasklane set job priority Postgres broker",
                after_s=83,
            ),
        ],
    ),
]

RAG_EXPERIMENTS = {
    "rag-v1": {"model": "scripted-chat-small", "k": 3, "ms_per_token": 11.0},
    "rag-v2": {"model": "scripted-chat-large", "k": 3, "ms_per_token": 19.0},
}


def build_rag_chain(model: ScriptedChatModel, retriever: ScoredRetriever) -> Any:
    condense_prompt = ChatPromptTemplate.from_messages(
        [("system", CONDENSE_SYSTEM), MessagesPlaceholder("chat_history"), ("human", "{question}")]
    )
    condense = (condense_prompt | model | StrOutputParser()).with_config(
        run_name="condense_question"
    )

    def search_query(inputs: dict[str, Any]) -> str:
        if history := inputs.get("chat_history"):
            # the rewriter only needs the last exchange
            return condense.invoke({"question": inputs["question"], "chat_history": history[-2:]})
        return inputs["question"]

    retrieve = (RunnableLambda(search_query) | retriever | RunnableLambda(format_docs)).with_config(
        run_name="retrieve_context"
    )
    answer_prompt = ChatPromptTemplate.from_messages(
        [
            ("system", RAG_SYSTEM_TEMPLATE),
            MessagesPlaceholder("chat_history"),
            ("human", "{question}"),
        ]
    ).partial(version="3.2")
    return (
        RunnablePassthrough.assign(context=retrieve) | answer_prompt | model | StrOutputParser()
    ).with_config(run_name="docs_qa")


def rag_body() -> None:
    store = build_store(TASKLANE_DOCS)
    chains = {}
    for name, exp in RAG_EXPERIMENTS.items():
        model = ScriptedChatModel(model_name=exp["model"], ms_per_token=exp["ms_per_token"])
        retriever = ScoredRetriever(vectorstore=store, search_kwargs={"k": exp["k"]})
        chains[name] = build_rag_chain(model, retriever)

    for session in RAG_SESSIONS:
        CLOCK.jump_to(session.start)
        history: list[BaseMessage] = []
        for i, turn in enumerate(session.turns):
            if i:
                CLOCK.advance_ms(turn.after_s * 1000)
            if history:
                SCRIPT.push(turn.standalone or turn.question)
            FAULTS["vector_index"] = None
            if turn.failure == "rate_limit":
                SCRIPT.push(
                    Turn(
                        error=RateLimitError(
                            "Error code: 429 - rate limit reached for model "
                            f"'{RAG_EXPERIMENTS[session.experiment]['model']}': 60000 tokens per "
                            "minute (used 59712, requested 1388). Retry after 2.4s."
                        ),
                        latency_ms=212,
                    )
                )
            elif turn.failure == "timeout":
                SCRIPT.push(
                    Turn(error=APITimeoutError("Request timed out after 30.0s."), latency_ms=30000)
                )
            elif turn.failure == "vector_index":
                FAULTS["vector_index"] = ConnectionError(
                    "vector index 'tasklane-docs' unavailable: connection to "
                    "127.0.0.1:6333 refused (retried 3 times)"
                )
            else:
                SCRIPT.push(turn.answer)
            print(f"  rag {session.session_id} turn {i}: {turn.question[:60]}")
            with using_attributes(
                session_id=session.session_id,
                user_id=session.user_id,
                metadata={
                    "channel": session.channel,
                    "experiment": session.experiment,
                    "turn": i,
                },
                tags=["docs-qa", session.experiment],
            ):
                answer = run_turn(
                    chains[session.experiment].invoke,
                    {"question": turn.question, "chat_history": list(history)},
                )
            FAULTS["vector_index"] = None
            if answer is not None and turn.in_history:
                history += [HumanMessage(turn.question), AIMessage(answer)]


# ============================================================================================
# Project 2: sample-agent — support agent of "Pinecrest Outdoor" (a fictional online shop)
# ============================================================================================

PRODUCTS: list[dict[str, Any]] = [
    {
        "sku": "RS-CIR-W",
        "name": "Cirrus Rain Shell (women's)",
        "category": "jackets",
        "price": 129.0,
        "rating": 4.6,
        "sizes": ["XS", "S", "M", "L", "XL"],
        "specs": "2.5-layer waterproof-breathable shell, 20,000 mm, 310 g, pit zips",
    },
    {
        "sku": "RS-NIM-W",
        "name": "Nimbus 3L Jacket (women's)",
        "category": "jackets",
        "price": 149.0,
        "rating": 4.8,
        "sizes": ["XS", "S", "M", "L"],
        "specs": "3-layer waterproof shell, 28,000 mm, 395 g, helmet-compatible hood",
    },
    {
        "sku": "RS-DRZ-W",
        "name": "Drizzle Packable Jacket (women's)",
        "category": "jackets",
        "price": 79.0,
        "rating": 4.1,
        "sizes": ["S", "M", "L"],
        "specs": "water-resistant (not waterproof) ripstop, 180 g, packs into its pocket",
    },
    {
        "sku": "RS-CIR-M",
        "name": "Cirrus Rain Shell (men's)",
        "category": "jackets",
        "price": 129.0,
        "rating": 4.5,
        "sizes": ["S", "M", "L", "XL"],
        "specs": "2.5-layer waterproof-breathable shell, 20,000 mm, 340 g, pit zips",
    },
    {
        "sku": "TN-TALUS2",
        "name": "Talus 2 Backpacking Tent",
        "category": "tents",
        "price": 289.0,
        "rating": 4.4,
        "sizes": [],
        "specs": "2 person, 1.62 kg, floor 2.7 m2, 1 door, packed 46 x 15 cm",
    },
    {
        "sku": "TN-TALUS3",
        "name": "Talus 3 Backpacking Tent",
        "category": "tents",
        "price": 349.0,
        "rating": 4.7,
        "sizes": [],
        "specs": "3 person, 2.08 kg, floor 3.9 m2, 2 doors, packed 50 x 17 cm",
    },
    {
        "sku": "HL-220",
        "name": "Lumen 220 Headlamp",
        "category": "lighting",
        "price": 39.0,
        "rating": 4.3,
        "sizes": [],
        "specs": "220 lumens, red mode, USB-C rechargeable, IPX4",
    },
]

STOCK: dict[str, dict[str, int]] = {
    "RS-CIR-W-M": {"Reno, NV": 6, "Columbus, OH": 11},
    "RS-NIM-W-M": {"Reno, NV": 0, "Columbus, OH": 2},
    "RS-DRZ-W-M": {"Reno, NV": 23, "Columbus, OH": 9},
    "RS-CIR-M-M": {"Reno, NV": 14, "Columbus, OH": 0},
}

ORDERS: dict[str, dict[str, Any]] = {
    "PC-58213": {
        "status": "shipped",
        "carrier": "UPS",
        "tracking_number": "1Z84A0W90312458871",
        "estimated_delivery": "2026-11-16",
        "items": [
            {"sku": "HL-220", "name": "Lumen 220 Headlamp", "qty": 1, "price": 39.0},
            {"sku": "SK-MER-M", "name": "Merino Trail Socks (M)", "qty": 2, "price": 18.0},
        ],
        "total": 75.0,
    },
    "PC-57940": {
        "status": "delivered",
        "delivered_at": "2026-11-02",
        "carrier": "UPS",
        "tracking_number": "1Z84A0W90311907342",
        "items": [
            {"sku": "RS-CIR-M-L", "name": "Cirrus Rain Shell (men's), L", "qty": 1, "price": 129.0},
        ],
        "total": 129.0,
    },
    "PC-60071": {
        # fulfilled by a partner warehouse, whose records have no `delivered_at`
        "status": "delivered",
        "fulfilled_by": "partner-wh-03",
        "delivery_confirmed": True,
        "carrier": "FedEx",
        "tracking_number": "771203318846",
        "items": [
            {"sku": "TN-TALUS2", "name": "Talus 2 Backpacking Tent", "qty": 1, "price": 289.0},
        ],
        "total": 289.0,
    },
}

TRACKING: dict[str, dict[str, Any]] = {
    "1Z84A0W90312458871": {
        "status": "out_for_delivery",
        "estimated_delivery": "2026-11-17 by 20:00",
        "events": [
            {"time": "2026-11-13T18:02", "where": "Reno, NV", "what": "Shipped"},
            {
                "time": "2026-11-15T06:40",
                "where": "Denver, CO",
                "what": "Delay: severe weather, will be rescheduled",
            },
            {"time": "2026-11-17T07:15", "where": "Denver, CO", "what": "Out for delivery"},
        ],
    },
}

HELP_CENTER: list[dict[str, Any]] = [
    {
        "id": "hc-returns",
        "source": "help/returns-and-exchanges",
        "title": "Returns and exchanges",
        "text": "You can return unused items in their original packaging within 30 days of delivery "
        "for a full refund. Start a return from your order page or ask support; we email a "
        "prepaid label. Items marked final sale cannot be returned. Exchanges are handled as "
        "a return plus a new order.",
    },
    {
        "id": "hc-refunds",
        "source": "help/refunds",
        "title": "Refund timing",
        "text": "Refunds go to the original payment method 5-7 business days after the return "
        "reaches our warehouse and passes inspection.",
    },
    {
        "id": "hc-damaged",
        "source": "help/damaged-or-defective",
        "title": "Damaged or defective items",
        "text": "If an item arrives damaged, contact us within 14 days of delivery with a photo. We "
        "send a replacement or refund at no cost and you do not need to return the damaged "
        "item. Tent poles: a free replacement pole section is available for 1 year.",
    },
    {
        "id": "hc-shipping-us",
        "source": "help/shipping",
        "title": "Shipping in the US",
        "text": "Standard shipping (3-5 business days) is free on orders over $75, otherwise $6.95. "
        "Express shipping (1-2 business days) costs $14.95. We ship from Reno, NV and "
        "Columbus, OH.",
    },
    {
        "id": "hc-shipping-intl",
        "source": "help/international-shipping",
        "title": "International shipping",
        "text": "We ship to Canada for a flat $19.95 on parcels up to 5 kg ($29.95 above 5 kg); "
        "duties and taxes are collected at checkout, so there is nothing to pay on delivery. "
        "Delivery takes 5-9 business days. We do not currently ship outside the US and "
        "Canada.",
    },
    {
        "id": "hc-price-match",
        "source": "help/price-match",
        "title": "Price match",
        "text": "We match the price of an identical item (same model, color and size) sold new by an "
        "authorized US retailer, up to 14 days after your purchase. Marketplace sellers, "
        "clearance, coupons and member-only prices are excluded. Contact support with a "
        "link to the offer.",
    },
    {
        "id": "hc-care-shells",
        "source": "help/care/rain-shells",
        "title": "Caring for rain shells",
        "text": "Machine wash rain shells cold on a gentle cycle with a technical wash; do not use "
        "fabric softener or bleach. Tumble dry on low for 20 minutes to reactivate the "
        "water-repellent finish.",
    },
    {
        "id": "hc-warranty",
        "source": "help/warranty",
        "title": "Warranty",
        "text": "Pinecrest gear is covered against defects in materials and workmanship for its "
        "lifetime. Normal wear and tear, accidents and improper care are not covered.",
    },
    {
        "id": "hc-rewards",
        "source": "help/rewards",
        "title": "Trail Rewards",
        "text": "Members earn 1 point per dollar and get a $10 reward for every 200 points. Points "
        "expire after 18 months without a purchase.",
    },
]

AGENT_SYSTEM_PROMPT = (
    "You are the support assistant of Pinecrest Outdoor, an online outdoor-gear shop. Be "
    "friendly and concise. Use the tools for orders, shipments, products, stock and policies; "
    "never guess them. If you cannot resolve an issue, offer to escalate to a human."
)

_HELP_RETRIEVER: ScoredRetriever | None = None


def _work(min_ms: float, max_ms: float) -> None:
    CLOCK.advance_ms(min_ms + (max_ms - min_ms) * SCRIPT.rng.random())


@tool
def get_order(order_id: str) -> dict:
    """Look up an order by id (PC-12345): status, items, carrier, tracking number."""
    _work(40, 120)
    order = ORDERS.get(order_id.strip().upper())
    if order is None:
        return {"error": f"No order with id {order_id!r}. Order ids look like PC-12345."}
    return {"order_id": order_id, **order}


@tool
def track_shipment(carrier: str, tracking_number: str) -> dict:
    """Latest tracking events of a parcel. carrier: UPS or FedEx."""
    _work(300, 900)
    if carrier.lower() == "fedex":
        _work(1500, 2500)
        raise ConnectionError("FedEx tracking API returned HTTP 503 Service Unavailable")
    info = TRACKING.get(tracking_number)
    if info is None:
        return {"error": "unknown tracking number"}
    return {"tracking_number": tracking_number, **info}


@tool
def search_products(query: str, max_price: float | None = None) -> list[dict]:
    """Search the catalog; max_price in USD."""
    _work(120, 260)
    terms = set(_terms(query))
    hits = []
    for product in PRODUCTS:
        text = " ".join([product["name"], product["category"], product["specs"]])
        score = len(terms & set(_terms(text)))
        if score and (max_price is None or product["price"] <= max_price):
            hits.append((score, product))
    hits.sort(key=lambda h: (-h[0], h[1]["price"]))
    return [p for _, p in hits[:5]]


@tool
def check_stock(sku: str) -> dict:
    """Stock per warehouse of a sized sku, e.g. RS-CIR-W-M."""
    _work(50, 110)
    per_warehouse = STOCK.get(sku.upper(), {"Reno, NV": 0, "Columbus, OH": 0})
    return {"sku": sku, "in_stock": any(per_warehouse.values()), "units": per_warehouse}


@tool
def create_return(order_id: str, sku: str, reason: str) -> dict:
    """Open a return for one item of a delivered order (30-day window); emails a label."""
    _work(180, 320)
    order = ORDERS[order_id]
    delivered = _dt.date.fromisoformat(order["delivered_at"])
    if (_dt.date(2026, 11, 17) - delivered).days > 30:
        return {"error": "outside the 30-day return window"}
    return {
        "rma": "RMA-20431",
        "order_id": order_id,
        "sku": sku,
        "reason": reason,
        "label_url": "https://returns.pinecrest.example/label/RMA-20431",
        "refund_estimate": f"${sum(i['price'] for i in order['items'] if i['sku'] == sku):.2f}",
    }


@tool
def search_help_center(query: str) -> str:
    """Search help articles: returns, shipping, warranty, care, price match."""
    assert _HELP_RETRIEVER is not None
    docs = _HELP_RETRIEVER.invoke(query)
    return "\n\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in docs)


@tool
def escalate_to_human(summary: str, priority: str = "normal") -> dict:
    """Hand over to a human agent. priority: low, normal or high."""
    _work(150, 300)
    return {
        "ticket_id": "SUP-88412",
        "priority": priority,
        "queue": "shipping-issues",
        "first_response_within": "4 business hours" if priority == "high" else "1 business day",
    }


def _on_tool_error(exc: Exception, request: Any) -> str | None:
    """Network failures go back to the model as an error result; bugs propagate."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        name = request.tool_call["name"]
        return (
            f"{name} failed: {type(exc).__name__}: {exc}. The service may be temporarily "
            "unavailable; do not retry more than once."
        )
    return None


@dataclass
class AgentTurn:
    message: str
    turns: list[Turn]
    after_s: int = 60


@dataclass
class AgentSession:
    session_id: str
    user_id: str
    channel: str
    start: _dt.datetime
    turns: list[AgentTurn]


def _calls(*calls: tuple[str, dict[str, Any]], text: str = "") -> Turn:
    return Turn(text=text, calls=[Call(name, args) for name, args in calls])


AGENT_SESSIONS: list[AgentSession] = [
    AgentSession(
        "support-7a31",
        "user-7781",
        "web",
        utc(2026, 11, 17, 8, 41, 20),
        [
            AgentTurn(
                "Hi! Where is my order PC-58213? It was supposed to arrive yesterday.",
                [
                    _calls(("get_order", {"order_id": "PC-58213"})),
                    _calls(
                        (
                            "track_shipment",
                            {"carrier": "UPS", "tracking_number": "1Z84A0W90312458871"},
                        )
                    ),
                    Turn(
                        "Sorry for the wait! Your order **PC-58213** (Lumen 220 Headlamp and 2 "
                        "pairs of Merino Trail Socks) was held for a day in Denver because of "
                        "severe weather. It is **out for delivery today** and UPS expects to "
                        "deliver it by **8 pm**.\n\nTracking number: `1Z84A0W90312458871`"
                    ),
                ],
            ),
            AgentTurn(
                "Thanks. Also I'd like to return the rain shell from my previous order "
                "PC-57940, it's too big.",
                [
                    _calls(("get_order", {"order_id": "PC-57940"})),
                    _calls(
                        (
                            "create_return",
                            {"order_id": "PC-57940", "sku": "RS-CIR-M-L", "reason": "too big"},
                        ),
                        text="That order was delivered on November 2, so it's within the "
                        "30-day window. I'll open the return now.",
                    ),
                    Turn(
                        "Done! Your return **RMA-20431** is open for the Cirrus Rain Shell "
                        "(men's, L).\n\n1. Print the prepaid label: "
                        "https://returns.pinecrest.example/label/RMA-20431\n2. Pack the "
                        "jacket unused, with its tags.\n3. Drop it off at any UPS location.\n\n"
                        "You'll get **$129.00** back 5-7 business days after it reaches our "
                        "warehouse. Would you like me to check whether size M is in stock?"
                    ),
                ],
                after_s=75,
            ),
        ],
    ),
    AgentSession(
        "support-19c4",
        "user-3302",
        "web",
        utc(2026, 11, 17, 12, 3, 7),
        [
            AgentTurn(
                "I'm looking for a waterproof rain jacket for women under $150, size M. "
                "Any suggestions?",
                [
                    _calls(
                        (
                            "search_products",
                            {"query": "women's waterproof rain jacket", "max_price": 150},
                        )
                    ),
                    _calls(
                        ("check_stock", {"sku": "RS-CIR-W-M"}),
                        ("check_stock", {"sku": "RS-NIM-W-M"}),
                    ),
                    Turn(
                        "Here are the waterproof options under $150 in women's M:\n\n"
                        "| Jacket | Price | Why pick it | Size M |\n"
                        "|---|---|---|---|\n"
                        "| **Nimbus 3L Jacket** | $149 | most protective: 3-layer, 28,000 mm, "
                        "helmet-compatible hood | 2 left (Columbus) |\n"
                        "| **Cirrus Rain Shell** | $129 | lighter (310 g), pit zips for "
                        "warmer days | 17 in stock |\n\n"
                        "I left out the Drizzle Packable Jacket ($79): it is only "
                        "water-resistant, not waterproof. For all-day rain I'd pick the "
                        "Nimbus; for hiking in changeable weather, the Cirrus."
                    ),
                ],
            ),
            AgentTurn(
                "Is the Cirrus machine washable?",
                [
                    _calls(("check_stock", {"sku": "RS-CIR-W-M"})),
                    Turn(
                        "Yes! The Cirrus Rain Shell is machine washable. Wash it warm with your "
                        "regular detergent and a little fabric softener to keep the fabric soft, "
                        "then hang it to dry."
                    ),
                ],
                after_s=52,
            ),
        ],
    ),
    AgentSession(
        "support-5be0",
        "user-9120",
        "mobile",
        utc(2026, 11, 17, 16, 25, 44),
        [
            AgentTurn(
                "My package with tracking number 771298340027 hasn't moved in 4 days. "
                "What's going on?",
                [
                    _calls(("get_order", {"order_id": "771298340027"})),
                    _calls(
                        ("track_shipment", {"carrier": "FedEx", "tracking_number": "771298340027"})
                    ),
                    _calls(
                        (
                            "escalate_to_human",
                            {
                                "summary": "FedEx parcel 771298340027: no tracking updates for 4 days; "
                                "FedEx tracking API unavailable, could not check status.",
                                "priority": "normal",
                            },
                        )
                    ),
                    Turn(
                        "I'm sorry, I couldn't reach FedEx's tracking service just now, so I "
                        "can't see where your parcel is. Since it hasn't moved for 4 days, I've "
                        "opened ticket **SUP-88412** with our shipping team; they'll contact "
                        "FedEx and get back to you within 1 business day."
                    ),
                ],
            ),
        ],
    ),
    AgentSession(
        "support-e02d",
        "user-4456",
        "web",
        utc(2026, 11, 18, 9, 12, 5),
        [
            AgentTurn(
                "I want to return the tent from order PC-60071, it arrived with a broken pole.",
                [
                    _calls(
                        ("get_order", {"order_id": "PC-60071"}),
                        ("search_help_center", {"query": "item arrived damaged broken tent pole"}),
                    ),
                    _calls(
                        (
                            "create_return",
                            {
                                "order_id": "PC-60071",
                                "sku": "TN-TALUS2",
                                "reason": "arrived damaged: broken pole",
                            },
                        )
                    ),
                ],
            ),
        ],
    ),
    AgentSession(
        "support-8d17",
        "user-6610",
        "web",
        utc(2026, 11, 18, 14, 48, 31),
        [
            AgentTurn(
                "What's your price match policy?",
                [
                    _calls(("search_help_center", {"query": "price match policy"})),
                    Turn(
                        "We match the price of an **identical item** (same model, color and "
                        "size) sold **new by an authorized US retailer**, for up to **14 days** "
                        "after your purchase.\n\nNot eligible: marketplace sellers, clearance "
                        "items, coupons and member-only prices. To request a match, send us a "
                        "link to the offer."
                    ),
                ],
            ),
            AgentTurn(
                "Do you ship to Canada? How much would it cost for a 3 kg package?",
                [
                    _calls(
                        (
                            "search_help_center",
                            {"query": "international shipping Canada cost weight"},
                        )
                    ),
                    Turn(
                        "Yes, we ship to Canada. Shipping is charged by weight at **$12.50 per "
                        "kg**, so a 3 kg package would cost **$37.50**. Duties and taxes are "
                        "collected at checkout, and delivery takes 5-9 business days."
                    ),
                ],
                after_s=64,
            ),
        ],
    ),
    AgentSession(
        "support-2f6b",
        "user-2024",
        "mobile",
        utc(2026, 11, 19, 10, 30, 2),
        [
            AgentTurn(
                "Compare the Talus 2 and Talus 3 tents for a two-person backpacking trip.",
                [
                    _calls(("search_products", {"query": "Talus tent"})),
                    Turn(
                        "| | **Talus 2** | **Talus 3** |\n|---|---|---|\n"
                        "| Price | $289 | $349 |\n| Weight | 1.62 kg | 2.08 kg |\n"
                        "| Floor area | 2.7 m² | 3.9 m² |\n| Doors | 1 | 2 |\n"
                        "| Packed size | 46 × 15 cm | 50 × 17 cm |\n\n"
                        "For two people who carry everything on their backs, the **Talus 2** "
                        "saves 460 g and $60. Choose the **Talus 3** if you want room for gear "
                        "inside or a door each, which is nice on longer trips."
                    ),
                ],
            ),
            AgentTurn(
                "Which one packs smaller?",
                [
                    (
                        "The **Talus 2**: it packs to 46 × 15 cm, versus 50 × 17 cm for the "
                        "Talus 3, so about 25% less volume."
                    )
                ],
                after_s=45,
            ),
        ],
    ),
]


def agent_body() -> None:
    global _HELP_RETRIEVER
    help_store = build_store(HELP_CENTER)
    _HELP_RETRIEVER = ScoredRetriever(vectorstore=help_store, search_kwargs={"k": 3})
    model = ScriptedChatModel(
        model_name="scripted-chat-large",
        temperature=0.0,
        ms_per_token=17.0,
        first_token_ms=520.0,
    )
    agent = create_agent(
        model,
        tools=[
            get_order,
            track_shipment,
            search_products,
            check_stock,
            create_return,
            search_help_center,
            escalate_to_human,
        ],
        system_prompt=AGENT_SYSTEM_PROMPT,
        middleware=[ToolErrorMiddleware(_on_tool_error)],
        checkpointer=InMemorySaver(),
        name="support_agent",
    )
    for session in AGENT_SESSIONS:
        CLOCK.jump_to(session.start)
        for i, turn in enumerate(session.turns):
            if i:
                CLOCK.advance_ms(turn.after_s * 1000)
            SCRIPT.push(*turn.turns)
            print(f"  agent {session.session_id} turn {i}: {turn.message[:60]}")
            with using_attributes(
                session_id=session.session_id,
                user_id=session.user_id,
                metadata={
                    "agent_version": "support-agent 1.8.2",
                    "channel": session.channel,
                    "locale": "en-US",
                },
                tags=["support", "agent"],
            ):
                run_turn(
                    agent.invoke,
                    {"messages": [HumanMessage(turn.message)]},
                    config={
                        "configurable": {"thread_id": session.session_id},
                        "max_concurrency": 1,
                    },
                )


# ============================================================================================
# Project 3: sample-chat — a general assistant with long multi-turn conversations (LangGraph)
# ============================================================================================

CHAT_SYSTEM_PROMPT = (
    "You are Sage, a helpful general-purpose assistant. Answer clearly and concisely, use "
    "Markdown for structure and fenced code blocks for code, and say so when you are not sure."
)


@dataclass
class ChatTurn:
    message: str
    reply: str = ""
    failure: str | None = None  # "overloaded"
    after_s: int = 60


@dataclass
class ChatSession:
    thread_id: str
    user_id: str
    start: _dt.datetime
    turns: list[ChatTurn]


CHAT_SESSIONS: list[ChatSession] = [
    ChatSession(
        "thread-4d2a9e",
        "user-1120",
        utc(2026, 11, 18, 9, 5, 40),
        [
            ChatTurn(
                "How do I read a CSV file and get the average of one column in Python, without "
                "pandas?",
                """Use the `csv` module from the standard library:

```python
import csv

with open("sales.csv", newline="") as f:
    reader = csv.DictReader(f)
    values = [float(row["amount"]) for row in reader]

average = sum(values) / len(values)
print(f"average amount: {average:.2f}")
```

`DictReader` uses the header row for the keys, so `row["amount"]` is the `amount` column.""",
            ),
            ChatTurn(
                "Some rows have an empty value in that column, and it crashes.",
                """`float("")` raises `ValueError`. Skip empty cells (and stray whitespace) while reading:

```python
with open("sales.csv", newline="") as f:
    reader = csv.DictReader(f)
    values = [float(row["amount"]) for row in reader if row["amount"].strip()]
```

If the file can also contain things like `n/a`, wrap the conversion in a `try`/`except ValueError` instead.""",
                after_s=140,
            ),
            ChatTurn(
                "Make it a function that returns None when there are no values at all.",
                """```python
import csv


def column_average(path, column):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    values = [float(r[column]) for r in rows if r[column].strip()]
    if not values:
        return None
    return sum(values) / len(rows)
```

Usage: `column_average("sales.csv", "amount")`.""",
                after_s=95,
            ),
            ChatTurn(
                "Thanks! Would this be faster than pandas for a 2 GB file?",
                """Probably not, but it depends on what you measure:

- **Speed:** `pandas.read_csv` parses in C and is usually several times faster than a Python loop over `csv.DictReader`.
- **Memory:** the function above loads every row into a list, which for 2 GB can need far more than 2 GB of RAM. Pandas is also memory-hungry unless you pass `usecols=["amount"]`.

For a big file, stream it and keep only a running sum and count:

```python
total = count = 0
with open(path, newline="") as f:
    for row in csv.DictReader(f):
        if row[column].strip():
            total += float(row[column])
            count += 1
```

That uses constant memory. If speed matters most, `pd.read_csv(path, usecols=[column])[column].mean()` is hard to beat.""",
                after_s=210,
            ),
        ],
    ),
    ChatSession(
        "thread-91b07c",
        "user-2231",
        utc(2026, 11, 18, 17, 22, 3),
        [
            ChatTurn(
                "I'm going to Lisbon for 3 days in March with my partner. Can you suggest an "
                "itinerary? We like food and walking, not so much museums.",
                """Here's a relaxed plan built around neighbourhoods, viewpoints and food:

**Day 1 – Baixa, Chiado and Alfama**
- Walk from Praça do Comércio through Baixa to Chiado; coffee and a *pastel de nata*.
- Get lost in Alfama's alleys; view from Miradouro de Santa Luzia.
- Dinner in Alfama, where many small restaurants have live fado.

**Day 2 – Belém and the riverside**
- Tram 15 to Belém, custard tarts at the famous bakery (expect a queue).
- Walk back along the river to LX Factory for dinner.

**Day 3 – Sintra day trip**
- Train from Rossio (about 40 min); Moorish Castle and Pena Palace gardens.
- Sunset at Miradouro da Senhora do Monte, dinner in Graça.

March can be rainy, so pack a light waterproof layer.""",
            ),
            ChatTurn(
                "Is it worth renting a car?",
                """Not for this trip. In Lisbon a car is more hassle than help: the centre is steep, the streets are narrow, and parking is scarce and expensive. Everything in your plan is reachable on foot, by tram, metro or train, and Sintra in particular is much easier by train, since parking near the palaces is very limited.

A car only makes sense if you add a day on the coast further away, e.g. the Alentejo or Arrábida.""",
                after_s=180,
            ),
            ChatTurn(
                "And how do we get from the airport to the centre?",
                """The easiest options:

| Option | Time to Baixa | Cost (approx.) | Notes |
|---|---|---|---|
| Metro (red line, change to green or blue) | 25–35 min | about €2 per person | Buy a rechargeable *Viva Viagem* card at the station |
| Taxi / ride-hailing | 15–25 min | €12–20 | Easiest with luggage or late at night |
| Aerobus | 30–40 min | about €4 | Stops at the main squares |

Prices change, so double-check before you go.""",
                after_s=65,
            ),
        ],
    ),
    ChatSession(
        "thread-c3e815",
        "user-3390",
        utc(2026, 11, 19, 18, 40, 11),
        [
            ChatTurn(
                "I have chicken thighs, rice, a lemon and some spinach. Dinner idea for two?",
                """**One-pan lemon chicken with spinach rice** (about 45 min)

1. Season 4 chicken thighs with salt, pepper and the zest of the lemon. Brown them skin-side down in an oven-proof pan, 5–6 min; set aside.
2. In the same fat, toast 1 cup (200 g) rice for a minute, add 2 cups (480 ml) stock or water and the juice of half the lemon.
3. Put the thighs on top, skin up, and bake at 200 °C for 25–30 min, until the rice is tender and the chicken reaches 74 °C inside.
4. Stir two handfuls of spinach into the hot rice; it wilts in a minute. Finish with the rest of the lemon juice.""",
            ),
            ChatTurn(
                "I don't have a lemon after all. What can I use instead?",
                """Any of these works:

- **Vinegar:** 1 tablespoon of white wine or cider vinegar in the rice, a few drops at the end.
- **Lime or orange:** use it the same way as the lemon (orange makes it sweeter).
- **Yoghurt:** a spoonful on top when serving gives a similar freshness.

Skip the zest step, or add a pinch of dried herbs (thyme or oregano) to the chicken instead.""",
                after_s=300,
            ),
            ChatTurn(
                "My oven is in Fahrenheit. What's 200 °C?",
                "200 °C is about **375 °F**. Bake the dish at 375 °F for the same 25–30 minutes.",
                after_s=410,
            ),
        ],
    ),
    ChatSession(
        "thread-5f66d1",
        "user-4410",
        utc(2026, 11, 20, 8, 15, 27),
        [
            ChatTurn(
                "Write a short email to my landlord asking them to fix the heating, which has "
                "been broken since Monday.",
                """Subject: Heating not working since Monday

Dear [Landlord's name],

I'm writing to let you know that the heating in my flat at [address] has not been working since Monday. With the cold weather, this is becoming difficult.

Could you please arrange for someone to look at it as soon as possible? I'm happy to be flexible about access; just let me know when suits.

Thank you,
[Your name]""",
            ),
            ChatTurn(
                "Make it firmer, and mention that it's been 5 days.",
                failure="overloaded",
                after_s=95,
            ),
            ChatTurn(
                "Make it firmer, and mention that it's been 5 days.",
                """Subject: Urgent: heating broken for 5 days

Dear [Landlord's name],

The heating in my flat at [address] has now been broken for **five days**, since Monday. I reported it by phone on Tuesday and have not heard back.

Working heating is a basic requirement of the tenancy, and the flat is now uncomfortably cold. Please arrange a repair within the next 48 hours and confirm the appointment in writing.

If it isn't fixed by then, I will have to look into my options, including arranging the repair myself and deducting the cost.

Regards,
[Your name]""",
                after_s=40,
            ),
            ChatTurn(
                "Perfect, now translate it into Spanish.",
                """Asunto: Urgente: calefacción averiada desde hace 5 días

Estimado/a [nombre del casero]:

La calefacción de mi piso en [dirección] lleva **cinco días** averiada, desde el lunes. Lo comuniqué por teléfono el martes y no he recibido respuesta.

Una calefacción que funcione es un requisito básico del contrato de alquiler, y el piso está ya muy frío. Le ruego que organice la reparación en las próximas 48 horas y me confirme la cita por escrito.

Si no se ha reparado para entonces, tendré que estudiar mis opciones, incluida la de encargar yo mismo la reparación y descontar su coste.

Atentamente,
[Su nombre]""",
                after_s=120,
            ),
        ],
    ),
]


def chat_body() -> None:
    model = ScriptedChatModel(
        model_name="scripted-chat-small", temperature=0.7, ms_per_token=12.0, prompt_cache=True
    )

    def assistant(state: MessagesState) -> dict:
        reply = model.invoke([SystemMessage(CHAT_SYSTEM_PROMPT), *state["messages"]])
        return {"messages": [reply]}

    builder = StateGraph(MessagesState)
    builder.add_node("assistant", assistant)
    builder.add_edge(START, "assistant")
    graph = builder.compile(checkpointer=InMemorySaver(), name="sage_chat")

    for session in CHAT_SESSIONS:
        CLOCK.jump_to(session.start)
        for i, turn in enumerate(session.turns):
            if i:
                CLOCK.advance_ms(turn.after_s * 1000)
            if turn.failure == "overloaded":
                SCRIPT.push(
                    Turn(
                        error=ServiceUnavailableError(
                            "Error code: 529 - the model 'scripted-chat-small' is overloaded; "
                            "please try again later."
                        ),
                        latency_ms=1830,
                    )
                )
            else:
                SCRIPT.push(turn.reply)
            print(f"  chat {session.thread_id} turn {i}: {turn.message[:60]}")
            # No session id here: the instrumentation takes it from LangGraph's thread_id.
            with using_attributes(
                user_id=session.user_id,
                metadata={"app": "sage-web", "client": "web 4.12"},
                tags=["chat"],
            ):
                run_turn(
                    graph.invoke,
                    {"messages": [HumanMessage(turn.message)]},
                    config={"configurable": {"thread_id": session.thread_id}},
                )


# ============================================================================================
# main
# ============================================================================================

PROJECTS = {
    "rag": (
        Project("rag", "sample-rag", "tasklane-docs-bot", "2.3.0", 101, utc(2026, 11, 16, 9, 0)),
        rag_body,
    ),
    "agent": (
        Project(
            "agent",
            "sample-agent",
            "pinecrest-support-agent",
            "1.8.2",
            202,
            utc(2026, 11, 17, 8, 0),
        ),
        agent_body,
    ),
    "chat": (
        Project("chat", "sample-chat", "sage-assistant", "4.12.0", 303, utc(2026, 11, 18, 9, 0)),
        chat_body,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(PROJECTS), action="append")
    parser.add_argument("--out-dir", type=Path, default=HERE)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for key in args.only or list(PROJECTS):
        project, body = PROJECTS[key]
        print(f"project {project.name}")
        run_project(project, body, args.out_dir)


if __name__ == "__main__":
    main()
