"""An annotator's session over a store: what applies where, what is still to do, and every change.

No Textual here: the screen turns keys into calls on this object and shows what it returns, so
the whole annotation logic is testable without a terminal.

The store is the single source of truth, with one overlay: changes decided but not committed yet
(`pending`). A key press is decided at once - which item, which config, which value - recorded
here, and handed to the one ordered writer (`annotator.app.writer`); everything that reads
values here (the panel's states, the tree's marks, "what is still missing" for auto-advance)
sees the pending value until the writer reports the commit (`settle`). What applies to a span
and whether the annotator has a value for it come from the store (`Store.row_states`, the same
SQL as the queue), so the marks cannot disagree with the queue and progress.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import ClassVar

from annotator.app.tree_model import DOCUMENT, SPAN, TRACE, Row, TreeModel
from annotator.app.writer import MARK_OPS, Committed, Failed, WriteOp, WriterEvent, run_now
from annotator.config import AnnotationConfig, AnnotationType, ConfigSet
from annotator.model import NOTE_NAME, Annotation, AnnotatorKind, Source, Target
from annotator.store import (
    AnnotationKey,
    Change,
    QueueFilter,
    RankedMatch,
    SpanRow,
    SpanState,
    Store,
    TraceRow,
    has_value,
    required_configs,
)

SECONDS_CAP = 600.0  # per visit: an item left open over lunch is not ten minutes of work
NOTES_SHOWN = 5  # newest notes listed in the panel
_SUMMARY_CACHE = 5000
_STATES_CACHE = 64  # traces whose row states are kept (one query each to rebuild)
_TARGET_ORDER = {Target.SPAN: 0, Target.TRACE: 1, Target.SESSION: 2, Target.DOCUMENT: 3}
NOTE_PREFIX = {Target.SPAN: "px-span-note:", Target.TRACE: "px-trace-note:"}


@dataclass(frozen=True, slots=True)
class Item:
    """What the annotator is looking at: a trace (its root span), a span, or one document."""

    kind: str  # TRACE, SPAN or DOCUMENT (the tree row kinds)
    trace_id: str
    span_id: str | None
    span_kind: str
    session_id: str | None = None
    position: int | None = None

    def annotation(self, config_target: str, name: str, identifier: str) -> Annotation:
        """An empty annotation of `config_target` on this item, keyed for `identifier`."""
        target = Target(config_target)
        return Annotation(
            name=name,
            target=target,
            span_id=self.span_id if target in (Target.SPAN, Target.DOCUMENT) else None,
            trace_id=self.trace_id,
            session_id=self.session_id,
            document_position=self.position if target is Target.DOCUMENT else None,
            identifier=identifier,
            annotator_kind=AnnotatorKind.HUMAN,
            source=Source.APP,
        )


@dataclass
class CardState:
    """What one config card shows for the current item."""

    mine: Annotation | None = None
    others: list[Annotation] = field(default_factory=list)
    pending: bool = False  # `mine` is decided but not committed yet
    unsaved: bool = False  # ... and it is taking long enough to say so
    source: Annotation | None = None  # what `accept` takes: the first of `others` with a value


@dataclass(frozen=True)
class Mark:
    """A tree row's standing: NONE (outside the queue), TODO (needs you), PARTIAL (done itself,
    documents under it still need you), DONE, SKIPPED (you skipped it: it needs nothing more).
    `unsaved`: changes on it are not committed yet; `flagged`: someone flagged it."""

    state: str
    unsaved: bool = False
    flagged: bool = False

    NONE: ClassVar[str] = "none"
    TODO: ClassVar[str] = "todo"
    PARTIAL: ClassVar[str] = "partial"
    DONE: ClassVar[str] = "done"
    SKIPPED: ClassVar[str] = "skipped"


NO_MARK = Mark(Mark.NONE)


@dataclass(frozen=True)
class Note:
    annotation: Annotation
    author: str
    target: str  # span, trace or session
    unsaved: bool  # not committed yet, and taking long enough to say so


def note_author(annotation: Annotation) -> str:
    """Who wrote a note: `metadata.author` (notes made here), else the identifier of an older
    note made here, else Phoenix's (its notes carry a generated identifier only)."""
    author = (annotation.metadata or {}).get("author")
    if isinstance(author, str) and author:
        return author
    identifier = annotation.identifier or ""
    if identifier.startswith("px-"):
        return "Phoenix"
    return identifier or "(unknown)"


