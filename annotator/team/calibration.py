"""Calibrating a judge against gold labels: an LLM or CODE evaluator's values compared with the
final values (``annotator resolve`` / the reviewer), per config.

Categorical (the judge's label vs the final label, on the items that have both):
accuracy, precision / recall / F1 per label (the final label is the truth, the judge's the
prediction; a label never predicted has precision 0, as scikit-learn's
``precision_recall_fscore_support`` with ``zero_division=0``), Cohen's kappa, and the confusion
matrix (rows: final, columns: judge).

A score against a binary final label (the judge's score vs two final labels): ROC-AUC (the
probability that a random positive item scores above a random negative one, ties counting one
half: the Mann-Whitney form of scikit-learn's ``roc_auc_score``), and the threshold that
maximises agreement — "positive when score >= t" for the t (among the scores seen) with the
highest accuracy, the lowest such t on a tie. The positive label is the one with the higher
score in the config (e.g. ``correct: 1``), else the later label in sort order.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from fractions import Fraction
from typing import Any

from annotator.team import agreement as ag


def _ratio(numerator: int, denominator: int) -> float:
    return float(Fraction(numerator, denominator)) if denominator else 0.0


def label_report(pairs: Sequence[tuple[Hashable, Hashable]]) -> dict[str, Any]:
    """`pairs`: (final label, judge label) per item."""
    labels = sorted({v for pair in pairs for v in pair}, key=str)
    per_label = []
    for label in labels:
        true_positive = sum(1 for gold, guess in pairs if gold == label and guess == label)
        predicted = sum(1 for _, guess in pairs if guess == label)
        support = sum(1 for gold, _ in pairs if gold == label)
        precision = _ratio(true_positive, predicted)
        recall = _ratio(true_positive, support)
        f1 = _ratio(2 * true_positive, predicted + support)
        per_label.append(
            {
                "label": label,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": support,
            }
        )
    labels_out, counts = ag.confusion_matrix(list(pairs))  # type: ignore[arg-type]
    return {
        "n": len(pairs),
        "accuracy": _ratio(sum(1 for gold, guess in pairs if gold == guess), len(pairs))
        if pairs
        else None,
        "cohen_kappa": ag.cohen_kappa(list(pairs)) if pairs else None,  # type: ignore[arg-type]
        "per_label": per_label,
        "confusion": {"labels": list(labels_out), "counts": counts} if pairs else None,
    }


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """P(score of a positive > score of a negative), ties one half, from the rank sum
    (Mann-Whitney U, O(n log n)). None when one class is missing."""
    n_pos = sum(1 for p in positive if p)
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = Fraction(0)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average_rank = Fraction(i + j + 2, 2)  # tied scores share their ranks (1-based)
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if positive[order[k]])
        i = j + 1
    u = rank_sum - Fraction(n_pos * (n_pos + 1), 2)
    return float(u / (n_pos * n_neg))


def best_threshold(scores: Sequence[float], positive: Sequence[bool]) -> tuple[float, float] | None:
    """(t, accuracy) for the lowest t among the scores maximising the accuracy of "positive
    when score >= t": one sweep up the sorted scores."""
    if not scores:
        return None
    pairs = sorted(zip(scores, positive, strict=True))
    right = sum(1 for p in positive if p)  # t = the lowest score: everything positive
    best = (pairs[0][0], right)
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            right += -1 if pairs[j][1] else 1  # these fall below the next threshold
            j += 1
        if j < len(pairs) and right > best[1]:
            best = (pairs[j][0], right)
        i = j
    return best[0], best[1] / len(pairs)


def score_report(
    pairs: Sequence[tuple[Hashable, float]], positive_label: Hashable
) -> dict[str, Any]:
    """`pairs`: (final label, judge score) per item; the final labels are two."""
    scores = [float(score) for _, score in pairs]
    positive = [gold == positive_label for gold, _ in pairs]
    auc = roc_auc(scores, positive)
    threshold = best_threshold(scores, positive)
    return {
        "n": len(pairs),
        "positive_label": positive_label,
        "roc_auc": auc,
        "threshold": threshold[0] if threshold else None,
        "threshold_accuracy": threshold[1] if threshold else None,
    }
