"""Team statistics: progress, annotators, label distributions and agreement, from the database.

``compute_stats(store)`` reads the annotations once (one SQL query, one pass in Python) plus a
handful of grouped counts for "how many items could be annotated", and returns a plain,
JSON-ready ``dict``: ``annotator stats --json`` prints it as is, and the Rich tables of
``annotator stats`` are drawn from it. This module is core: no Textual, no Rich.

Definitions
-----------
Rater
    An ``(annotator_kind, identifier)`` pair, shown as ``alice`` (a HUMAN), ``LLM judge-gpt4``,
    ``CODE`` (empty identifier). A human whose identifier is empty or would read like a machine
    (``LLM ...``, ``CODE ...``, ``HUMAN ...``) is shown as ``HUMAN <identifier>``, so that shown
    names are unique.
Item
    What an annotation is about: ``(target, target id, document_position)``; the target id is the
    span id for span and document annotations, else the trace or session id. Items are the unit
    of progress and of agreement.
Configs
    The configs stored in the database (``annotator annotate`` saves them), in their order, then
    every other annotation name present (imported LLM evals...), sorted. ``note`` annotations
    (Phoenix span notes) are ignored everywhere. A name with no stored config gets its type
    inferred: some annotation has a label -> CATEGORICAL (labels compared), else CONTINUOUS
    (scores compared); its ``applicable`` count is unknown (``null``).
Applicable (stored configs only; same rules as the app, see ``AnnotationConfig.applies_to``)
    span: spans whose kind is in ``span_kinds`` (all spans when unset); document: the sum of
    ``spans.document_count`` over spans of those kinds; trace: traces whose root span kind is in
    ``span_kinds``; session: distinct sessions having such a trace.
Seconds per item
    The app stores ``metadata.seconds_spent`` with every write: the time since the previous
    write on the same item (or since arriving at it). A rater's time on an item is the sum over
    their annotations on it; the median is over items that have a time. HUMAN raters only;
    annotations without a (finite, non-negative) number are ignored.
Agreement level
    ``auto``: nominal for CATEGORICAL (labels), interval for CONTINUOUS (scores); FREEFORM
    configs get no agreement. ``--level nominal`` on a CONTINUOUS config compares scores as
    categories; ``interval``/``ordinal``/``ratio`` on a CATEGORICAL config compare scores (the
    config's score for the label when the annotation has none).
Final values
    Annotations of identifier ``final`` (a reviewer's or ``resolve``'s decisions) are not a
    rater: they are in no agreement figure and no per-annotator count. Per config, ``final``
    counts them and ``calibration`` compares each LLM/CODE rater with them
    (:mod:`annotator.team.calibration`).
Agreement sets
    ``agreement`` is among HUMAN raters: every pair sharing at least one item (pairs sharing none
    are left out) and the group (Fleiss' kappa, nominal only, and Krippendorff's alpha over every
    item two or more humans rated). ``human_vs_machine`` pairs each human with each LLM/CODE
    rater on the same name: the calibration of an LLM judge against people. Machine-vs-machine
    pairs are not reported. Measures come from :mod:`annotator.team.agreement`; undefined ones
    (fewer than two items, a single category everywhere...) are ``null``.

JSON structure (``--json``; key names are stable, absent values are ``null``)
---------------------------------------------------------------------------
::

    {
      "format": "annotator-stats/1",
      "database": "annotations.db",
      "configs_source": "stored" | "annotations",   # "annotations": no stored configs
      "level": "auto" | "nominal" | "ordinal" | "interval" | "ratio",   # as requested
      "where": str | null, "trace_where": str | null,   # --where / --trace-where, as given
      "search": str | null,                             # --search, as given
      "totals": {"spans": int, "traces": int, "sessions": int,
                 "annotations": int},               # excluding notes, final values, --name
                 # with --where / --trace-where: the selected spans, the traces and
                 # sessions holding them, the annotations about them
      "annotators": [ ANNOTATOR, ... ],             # humans first, then LLM, then CODE
      "configs": [ CONFIG, ... ]
    }

    ANNOTATOR = {
      "rater": "alice", "annotator_kind": "HUMAN", "identifier": "alice",
      "annotations": int,                 # annotations written (all reported names)
      "items": int,                       # distinct items touched
      "median_seconds_per_item": float | null,   # HUMAN only
      "first_activity": ISO text | null,  # min created_at
      "last_activity": ISO text | null    # max updated_at
    }

    CONFIG = {
      "name": str,
      "type": "CATEGORICAL" | "CONTINUOUS" | "FREEFORM",
      "stored": bool,                     # false: inferred from the annotations
      "target": "span" | "document" | "trace" | "session" | null,
      "span_kinds": [str] | null,
      "level": "nominal" | "ordinal" | "interval" | "ratio" | null,   # null: FREEFORM
      "annotations": int,
      "progress": {
        "applicable": int | null,         # null when not stored
        "annotated": int,                 # items with at least one annotation of this name
        "annotated_by_human": int,        # ... by at least one HUMAN
        "by_rater": [ {"rater": str, "annotator_kind": str, "identifier": str,
                       "items": int}, ... ]
      },
      "distribution": null                # FREEFORM
        | {"kind": "labels",              # CATEGORICAL
           "labels": [str],               # config order, then any other label, sorted
           "overall": {"n": int, "counts": {label: int}, "unlabeled": int},
           "by_rater": [ {"rater": str, "n": int, "counts": {label: int},
                          "unlabeled": int}, ... ]}
        | {"kind": "scores",              # CONTINUOUS
           "overall": SCORES,
           "by_rater": [ {"rater": str, **SCORES}, ... ]},
      "agreement": null                   # FREEFORM
        | {"level": str,
           "raters": [str],               # the HUMAN raters of this name
           "n": int,                      # items rated by two or more of them
           "n_single_rated": int,         # items rated by exactly one
           "fleiss_kappa": float | null,  # nominal level only
           "krippendorff_alpha": float | null,
           "pairs": [ PAIR, ... ],
           "problem": str | null},        # why the measures could not be computed
      "human_vs_machine": [ PAIR, ... ],  # rater_a human, rater_b LLM/CODE
      "final": {"items": int,             # items with a final value (identifier 'final')
                "values": {value: int}},
      "calibration": [ CALIBRATION, ... ] # each LLM/CODE rater against the final values
    }

    CALIBRATION = {
      "rater": str, "annotator_kind": str, "identifier": str,
      "labels": null | {"n": int, "accuracy": float, "cohen_kappa": float | null,
                        "per_label": [{"label", "precision", "recall", "f1", "support"}],
                        "confusion": {"labels": [value], "counts": [[int]]}},
                                          # counts[i][j]: final labels[i], judge labels[j]
      "scores": null | {"n": int, "positive_label": str, "roc_auc": float | null,
                        "threshold": float, "threshold_accuracy": float}
                                          # judge score vs two final labels
    }

    "assignments": [ {"annotator": str, "items": int, "spans": int, "spans_done": int,
                      "skipped": int, "flagged": int}, ... ]   # annotators with assignments

    SCORES = {"n": int, "min": float|null, "median": float|null, "mean": float|null,
              "max": float|null}

    PAIR = {
      "rater_a": str, "rater_b": str,
      "n": int,                           # items both rated
      "percent_agreement": float | null,  # nominal level
      "cohen_kappa": float | null,        # nominal level
      "krippendorff_alpha": float | null, # at the config's level, over the n items
      "mean_abs_diff": float | null,      # CONTINUOUS configs (scores)
      "pearson_r": float | null,          # CONTINUOUS configs (scores)
      "confusion": null | {"labels": [value], "counts": [[int]]}
                                          # nominal level; counts[i][j]: rater_a gave
                                          # labels[i] and rater_b gave labels[j]
    }
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotator.config import (
    AnnotationConfig,
    AnnotationType,
    ConfigSet,
    SpanScope,
    parse_config_document,
)
from annotator.model import NOTE_NAME, SpanKind
from annotator.query import Selection, positional
from annotator.store import FINAL, OUTERMOST, TARGET_ID_SQL, QueueFilter, Store
from annotator.team import agreement as ag
from annotator.team import calibration as cal

__all__ = [
    "FORMAT",
    "LEVEL_CHOICES",
    "Rater",
    "StatsError",
    "compute_stats",
    "stored_configs",
]

FORMAT = "annotator-stats/1"
LEVEL_CHOICES: tuple[str, ...] = ("auto", *ag.LEVELS)
_KIND_ORDER = {"HUMAN": 0, "LLM": 1, "CODE": 2}
_MACHINE_PREFIXES = ("LLM", "CODE", "HUMAN")

Item = tuple[str, str, int | None]


class StatsError(ValueError):
    """Bad request (unknown --name, unknown level): one line for the user."""


# --------------------------------------------------------------------------------------------
# raters


@dataclass(frozen=True, order=True)
class Rater:
    kind: str
    identifier: str

    @property
    def is_human(self) -> bool:
        return self.kind == "HUMAN"

    @property
    def display(self) -> str:
        if self.is_human:
            ident = self.identifier
            first = ident.split(" ", 1)[0]
            if ident and first not in _MACHINE_PREFIXES:
                return ident
            return f"HUMAN {ident}".rstrip()
        return f"{self.kind} {self.identifier}".rstrip()

    def sort_key(self) -> tuple[int, str, str]:
        return (_KIND_ORDER.get(self.kind, 3), self.identifier, self.kind)

    def describe(self) -> dict[str, Any]:
        return {"rater": self.display, "annotator_kind": self.kind, "identifier": self.identifier}


# --------------------------------------------------------------------------------------------
# configs


def stored_configs(conn_or_store: Any) -> ConfigSet | None:
    """The config set saved in the database, or None. Raises ConfigError if it is unreadable."""
    from annotator.store import Store

    store = conn_or_store if isinstance(conn_or_store, Store) else Store(conn_or_store, Path())
    document = store.load_config_document()
    if not document or not document.get("annotations"):
        return None
    return parse_config_document(document, "<configs stored in the database>")


@dataclass
class _Config:
    name: str
    type: str
    stored: bool
    config: AnnotationConfig | None = None
    target: str | None = None
    span_kinds: tuple[str, ...] | None = None


# --------------------------------------------------------------------------------------------
# the one pass over the annotations


@dataclass
class _RaterTally:
    annotations: int = 0
    items: set[Item] = field(default_factory=set)
    seconds: dict[Item, float] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None


@dataclass
class _NameTally:
    annotations: int = 0
    # rater -> item -> (label, score)
    values: dict[Rater, dict[Item, tuple[str | None, float | None]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    targets: Counter = field(default_factory=Counter)
    has_label: bool = False
    has_score: bool = False


_ANNOTATION_SQL = f"""
SELECT name, target, ({TARGET_ID_SQL}), document_position, label, score, annotator_kind,
       identifier,
       CASE WHEN json_valid(metadata) THEN json_extract(metadata, '$.seconds_spent') END,
       created_at, updated_at