_KIND_ORDER: dict[str, int] = {AnnotatorKind.LLM: 0, AnnotatorKind.CODE: 1, AnnotatorKind.HUMAN: 2}


def source_order(annotation: Annotation) -> tuple[int, str]:
    """The order other sources are listed in (and `accept` looks at them): evaluators first -
    LLM judges, then code - then people, each by name."""
    return _KIND_ORDER.get(annotation.annotator_kind, 3), annotation.identifier or ""


def who(annotation: Annotation) -> str:
    """How to name the author of a value: the person, or the kind of judge and its name."""
    if annotation.annotator_kind == AnnotatorKind.HUMAN:
        return annotation.identifier or "(anonymous)"
    return f"{annotation.annotator_kind} {annotation.identifier}".strip()


class NotAccepted(ValueError):
    """The source's value is not one this config can hold as it is (the message says why)."""


def _mark_key(op: WriteOp) -> tuple[str, str]:
    return ("skip" if op.kind in ("skip", "unskip") else "flag", op.span_id or "")


def _targets_for(kind: str) -> tuple[Target, ...]:
    if kind == TRACE:
        return (Target.SPAN, Target.TRACE, Target.SESSION)
    if kind == DOCUMENT:
        return (Target.DOCUMENT,)
    return (Target.SPAN,)


