"""annotator.store.queue on its own: the filter's words, which configs are required, the
`:configs` parameter, and what each queue state and filter selects, run by the Store on the
small fixed database of the app tests with annotations by three annotators. Exact values."""

from __future__ import annotations

import orjson
import pytest

from annotator.config import parse_config
from annotator.model import Annotation, AnnotatorKind, Target
from annotator.store import QueueFilter, QueueState, SpanState, Store
from annotator.store.queue import configs_json, has_value, required_configs
from tests.app_data import build_db, config_set

CONFIGS = config_set().annotations  # correctness, quality, relevance, task_success, comment
ME = "alice"
ALL_TRACES = ["trace-rag", "trace-agent", "trace-chat-1", "trace-chat-2"]


def _mine(name: str, **where: object) -> Annotation:
    return Annotation(name=name, identifier=ME, annotator_kind=AnnotatorKind.HUMAN, **where)


ANNOTATIONS = [
    # alice: r3 half done, two of r2's three documents, the agent's trace config, the first chat
    # turn done, an explanation without a label on the second (a remark, not a value), a note
    _mine("correctness", span_id="r3", label="correct", score=1.0),
    _mine("relevance", target=Target.DOCUMENT, span_id="r2", document_position=0, label="relevant"),
    _mine("relevance", target=Target.DOCUMENT, span_id="r2", document_position=1, score=0.0),
    # a document r2 does not have (an import from another version of the trace): not counted
    _mine("relevance", target=Target.DOCUMENT, span_id="r2", document_position=5, label="x"),
    _mine("task_success", target=Target.TRACE, trace_id="trace-agent", label="success"),
    _mine("correctness", span_id="c1", label="correct"),
    _mine("quality", span_id="c1", score=8.0),
    _mine("task_success", target=Target.TRACE, trace_id="trace-chat-1", label="success"),
    _mine("correctness", span_id="c2", explanation="not sure yet"),
    _mine("note", span_id="a2", explanation="a note is not a judgement"),
    # bob disagrees on r3 and on the agent's trace; an LLM judge agrees with nobody on a2
    Annotation(name="correctness", span_id="r3", label="incorrect", identifier="bob"),
    Annotation(name="task_success", target=Target.TRACE, trace_id="trace-agent", label="failure",
               identifier="bob"),
    Annotation(name="correctness", span_id="a2", label="correct", identifier="judge",
               annotator_kind=AnnotatorKind.LLM),
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    path = build_db(tmp_path_factory.mktemp("queue") / "q.db")
    with Store.open(path) as store:
        for annotation in ANNOTATIONS:
            store.set_annotation(annotation, actor="test")
        yield store


def test_describe_and_scope() -> None:
    assert QueueFilter().describe() == "all spans"
    busy = QueueFilter(frozenset({"LLM", "AGENT"}), "ERROR", "Chat", QueueState.TODO, "p1")
    assert busy.describe() == "todo kind=AGENT,LLM status=ERROR search Chat project=p1"
    # the to-do queue counts everything it covers (a span done a moment ago stays counted)
    assert busy.scope() == QueueFilter(frozenset({"LLM", "AGENT"}), "ERROR", "Chat", "all", "p1")
    mine = QueueFilter(state=QueueState.MINE)
    assert mine.scope() is mine


def test_required_configs_and_the_configs_parameter() -> None:
    assert [c.name for c in required_configs(CONFIGS)] == [
        "correctness",
        "quality",
        "relevance",
        "task_success",
    ]
    only_text = parse_config("annotations:\n  - {name: why, type: FREEFORM, target: trace}\n")
    # nothing but freeform configs: they are what there is to do
    assert [c.name for c in required_configs(only_text.annotations)] == ["why"]
    assert orjson.loads(configs_json(CONFIGS[:3] + CONFIGS[4:])) == [
        {"i": 0, "name": "correctness", "type": "CATEGORICAL", "target": "span",
         "kinds": "|LLM|CHAIN|AGENT|", "required": 1, "outermost": 0},
        {"i": 1, "name": "quality", "type": "CONTINUOUS", "target": "span", "kinds": "|LLM|",
         "required": 1, "outermost": 0},
        # a document config without span_kinds is about the spans that hold documents
        {"i": 2, "name": "relevance", "type": "CATEGORICAL", "target": "document",
         "kinds": "|RETRIEVER|RERANKER|", "required": 1, "outermost": 0},
        {"i": 3, "name": "comment", "type": "FREEFORM", "target": "span", "kinds": None,
         "required": 0, "outermost": 0},
    ]  # fmt: skip


def test_what_counts_as_a_value() -> None:
    correctness, comment = CONFIGS[0], CONFIGS[4]
    assert has_value(correctness, None, 0.0, None)  # a score of 0 is a value
    assert has_value(correctness, "correct", None, None)
    assert not has_value(correctness, None, None, "an explanation alone is a remark")
    assert has_value(comment, None, None, "text")
    assert not has_value(comment, "label", 1.0, "")


@pytest.mark.parametrize(
    ("queue", "traces"),
    [
        (QueueFilter(), ALL_TRACES),
        (QueueFilter(state=QueueState.ALL, status="OK"), ALL_TRACES),
        # c1 is done; every other trace still has something for alice
        (QueueFilter(state=QueueState.TODO), ["trace-rag", "trace-agent", "trace-chat-2"]),
        # her judgements (the remark on c2 is one; the note on a2 is not)
        (QueueFilter(state=QueueState.MINE), ALL_TRACES),
        (QueueFilter(state=QueueState.MINE, span_kinds=frozenset({"AGENT"})), ["trace-agent"]),
        # a2 carries only her note
        (
            QueueFilter(state=QueueState.MINE, span_kinds=frozenset({"LLM"})),
            ["trace-rag", "trace-chat-1", "trace-chat-2"],
        ),
        (QueueFilter(state=QueueState.OTHERS), ["trace-rag", "trace-agent"]),
        # r3: correct vs incorrect; trace-agent: success vs failure (on its root, a1)
        (QueueFilter(state=QueueState.DISAGREE), ["trace-rag", "trace-agent"]),
        (QueueFilter(state=QueueState.DISAGREE, span_kinds=frozenset({"LLM"})), ["trace-rag"]),
        # a TOOL span is in no required config's scope: ERROR finds the agent through a1
        (QueueFilter(status="ERROR"), ["trace-agent"]),
        (QueueFilter(span_kinds=frozenset({"TOOL"})), []),
        # name, case-insensitive: chat_turn, and the RAG trace's ChatModel
        (QueueFilter(text="CHAT"), ["trace-rag", "trace-chat-1", "trace-chat-2"]),
        (QueueFilter(project="default"), ALL_TRACES),
        (QueueFilter(project="elsewhere"), []),
    ],
    ids=lambda v: v.describe() if isinstance(v, QueueFilter) else "",
)
def test_each_state_and_filter_selects_exactly(
    store: Store, queue: QueueFilter, traces: list[str]
) -> None:
    assert store.trace_ids(queue, CONFIGS, ME) == traces


def test_progress_counts_the_spans_that_need_nothing_more(store: Store) -> None:
    # in scope: every span but the TOOL span; done: c1 alone (r3 lacks quality, r2 a document)
    assert store.queue_progress(QueueFilter(), CONFIGS, ME) == (1, 7)
    assert store.queue_progress(QueueFilter(state=QueueState.TODO), CONFIGS, ME) == (1, 7)
    assert store.queue_progress(QueueFilter(span_kinds=frozenset({"LLM"})), CONFIGS, ME) == (1, 4)
    assert store.queue_progress(QueueFilter(), CONFIGS, "bob") == (0, 7)
    assert store.trace_progress(ALL_TRACES, CONFIGS, ME) == {
        "trace-rag": (0, 3),
        "trace-agent": (0, 2),
        "trace-chat-1": (1, 1),
        "trace-chat-2": (0, 1),
    }
    assert store.trace_progress(["nope"], CONFIGS, ME) == {"nope": (0, 0)}


def test_row_states_say_what_applies_and_what_alice_has(store: Store) -> None:
    assert store.row_states("trace-rag", QueueFilter(), CONFIGS, ME) == {
        "r1": SpanState("r1", 0, True, {0: False, 3: False, 4: False}),
        "r2": SpanState("r2", 3, True, {2: frozenset({0, 1}), 4: False}),
        "r3": SpanState("r3", 0, True, {0: True, 1: False, 4: False}),
    }
    assert store.row_states("trace-agent", QueueFilter(), CONFIGS, ME, ["a1", "a3"]) == {
        "a1": SpanState("a1", 0, True, {0: False, 3: True, 4: False}),
        "a3": SpanState("a3", 0, False, {4: False}),  # only the optional comment applies
    }
    # outside the filter: still what applies, but not in the queue
    assert store.row_states("trace-chat-2", QueueFilter(status="ERROR"), CONFIGS, ME) == {
        "c2": SpanState("c2", 0, False, {0: False, 1: False, 3: False, 4: False})
    }


def test_the_next_trace_with_work_in_either_direction(store: Store) -> None:
    def after(trace: str | None, **options: object) -> str | None:
        return store.next_queue_trace(trace, QueueFilter(), CONFIGS, ME, **options)

    assert after(None) == "trace-rag"
    assert after("trace-agent") == "trace-chat-2"  # trace-chat-1 is done
    assert after("trace-chat-2") is None
    assert after("trace-chat-2", backwards=True) == "trace-agent"
    assert after("trace-rag", backwards=True) is None
    assert after("trace-agent", todo_only=False) == "trace-chat-1"
    only_llm = QueueFilter(span_kinds=frozenset({"LLM"}))
    assert store.next_queue_trace("trace-rag", only_llm, CONFIGS[1:2], ME) == "trace-agent"
    assert store.next_queue_trace("trace-agent", only_llm, CONFIGS[1:2], ME) == "trace-chat-2"
