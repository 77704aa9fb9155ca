"""Deciding final values: ``annotator resolve --db team.db --strategy majority|unanimous|reviewer``.

Votes
    An item is (target, target id, document position, name). Its votes are the values people
    gave it: annotations of kind HUMAN other than `final` (and not notes) with a label or a
    score; a vote's value is its label, or its score when it has no label. LLM and CODE
    evaluations are never votes (they are what gets calibrated against the result).

Strategies
    majority   a value more than half of the votes gave, with at least ``--min-votes`` votes
               (default 2). Anything else is listed as needing review: a tie or a split with
               no value above half (``no majority``), or too few votes. Never guessed.
    unanimous  every vote the same, with at least ``--min-votes`` votes.
    reviewer   the value ``--reviewer NAME`` gave the item as a rater (a lead who adjudicated
               in the disagreement queue); items others voted on and NAME did not are listed.

Rules
    A final value decided by a reviewer (``metadata.decided_by == "reviewer"``, from the app's
    review mode or an earlier ``--strategy reviewer``) is never changed or removed by resolve.
    A final value resolve wrote earlier (majority, unanimous) is updated when the votes now
    decide another value, and withdrawn (deleted, logged) when the strategy no longer decides
    the item. The final value's label is the decided label; its score the one every winning
    vote gave (else the config's score for that label, else none). Every write is logged by
    actor ``resolve:<strategy>``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from annotator.config import AnnotationType
from annotator.model import NOTE_NAME, Annotation
from annotator.store import (
    FINAL,
    MAJORITY,
    REVIEWER,
    TARGET_ID_SQL,
    UNANIMOUS,
    AnnotationKey,
    Store,
    final_metadata,
)
from annotator.team.stats import stored_configs

STRATEGIES = (MAJORITY, UNANIMOUS, REVIEWER)
NEEDS_SHOWN = 50  # in the text report; --json lists every one

# why an item needs review
NO_MAJORITY = "no majority"
TOO_FEW_VOTES = "too few votes"
NO_REVIEWER_VALUE = "no reviewer value"
NOT_UNANIMOUS = "not unanimous"

ItemKey = tuple[str, str, int, str]  # target, target id, document position (-1: none), name
Vote = str | float


class ResolveError(ValueError):
    """Arguments resolve cannot use (one line)."""


@dataclass(frozen=True)
class NeedsReview:
    key: ItemKey
    reason: str
    votes: dict[str, Vote]

    def describe(self) -> str:
        target, target_id, position, name = self.key
        where = f"{target} {target_id}" + (f"#{position}" if position >= 0 else "")
        votes = ", ".join(f"{who}={value}" for who, value in self.votes.items()) or "no votes"
        return f"{where} · {name} · {self.reason}: {votes}"

    def to_dict(self) -> dict[str, Any]:
        target, target_id, position, name = self.key
        return {
            "target": target,
            "target_id": target_id,
            "document_position": None if position < 0 else position,
            "name": name,
            "reason": self.reason,
            "votes": self.votes,
        }


@dataclass
class ResolveResult:
    strategy: str
    min_votes: int
    dry_run: bool = False
    items: int = 0  # items with at least one vote
    decided: int = 0  # items the strategy decides
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    withdrawn: int = 0  # resolve's earlier final values the strategy no longer decides
    reviewer_kept: int = 0  # items a reviewer had decided: left alone
    by_value: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    needs_review: list[NeedsReview] = field(default_factory=list)

    def reasons(self) -> Counter:
        return Counter(n.reason for n in self.needs_review)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "min_votes": self.min_votes,
            "dry_run": self.dry_run,
            "items": self.items,
            "decided": self.decided,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "withdrawn": self.withdrawn,
            "reviewer_kept": self.reviewer_kept,
            "decided_by_value": {
                name: dict(sorted(counts.items())) for name, counts in sorted(self.by_value.items())
            },
            "needs_review_count": len(self.needs_review),
            "needs_review_by_reason": dict(sorted(self.reasons().items())),
            "needs_review": [n.to_dict() for n in self.needs_review],
        }

    def lines(self) -> list[str]:
        verb = "would decide" if self.dry_run else "decided"
        rule = "" if self.strategy == REVIEWER else f" (at least {self.min_votes} votes)"
        out = [
            f"resolve --strategy {self.strategy}{rule}: {self.items:,} items with votes; "
            f"{verb} {self.decided:,} ({self.new:,} new, {self.changed:,} changed, "
            f"{self.unchanged:,} unchanged)"
        ]
        for name, counts in sorted(self.by_value.items()):
            values = ", ".join(f"{value} {count:,}" for value, count in sorted(counts.items()))
            out.append(f"  {name}: {values}")
        out.append(f"reviewer decisions kept: {self.reviewer_kept:,}")
        if self.withdrawn:
            withdrawn = "would be withdrawn" if self.dry_run else "withdrawn"
            out.append(
                f"earlier final values the strategy no longer decides, {withdrawn}: "
                f"{self.withdrawn:,}"
            )
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.reasons().items()))
        out.append(
            f"needs review: {len(self.needs_review):,}" + (f" ({reasons})" if reasons else "")
        )
        for item in self.needs_review[:NEEDS_SHOWN]:
            out.append(f"  {item.describe()}")
        hidden = len(self.needs_review) - NEEDS_SHOWN
        if hidden > 0:
            out.append(f"  ... and {hidden:,} more (--json lists them all)")
        if self.dry_run:
            out.append("Dry run: nothing was written.")
        return out


def _vote(label: Any, score: Any) -> Vote:
    return label if label is not None else score


def resolve(
    store: Store,
    strategy: str,
    *,
    min_votes: int = 2,
    reviewer: str | None = None,
    names: Sequence[str] | None = None,
    dry_run: bool = False,
) -> ResolveResult:
    """Decide and write final values (see the module docstring)."""
    if strategy not in STRATEGIES:
        raise ResolveError(f"--strategy {strategy!r}: use {', '.join(STRATEGIES)}")
    if strategy == REVIEWER and not reviewer:
        raise ResolveError("--strategy reviewer needs --reviewer NAME (whose values decide)")
    if reviewer == FINAL:
        raise ResolveError(f"--reviewer {FINAL}: that is the identifier of final values")
    if min_votes < 1:
        raise ResolveError("--min-votes must be at least 1")
    conn = store.connection
    configs = stored_configs(store)
    by_name = {c.name: c for c in configs.annotations} if configs is not None else {}
    skipped_types = {AnnotationType.FREEFORM}
    wanted = set(names) if names else None
    if wanted is not None:
        known = {row[0] for row in conn.execute("SELECT DISTINCT name FROM annotations")}
        unknown = sorted(wanted - known - set(by_name))
        if unknown:
            raise ResolveError(f"--name {unknown[0]!r}: no config or annotation of that name")

    votes: dict[ItemKey, dict[str, tuple[Any, Any]]] = defaultdict(dict)
    finals: dict[ItemKey, Annotation] = {}
    key_sql = f"target, ({TARGET_ID_SQL}), coalesce(document_position, -1), name"
    for target, target_id, position, name, who, label, score in conn.execute(
        f"SELECT {key_sql}, identifier, label, score FROM annotations "
        "WHERE annotator_kind = 'HUMAN' AND identifier != ? AND name != ? "
        "AND (label IS NOT NULL OR score IS NOT NULL)",
        (FINAL, NOTE_NAME),
    ):
        if wanted is not None and name not in wanted:
            continue
        config = by_name.get(name)
        if config is not None and config.type in skipped_types:
            continue
        votes[(target, target_id, position, name)][who] = (label, score)
    for annotation in store.final_values():
        key = (
            annotation.target,
            AnnotationKey.of(annotation).target_id,
            -1 if annotation.document_position is None else annotation.document_position,
            annotation.name,
        )
        if wanted is None or annotation.name in wanted:
            finals[key] = annotation

    result = ResolveResult(strategy, min_votes, dry_run)
    result.items = len(votes)
    actor = f"resolve:{strategy}"
    writes: list[tuple[Annotation, Annotation | None]] = []
    withdrawals: list[AnnotationKey] = []
    for key in sorted(set(votes) | set(finals)):
        item_votes = votes.get(key, {})
        shown = {who: _vote(*value) for who, value in sorted(item_votes.items())}
        final = finals.get(key)
        if final is not None and (final.metadata or {}).get("decided_by") == REVIEWER:
            result.reviewer_kept += 1
            continue
        decision, reason = _decide(strategy, item_votes, min_votes, reviewer)
        if decision is None:
            if final is not None:
                result.withdrawn += 1
                withdrawals.append(_final_key(key))
            if item_votes:
                result.needs_review.append(NeedsReview(key, reason, shown))
            continue
        label, score = decision
        if label is not None and score is None:
            score = _config_score(by_name.get(key[3]), label)
        result.decided += 1
        result.by_value[key[3]][str(label if label is not None else score)] += 1
        metadata = final_metadata(
            REVIEWER if strategy == REVIEWER else strategy,
            shown,
            reviewer=reviewer if strategy == REVIEWER else None,
        )
        if final is not None and (final.label, final.score) == (label, score):
            result.unchanged += 1
            if final.metadata == metadata:
                continue  # else the same value, with the votes as they are now
        elif final is None:
            result.new += 1
        else:
            result.changed += 1
        target, target_id, position, name = key
        writes.append(
            (
                Annotation(
                    target=target,
                    span_id=target_id if target in ("span", "document") else None,
                    trace_id=target_id if target == "trace" else None,
                    session_id=target_id if target == "session" else None,
                    document_position=None if position < 0 else position,
                    name=name,
                    label=label,
                    score=score,
                    annotator_kind="HUMAN",
                    source="APP",
                    identifier=FINAL,
                    metadata=metadata,
                ),
                final,
            )
        )
    if not dry_run and (writes or withdrawals):
        with store.annotation_batch(action="set") as batch:
            for annotation, before in writes:
                batch.put(annotation, actor=actor, before=before)
            batch.flush()
            for final_key in withdrawals:
                batch.delete(final_key, actor=actor)
    return result


def _decide(
    strategy: str,
    votes: dict[str, tuple[Any, Any]],
    min_votes: int,
    reviewer: str | None,
) -> tuple[tuple[Any, Any] | None, str]:
    """(label, score) decided, or None and why not."""
    if strategy == REVIEWER:
        mine = votes.get(reviewer or "")
        return (mine, "") if mine is not None else (None, NO_REVIEWER_VALUE)
    if len(votes) < min_votes:
        return None, TOO_FEW_VOTES
    counts = Counter(_vote(*value) for value in votes.values())
    (top, count), *rest = counts.most_common()
    if strategy == UNANIMOUS and rest:
        return None, NOT_UNANIMOUS
    if 2 * count <= len(votes):
        return None, NO_MAJORITY
    winners = [value for value in votes.values() if _vote(*value) == top]
    label = winners[0][0]
    scores = {score for _, score in winners}
    score = scores.pop() if len(scores) == 1 else None
    return (label, score), ""


def _config_score(config: Any, label: str) -> float | None:
    if config is None:
        return None
    for value in config.values:
        if value.label == label:
            return value.score
    return None


def _final_key(key: ItemKey) -> AnnotationKey:
    target, target_id, position, name = key
    return AnnotationKey(target, target_id, None if position < 0 else position, name, FINAL)