class AnnotationSession:
    def __init__(
        self,
        store: Store,
        config_set: ConfigSet,
        annotator: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        submit: Callable[[WriteOp], None] | None = None,
    ) -> None:
        self.store = store
        self.config_set = config_set
        self.configs: list[AnnotationConfig] = list(config_set.annotations)
        required = {id(c) for c in required_configs(self.configs)}
        self.required_indexes = {i for i, c in enumerate(self.configs) if id(c) in required}
        self.required = {c.name for i, c in enumerate(self.configs) if i in self.required_indexes}
        self.annotator = annotator
        self.queue = QueueFilter()
        self.clock = clock
        # Without a writer thread (tests, scripts) a change is committed at once.
        self._submit = submit or self._commit_now
        self.pending: dict[AnnotationKey, WriteOp] = {}  # the latest uncommitted change per key
        self.unsettled: list[WriteOp] = []  # every uncommitted change, in order
        self.failed: list[tuple[WriteOp, str]] = []  # changes the database refused for good
        self.waiting: str | None = None  # why the writer is stuck, while it is
        # Skips and flags decided but not committed: (kind, span id) -> set (True) or removed.
        self.pending_marks: dict[tuple[str, str], bool] = {}
        self._summaries: OrderedDict[str, TraceRow] = OrderedDict()
        self._previews: OrderedDict[str, str] = OrderedDict()  # root input, one line
        self._progress: dict[str, tuple[int, int]] = {}
        self._states: OrderedDict[str, dict[str, SpanState]] = OrderedDict()
        self._visit: tuple[Item | None, float] = (None, clock())
        self._spent: dict[Item, float] = {}

    # --- what applies ---------------------------------------------------------------------------

    def item_for(self, row: Row, model: TreeModel) -> Item | None:
        summary = self.trace_summary(row.trace_id)
        session_id = summary.session_id if summary else None
        if row.kind == TRACE:
            if summary is None:
                return None
            kind = summary.root_kind or "UNKNOWN"
            return Item(TRACE, row.trace_id, summary.root_span_id, kind, session_id)
        span = model.span_of(row)
        if span is None:
            return None
        return Item(row.kind, row.trace_id, span.span_id, span.span_kind, session_id, row.position)

    def load_trace(self, trace_id: str) -> tuple[list[SpanRow], str | None]:
        """A trace's spans for the tree, and the root the queue counts trace configs on."""
        summary = self.trace_summary(trace_id)
        return self.store.span_rows(trace_id), summary.root_span_id if summary else None

    def applicable(self, item: Item) -> list[int]:
        """Indexes of the configs offered on `item`: span-level first, then trace, session."""
        state = self._span_state(item.trace_id, item.span_id)
        if state is None:
            return []
        targets = _targets_for(item.kind)
        found = [i for i in state.have if self.configs[i].target in targets]
        return sorted(found, key=lambda i: (_TARGET_ORDER[self.configs[i].target], i))

    def document_rows(self, span: SpanRow) -> int:
        """Document rows to show under a span: only when a document config applies to it."""
        if not span.document_count:
            return 0
        state = self._span_state(span.trace_id, span.span_id)
        if state is not None and any(self.configs[i].target == Target.DOCUMENT for i in state.have):
            return span.document_count
        return 0

    def key_for(self, item: Item, config: AnnotationConfig) -> AnnotationKey:
        return AnnotationKey.of(item.annotation(config.target.value, config.name, self.annotator))

    def current(self, key: AnnotationKey) -> Annotation | None:
        """My value under `key` as the screen shows it: the pending change, else the store's."""
        op = self.pending.get(key)
        if op is not None:
            return op.annotation
        return self.store.find_annotation(key)

    def states(self, item: Item, indexes: Iterable[int]) -> dict[int, CardState]:
        """Mine (pending changes included) and everyone else's value, per config."""
        found = self._annotations_about(item)
        result: dict[int, CardState] = {}
        for i in indexes:
            config = self.configs[i]
            target = config.target.value
            state = CardState()
            for annotation in found:
                if annotation.name != config.name or annotation.target != target:
                    continue
                if target == Target.DOCUMENT and annotation.document_position != item.position:
                    continue
                if self._is_mine(annotation):
                    state.mine = annotation
                else:
                    state.others.append(annotation)
            op = self.pending.get(self.key_for(item, config)) if self.pending else None
            if op is not None:
                state.mine, state.pending, state.unsaved = op.annotation, True, op.late
            state.others.sort(key=source_order)
            state.source = next(
                (
                    other
                    for other in state.others
                    if has_value(config, other.label, other.score, other.explanation)
                ),
                None,
            )
            result[i] = state
        return result

    def extra_annotations(self, item: Item) -> list[Annotation]:
        """Annotations on this item under names no config covers (imported evaluations, say):
        shown read-only so nothing recorded about a span is invisible."""
        known = {config.name for config in self.configs}
        result = []
        for annotation in self._annotations_about(item):
            if annotation.name in known or annotation.name == NOTE_NAME:
                continue
            if (
                annotation.target == Target.DOCUMENT
                and annotation.document_position != item.position
            ):
                continue
            if item.kind == DOCUMENT and annotation.target != Target.DOCUMENT:
                continue
            result.append(annotation)
        return result

    def notes(self, item: Item) -> tuple[list[Note], int]:
        """The newest notes about the item (a trace row: the trace's and its root span's; a
        document row: its span's), pending ones first, and how many more there are."""
        found: list[Note] = []
        keys = set()
        for op in self.unsettled:
            annotation = op.annotation
            if op.kind != "set" or annotation is None or annotation.name != NOTE_NAME:
                continue
            if self._note_is_about(annotation, item):
                author = note_author(annotation)
                found.append(Note(annotation, author, annotation.target, op.late))
                keys.add(op.key)
        stored = [
            a
            for a in self._annotations_about(item)
            if a.name == NOTE_NAME and AnnotationKey.of(a) not in keys
        ]
        stored.sort(key=lambda a: (a.created_at or "", a.id or 0), reverse=True)
        found.reverse()  # the newest pending first
        found += [Note(a, note_author(a), a.target, False) for a in stored]
        return found[:NOTES_SHOWN], max(0, len(found) - NOTES_SHOWN)

    def _note_is_about(self, note: Annotation, item: Item) -> bool:
        if note.target == Target.TRACE:
            return item.kind == TRACE and note.trace_id == item.trace_id
        return note.target == Target.SPAN and note.span_id == item.span_id

    def _annotations_about(self, item: Item) -> list[Annotation]:
        found: list[Annotation] = []
        if item.span_id:
            found += self.store.annotations_on_span(item.span_id)
        if item.kind == TRACE:
            found += self.store.annotations_on_trace(item.trace_id)
            if item.session_id:
                found += self.store.annotations_on_session(item.session_id)
        return found

    def _is_mine(self, annotation: Annotation) -> bool:
        return (
            annotation.identifier == self.annotator
            and annotation.annotator_kind == AnnotatorKind.HUMAN
        )

    # --- time on an item ------------------------------------------------------------------------

    def arrived(self, item: Item | None) -> None:
        """The annotator is looking at `item` from now on (for seconds_spent)."""
        current, since = self._visit
        if item == current:
            return
        now = self.clock()
        if current is not None:
            self._spent[current] = self._spent.get(current, 0.0) + min(now - since, SECONDS_CAP)
        self._visit = (item, now)

    def seconds_on(self, item: Item) -> float:
        """Time spent on `item` so far: every visit, each capped at SECONDS_CAP, up to now."""
        spent = self._spent.get(item, 0.0)
        current, since = self._visit
        if current == item:
            spent += min(self.clock() - since, SECONDS_CAP)
        return round(spent, 2)

    # --- changes (decided now, committed by the writer) -----------------------------------------

    def pick(self, item: Item, config: AnnotationConfig, value_index: int) -> WriteOp:
        value = config.values[value_index]
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.current(AnnotationKey.of(annotation))
        annotation.label = value.label
        annotation.score = value.score
        annotation.explanation = current.explanation if current else None
        return self._set(item, item, annotation, config.name)

    def step(self, item: Item, config: AnnotationConfig, steps: int) -> WriteOp:
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.current(AnnotationKey.of(annotation))
        annotation.score = config.step_score(current.score if current else None, steps)
        annotation.label = current.label if current else None
        annotation.explanation = current.explanation if current else None
        return self._set(item, item, annotation, config.name)

    def set_score(self, item: Item, config: AnnotationConfig, score: float) -> WriteOp:
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.current(AnnotationKey.of(annotation))
        annotation.score = config.step_score(config.clamp(score), 0) if config.step else score
        annotation.label = current.label if current else None
        annotation.explanation = current.explanation if current else None
        return self._set(item, item, annotation, config.name)

    def accept(self, item: Item, config: AnnotationConfig, source: Annotation) -> WriteOp | None:
        """Take `source`'s value as mine, as it is: a label of the config (its score is the
        config's, as a pick gives it; a score alone picks the one value with that score), a
        score within the bounds, a text. My explanation stays. `metadata.accepted_from` says
        whose value it was. None: mine is that value already. Raises NotAccepted."""
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.current(AnnotationKey.of(annotation))
        annotation.explanation = current.explanation if current else None
        whose = who(source)
        if config.type == AnnotationType.CATEGORICAL:
            value = None
            if source.label is not None:
                value = config.value_for_label(source.label)
                if value is None:
                    raise NotAccepted(
                        f"{whose}'s label {source.label!r} is not one of {config.name}'s labels"
                    )
            else:
                matching = [v for v in config.values if v.score == source.score]
                if len(matching) != 1:
                    raise NotAccepted(
                        f"{whose}'s score {source.score:g} names no single value of {config.name}"
                    )
                value = matching[0]
            annotation.label, annotation.score = value.label, value.score
        elif config.type == AnnotationType.CONTINUOUS:
            score = source.score
            if score is None:
                raise NotAccepted(f"{whose} gave {config.name} no score")
            low, high = config.lower_bound, config.upper_bound
            if (low is not None and score < low) or (high is not None and score > high):
                bounds = " to ".join("" if b is None else f"{b:g}" for b in (low, high))
                raise NotAccepted(
                    f"{whose}'s score {score:g} is outside {config.name}'s bounds ({bounds})"
                )
            annotation.score = score
            annotation.label = current.label if current else None
        else:
            annotation.explanation = source.explanation
        if current is not None and (current.label, current.score, current.explanation) == (
            annotation.label,
            annotation.score,
            annotation.explanation,
        ):
            return None
        accepted_from = {
            "annotator_kind": str(source.annotator_kind),
            "identifier": source.identifier,
        }
        return self._set(item, item, annotation, config.name, accepted_from=accepted_from)

    def current_text(self, item: Item, config: AnnotationConfig) -> str:
        annotation = self.current(self.key_for(item, config))
        return (annotation.explanation or "") if annotation else ""

    def set_text(self, item: Item, config: AnnotationConfig, text: str) -> WriteOp | None:
        """Freeform text (into `explanation`, as Phoenix stores it). Empty text removes a
        freeform value; on a label or score it just clears the text. None: nothing to change."""
        key = self.key_for(item, config)
        current = self.current(key)
        text = text.rstrip()
        has_result = current is not None and (
            current.label is not None or current.score is not None
        )
        if not text and not has_result:
            return self._delete(item, key, config.name) if current is not None else None
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        if current is not None:
            annotation.label, annotation.score = current.label, current.score
        annotation.explanation = text or None
        return self._set(item, item, annotation, config.name)

    def add_note(self, item: Item, text: str) -> WriteOp | None:
        """A NEW note (Phoenix keeps many per span, each its own annotation): on the trace for a
        trace row, else on the span (a document row's span). Its identifier is unique, like
        Phoenix's `px-span-note:<uuid>`; the author is in `metadata.author`. None: empty text."""
        text = text.rstrip()
        if not text or (item.span_id is None and item.kind != TRACE):
            return None
        target = Target.TRACE if item.kind == TRACE else Target.SPAN
        about = item
        if item.kind == DOCUMENT:  # a note is about the span the document belongs to
            about = Item(SPAN, item.trace_id, item.span_id, item.span_kind, item.session_id)
        note = about.annotation(target.value, NOTE_NAME, f"{NOTE_PREFIX[target]}{uuid.uuid4()}")
        note.explanation = text
        return self._set(item, about, note, NOTE_NAME, author=self.annotator)

    def clear(self, item: Item, config: AnnotationConfig) -> WriteOp | None:
        """Remove my value; None when there is none."""
        key = self.key_for(item, config)
        if self.current(key) is None:
            return None
        return self._delete(item, key, config.name)

    # --- skips and flags (marks on a span: a trace row's is its root span's) ----------------

    def has_mark(self, item: Item, kind: str) -> bool:
        """Whether I skipped (kind "skip") or flagged ("flag") the item, pending changes
        included."""
        if item.span_id is None:
            return False
        pending = self.pending_marks.get((kind, item.span_id))
        if pending is not None:
            return pending
        return bool(self.store.marks(kind=kind, annotator=self.annotator, span_id=item.span_id))

    def flags_on(self, item: Item) -> list[tuple[str, str]]:
        """(who, reason) of every flag on the item, pending ones of mine included."""
        if item.span_id is None:
            return []
        flags = [
            (m.annotator, m.reason)
            for m in self.store.marks(kind="flag", span_id=item.span_id)
            if m.annotator != self.annotator
        ]
        if self.has_mark(item, "flag"):
            mine = [m for m in self.unsettled if m.kind == "flag" and m.span_id == item.span_id]
            stored = self.store.marks(kind="flag", annotator=self.annotator, span_id=item.span_id)
            reason = mine[-1].reason if mine else (stored[0].reason if stored else "")
            flags.insert(0, (self.annotator, reason))
        return flags

    def toggle_skip(self, item: Item) -> WriteOp | None:
        """Skip the item (it leaves my queue), or take my skip back."""
        if item.span_id is None:
            return None
        kind = "unskip" if self.has_mark(item, "skip") else "skip"
        return self._mark(item, kind, "")

    def flag(self, item: Item, reason: str) -> WriteOp | None:
        return None if item.span_id is None else self._mark(item, "flag", reason.strip())

    def unflag(self, item: Item) -> WriteOp | None:
        return None if item.span_id is None else self._mark(item, "unflag", "")

    def _mark(self, item: Item, kind: str, reason: str) -> WriteOp:
        op = WriteOp(kind, None, None, kind, item.trace_id, item.span_id, reason=reason)
        self.pending_marks[_mark_key(op)] = kind in ("skip", "flag")
        return self._queue(op)

    def undo(self) -> WriteOp:
        return self._queue(WriteOp("undo", what="undo"))

    def redo(self) -> WriteOp:
        return self._queue(WriteOp("redo", what="redo"))

    def _set(
        self,
        visited: Item,
        about: Item,
        annotation: Annotation,
        what: str,
        *,
        author: str | None = None,
        accepted_from: dict[str, str] | None = None,
    ) -> WriteOp:
        """`visited`: the item on screen (its time is seconds_spent); `about`: the annotation's."""
        annotation.metadata = {"seconds_spent": self.seconds_on(visited)}
        if author is not None:
            annotation.metadata["author"] = author
        if accepted_from is not None:
            annotation.metadata["accepted_from"] = accepted_from
        key = AnnotationKey.of(annotation)
        span_id = self._row_span(about, annotation.target)
        return self._queue(WriteOp("set", key, annotation, what, about.trace_id, span_id))

    def _delete(self, item: Item, key: AnnotationKey, what: str) -> WriteOp:
        span_id = self._row_span(item, key.target)
        return self._queue(WriteOp("delete", key, None, what, item.trace_id, span_id))

    def _row_span(self, item: Item, target: str) -> str | None:
        if target in (Target.TRACE, Target.SESSION):
            summary = self.trace_summary(item.trace_id)
            return summary.root_span_id if summary else item.span_id
        return item.span_id

    def _queue(self, op: WriteOp) -> WriteOp:
        if op.key is not None:
            self.pending[op.key] = op
        self.unsettled.append(op)
        self._submit(op)
        return op

    def _commit_now(self, op: WriteOp) -> None:
        self.settle(run_now(self.store, self.annotator, op))

    def settle(self, event: WriterEvent) -> None:
        """The writer committed (or gave up on) a change: the store now has it (or never will)."""
        op = event.op
        if op in self.unsettled:
            self.unsettled.remove(op)
        if op.key is not None and self.pending.get(op.key) is op:
            del self.pending[op.key]
        if isinstance(event, Failed):
            self.failed.append((op, event.reason))
        if not self.unsettled:
            self.waiting = None
        later = any(_mark_key(o) == _mark_key(op) for o in self.unsettled if o.kind in MARK_OPS)
        if op.kind in MARK_OPS and not later:  # the store has the latest skip / flag now
            self.pending_marks.pop(_mark_key(op), None)
        if isinstance(event, Committed) and isinstance(event.result, Change):
            if event.result.is_mark:
                mark = event.result.mark
                self._refresh_span(mark.trace_id, mark.span_id, None)
            else:
                self._refresh(event.result.annotation)
        elif op.trace_id is not None:
            self._refresh_span(op.trace_id, op.span_id, op.key.target if op.key else None)

    def _refresh(self, annotation: Annotation) -> None:
        if annotation.target == Target.SESSION or not annotation.trace_id:
            self.forget_all()
            return
        span_id = annotation.span_id
        if annotation.target == Target.TRACE:
            summary = self.trace_summary(annotation.trace_id)
            span_id = summary.root_span_id if summary else None
        self._refresh_span(annotation.trace_id, span_id, annotation.target)

    def _refresh_span(self, trace_id: str, span_id: str | None, target: str | None) -> None:
        self._progress.pop(trace_id, None)
        if target == Target.SESSION:
            self.forget_all()
            return
        states = self._states.get(trace_id)
        if states is None or span_id is None:
            return
        fresh = self.store.row_states(trace_id, self.queue, self.configs, self.annotator, [span_id])
        states.update(fresh)

    def mark_late(self, older_than: float) -> bool:
        """Flag changes submitted more than `older_than` seconds ago as unsaved (shown so);
        True when any is newly flagged."""
        now = time.monotonic()
        changed = False
        for op in self.unsettled:
            if not op.late and (self.waiting is not None or now - op.submitted_at >= older_than):
                op.late = changed = True
        return changed

    def writer_waiting(self, reason: str) -> None:
        self.waiting = reason
        for op in self.unsettled:
            op.late = True

    # --- what is still to do --------------------------------------------------------------------

    def _span_state(self, trace_id: str, span_id: str | None) -> SpanState | None:
        if span_id is None:
            return None
        return self._trace_states(trace_id).get(span_id)

    def _trace_states(self, trace_id: str) -> dict[str, SpanState]:
        states = self._states.get(trace_id)
        if states is None:
            states = self.store.row_states(trace_id, self.queue, self.configs, self.annotator)
            self._states[trace_id] = states
            while len(self._states) > _STATES_CACHE:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(trace_id)
        return states

    def _has(
        self,
        i: int,
        have: bool | frozenset[int],
        trace: TraceRow | None,
        span_id: str,
        position: int | None,
    ) -> bool:
        """Whether I have a value for config `i` on this row, pending changes included."""
        present = position in have if isinstance(have, frozenset) else have
        if not self.pending:
            return present
        config = self.configs[i]
        target = config.target
        target_id = {
            Target.SPAN: span_id,
            Target.DOCUMENT: span_id,
            Target.TRACE: trace.trace_id if trace else None,
            Target.SESSION: trace.session_id if trace else None,
        }[target]
        if target_id is None:
            return present
        document_position = position if target == Target.DOCUMENT else None
        key = AnnotationKey(target.value, target_id, document_position, config.name, self.annotator)
        op = self.pending.get(key)
        if op is None:
            return present
        value = op.annotation
        if value is None:  # a pending removal
            return False
        return has_value(config, value.label, value.score, value.explanation)

    def _missing(self, state: SpanState, trace: TraceRow | None, position: int | None) -> list[int]:
        """Required configs of a row (the span's own with position None, else one document's)
        that I have no value for; none on a span I skipped."""
        if self._skipped(state):
            return []
        result = []
        for i, have in state.have.items():
            if i not in self.required_indexes:
                continue
            if (self.configs[i].target == Target.DOCUMENT) != (position is not None):
                continue
            if not self._has(i, have, trace, state.span_id, position):
                result.append(i)
        return result

    def _skipped(self, state: SpanState) -> bool:
        pending = self.pending_marks.get(("skip", state.span_id)) if self.pending_marks else None
        return state.skipped if pending is None else pending

    def _flagged(self, state: SpanState) -> bool:
        pending = self.pending_marks.get(("flag", state.span_id)) if self.pending_marks else None
        return state.flagged or bool(pending)

    def missing_on(self, item: Item, indexes: Iterable[int]) -> list[int]:
        """The required configs among `indexes` that this annotator has no value for on `item`."""
        state = self._span_state(item.trace_id, item.span_id)
        if state is None:
            return []
        position = item.position if item.kind == DOCUMENT else None
        missing = set(self._missing(state, self.trace_summary(item.trace_id), position))
        return [i for i in indexes if i in missing]

    def needs_config(self, item: Item, config: AnnotationConfig) -> bool:
        """Whether `config` applies to `item` and this annotator has no value for it there."""
        index = self.configs.index(config)
        return index in self.applicable(item) and index in self.missing_on(item, [index])

    def trace_marks(self, trace_id: str) -> dict[tuple[str, int | None], Mark]:
        """The mark of every span row (position None) and document row of a trace."""
        trace = self.trace_summary(trace_id)
        late = self._late_rows(trace_id)
        marks: dict[tuple[str, int | None], Mark] = {}
        for state in self._trace_states(trace_id).values():
            marks.update(self._span_marks(state, trace, late))
        return marks

    def _late_rows(self, trace_id: str) -> set[tuple[str | None, int | None]]:
        """(span id, document position) of the rows with a change shown as unsaved."""
        return {
            (op.span_id, op.key.document_position if op.key else None)
            for op in self.unsettled
            if op.late and op.trace_id == trace_id
        }

    def _span_marks(
        self, state: SpanState, trace: TraceRow | None, late: set
    ) -> dict[tuple[str, int | None], Mark]:
        span_id = state.span_id
        flagged = self._flagged(state)
        documents = any(self.configs[i].target == Target.DOCUMENT for i in state.have)
        if not state.in_queue or self._skipped(state):
            mark = Mark(Mark.SKIPPED if state.in_queue else Mark.NONE, False, flagged)
            marks: dict[tuple[str, int | None], Mark] = {
                (span_id, None): replace(mark, unsaved=(span_id, None) in late)
            }
            if documents:
                marks.update(
                    {
                        (span_id, p): replace(mark, flagged=False)
                        for p in range(state.document_count)
                    }
                )
            return marks
        marks = {}
        documents_todo = False
        if documents:
            for position in range(state.document_count):
                todo = bool(self._missing(state, trace, position))
                documents_todo = documents_todo or todo
                row = (span_id, position)
                marks[row] = Mark(Mark.TODO if todo else Mark.DONE, row in late)
        own_todo = bool(self._missing(state, trace, None))
        own = Mark.TODO if own_todo else Mark.PARTIAL if documents_todo else Mark.DONE
        marks[(span_id, None)] = Mark(own, (span_id, None) in late, flagged)
        return marks

    def row_mark(self, row: Row, model: TreeModel) -> Mark:
        if not model.is_expanded(row.trace_id):
            return NO_MARK
        if row.kind == TRACE:
            summary = self.trace_summary(row.trace_id)
            span_id, position = (summary.root_span_id if summary else None), None
        else:
            span_id, position = row.span_id, row.position
        state = self._span_state(row.trace_id, span_id)
        if state is None or span_id is None:
            return NO_MARK
        trace = self.trace_summary(row.trace_id)
        marks = self._span_marks(state, trace, self._late_rows(row.trace_id))
        return marks.get((span_id, position), NO_MARK)

    # --- trace list and caches for the tree -----------------------------------------------------

    def trace_ids(self) -> list[str]:
        return self.store.trace_ids(self.queue, self.configs, self.annotator)

    def trace_summary(self, trace_id: str) -> TraceRow | None:
        summary = self._summaries.get(trace_id)
        if summary is None:
            self.prefetch([trace_id], rows=False)
            summary = self._summaries.get(trace_id)
        return summary

    def trace_preview(self, trace_id: str) -> str:
        """The first line of the trace's root input ("" when it has none): fetched with the
        summaries of the rows about to be drawn (`prefetch`)."""
        preview = self._previews.get(trace_id)
        if preview is None:
            self._previews.update(self.store.trace_previews([trace_id]))
            preview = self._previews.get(trace_id, "")
        return preview

    def trace_progress(self, trace_id: str) -> tuple[int, int] | None:
        """(done, total) spans of the trace in the queue's scope: from the marks when the trace
        is loaded (pending changes count), else counted by the store."""
        if trace_id in self._states:
            marks = self.trace_marks(trace_id)
            spans = [
                mark
                for (_, position), mark in marks.items()
                if position is None and mark.state != Mark.NONE
            ]
            done = sum(1 for mark in spans if mark.state in (Mark.DONE, Mark.SKIPPED))
            return done, len(spans)
        if trace_id not in self._progress:
            self._count_traces([trace_id])
        return self._progress.get(trace_id)

    def _count_traces(self, trace_ids: list[str]) -> None:
        counted = self.store.trace_progress(trace_ids, self.configs, self.annotator, self.queue)
        self._progress.update(counted)

    def prefetch(self, trace_ids: list[str], *, rows: bool = True) -> None:
        """Summaries of these traces; with `rows` (the tree is about to draw them) also their
        progress and input previews, one query each for the whole screen."""
        missing = [t for t in trace_ids if t not in self._summaries]
        if missing:
            self._summaries.update(self.store.traces_by_ids(missing))
            while len(self._summaries) > _SUMMARY_CACHE:
                self._summaries.popitem(last=False)
        unseen = [t for t in trace_ids if t not in self._previews]
        if rows and unseen:
            self._previews.update(self.store.trace_previews(unseen))
            while len(self._previews) > _SUMMARY_CACHE:
                self._previews.popitem(last=False)
        unknown = [t for t in trace_ids if t not in self._progress and t not in self._states]
        if rows and unknown:
            self._count_traces(unknown)
            if len(self._progress) > _SUMMARY_CACHE:
                self._progress.clear()

    def forget(self, trace_id: str) -> None:
        self._progress.pop(trace_id, None)
        self._states.pop(trace_id, None)

    def forget_all(self) -> None:
        self._progress.clear()
        self._states.clear()

    def forget_summaries(self) -> None:
        """Trace summaries are read again (spans arrived: counts and times changed)."""
        self._summaries.clear()

    def set_queue(self, queue: QueueFilter) -> None:
        self.queue = queue
        self.forget_all()

    def count_matches(self, text: str, store: Store | None = None) -> int:
        """Spans of the queue (its other filters kept) matching the search `text`, up to
        SEARCH_COUNT_LIMIT (the search box's live count)."""
        queue = replace(self.queue, text=text)
        return (store or self.store).count_matches(queue, self.configs, self.annotator)

    def ranked_matches(self, queue: QueueFilter, store: Store | None = None) -> list[RankedMatch]:
        """The best matches of `queue`'s search in that queue, best first (the `>` walk)."""
        return (store or self.store).ranked_matches(queue, self.configs, self.annotator)

    def progress(self, store: Store | None = None) -> tuple[int, int]:
        """(done, total) committed, over the queue's scope; `store`: a worker thread's own."""
        return (store or self.store).queue_progress(self.queue, self.configs, self.annotator)

    def next_trace_with_work(
        self, after: str | None, *, backwards: bool = False, config: AnnotationConfig | None = None
    ) -> str | None:
        configs = [config] if config is not None else self.configs
        return self.store.next_queue_trace(
            after, self.queue, configs, self.annotator, backwards=backwards
        )