FROM annotations a WHERE name != ? AND NOT (a.identifier = 'final' AND a.annotator_kind = 'HUMAN')
"""


def _read_annotations(
    conn: Any, names: Sequence[str] | None, spans: Selection
) -> tuple[dict[Rater, _RaterTally], dict[str, _NameTally], int]:
    sql = _ANNOTATION_SQL
    params: list[Any] = [NOTE_NAME]
    if names:
        sql += f" AND name IN ({','.join('?' * len(names))})"
        params.extend(names)
    if spans:
        text, selected = positional(spans.annotations_sql())
        sql += f" AND ({text})"
        params.extend(selected)
    raters: dict[Rater, _RaterTally] = {}
    by_name: dict[str, _NameTally] = {}
    # (kind, identifier) -> (rater, its tally): the per-row lookup is on a plain tuple, the
    # dataclasses are made once per rater.
    rater_cache: dict[tuple[str, str], tuple[Rater, _RaterTally]] = {}
    total = 0
    cursor = conn.execute(sql, params)
    while True:
        rows = cursor.fetchmany(5000)
        if not rows:
            break
        total += len(rows)
        for row in rows:
            name, target, target_id, position, label, score, kind, ident, secs, created, updated = (
                row
            )
            item: Item = (target, target_id, position)
            found = rater_cache.get((kind, ident))
            if found is None:
                rater = Rater(kind, ident if type(ident) is str else str(ident or ""))
                found = (rater, raters.setdefault(rater, _RaterTally()))
                rater_cache[(kind, ident)] = found
            rater, tally = found
            tally.annotations += 1
            tally.items.add(item)
            if created is not None and (tally.first is None or created < tally.first):
                tally.first = created
            stamp = updated or created
            if stamp is not None and (tally.last is None or stamp > tally.last):
                tally.last = stamp
            timed = secs is not None and kind == "HUMAN" and type(secs) in (int, float)
            if timed and secs >= 0 and secs != math.inf:  # NaN fails >= 0
                tally.seconds[item] = tally.seconds.get(item, 0.0) + secs
            named = by_name.get(name)
            if named is None:
                named = by_name[name] = _NameTally()
            named.annotations += 1
            named.targets[target] += 1
            if score is not None:
                # SQLite is dynamically typed: a score column may hold text, NaN or infinity
                if type(score) not in (int, float) or not math.isfinite(score):
                    score = None
                else:
                    named.has_score = True
            if label is not None:
                if type(label) is not str:
                    label = label.decode("utf-8", "replace") if type(label) is bytes else str(label)
                named.has_label = True
            named.values[rater][item] = (label, score)
    return raters, by_name, total


# --------------------------------------------------------------------------------------------
# applicable items


class _Applicable:
    """Grouped counts, read once, from which each config's applicable count is summed."""

    def __init__(self, conn: Any, spans: Selection) -> None:
        # With a selection: its spans; a trace (and a session) through its root span.
        selected, params = positional(spans.sql)
        join = "JOIN" if spans else "LEFT JOIN"  # unselected: every span and trace counts
        roots = f"traces t {join} spans s ON s.span_id = t.root_span_id"
        # Keyed by (kind, outermost): a `scope: outermost` config counts only the spans at the
        # top of a same-kind chain (the queue's own OUTERMOST rule). Trace and session items
        # are root spans, which are always outermost.
        self.spans: Counter = Counter()
        self.documents: Counter = Counter()
        for kind, outermost, count, docs in conn.execute(
            f"SELECT s.span_kind, ({OUTERMOST}) AS top, count(*), "
            "coalesce(sum(s.document_count), 0) FROM spans s "
            f"{join} traces t USING (trace_id) WHERE {selected} GROUP BY s.span_kind, top",
            params,
        ):
            parsed = SpanKind.parse(kind).value
            self.spans[parsed, bool(outermost)] += count
            self.documents[parsed, bool(outermost)] += docs
        self.traces: Counter = Counter()
        for kind, count in conn.execute(
            f"SELECT t.root_kind, count(*) FROM {roots} WHERE {selected} GROUP BY t.root_kind",
            params,
        ):
            self.traces[SpanKind.parse(kind).value] += count
        self.sessions: dict[str, set[str]] = defaultdict(set)
        for kind, session in conn.execute(
            f"SELECT DISTINCT t.root_kind, t.session_id FROM {roots} "
            f"WHERE t.session_id IS NOT NULL AND {selected}",
            params,
        ):
            self.sessions[SpanKind.parse(kind).value].add(session)

    def count(self, config: AnnotationConfig) -> int:
        kinds = None if config.span_kinds is None else {k.value for k in config.span_kinds}

        only_top = config.scope == SpanScope.OUTERMOST

        def total(counter: Mapping[str, int]) -> int:
            return sum(n for k, n in counter.items() if kinds is None or k in kinds)

        def spans_total(counter: Mapping[tuple[str, bool], int]) -> int:
            return sum(
                n
                for (kind, top), n in counter.items()
                if (kinds is None or kind in kinds) and (top or not only_top)
            )

        target = config.target.value
        if target == "span":
            return spans_total(self.spans)
        if target == "document":
            return spans_total(self.documents)
        if target == "trace":
            return total(self.traces)
        sessions: set[str] = set()
        for kind, found in self.sessions.items():
            if kinds is None or kind in kinds:
                sessions |= found
        return len(sessions)


