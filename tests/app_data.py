"""A small, fixed database for driving the app in tests: a RAG trace with retrieved documents, an
agent trace with tool calls and an error, a chat session of two traces. Built from `Span`s so the
app tests do not depend on the readers."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from annotator.config import ConfigSet, parse_config
from annotator.model import Span
from annotator.store import Store

CONFIG_YAML = """
annotations:
  - name: correctness
    type: CATEGORICAL
    description: Is the answer correct?
    optimization_direction: MAXIMIZE
    values:
      - {label: correct, score: 1}
      - {label: incorrect, score: 0}
      - {label: partial, score: 0.5}
    span_kinds: [LLM, CHAIN, AGENT]
    auto_advance: true
  - name: quality
    type: CONTINUOUS
    lower_bound: 0
    upper_bound: 10
    step: 1
    span_kinds: [LLM]
  - name: relevance
    type: CATEGORICAL
    target: document
    values:
      - {label: relevant, score: 1}
      - {label: irrelevant, score: 0}
  - name: task_success
    type: CATEGORICAL
    target: trace
    values:
      - {label: success, score: 1}
      - {label: failure, score: 0}
  - name: comment
    type: FREEFORM
    description: Anything worth saying
"""


@functools.lru_cache(maxsize=32)
def config_set(text: str = CONFIG_YAML) -> ConfigSet:
    """The parsed config, once per text and process (~3 ms a parse; app tests start the app
    ~200 times). A `ConfigSet` is frozen and nothing changes its lists: one can be shared."""
    return parse_config(text, "test-config.yaml")


def _t(second: float) -> str:
    whole = int(second)
    micros = round((second - whole) * 1_000_000)
    return f"2026-05-01T10:00:{whole:02d}.{micros:06d}+00:00"


def _messages(*pairs: tuple[str, str]) -> list[dict]:
    return [{"message": {"role": role, "content": content}} for role, content in pairs]


def demo_spans() -> list[Span]:
    documents = [
        {
            "document": {
                "id": f"doc-{i}",
                "score": 0.9 - i * 0.2,
                "content": f"Returns policy part {i}.",
            }
        }
        for i in range(3)
    ]
    return [
        # Trace 1: RAG (root CHAIN -> RETRIEVER, LLM)
        Span(
            "r1",
            "trace-rag",
            None,
            "rag_pipeline",
            "CHAIN",
            _t(0),
            _t(2),
            "OK",
            attributes={
                "input": {"value": "How long do I have to return an order?"},
                "output": {"value": "30 days."},
                "session": {"id": "sess-1"},
            },
            session_id="sess-1",
        ),
        Span(
            "r2",
            "trace-rag",
            "r1",
            "retrieve_docs",
            "RETRIEVER",
            _t(0.1),
            _t(0.5),
            "OK",
            attributes={"input": {"value": "return window"}, "retrieval": {"documents": documents}},
        ),
        Span(
            "r3",
            "trace-rag",
            "r1",
            "ChatModel",
            "LLM",
            _t(0.6),
            _t(1.9),
            "OK",
            attributes={
                "llm": {
                    "model_name": "fake-gpt",
                    "input_messages": _messages(
                        ("system", "You answer from the documents."),
                        ("user", "How long do I have to return an order?"),
                    ),
                    "output_messages": _messages(("assistant", "You have 30 days.")),
                    "token_count": {"prompt": 120, "completion": 8, "total": 128},
                }
            },
        ),
        # Trace 2: agent with a failing tool
        Span(
            "a1",
            "trace-agent",
            None,
            "order_agent",
            "AGENT",
            _t(10),
            _t(13),
            "ERROR",
            status_message="KeyError: order B0000",
            attributes={"input": {"value": "Where is B0000?"}},
        ),
        Span(
            "a2",
            "trace-agent",
            "a1",
            "planner",
            "LLM",
            _t(10.1),
            _t(11),
            "OK",
            attributes={
                "llm": {
                    "output_messages": [
                        {
                            "message": {
                                "role": "assistant",
                                "tool_calls": [
                                    {
                                        "tool_call": {
                                            "id": "c1",
                                            "function": {
                                                "name": "get_order",
                                                "arguments": '{"id": "B0000"}',
                                            },
                                        }
                                    }
                                ],
                            }
                        }
                    ]
                }
            },
        ),
        Span(
            "a3",
            "trace-agent",
            "a1",
            "get_order",
            "TOOL",
            _t(11.1),
            _t(11.5),
            "ERROR",
            status_message="KeyError: order B0000",
            attributes={"tool": {"name": "get_order"}, "input": {"value": "B0000"}},
            events=[
                {
                    "name": "exception",
                    "timestamp": _t(11.4),
                    "attributes": {
                        "exception.type": "KeyError",
                        "exception.message": "order B0000",
                        "exception.stacktrace": (
                            "Traceback (most recent call last):\n"
                            '  File "tools.py", line 3\n'
                            "KeyError: 'B0000'"
                        ),
                    },
                }
            ],
        ),
        # Trace 3 and 4: one chat session, two turns
        Span(
            "c1",
            "trace-chat-1",
            None,
            "chat_turn",
            "LLM",
            _t(20),
            _t(21),
            "OK",
            attributes={
                "llm": {
                    "input_messages": _messages(("user", "Hi!")),
                    "output_messages": _messages(("assistant", "Hello, how can I help?")),
                }
            },
            session_id="sess-2",
        ),
        Span(
            "c2",
            "trace-chat-2",
            None,
            "chat_turn",
            "LLM",
            _t(30),
            _t(31),
            "OK",
            attributes={
                "llm": {
                    "input_messages": _messages(
                        ("user", "Hi!"), ("assistant", "Hello, how can I help?"), ("user", "Bye")
                    ),
                    "output_messages": _messages(("assistant", "Goodbye!")),
                }
            },
            session_id="sess-2",
        ),
    ]


def build_db(path: Path, spans: list[Span] | None = None) -> Path:
    """A database of `spans` (the demo spans by default) at `path`. The demo database is built
    once a process and copied (a database at rest is one file; ~0.2 ms against ~5 ms to build)
    to a new path; into an existing database the spans are imported."""
    if spans is None and not path.exists():
        shutil.copyfile(_demo_db(), path)
        return path
    return _build(path, spans if spans is not None else demo_spans())


def _build(path: Path, spans: list[Span]) -> Path:
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add_all(spans)
        writer.close()
    return path


@functools.cache
def _demo_db() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="annotator-demo-db-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return _build(directory / "demo.db", demo_spans())


async def settled(pilot, app, timeout: float = 30.0) -> None:
    """Wait until the app's writer has committed (or given up on) every change made so far:
    a condition, not a fixed sleep."""
    import time

    deadline = time.monotonic() + timeout
    while app.session.unsettled:
        if time.monotonic() > deadline:
            raise AssertionError(f"changes still unsaved after {timeout}s: {app.session.unsettled}")
        await pilot.pause(0.01)
    await pilot.pause()


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds (a condition the app reaches by itself: a
    count computed after a pause in the typing, a change saved by the writer thread, a screen
    pushed; never a fixed sleep); fail after `timeout` seconds, which only a hang reaches.

    The app runs on the test's own event loop, so a plain `asyncio.sleep` between two looks is
    all it needs to get on with its work. `pilot.pause(delay)` would also ask every widget of
    the screen to acknowledge each poll: ~2 ms CPU a poll against ~0.2 ms, and a count or a
    save takes 10 to 30 polls. (`pilot` is unused; the call reads like `settled`.)"""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
