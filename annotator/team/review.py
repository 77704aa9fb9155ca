"""What the reviewer walks in ``annotator annotate --review``: the items raters disagree on.

An item is (target, target id, document position, name), as in resolve. Its votes are the
values people gave it (annotator kind HUMAN, not `final`, not notes, a label or a score). The
review list holds every item whose votes differ, decided or not (a final value already there
can be revisited and changed), and with ``per_item`` N also every item with fewer than N votes
(at least one). Items of FREEFORM configs never disagree (text is not a vote). The list is in
a stable order: by trace start, then target, id, position, name.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from annotator.config import AnnotationConfig, AnnotationType
from annotator.model import NOTE_NAME, Annotation
from annotator.store import FINAL, FLAG, TARGET_ID_SQL, AnnotationKey, Store

# why an item is in the review list
DISAGREE = "disagree"
FEW_VOTES = "few votes"

Vote = str | float


@dataclass(slots=True)
class ReviewItem:
    """One item for the reviewer, with what is known about it when the list was read."""

    target: str
    target_id: str
    document_position: int | None
    name: str
    trace_id: str
    span_id: str | None  # the span shown for it (a trace: its root span)
    span_name: str
    reason: str  # DISAGREE or FEW_VOTES
    votes: dict[str, Vote] = field(default_factory=dict)
    flags: list[tuple[str, str]] = field(default_factory=list)  # (who flagged, reason)

    @property
    def key(self) -> AnnotationKey:
        return AnnotationKey(self.target, self.target_id, self.document_position, self.name, FINAL)

    def majority(self) -> Vote | None:
        """The value more than half of the votes gave (None: a tie, a split, no votes)."""
        if not self.votes:
            return None
        (top, count), *_ = Counter(self.votes.values()).most_common()
        return top if 2 * count > len(self.votes) else None

    def annotation(self, label: str | None, score: float | None) -> Annotation:
        """A value for this item (Store.set_final makes it the final value)."""
        return Annotation(
            target=self.target,
            span_id=self.target_id if self.target in ("span", "document") else None,
            trace_id=self.target_id if self.target == "trace" else self.trace_id,
            session_id=self.target_id if self.target == "session" else None,
            document_position=self.document_position,
            name=self.name,
            label=label,
            score=score,
            annotator_kind="HUMAN",
            identifier=FINAL,
        )


def review_items(
    store: Store, configs: list[AnnotationConfig], *, per_item: int | None = None
) -> list[ReviewItem]:
    """The items to review (see the module docstring). Only names with a config are listed:
    the reviewer decides with the config's keys."""
    by_name = {c.name: c for c in configs if c.type != AnnotationType.FREEFORM}
    conn = store.connection
    votes: dict[tuple[str, str, int, str], dict[str, Vote]] = defaultdict(dict)
    where: dict[tuple[str, str, int, str], tuple[str, str | None]] = {}
    for target, target_id, position, name, who, label, score, trace_id, span_id in conn.execute(
        f"SELECT target, ({TARGET_ID_SQL}), coalesce(document_position, -1), name, identifier, "
        "label, score, trace_id, span_id FROM annotations WHERE annotator_kind = 'HUMAN' "
        "AND identifier != ? AND name != ? AND target != 'session' "
        "AND (label IS NOT NULL OR score IS NOT NULL)",
        (FINAL, NOTE_NAME),
    ):
        if name not in by_name:
            continue
        key = (target, target_id, position, name)
        votes[key][who] = label if label is not None else score
        where[key] = (trace_id, span_id)
    wanted = []
    for key, item_votes in votes.items():
        if len(set(item_votes.values())) > 1:
            wanted.append((key, DISAGREE))
        elif per_item is not None and len(item_votes) < per_item:
            wanted.append((key, FEW_VOTES))
    traces = store.traces_by_ids(sorted({where[key][0] for key, _ in wanted if where[key][0]}))
    items = []
    for key, reason in wanted:
        target, target_id, position, name = key
        trace_id, span_id = where[key]
        trace = traces.get(trace_id)
        if target == "trace":
            span_id = trace.root_span_id if trace else None
        span = store.get_span(span_id) if span_id else None
        flags = (
            [(m.annotator, m.reason) for m in store.marks(kind=FLAG, span_id=span_id)]
            if span_id
            else []
        )
        items.append(
            ReviewItem(
                target=target,
                target_id=target_id,
                document_position=None if position < 0 else position,
                name=name,
                trace_id=trace_id or "",
                span_id=span_id,
                span_name=span.name if span else (trace.root_name or "" if trace else ""),
                reason=reason,
                votes=dict(sorted(votes[key].items())),
                flags=flags,
            )
        )
    start = {tid: (t.start_time or "") for tid, t in traces.items()}
    items.sort(
        key=lambda i: (start.get(i.trace_id, ""), i.trace_id, i.target, i.target_id,
                       -1 if i.document_position is None else i.document_position, i.name)
    )  # fmt: skip
    return items


def config_value(config: AnnotationConfig, label: str) -> tuple[str, float | None]:
    """(label, score) of a categorical config's value `label` (its score from the config)."""
    for value in config.values:
        if value.label == label:
            return value.label, value.score
    return label, None


def vote_text(vote: Any) -> str:
    return vote if isinstance(vote, str) else f"{vote:g}"
