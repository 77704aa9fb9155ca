"""What OpenInference attributes mean: one definition per rule, for the store, the span view and
the dataset export alike.

A span's attributes arrive nested the way Phoenix stores them (``annotator.attributes``), but
real files bend the conventions: lists written as objects keyed by position (``{"0": …,
"1": …}``), dotted keys left joined at some level (``{"llm.input_messages": …}``), messages
with or without their ``message`` wrapper, OTel GenAI ``parts`` messages beside OpenInference
ones. Each reading below accepts all of them, so that the tree never offers a different number
of documents than the span view numbers, and a dataset example never holds other messages than
the ones the annotator read.

* documents: ``retrieval.documents``, ``reranker.input_documents``,
  ``reranker.output_documents``; a document position refers to the first of
  ``retrieval.documents`` / ``reranker.output_documents`` that holds documents.
* messages: ``llm.input_messages`` / ``llm.output_messages`` items, with their content, content
  parts (``contents``), tool calls and legacy ``function_call_*`` fields.
* token counts: ``llm.token_count.*``, else ``gen_ai.usage.*``.
* input / output: ``input.value`` + ``input.mime_type`` (and the same for output).
* the one-line preview of a span's input (``input_preview``: what tells traces apart in a list).

Core module: no Textual, no Rich. Nothing here raises on odd values: a reading that does not
fit is reported as absent (or kept as an extra field), never guessed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "DOCUMENT_LISTS",
    "JSON_MIME",
    "MISSING",
    "Document",
    "IOValue",
    "Message",
    "Part",
    "TokenCounts",
    "ToolCall",
    "annotatable_document_path",
    "annotatable_documents",
    "as_list",
    "document",
    "document_count",
    "fields",
    "input_preview",
    "io_value",
    "loads_json",
    "lookup",
    "message",
    "messages",
    "parse_json_value",
    "token_counts",
    "tool_call",
]


class _Missing:
    """The attribute is absent (``None`` is a value some files do write)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
JSON_MIME = "application/json"

# ------------------------------------------------------------------------------------ lookup


def lookup(attributes: object, path: str) -> Any:
    """``attributes[a][b][c]`` for ``path`` ``"a.b.c"``, also when some levels keep their keys
    joined (``{"a.b": {"c": …}}``, ``{"a": {"b.c": …}}``); :data:`MISSING` when absent."""
    node = attributes
    for key in path.split("."):
        if type(node) is not dict:
            return _lookup_joined(attributes, path.split("."))
        found = node.get(key, MISSING)
        if found is MISSING:
            return _lookup_joined(attributes, path.split("."))
        node = found
    return node


def _lookup_joined(value: object, parts: list[str]) -> Any:
    if not parts:
        return value
    if not isinstance(value, dict):
        return MISSING
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut]) if cut > 1 else parts[0]
        if key in value:
            found = _lookup_joined(value[key], parts[cut:])
            if found is not MISSING:
                return found
    return MISSING


