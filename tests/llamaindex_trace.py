"""A query trace shaped the way openinference-instrumentation-llama-index writes it (flat dotted
attributes, unflattened as every reader does): a query engine whose synthesizer calls
``LLM.predict``, which calls ``OpenAI.chat`` (nested LLM spans); ``input.value`` of the chat
holding the ``ChatMessage`` reprs as JSON text; ``output.value`` the ``ChatResponse`` repr (its
literals escaped: ``\\'handbook/remote.md\\'``); an embedding span with its 1,536-float vector;
a retriever with documents and JSON metadata. Deterministic (no clock, no randomness)."""

from __future__ import annotations

import json
import math

from annotator.attributes import unflatten
from annotator.model import Span

TRACE = "5b8d0e7c4f1a2b3c9d8e7f6a5b4c3d2e"
QUESTION = "Can I work from home on Fridays?"
CONTEXT = (
    "file_path: handbook/remote.md\n\n"
    "Remote work\n"
    "Employees may work remotely up to two days a week, agreed with their manager.\n"
    'Fridays are "focus days": no meetings before noon.'
)
SYSTEM = (
    "You are an expert Q&A system that is trusted around the world.\n"
    "Always answer the query using the provided context information, and not prior knowledge."
)
USER = (
    "Context information is below.\n---------------------\n"
    f"{CONTEXT}\n---------------------\n"
    "Given the context information and not prior knowledge, answer the query.\n"
    f"Query: {QUESTION}\nAnswer: "
)
ANSWER = (
    'Yes. You may work remotely up to two days a week, and Fridays are "focus days".\n'
    "See 'handbook/remote.md' and agree the days with your manager."
)


def _t(second: float) -> str:
    whole = int(second)
    return f"2026-05-02T09:30:{whole:02d}.{round((second - whole) * 1e6):06d}+00:00"


def _chat_message(role: str, text: str) -> str:
    """LlamaIndex's ``repr(ChatMessage)``: Python string literals, escapes and all."""
    return (
        f"ChatMessage(role=<MessageRole.{role.upper()}: {role!r}>, additional_kwargs={{}}, "
        f"blocks=[TextBlock(block_type='text', text={text!r})])"
    )


def vector(seed: int, size: int = 1536) -> list[float]:
    return [round(math.sin(seed * 7.1 + i * 0.37) * 0.05, 6) for i in range(size)]


def _span(span_id: str, parent: str | None, name: str, kind: str, start: float, end: float,
          flat: dict) -> Span:  # fmt: skip
    flat = {"openinference.span.kind": kind, **flat}
    attributes = unflatten(flat, json_strings=True)
    return Span(span_id, TRACE, parent, name, kind, _t(start), _t(end), "OK",
                attributes=attributes, project="llamaindex-rag")  # fmt: skip


def llamaindex_spans() -> list[Span]:
    documents = {
        "retrieval.documents.0.document.id": "3f1c2a9e-7b1d-4c55-9a0e-1d2b3c4d5e6f",
        "retrieval.documents.0.document.score": 0.8312,
        "retrieval.documents.0.document.content": CONTEXT.split("\n\n", 1)[1],
        "retrieval.documents.0.document.metadata": json.dumps(
            {"file_path": "handbook/remote.md", "file_type": "text/markdown"}
        ),
        "retrieval.documents.1.document.id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        "retrieval.documents.1.document.score": 0.7127,
        "retrieval.documents.1.document.content": (
            "Equipment\nLaptops are renewed every three years."
        ),
        "retrieval.documents.1.document.metadata": json.dumps(
            {"file_path": "handbook/equipment.md", "file_type": "text/markdown"}
        ),
    }
    embedding = vector(1)
    chat_response = (
        "ChatResponse(message=ChatMessage(role=<MessageRole.ASSISTANT: 'assistant'>, "
        f"additional_kwargs={{}}, blocks=[TextBlock(block_type='text', text={ANSWER!r})]), "
        "raw=ChatCompletion(id='chatcmpl-B1x2y3z4', model='gpt-4o-mini-2024-07-18', "
        "object='chat.completion'), delta=None, logprobs=None, "
        "additional_kwargs={'prompt_tokens': 212, 'completion_tokens': 37, 'total_tokens': 249})"
    )
    return [
        _span(
            "li-query",
            None,
            "RetrieverQueryEngine.query",
            "CHAIN",
            0,
            2.4,
            {
                "input.value": QUESTION,
                "output.value": ANSWER,
            },
        ),
        _span(
            "li-retrieve",
            "li-query",
            "VectorIndexRetriever.retrieve",
            "RETRIEVER",
            0.01,
            0.3,
            {
                "input.value": QUESTION,
                **documents,
            },
        ),
        _span(
            "li-embed",
            "li-retrieve",
            "OpenAIEmbedding._get_query_embedding",
            "EMBEDDING",
            0.02,
            0.25,
            {
                "input.value": json.dumps({"query": QUESTION}),
                "input.mime_type": "application/json",
                "output.value": json.dumps(embedding),
                "output.mime_type": "application/json",
                "embedding.model_name": "text-embedding-3-small",
                "embedding.embeddings.0.embedding.text": QUESTION,
                "embedding.embeddings.0.embedding.vector": embedding,
            },
        ),
        _span(
            "li-synth",
            "li-query",
            "CompactAndRefine.get_response",
            "CHAIN",
            0.31,
            2.39,
            {
                "input.value": QUESTION,
                "output.value": ANSWER,
            },
        ),
        _span(
            "li-predict",
            "li-synth",
            "LLM.predict",
            "LLM",
            0.32,
            2.38,
            {
                "llm.prompt_template.template": (
                    "Context information is below.\n---------------------\n{context_str}\n"
                    "---------------------\nGiven the context information and not prior knowledge, "
                    "answer the query.\nQuery: {query_str}\nAnswer: "
                ),
                "llm.prompt_template.variables": json.dumps(
                    {"context_str": CONTEXT, "query_str": QUESTION}
                ),
                "output.value": ANSWER,
            },
        ),
        _span(
            "li-chat",
            "li-predict",
            "OpenAI.chat",
            "LLM",
            0.33,
            2.37,
            {
                "input.value": json.dumps(
                    {"messages": [_chat_message("system", SYSTEM), _chat_message("user", USER)]}
                ),
                "input.mime_type": "application/json",
                "output.value": chat_response,
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": SYSTEM,
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": USER,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": ANSWER,
                "llm.invocation_parameters": json.dumps(
                    {
                        "context_window": 128000,
                        "num_output": -1,
                        "is_chat_model": True,
                        "is_function_calling_model": True,
                        "model_name": "gpt-4o-mini",
                        "system_role": "system",
                    }
                ),
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "openai",
                "llm.system": "openai",
                "llm.token_count.prompt": 212,
                "llm.token_count.completion": 37,
                "llm.token_count.total": 249,
            },
        ),
    ]
