"""An annotator's session over a store: what applies where, what is still to do, and every write.

No Textual here: the screen turns keys into calls on this object and shows what it returns, so
the whole annotation logic is testable without a terminal. The store stays the single source of
truth: this object caches only what the tree needs to draw (trace summaries, marks), and drops
those caches whenever it writes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from annotator.app.tree_model import DOCUMENT, SPAN, TRACE, Row, TreeModel
from annotator.app.widgets.annotation_panel import CardState
from annotator.config import AnnotationConfig, ConfigSet
from annotator.model import NOTE_NAME, Annotation, AnnotatorKind, Source, Target
from annotator.store import AnnotationKey, Change, QueueFilter, SpanRow, Store, TraceRow
from annotator.store.queue import required_configs

SECONDS_CAP = 600.0  # an item left open over lunch is not ten minutes of work
_SUMMARY_CACHE = 5000


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


def _targets_for(kind: str, has_session: bool) -> tuple[Target, ...]:
    if kind == TRACE:
        return (Target.SPAN, Target.TRACE, Target.SESSION) if has_session else (Target.SPAN, Target.TRACE)
    if kind == DOCUMENT:
        return (Target.DOCUMENT,)
    return (Target.SPAN,)


class AnnotationSession:
    def __init__(self, store: Store, config_set: ConfigSet, annotator: str) -> None:
        self.store = store
        self.config_set = config_set
        self.configs: list[AnnotationConfig] = list(config_set.annotations)
        self.required = {c.name for c in required_configs(self.configs)}
        self.annotator = annotator
        self.queue = QueueFilter()
        self._summaries: OrderedDict[str, TraceRow] = OrderedDict()
        self._progress: dict[str, tuple[int, int]] = {}
        self._marks: dict[str, dict[tuple[str, int | None], tuple[bool, bool]]] = {}
        self._arrived: tuple[Item | None, float] = (None, time.monotonic())

    # --- what applies ---------------------------------------------------------------------------

    def item_for(self, row: Row, model: TreeModel) -> Item | None:
        span = model.span_of(row)
        if row.kind == TRACE:
            summary = self.trace_summary(row.trace_id)
            if summary is None:
                return None
            return Item(
                TRACE,
                row.trace_id,
                summary.root_span_id,
                summary.root_kind or "UNKNOWN",
                summary.session_id,
            )
        if span is None:
            return None
        session_id = self.trace_summary(row.trace_id)
        return Item(
            row.kind,
            row.trace_id,
            span.span_id,
            span.span_kind,
            session_id.session_id if session_id else None,
            row.position,
        )

    def applicable(self, item: Item) -> list[int]:
        """Indexes of the configs offered on `item`, span-level first, then trace, session."""
        targets = _targets_for(item.kind, item.session_id is not None)
        result = []
        for target in targets:
            for i, config in enumerate(self.configs):
                if config.applies_to(target, item.span_kind):
                    result.append(i)
        return result

    def document_rows(self, span: SpanRow) -> int:
        """Document rows to show under a span: only when a document config applies to it."""
        if not span.document_count:
            return 0
        if any(c.applies_to(Target.DOCUMENT, span.span_kind) for c in self.configs):
            return span.document_count
        return 0

    def key_for(self, item: Item, config: AnnotationConfig) -> AnnotationKey:
        return AnnotationKey.of(item.annotation(config.target.value, config.name, self.annotator))

    def states(self, item: Item, indexes: Iterable[int]) -> dict[int, CardState]:
        """Mine and everyone else's value, per config, for this item."""
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
            if annotation.target == Target.DOCUMENT and annotation.document_position != item.position:
                continue
            if item.kind == DOCUMENT and annotation.target != Target.DOCUMENT:
                continue
            result.append(annotation)
        return result

    def notes(self, item: Item) -> list[Annotation]:
        if item.kind == DOCUMENT:
            return []
        return [
            a
            for a in self._annotations_about(item)
            if a.name == NOTE_NAME and a.target == Target.SPAN
        ]

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

    # --- writes (each committed before it returns) ----------------------------------------------

    def arrived(self, item: Item | None) -> None:
        """The annotator started looking at `item` now (for seconds_spent)."""
        if item != self._arrived[0]:
            self._arrived = (item, time.monotonic())

    def _seconds_spent(self, item: Item) -> float:
        since_item, since = self._arrived
        now = time.monotonic()
        spent = now - since if since_item == item else 0.0
        self._arrived = (item, now)
        return round(min(spent, SECONDS_CAP), 2)

    def _write(self, item: Item, annotation: Annotation) -> Annotation:
        annotation.metadata = {"seconds_spent": self._seconds_spent(item)}
        stored = self.store.set_annotation(annotation, actor=self.annotator)
        self.forget(item.trace_id)
        return stored

    def pick(self, item: Item, config: AnnotationConfig, value_index: int) -> Annotation:
        value = config.values[value_index]
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.store.find_annotation(AnnotationKey.of(annotation))
        annotation.label = value.label
        annotation.score = value.score
        annotation.explanation = current.explanation if current else None
        return self._write(item, annotation)

    def step(self, item: Item, config: AnnotationConfig, steps: int) -> Annotation:
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.store.find_annotation(AnnotationKey.of(annotation))
        annotation.score = config.step_score(current.score if current else None, steps)
        annotation.label = current.label if current else None
        annotation.explanation = current.explanation if current else None
        return self._write(item, annotation)

    def set_score(self, item: Item, config: AnnotationConfig, score: float) -> Annotation:
        annotation = item.annotation(config.target.value, config.name, self.annotator)
        current = self.store.find_annotation(AnnotationKey.of(annotation))
        annotation.score = config.step_score(config.clamp(score), 0) if config.step else score
        annotation.label = current.label if current else None
        annotation.explanation = current.explanation if current else None
        return self._write(item, annotation)

    def current_text(self, item: Item, config: AnnotationConfig | None) -> str:
        annotation = self.store.find_annotation(self._text_key(item, config))
        return (annotation.explanation or "") if annotation else ""

    def set_text(self, item: Item, config: AnnotationConfig | None, text: str) -> Annotation | None:
        """Freeform text (into `explanation`, as Phoenix stores it); `config` None is the note.
        Empty text removes a freeform value or note; on a label or score it just clears the text."""
        key = self._text_key(item, config)
        current = self.store.find_annotation(key)
        text = text.rstrip()
        has_value = current is not None and (current.label is not None or current.score is not None)
        if not text and not has_value:
            if current is not None:
                self.store.delete_annotation(key, actor=self.annotator)
                self.forget(item.trace_id)
            return None
        target = config.target.value if config else Target.SPAN.value
        name = config.name if config else NOTE_NAME
        annotation = item.annotation(target, name, self.annotator)
        if current is not None:
            annotation.label, annotation.score = current.label, current.score
        annotation.explanation = text or None
        return self._write(item, annotation)

    def _text_key(self, item: Item, config: AnnotationConfig | None) -> AnnotationKey:
        if config is None:
            return AnnotationKey.of(item.annotation(Target.SPAN.value, NOTE_NAME, self.annotator))
        return self.key_for(item, config)

    def clear(self, item: Item, config: AnnotationConfig) -> Annotation | None:
        removed = self.store.delete_annotation(self.key_for(item, config), actor=self.annotator)
        self.forget(item.trace_id)
        return removed

    def undo(self) -> Change | None:
        change = self.store.undo(self.annotator)
        self._forget_change(change)
        return change

    def redo(self) -> Change | None:
        change = self.store.redo(self.annotator)
        self._forget_change(change)
        return change

    def _forget_change(self, change: Change | None) -> None:
        if change is None:
            return
        annotation = change.annotation
        if annotation.trace_id:
            self.forget(annotation.trace_id)
        else:
            self.forget_all()

    # --- what is still to do --------------------------------------------------------------------

    def missing_on(self, item: Item, indexes: Iterable[int]) -> list[int]:
        """The required configs among `indexes` that this annotator has not set on `item`."""
        states = self.states(item, indexes)
        return [
            i
            for i in indexes
            if self.configs[i].name in self.required and states[i].mine is None
        ]

    def trace_marks(self, trace_id: str, model: TreeModel) -> dict[tuple[str, int | None], tuple[bool, bool]]:
        """(needs, mine) for every span and document row of a loaded trace, keyed by
        (span id, document position). Computed in Python from one query; agrees with the SQL
        queue (see tests)."""
        cached = self._marks.get(trace_id)
        if cached is not None:
            return cached
        loaded = model.loaded.get(trace_id)
        if loaded is None:
            return {}
        in_queue = self.store.queue_marks(trace_id, self.queue, self.configs, self.annotator)
        mine = self._my_annotation_keys(trace_id)
        summary = self.trace_summary(trace_id)
        session_id = summary.session_id if summary else None
        marks: dict[tuple[str, int | None], tuple[bool, bool]] = {}
        for span in loaded.spans.values():
            is_root = span.span_id == loaded.root_id
            kind = TRACE if is_root else SPAN
            item = Item(kind, trace_id, span.span_id, span.span_kind, session_id)
            needs = False
            for i in self.applicable(item):
                config = self.configs[i]
                if config.name in self.required and not self._has(mine, config, item):
                    needs = True
                    break
            has_mine = any(key[1] == span.span_id for key in mine) or (
                is_root and any(key[0] in (Target.TRACE, Target.SESSION) for key in mine)
            )
            queued = span.span_id in in_queue
            marks[(span.span_id, None)] = (queued and needs, has_mine)
            for position in range(self.document_rows(span)):
                document = Item(DOCUMENT, trace_id, span.span_id, span.span_kind, session_id, position)
                doc_needs = any(
                    self.configs[i].name in self.required and not self._has(mine, self.configs[i], document)
                    for i in self.applicable(document)
                )
                doc_mine = any(key[1] == span.span_id and key[2] == position for key in mine)
                # The document rows carry their own marks; the span row is "to do" only for the
                # span's own configs (the SQL queue counts the span until its documents are done).
                marks[(span.span_id, position)] = (queued and doc_needs, doc_mine)
        self._marks[trace_id] = marks
        return marks

    def _my_annotation_keys(self, trace_id: str) -> set[tuple[str, str | None, int | None, str]]:
        rows = self.store.connection.execute(
            "SELECT target, span_id, document_position, name, session_id FROM annotations "
            "WHERE trace_id = ? AND identifier = ? AND annotator_kind = 'HUMAN'",
            (trace_id, self.annotator),
        ).fetchall()
        keys = {(t, s, p, n) for t, s, p, n, _ in rows}
        summary = self.trace_summary(trace_id)
        if summary and summary.session_id:
            for annotation in self.store.annotations_on_session(summary.session_id):
                if self._is_mine(annotation):
                    keys.add((Target.SESSION.value, None, None, annotation.name))
        return keys

    @staticmethod
    def _has(mine: set, config: AnnotationConfig, item: Item) -> bool:
        target = config.target.value
        if target == Target.SPAN:
            return (target, item.span_id, None, config.name) in mine
        if target == Target.DOCUMENT:
            return (target, item.span_id, item.position, config.name) in mine
        return (target, None, None, config.name) in mine or any(
            key[0] == target and key[3] == config.name for key in mine
        )

    def row_marks(self, row: Row, model: TreeModel) -> tuple[bool, bool]:
        if not model.is_expanded(row.trace_id):
            return (False, False)
        marks = self.trace_marks(row.trace_id, model)
        if row.kind == TRACE:
            loaded = model.loaded.get(row.trace_id)
            return marks.get((loaded.root_id, None), (False, False)) if loaded and loaded.root_id else (False, False)
        return marks.get((row.span_id or "", row.position), (False, False))

    # --- trace list and caches for the tree -----------------------------------------------------

    def trace_ids(self) -> list[str]:
        return self.store.trace_ids(self.queue, self.configs, self.annotator)

    def trace_summary(self, trace_id: str) -> TraceRow | None:
        summary = self._summaries.get(trace_id)
        if summary is None:
            self.prefetch([trace_id])
            summary = self._summaries.get(trace_id)
        return summary

    def trace_progress(self, trace_id: str) -> tuple[int, int] | None:
        if trace_id not in self._progress:
            self._progress.update(self.store.trace_progress([trace_id], self.configs, self.annotator))
        return self._progress.get(trace_id)

    def prefetch(self, trace_ids: list[str]) -> None:
        missing = [t for t in trace_ids if t not in self._summaries]
        if missing:
            self._summaries.update(self.store.traces_by_ids(missing))
            while len(self._summaries) > _SUMMARY_CACHE:
                self._summaries.popitem(last=False)
        unknown = [t for t in trace_ids if t not in self._progress]
        if unknown:
            self._progress.update(self.store.trace_progress(unknown, self.configs, self.annotator))
            if len(self._progress) > _SUMMARY_CACHE:
                self._progress.clear()

    def forget(self, trace_id: str) -> None:
        self._progress.pop(trace_id, None)
        self._marks.pop(trace_id, None)

    def forget_all(self) -> None:
        self._progress.clear()
        self._marks.clear()

    def progress(self, store: Store | None = None) -> tuple[int, int]:
        """(done, total) over the current queue; `store` lets a worker thread use its own."""
        return (store or self.store).queue_progress(self.queue, self.configs, self.annotator)

    def next_trace_with_work(
        self, after: str | None, *, backwards: bool = False, config: AnnotationConfig | None = None
    ) -> str | None:
        configs = [config] if config is not None else self.configs
        return self.store.next_queue_trace(
            after, self.queue, configs, self.annotator, backwards=backwards
        )

    def needs_config(self, item: Item, config: AnnotationConfig) -> bool:
        """Whether `config` applies to `item` and this annotator has not set it there."""
        if not config.applies_to(config.target, item.span_kind):
            return False
        if config.target == Target.DOCUMENT and item.kind != DOCUMENT:
            return False
        if config.target in (Target.TRACE, Target.SESSION) and item.kind != TRACE:
            return False
        if config.target == Target.SESSION and not item.session_id:
            return False
        return self.store.find_annotation(self.key_for(item, config)) is None