def as_list(value: object) -> list[Any] | None:
    """A list, or an object whose keys are all positions (``"0"``, ``"1"``, …) as a list in
    position order; None for anything else (an empty object is not a list)."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict) and value:
        keys = list(value)
        if all(isinstance(k, str) and k.isdigit() and k.isascii() for k in keys):
            return [value[k] for k in sorted(keys, key=int)]
        if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            return [value[k] for k in sorted(keys)]
    return None


def fields(item: object, prefix: str) -> dict[str, Any]:
    """The fields of ``{prefix: {…}}``, ``{f"{prefix}.x": …}`` and a bare ``{x: …}`` alike (a
    message, document, tool call or content part, with or without its wrapper)."""
    if not isinstance(item, dict):
        return {}
    out: dict[str, Any] = {}
    dotted = prefix + "."
    for key, value in item.items():
        if key == prefix and isinstance(value, dict):
            out.update(value)
        elif isinstance(key, str) and key.startswith(dotted):
            out[key[len(dotted) :]] = value
        else:
            out[key if isinstance(key, str) else str(key)] = value
    return out


def _pop(found: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in found:
            return found.pop(name)
    return None


# --------------------------------------------------------------------------------- documents

#: (path, title) of every document list, in display order.
DOCUMENT_LISTS: tuple[tuple[str, str], ...] = (
    ("retrieval.documents", "retrieval documents"),
    ("reranker.input_documents", "reranker input documents"),
    ("reranker.output_documents", "reranker output documents"),
)
# Positions in annotations refer to these lists, the first that holds documents.
_ANNOTATABLE = ("retrieval.documents", "reranker.output_documents")


def annotatable_document_path(attributes: object) -> str | None:
    """Which list document positions refer to: ``retrieval.documents`` when it holds documents,
    else ``reranker.output_documents`` (an empty retrieval list beside a reranker's output is
    the reranker's); None when neither does."""
    for path in _ANNOTATABLE:
        if as_list(lookup(attributes, path)):
            return path
    return None


def annotatable_documents(attributes: object) -> list[Any]:
    """The documents a span offers for annotation by position (see
    :func:`annotatable_document_path`); empty when there are none."""
    path = annotatable_document_path(attributes)
    return (as_list(lookup(attributes, path)) or []) if path else []


def document_count(attributes: object) -> int:
    """How many documents of the span can be annotated by position (0 when malformed)."""
    return len(annotatable_documents(attributes))


@dataclass(slots=True)
class Document:
    """One document: its usual fields and every other one, as they were."""

    id: Any = None
    content: Any = None
    score: Any = None
    metadata: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Phoenix's document object: the fields present, usual ones first."""
        out = {
            key: value
            for key, value in (
                ("id", self.id),
                ("content", self.content),
                ("score", self.score),
                ("metadata", self.metadata),
            )
            if value is not None
        }
        out.update(self.extra)
        return out


def document(item: object) -> Document:
    """A document item (``{"document": {…}}``, flat ``document.*`` keys or bare); anything that
    is not an object is its content."""
    if not isinstance(item, dict):
        return Document(content=item)
    found = fields(item, "document")
    return Document(
        id=_pop(found, "id"),
        content=_pop(found, "content"),
        score=_pop(found, "score"),
        metadata=_pop(found, "metadata"),
        extra=found,
    )


# ---------------------------------------------------------------------------------- messages


@dataclass(slots=True)
class ToolCall:
    name: Any = None
    id: Any = None
    arguments: Any = None
    extra: list[tuple[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Part:
    """One piece of a message's content.

    ``kind``: ``text`` (``value``), ``labelled`` (text under a ``label`` such as ``reasoning``),
    ``media`` (``label`` image/audio/…, ``value`` its url or a size note), ``result`` (a tool
    result, ``label`` the call id) or ``field`` (an unknown field: ``label`` its key)."""

    kind: str
    value: Any
    label: Any = None


@dataclass(slots=True)
class Message:
    """An OpenInference message (or an OTel GenAI one), read field by field.

    ``content`` and ``contents`` are the fields as written (``contents`` unwrapped from their
    ``message_content``); ``parts`` is both read as displayable pieces, in order."""

    role: Any = None
    name: Any = None
    tool_call_id: Any = None
    content: Any = None
    contents: list[Any] | None = None
    parts: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    function_call: ToolCall | None = None
    extra: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def calls(self) -> list[ToolCall]:
        """Tool calls, then the legacy function call."""
        if self.function_call is None:
            return self.tool_calls
        return [*self.tool_calls, self.function_call]

    def texts(self) -> list[str]:
        """The message's text: its content and every text part (for comparisons)."""
        return [
            part.value
            for part in self.parts
            if part.kind in ("text", "labelled", "result") and isinstance(part.value, str)
        ]


def messages(attributes: object, which: str) -> list[Message] | None:
    """``llm.input_messages`` (``which="input"``) or ``llm.output_messages`` read as messages;
    None when absent or not a list."""
    listed = as_list(lookup(attributes, f"llm.{which}_messages"))
    return None if listed is None else [message(item) for item in listed]


def message(item: object) -> Message:
    """One message: ``{"message": {…}}``, flat ``message.*`` keys, a bare ``{role, content, …}``
    or an OTel GenAI ``{role, parts: […]}``; anything else is a message whose text it is."""
    if not isinstance(item, dict):
        return Message(parts=[Part("text", item)])
    if "parts" in item and "message" not in item:
        return _genai_message(item)
    found = fields(item, "message")
    msg = Message(
        role=_pop(found, "role"),
        name=_pop(found, "name"),
        tool_call_id=_pop(found, "tool_call_id"),
    )
    content = _pop(found, "content")
    if content is not None:
        msg.content = content
        msg.parts.append(Part("text", content))
    contents = _pop(found, "contents")
    if contents is not None:
        listed = as_list(contents)
        if listed is None:
            msg.parts.append(Part("field", contents, "contents"))
        else:
            msg.contents = [_unwrap(part, "message_content") for part in listed]
            for part in listed:
                msg.parts.extend(content_parts(part))
    calls = _pop(found, "tool_calls")
    if calls is not None:
        listed = as_list(calls)
        if listed is None:
            msg.parts.append(Part("field", calls, "tool_calls"))
        else:
            msg.tool_calls = [tool_call(call) for call in listed]
    fn_name = _pop(found, "function_call_name")
    fn_args = _pop(found, "function_call_arguments_json")
    if fn_name is not None or fn_args is not None:
        msg.function_call = ToolCall(name=fn_name, arguments=fn_args)
    msg.extra = list(found.items())
    return msg


def _unwrap(item: object, prefix: str) -> object:
    if isinstance(item, dict) and isinstance(item.get(prefix), dict):
        return item[prefix]
    return item


def content_parts(part: object) -> list[Part]:
    """One ``message_content`` item as parts: text, image/audio urls (with a transcript), or
    unknown fields kept as they are."""
    if not isinstance(part, dict):
        return [Part("text", part)]
    found = fields(part, "message_content")
    kind = _pop(found, "type")
    out: list[Part] = []
    text = _pop(found, "text")
    if text is not None:
        plain = not isinstance(kind, str) or kind in ("text", "input_text")
        out.append(Part("text", text) if plain else Part("labelled", text, kind))
    for media in ("image", "audio"):
        value = found.pop(media, None)
        if value is None:
            continue
        url = _lookup_joined(value, [media, "url"]) if isinstance(value, dict) else MISSING
        if url is MISSING and isinstance(value, dict):
            url = _lookup_joined(value, ["url"])
        out.append(Part("media", url if url is not MISSING else value, media))
        if isinstance(value, dict):
            transcript = _lookup_joined(value, [media, "transcript"])
            if transcript is not MISSING:
                out.append(Part("labelled", transcript, "transcript"))
    for key in ("image_url", "image.url", "url"):
        if key in found:
            label = "image" if "image" in key or kind == "image" else kind
            out.append(Part("media", found.pop(key), label))
    if not out and kind is not None and not found:
        out.append(Part("field", kind, "type"))
    out.extend(Part("field", value, str(key)) for key, value in found.items())
    return out


def tool_call(call: object) -> ToolCall:
    """A ``{"tool_call": {"id", "function": {"name", "arguments"}}}`` item (or flat, or bare
    with ``name`` / ``arguments`` / ``input`` / ``args``)."""
    if not isinstance(call, dict):
        return ToolCall(arguments=call)
    found = fields(call, "tool_call")
    result = ToolCall(id=_pop(found, "id"))
    function = found.pop("function", None)
    if isinstance(function, dict):
        function = dict(function)
        result.name = _pop(function, "name")
        result.arguments = _pop(function, "arguments")
        result.extra.extend((f"function.{k}", v) for k, v in function.items())
    elif function is not None:
        result.extra.append(("function", function))
    if result.name is None:
        result.name = _pop(found, "function.name", "name")
    if result.arguments is None:
        result.arguments = _pop(found, "function.arguments", "arguments", "input", "args")
    if found.get("type") in ("function", "tool_call"):
        del found["type"]
    result.extra.extend((str(k), v) for k, v in found.items())
    return result


def _genai_message(item: dict[str, Any]) -> Message:
    """An OTel GenAI message: ``{"role", "parts": [{"type": "text", "content"}, …]}``."""
    found = dict(item)
    msg = Message(role=_pop(found, "role"), name=_pop(found, "name"))
    parts = _pop(found, "parts")
    listed = as_list(parts)
    if listed is None:
        if parts is not None:
            msg.parts.append(Part("text", parts))
    else:
        for part in listed:
            _genai_part(msg, part)
    msg.extra = [(str(k), v) for k, v in found.items()]
    return msg


def _genai_part(msg: Message, part: object) -> None:
    if not isinstance(part, dict):
        msg.parts.append(Part("text", part))
        return
    found = dict(part)
    kind = _pop(found, "type")
    if kind == "tool_call":
        call = ToolCall(
            id=_pop(found, "id"), name=_pop(found, "name"), arguments=_pop(found, "arguments")
        )
        call.extra = [(str(k), v) for k, v in found.items()]
        msg.tool_calls.append(call)
        return
    if kind == "tool_call_response":
        msg.parts.append(Part("result", _pop(found, "response", "result"), _pop(found, "id")))
    elif kind in ("text", None) and "content" in found:
        msg.parts.append(Part("text", found.pop("content")))
    elif kind in ("reasoning", "thinking") and "content" in found:
        msg.parts.append(Part("labelled", found.pop("content"), kind))
    elif kind in ("uri", "blob", "file", "image", "audio", "video"):
        label = _pop(found, "modality", "mime_type") or kind
        if "uri" in found or "url" in found:
            msg.parts.append(Part("media", _pop(found, "uri", "url"), label))
        elif "content" in found:
            data = found.pop("content")
            size = len(data) if isinstance(data, str | bytes) else None
            msg.parts.append(Part("media", f"<{size:,} chars of data>" if size else data, label))
    elif kind is not None:
        msg.parts.append(Part("field", kind, "type"))
    msg.parts.extend(Part("field", value, str(key)) for key, value in found.items())


# ------------------------------------------------------------------------------ token counts


@dataclass(slots=True)
class TokenCounts:
    """Prompt / completion / total tokens (None when absent or not a count) and where they were
    read (``llm.token_count`` or ``gen_ai.usage``); the total is the sum when only the two
    parts were written."""

    prompt: int | None = None
    completion: int | None = None
    total: int | None = None
    source: str | None = None


_TOKEN_SOURCES = (
    ("llm.token_count", ("llm.token_count.prompt", "llm.token_count.completion",
                         "llm.token_count.total")),
    ("gen_ai.usage", ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                      "gen_ai.usage.total_tokens")),
)  # fmt: skip


def token_counts(attributes: object) -> TokenCounts:
    """Token counts from ``llm.token_count.*``, each missing one from ``gen_ai.usage.*``."""
    counts = TokenCounts()
    for source, (prompt, completion, total) in _TOKEN_SOURCES:
        values = [_count(lookup(attributes, path)) for path in (prompt, completion, total)]
        if all(v is None for v in values):
            continue
        counts.source = counts.source or source
        if counts.prompt is None:
            counts.prompt = values[0]
        if counts.completion is None:
            counts.completion = values[1]
        if counts.total is None:
            counts.total = values[2]
    if counts.total is None and counts.prompt is not None and counts.completion is not None:
        counts.total = counts.prompt + counts.completion
    return counts


def _count(value: object) -> int | None:
    if isinstance(value, bool) or value is None or value is MISSING:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str) and len(value) < 20 and value.strip().isdigit():
        return int(value.strip())
    return None


# ------------------------------------------------------------------------------ input/output


@dataclass(slots=True)
class IOValue:
    """``input`` or ``output`` of a span: its value and mime type (:data:`MISSING` when absent).
    ``node`` is set instead when the attribute is not an object (``{"input": "text"}``)."""

    value: Any = MISSING
    mime_type: Any = MISSING
    node: Any = MISSING

    @property
    def present(self) -> bool:
        return self.value is not MISSING or self.node is not MISSING


def io_value(attributes: object, which: str) -> IOValue:
    """``input.value`` / ``input.mime_type`` (``which`` is ``"input"`` or ``"output"``)."""
    node = lookup(attributes, which)
    if node is MISSING:
        return IOValue()
    if not isinstance(node, dict):
        return IOValue(node=node)
    return IOValue(lookup(node, "value"), lookup(node, "mime_type"))


def parse_json_value(value: object, mime_type: object = None) -> Any:
    """What an input/output value holds as data: a dict or list as it is; text parsed as JSON
    when the mime type says JSON, or when (whatever the mime type) it is a JSON object;
    :data:`MISSING` otherwise (plain text, a scalar, text that does not parse)."""
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        return MISSING
    if mime_type == JSON_MIME:
        return loads_json(value)
    if value.lstrip().startswith("{"):
        parsed = loads_json(value)
        return parsed if isinstance(parsed, dict) else MISSING
    return MISSING


def loads_json(text: str | bytes) -> Any:
    """JSON text's value, MISSING when it is not JSON. What orjson refuses but JSON allows
    (integers beyond 64 bits) is read by the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return MISSING


# ------------------------------------------------------------------------------ input preview

PREVIEW_CHARS = 200
# Keys a framework puts the question under, most telling first (LangChain chains: ``question``,
# ``input``, ``query``; chat models and agents: ``messages``).
_PREVIEW_KEYS = ("question", "query", "input", "prompt", "messages", "text", "content", "message")
_USER_ROLES = ("user", "human")
_PREVIEW_DEPTH = 6
_PREVIEW_ITEMS = 50  # values looked at per object or list: bounded work on any input


def input_preview(attributes: object) -> str:
    """One line that says what a span was asked: the first line of the text of ``input.value``
    (out of its JSON: the ``question`` / ``query`` / ``input`` / ``prompt`` field, the last user
    message of ``messages``, else the first text found), else of the last user message of
    ``llm.input_messages``; "" when there is none. At most PREVIEW_CHARS characters, not
    sanitised (the caller shows it)."""
    io = io_value(attributes, "input")
    raw = io.value if io.value is not MISSING else io.node
    text = ""
    if isinstance(raw, str):
        data = parse_json_value(raw, io.mime_type)
        if data is MISSING and raw.lstrip().startswith("["):
            data = loads_json(raw) if len(raw) <= 1_000_000 else MISSING  # a list of messages
        text = raw if data is MISSING else _salient_text(data, 0)
    elif isinstance(raw, dict | list):
        text = _salient_text(raw, 0)
    elif raw is not MISSING and raw is not None:
        text = str(raw)
    if not text.strip():
        listed = messages(attributes, "input")
        text = _last_user_text([m for m in listed or [] if isinstance(m, Message)])
    return _one_line(text)


def _one_line(text: str) -> str:
    for line in text[: PREVIEW_CHARS * 4 + 1024].splitlines():
        if line.strip():
            return " ".join(line.split())[:PREVIEW_CHARS]
    return ""


def _salient_text(value: object, depth: int) -> str:
    """The text a person would quote from a JSON input (see `input_preview`)."""
    if isinstance(value, str):
        return value
    if depth > _PREVIEW_DEPTH:
        return ""
    if isinstance(value, dict):
        if _looks_like_message(value):
            return _message_text(value, depth)
        for key in _PREVIEW_KEYS:
            if key in value:
                found = _salient_text(value[key], depth + 1)
                if found.strip():
                    return found
        for item in list(value.values())[:_PREVIEW_ITEMS]:
            found = _salient_text(item, depth + 1)
            if found.strip():
                return found
        return ""
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value[:_PREVIEW_ITEMS]):
            chat = [item for item in value[-_PREVIEW_ITEMS:] if _looks_like_message(item)]
            if chat:  # a conversation: what the user said last is what this call is about
                users = [m for m in chat if _role(m) in _USER_ROLES]
                return _message_text((users or chat)[-1], depth)
        for item in value[:_PREVIEW_ITEMS]:
            found = _salient_text(item, depth + 1)
            if found.strip():
                return found
    return ""


def _role(item: dict[str, Any]) -> str:
    """A message's role: OpenAI's ``role``, LangChain's ``type`` (``{"type": "human", "data":
    {...}}``) or OpenInference's ``message.role``."""
    found = fields(item, "message")
    role = found.get("role", found.get("type"))
    return role.lower() if isinstance(role, str) else ""


def _looks_like_message(item: object) -> bool:
    if not isinstance(item, dict):
        return False
    found = fields(item, "message")
    has_text = any(key in found for key in ("content", "contents", "data", "parts", "text"))
    return has_text and isinstance(found.get("role", found.get("type")), str)


def _message_text(item: dict[str, Any], depth: int) -> str:
    found = fields(item, "message")
    if isinstance(found.get("data"), dict):  # LangChain's serialised message
        found = found["data"]
    for key in ("content", "text", "contents", "parts"):
        if key in found:
            text = _salient_text(found[key], depth + 1)
            if text.strip():
                return text
    return ""


def _last_user_text(listed: list[Message]) -> str:
    users = [m for m in listed if isinstance(m.role, str) and m.role.lower() in _USER_ROLES]
    for msg in reversed(users or listed):
        for text in msg.texts():
            if text.strip():
                return text
    return ""