# --------------------------------------------------------------------------------------------
# helpers


def _score_summary(scores: list[float]) -> dict[str, Any]:
    if not scores:
        return {"n": 0, "min": None, "median": None, "mean": None, "max": None}
    return {
        "n": len(scores),
        "min": min(scores),
        "median": float(statistics.median(scores)),
        "mean": math.fsum(scores) / len(scores),
        "max": max(scores),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pair_json(pair: ag.PairAgreement, scores: list[tuple[float, float]] | None) -> dict[str, Any]:
    confusion = None
    if pair.confusion is not None:
        labels, counts = pair.confusion
        confusion = {"labels": list(labels), "counts": [list(row) for row in counts]}
    mad, r = pair.mean_abs_diff, pair.pearson_r
    if scores is not None:
        mad, r = ag.mean_abs_diff(scores), ag.pearson_r(scores)
    return {
        "rater_a": pair.rater_a,
        "rater_b": pair.rater_b,
        "n": pair.n,
        "percent_agreement": pair.percent_agreement,
        "cohen_kappa": pair.cohen_kappa,
        "krippendorff_alpha": _json_value(pair.krippendorff_alpha),
        "mean_abs_diff": mad,
        "pearson_r": r,
        "confusion": confusion,
    }


def _shared_scores(
    a: Mapping[Item, tuple[str | None, float | None]],
    b: Mapping[Item, tuple[str | None, float | None]],
) -> list[tuple[float, float]]:
    out = []
    for item, (_, score_a) in a.items():
        other = b.get(item)
        if other is not None and score_a is not None and other[1] is not None:
            out.append((score_a, other[1]))
    return out


# --------------------------------------------------------------------------------------------
# per config


def _values_for_level(
    tally: _NameTally, config: _Config, level: str
) -> dict[Rater, dict[Hashable, ag.Value]]:
    """rater -> item -> the value compared at `level` (missing values left out)."""
    use_labels = level == "nominal" and config.type == AnnotationType.CATEGORICAL.value
    label_scores: dict[str, float] = {}
    if config.config is not None:
        label_scores = {v.label: v.score for v in config.config.values if v.score is not None}
    out: dict[Rater, dict[Hashable, ag.Value]] = {}
    for rater, items in tally.values.items():
        values: dict[Hashable, ag.Value] = {}
        for item, (label, score) in items.items():
            value: ag.Value | None
            if use_labels:
                value = label
            else:
                value = score if score is not None else label_scores.get(label) if label else None
            if value is not None:
                values[item] = value
        if values:
            out[rater] = values
    return out


def _distribution(tally: _NameTally, config: _Config, raters: list[Rater]) -> dict[str, Any] | None:
    if config.type == AnnotationType.CATEGORICAL.value:
        order = [v.label for v in config.config.values] if config.config is not None else []
        seen = {label for items in tally.values.values() for label, _ in items.values()}
        extra = sorted(label for label in seen if label is not None and label not in order)
        labels = order + extra

        def counts(values: Iterable[tuple[str | None, float | None]]) -> dict[str, Any]:
            counter = Counter(label for label, _ in values)
            unlabeled = counter.pop(None, 0)
            return {
                "n": sum(counter.values()) + unlabeled,
                "counts": {label: counter[label] for label in labels if counter[label]},
                "unlabeled": unlabeled,
            }

        return {
            "kind": "labels",
            "labels": labels,
            "overall": counts(v for items in tally.values.values() for v in items.values()),
            "by_rater": [{"rater": r.display, **counts(tally.values[r].values())} for r in raters],
        }
    if config.type == AnnotationType.CONTINUOUS.value:

        def scores(values: Iterable[tuple[str | None, float | None]]) -> list[float]:
            return [s for _, s in values if s is not None]

        return {
            "kind": "scores",
            "overall": _score_summary(
                scores(v for items in tally.values.values() for v in items.values())
            ),
            "by_rater": [
                {"rater": r.display, **_score_summary(scores(tally.values[r].values()))}
                for r in raters
            ],
        }
    return None


def _agreement(
    tally: _NameTally, config: _Config, level: str, raters: list[Rater]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = _values_for_level(tally, config, level)
    humans = [r for r in raters if r.is_human and r in values]
    machines = [r for r in raters if not r.is_human and r in values]
    continuous = config.type == AnnotationType.CONTINUOUS.value
    result: dict[str, Any] = {
        "level": level,
        "raters": [r.display for r in humans],
        "n": 0,
        "n_single_rated": 0,
        "fleiss_kappa": None,
        "krippendorff_alpha": None,
        "pairs": [],
        "problem": None,
    }
    vs_machine: list[dict[str, Any]] = []
    try:
        ratings = {r.display: values[r] for r in humans}
        group = ag.group_agreement(ratings, level)  # type: ignore[arg-type]
        result["n"] = group.n_items
        result["n_single_rated"] = group.n_single_rated
        result["fleiss_kappa"] = group.fleiss_kappa
        result["krippendorff_alpha"] = _json_value(group.krippendorff_alpha)
        for pair in ag.pairwise_agreement(ratings, level):  # type: ignore[arg-type]
            if pair.n == 0:
                continue
            a = next(r for r in humans if r.display == pair.rater_a)
            b = next(r for r in humans if r.display == pair.rater_b)
            shared = _shared_scores(tally.values[a], tally.values[b]) if continuous else None
            result["pairs"].append(_pair_json(pair, shared))
        for human in humans:
            for machine in machines:
                (pair,) = ag.pairwise_agreement(
                    {human.display: values[human], machine.display: values[machine]},
                    level,  # type: ignore[arg-type]
                )
                if pair.n == 0:
                    continue
                shared = (
                    _shared_scores(tally.values[human], tally.values[machine])
                    if continuous
                    else None
                )
                vs_machine.append(_pair_json(pair, shared))
    except (TypeError, ValueError) as error:  # e.g. ratio level with negative scores
        result["problem"] = str(error)
    return result, vs_machine


def _config_report(
    config: _Config,
    tally: _NameTally | None,
    level_request: str,
    applicable: _Applicable,
    finals: dict[Item, tuple[str | None, float | None]] | None = None,
) -> dict[str, Any]:
    tally = tally or _NameTally()
    raters = sorted(tally.values, key=Rater.sort_key)
    items_by_rater = {r: len(tally.values[r]) for r in raters}
    annotated: set[Item] = set()
    human_items: set[Item] = set()
    for rater, items in tally.values.items():
        annotated.update(items)
        if rater.is_human:
            human_items.update(items)
    if config.type == AnnotationType.FREEFORM.value:
        level = None
    elif level_request != "auto":
        level = level_request
    else:
        level = "nominal" if config.type == AnnotationType.CATEGORICAL.value else "interval"
    report: dict[str, Any] = {
        "name": config.name,
        "type": config.type,
        "stored": config.stored,
        "target": config.target,
        "span_kinds": list(config.span_kinds) if config.span_kinds is not None else None,
        "level": level,
        "annotations": tally.annotations,
        "progress": {
            "applicable": applicable.count(config.config) if config.config is not None else None,
            "annotated": len(annotated),
            "annotated_by_human": len(human_items),
            "by_rater": [{**r.describe(), "items": items_by_rater[r]} for r in raters],
        },
        "distribution": _distribution(tally, config, raters),
        "agreement": None,
        "human_vs_machine": [],
    }
    if level is not None:
        report["agreement"], report["human_vs_machine"] = _agreement(tally, config, level, raters)
    gold = finals or {}
    report["final"] = {
        "items": len(gold),
        "values": dict(sorted(Counter(str(_gold_value(v)) for v in gold.values()).items())),
    }
    report["calibration"] = _calibration(tally, config, raters, gold)
    return report


def _gold_value(value: tuple[str | None, float | None]) -> Any:
    return value[0] if value[0] is not None else value[1]


def _calibration(
    tally: _NameTally,
    config: _Config,
    raters: list[Rater],
    gold: dict[Item, tuple[str | None, float | None]],
) -> list[dict[str, Any]]:
    """Each LLM/CODE rater against the final values (see annotator.team.calibration)."""
    if not gold or config.type == AnnotationType.FREEFORM.value:
        return []
    gold_labels = {item: label for item, (label, _) in gold.items() if label is not None}
    distinct = sorted(set(gold_labels.values()))
    positive = _positive_label(config, distinct)
    result = []
    for rater in raters:
        if rater.is_human:
            continue
        values = tally.values[rater]
        label_pairs = [
            (gold_labels[item], label)
            for item, (label, _) in values.items()
            if item in gold_labels and label is not None
        ]
        score_pairs = [
            (gold_labels[item], score)
            for item, (_, score) in values.items()
            if item in gold_labels and score is not None
        ]
        entry: dict[str, Any] = {
            "rater": rater.display,
            "annotator_kind": rater.kind,
            "identifier": rater.identifier,
            "labels": cal.label_report(label_pairs) if label_pairs else None,
            "scores": cal.score_report(score_pairs, positive)
            if score_pairs and positive is not None
            else None,
        }
        if entry["labels"] or entry["scores"]:
            result.append(entry)
    return result


def _positive_label(config: _Config, labels: list[str]) -> str | None:
    """Of two final labels, the one with the higher score in the config (else the later in
    sort order); None unless there are exactly two."""
    if len(labels) != 2:
        return None
    scores = {}
    if config.config is not None:
        scores = {v.label: v.score for v in config.config.values if v.score is not None}
    if all(label in scores for label in labels) and scores[labels[0]] != scores[labels[1]]:
        return max(labels, key=lambda label: scores[label])
    return labels[1]


# --------------------------------------------------------------------------------------------
# entry point


def compute_stats(
    store: Any,
    *,
    names: Sequence[str] | None = None,
    level: str = "auto",
    database: str | None = None,
    spans: Selection | None = None,
) -> dict[str, Any]:
    """The whole report (see the module docstring for its structure).

    `store` is a :class:`annotator.store.Store` (or a sqlite3 connection to one). `names`
    restricts the report to those annotation names; an unknown name raises StatsError, as does
    an unknown `level`. `spans` (``--where`` / ``--trace-where``) restricts everything to the
    spans it selects: annotations about them (``Selection.annotations_sql``), the applicable
    items among them, and the totals."""
    spans = spans or Selection()
    if level not in LEVEL_CHOICES:
        raise StatsError(f"unknown level {level!r}: use {', '.join(LEVEL_CHOICES)}")
    conn = getattr(store, "connection", store)
    config_set = stored_configs(store)
    wanted = list(dict.fromkeys(names)) if names else None
    if wanted and NOTE_NAME in wanted:
        raise StatsError(f"{NOTE_NAME!r} annotations are notes, not judgements: no statistics")
    raters, by_name, total = _read_annotations(conn, wanted, spans)
    finals = _read_finals(conn, spans)

    configs: list[_Config] = []
    stored_names: set[str] = set()
    if config_set is not None:
        for c in config_set.annotations:
            stored_names.add(c.name)
            if wanted is None or c.name in wanted:
                configs.append(
                    _Config(
                        c.name,
                        c.type.value,
                        True,
                        c,
                        c.target.value,
                        tuple(k.value for k in c.span_kinds) if c.span_kinds is not None else None,
                    )
                )
    for name in sorted(set(by_name) - stored_names):
        tally = by_name[name]
        inferred = (
            AnnotationType.CATEGORICAL
            if tally.has_label
            else AnnotationType.CONTINUOUS
            if tally.has_score
            else AnnotationType.FREEFORM
        )
        target = tally.targets.most_common(1)[0][0] if tally.targets else None
        configs.append(_Config(name, inferred.value, False, None, target, None))
    if wanted:
        known = {c.name for c in configs}
        missing = [n for n in wanted if n not in known]
        if missing:
            everything = sorted(stored_names | set(_all_names(conn)))
            listed = ", ".join(repr(n) for n in everything[:20]) or "none"
            raise StatsError(
                f"no config or annotation named {missing[0]!r} (known names: {listed})"
            )
        configs.sort(key=lambda c: wanted.index(c.name))

    applicable = _Applicable(conn, spans)
    counts = {**_totals(conn, spans), "annotations": total}
    annotators = []
    for rater in sorted(raters, key=Rater.sort_key):
        rater_tally = raters[rater]
        median = None
        if rater.is_human and rater_tally.seconds:
            median = float(statistics.median(rater_tally.seconds.values()))
        annotators.append(
            {
                **rater.describe(),
                "annotations": rater_tally.annotations,
                "items": len(rater_tally.items),
                "median_seconds_per_item": median,
                "first_activity": rater_tally.first,
                "last_activity": rater_tally.last,
            }
        )
    return {
        "format": FORMAT,
        "database": database,
        "configs_source": "stored" if config_set is not None else "annotations",
        "level": level,
        "where": spans.where.text if spans.where else None,
        "trace_where": spans.trace_where.text if spans.trace_where else None,
        "search": spans.search or None,
        "totals": counts,
        "annotators": annotators,
        "configs": [
            _config_report(c, by_name.get(c.name), level, applicable, finals.get(c.name))
            for c in configs
        ],
        "assignments": _assignment_progress(store, config_set),
    }


def _read_finals(
    conn: Any, spans: Selection
) -> dict[str, dict[Item, tuple[str | None, float | None]]]:
    """name -> item -> (label, score) of the final values (about the selected spans)."""
    finals: dict[str, dict[Item, tuple[str | None, float | None]]] = defaultdict(dict)
    selected, params = positional(spans.annotations_sql())
    for name, target, target_id, position, label, score in conn.execute(
        f"SELECT name, target, ({TARGET_ID_SQL}), document_position, label, score "
        f"FROM annotations a WHERE identifier = '{FINAL}' AND annotator_kind = 'HUMAN' "
        f"AND ({selected})",
        params,
    ):
        finals[name][(target, target_id, position)] = (label, score)
    return finals


def _assignment_progress(store: Any, config_set: ConfigSet | None) -> list[dict[str, Any]]:
    """Per annotator with assignments here: items assigned, the spans they cover and how many
    need nothing more (the queue's own count: "assigned done / total"), skips and flags."""
    if not isinstance(store, Store) or config_set is None:
        return []
    assigned: Counter = Counter(a.annotator for a in store.assignments())
    result = []
    for annotator in sorted(assigned):
        done, total = store.queue_progress(QueueFilter(), config_set.annotations, annotator)
        marks = store.mark_counts(annotator)
        result.append(
            {
                "annotator": annotator,
                "items": assigned[annotator],
                "spans": total,
                "spans_done": done,
                "skipped": marks["skip"],
                "flagged": marks["flag"],
            }
        )
    return result


def _totals(conn: Any, spans: Selection) -> dict[str, int]:
    """Spans, traces and sessions: every one, or the selected spans and the traces and sessions
    they belong to."""
    if not spans:
        return {
            "spans": conn.execute("SELECT count(*) FROM spans").fetchone()[0],
            "traces": conn.execute("SELECT count(*) FROM traces").fetchone()[0],
            "sessions": conn.execute(
                "SELECT count(DISTINCT session_id) FROM traces WHERE session_id IS NOT NULL"
            ).fetchone()[0],
        }
    selected, params = positional(spans.sql)
    count, traces, sessions = conn.execute(
        "SELECT count(*), count(DISTINCT s.trace_id), count(DISTINCT t.session_id) FROM spans s "
        f"JOIN traces t USING (trace_id) WHERE {selected}",
        params,
    ).fetchone()
    return {"spans": count, "traces": traces, "sessions": sessions}


def _all_names(conn: Any) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT name FROM annotations WHERE name != ? ORDER BY name", (NOTE_NAME,)
        )
    ]
