"""Inter-rater agreement: percent agreement, Cohen's kappa, Fleiss' kappa, Krippendorff's alpha.

Pure functions on plain Python data (no I/O, no SQLite, no numpy). The ``stats`` command feeds
them the labels several annotators (and an LLM judge) gave to the same spans.

Exactness
    Everything is computed with :class:`fractions.Fraction` (counts are integers; a float score
    converts to a Fraction exactly) and turned into a ``float`` only at the end, so a result is
    the float nearest the exact rational value: worked examples are reproduced to every digit
    they publish, with no accumulated rounding. (One exception: ratio-level alpha rounds each
    pair term to float and adds them with ``math.fsum``; see :func:`krippendorff_alpha`.)

Missing values
    ``None`` and float ``NaN`` mean "not rated" everywhere: a pair with a missing side is
    dropped, a missing label in an item/unit is ignored.

Nominal labels
    Labels compare with ``==`` (so ``0.1 + 0.2`` and ``0.3`` are different categories, and ``1``
    and ``1.0`` are the same one). "Sorted categories" puts numbers first (numeric order), then
    strings, then anything else by ``repr``.

Undefined results are ``None``, never an exception or a division by zero:

* no items, or only one item: the chance-corrected coefficients (Cohen, Fleiss, Krippendorff)
  need at least two items (two *pairable* units for alpha). On a single item they are either
  undefined or identically 0 whatever the raters did, which says nothing. Percent agreement of a
  single pair is still returned (it is 0.0 or 1.0).
* every rating is the same single category: expected (chance) agreement is 1 for kappa
  (``1 - p_e = 0``) and expected disagreement is 0 for alpha, so the coefficient is 0/0 and is
  returned as ``None``. (Percent agreement is then 1.0.) This is a property of the measures, not
  of the data being bad: when nobody ever uses a second category there is nothing to correct for.
* fewer than two raters: no pairs, ``group_agreement`` coefficients are ``None``.
* items rated by only one rater: excluded from Fleiss' kappa; for Krippendorff's alpha their
  values are "unpairable" and excluded from ``n`` exactly as in Krippendorff (2011).
* Fleiss' kappa with a varying number of raters per item uses Gwet's generalisation (see
  :func:`fleiss_kappa`).
* A non-nominal level with non-numeric values raises ``TypeError`` (a programming error, not an
  edge case of the data); an unknown level raises ``ValueError``.

References
    Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
    Psychological Measurement 20(1), 37-46.
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
    Bulletin 76(5), 378-382.
    Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed., Advanced Analytics
    (Fleiss' generalised kappa for missing ratings; implemented in the R/Python ``irrCAC``
    packages as ``fleiss.kappa.raw`` / ``CAC.fleiss``).
    Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
    Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Value = str | float | int
Level = Literal["nominal", "interval", "ordinal", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "interval", "ordinal", "ratio")

__all__ = [
    "LEVELS",
    "GroupAgreement",
    "Level",
    "PairAgreement",
    "Value",
    "cohen_kappa",
    "confusion_matrix",
    "fleiss_kappa",
    "fleiss_terms",
    "group_agreement",
    "krippendorff_alpha",
    "mean_abs_diff",
    "pairwise_agreement",
    "pearson_r",
    "percent_agreement",
]


# --------------------------------------------------------------------------------------------
# helpers


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _sort_key(v: object) -> tuple:
    if isinstance(v, (int, float, Fraction)):
        return (0, v, "")
    if isinstance(v, str):
        return (1, 0, v)
    return (2, 0, f"{type(v).__name__}:{v!r}")


def _sorted_categories(values: Iterable[Value]) -> list[Value]:
    return sorted(set(values), key=_sort_key)


def _clean_pairs(pairs: Iterable[tuple[Value, Value]]) -> list[tuple[Value, Value]]:
    return [(a, b) for a, b in pairs if not _is_missing(a) and not _is_missing(b)]


def _integer_ratio(v: object) -> tuple[int, int]:
    """``(numerator, denominator)`` of a numeric score, exactly (a float is a dyadic rational)."""
    if isinstance(v, float):
        try:
            return v.as_integer_ratio()
        except (OverflowError, ValueError):
            raise ValueError(f"scores must be finite, got {v!r}") from None
    if isinstance(v, int):  # bool is an int: True == 1
        return int(v), 1
    if isinstance(v, Fraction):
        return v.numerator, v.denominator
    raise TypeError(f"interval/ordinal/ratio levels need numeric values, got {v!r}")


def _scaled_integers(rows: Sequence[Sequence[object]]) -> tuple[list[list[int]], int]:
    """Numeric scores -> exact integers ``v * scale`` with one common ``scale`` (the lcm of the
    denominators; a power of two for floats). Interval, ordinal and ratio alpha and Pearson's r
    are invariant under a positive rescaling, and integer arithmetic is exact and far faster
    than Fraction arithmetic."""
    ratios = [[_integer_ratio(v) for v in row] for row in rows]
    scale = math.lcm(1, *(d for row in ratios for _, d in row))
    return [[num * (scale // den) for num, den in row] for row in ratios], scale


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


# --------------------------------------------------------------------------------------------
# two raters, nominal


def percent_agreement(pairs: Sequence[tuple[Value, Value]]) -> float | None:
    """Share of pairs where both raters gave the same label: ``p_o = (# a == b) / n``.

    ``None`` when there is no (complete) pair. Defined for a single pair (0.0 or 1.0).
    """
    clean = _clean_pairs(pairs)
    if not clean:
        return None
    return float(Fraction(sum(1 for a, b in clean if a == b), len(clean)))


def confusion_matrix(
    pairs: Sequence[tuple[Value, Value]],
) -> tuple[list[Value], list[list[int]]]:
    """``(categories, counts)``: ``counts[i][j]`` = pairs with rater A = ``categories[i]`` and
    rater B = ``categories[j]``. Categories are the sorted union of both raters' labels, so the
    matrix is square; ``([], [])`` for no pairs.
    """
    clean = _clean_pairs(pairs)
    cats = _sorted_categories(v for pair in clean for v in pair)
    index = {c: i for i, c in enumerate(cats)}
    matrix = [[0] * len(cats) for _ in cats]
    for a, b in clean:
        matrix[index[a]][index[b]] += 1
    return cats, matrix


def cohen_kappa(pairs: Sequence[tuple[Value, Value]]) -> float | None:
    """Cohen's (1960) kappa for two raters and nominal labels.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and
    ``p_e = sum_k (a_k / n) (b_k / n)``, ``a_k``/``b_k`` each rater's own count of category k.
    Computed as the exact integer ratio ``(n * agree - S) / (n**2 - S)``, ``S = sum_k a_k b_k``.

    ``None`` when there are fewer than two complete pairs, or when ``p_e = 1`` (both raters only
    ever used one and the same category: chance agreement is total and kappa is 0/0).
    """
    clean = _clean_pairs(pairs)
    n = len(clean)
    if n < 2:
        return None
    agree = sum(1 for a, b in clean if a == b)
    ca = Counter(a for a, _ in clean)
    cb = Counter(b for _, b in clean)
    s = sum(count * cb[k] for k, count in ca.items())
    denominator = n * n - s
    if denominator == 0:
        return None
    return float(Fraction(n * agree - s, denominator))


# --------------------------------------------------------------------------------------------
# many raters, nominal


def fleiss_terms(items: Sequence[Sequence[Value]]) -> tuple[Fraction, Fraction] | None:
    """Exact ``(P_bar, P_bar_e)`` of Fleiss' kappa (see :func:`fleiss_kappa`), or ``None`` when
    fewer than two items have at least two labels."""
    rated = []
    for item in items:
        labels = [v for v in item if not _is_missing(v)]
        if len(labels) >= 2:
            rated.append(Counter(labels))
    n_items = len(rated)
    if n_items < 2:
        return None
    # group by the number of labels r, so that only one Fraction per distinct r is needed
    agree_by_r: Counter = Counter()  # r -> sum_i sum_j n_ij (n_ij - 1)
    share_by_r: dict[int, Counter] = {}  # r -> category -> sum_i n_ij
    for counts in rated:
        r = sum(counts.values())
        agree_by_r[r] += sum(c * (c - 1) for c in counts.values())
        share_by_r.setdefault(r, Counter()).update(counts)
    p_bar = sum((Fraction(a, r * (r - 1)) for r, a in agree_by_r.items()), Fraction(0)) / n_items
    pi: defaultdict[Value, Fraction] = defaultdict(Fraction)  # category -> its exact share
    for r, shares in share_by_r.items():
        for cat, c in shares.items():
            pi[cat] += Fraction(c, r)
    p_e = sum(((share / n_items) ** 2 for share in pi.values()), Fraction(0))
    return p_bar, p_e


def fleiss_kappa(items: Sequence[Sequence[Value]]) -> float | None:
    """Fleiss' (1971) kappa; each item is the list of labels its raters gave.

    With ``r_i`` labels on item i, ``n_ij`` of them in category j and N items::

        P_i    = sum_j n_ij (n_ij - 1) / (r_i (r_i - 1))
        P_bar  = (1/N) sum_i P_i
        pi_j   = (1/N) sum_i n_ij / r_i
        P_bar_e = sum_j pi_j ** 2
        kappa  = (P_bar - P_bar_e) / (1 - P_bar_e)

    With the same number of raters ``m`` on every item, ``pi_j = sum_i n_ij / (N m)`` is Fleiss'
    ``p_j`` and this is exactly Fleiss (1971). When the number of raters varies it is Gwet's
    (2014) generalisation for missing ratings ("Fleiss' generalized kappa", irrCAC
    ``fleiss.kappa.raw``): every item weighs the same in both the observed agreement and the
    category marginals. Chosen over "keep only items with the modal number of raters" because an
    annotation merge rarely has a clean modal count and dropping items throws data away.

    Items with fewer than two labels cannot show agreement and are excluded (Gwet keeps them in
    ``pi_j``; we drop them from both terms, so that adding a single-rated item never changes the
    result). ``None`` for fewer than two remaining items, or when ``P_bar_e = 1`` (everyone only
    ever used one category).
    """
    terms = fleiss_terms(items)
    if terms is None:
        return None
    p_bar, p_e = terms
    if p_e == 1:
        return None
    return float((p_bar - p_e) / (1 - p_e))


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha


def _interval_terms(units: list[list[int]]) -> tuple[Fraction, int]:
    """``(sum_u P_u / (m_u - 1), P_all)`` with ``P = sum_{i != j} (v_i - v_j)**2``, using
    ``P = 2 (m S2 - S1**2)``; exact, linear time."""

    def pair_sum(vals: list[int]) -> int:
        return 2 * (len(vals) * sum(v * v for v in vals) - sum(vals) ** 2)

    by_size: Counter = Counter()
    for u in units:
        by_size[len(u)] += pair_sum(u)
    do_sum = sum((Fraction(total, m - 1) for m, total in by_size.items()), Fraction(0))
    return do_sum, pair_sum([v for u in units for v in u])


def _ordinal_positions(units: list[list]) -> list[list[int]]:
    """Krippendorff's (2011) ordinal difference
    ``delta^2_ck = (sum_{g=c..k} n_g - (n_c + n_k)/2)**2`` equals ``(M_k - M_c)**2`` with the
    mid-rank position ``M_g = sum_{h<g} n_h + n_g/2`` (``n_g``: pairable frequency of value g, in
    rank order). So ordinal alpha is interval alpha on ``2 M`` (integers)."""
    counts = Counter(v for u in units for v in u)
    try:
        ranked = sorted(counts)
    except TypeError as exc:
        raise TypeError("ordinal level needs mutually comparable values") from exc
    position: dict = {}
    below = 0
    for v in ranked:
        position[v] = 2 * below + counts[v]
        below += counts[v]
    return [[position[v] for v in u] for u in units]


def _ratio_terms(units: list[list[int]]) -> tuple[float, float]:
    """Krippendorff (2011) ratio difference ``delta^2_ck = ((c - k)/(c + k))**2`` (0 when
    c = k = 0). No closed form: ``D_e`` sums over pairs of distinct values (quadratic in their
    number). Each term is rounded to float (``int / int`` is correctly rounded) and the terms
    are added with :func:`math.fsum` - an exact rational sum would carry the lcm of every
    ``(c + k)**2`` as its denominator. Values are >= 0, so two distinct values have c + k > 0."""
    counts = Counter(v for u in units for v in u)
    distinct = sorted(counts.items())
    de_terms = []
    for i, (c, nc) in enumerate(distinct):
        de_terms.append(
            2 * nc * math.fsum(nk * ((c - k) / (c + k)) ** 2 for k, nk in distinct[i + 1 :])
        )
    do_terms = []
    for u in units:
        uc = sorted(Counter(u).items())
        unit = math.fsum(
            2 * nc * nk * ((c - k) / (c + k)) ** 2
            for i, (c, nc) in enumerate(uc)
            for k, nk in uc[i + 1 :]
        )
        do_terms.append(unit / (len(u) - 1))
    return math.fsum(do_terms), math.fsum(de_terms)


def krippendorff_alpha(
    units: Sequence[Sequence[Value | None]],
    level: Level = "nominal",
) -> float | None:
    """Krippendorff's alpha, following Krippendorff (2011) "Computing Krippendorff's
    Alpha-Reliability".

    ``units`` is the reliability data with rows = units (items), columns = raters, ``None``
    (or NaN) = missing; rows may differ in length. Only *pairable* values count: those in units
    with at least two values (``m_u >= 2``); ``n`` is their number and ``n_c`` the number of
    pairable values equal to c::

        alpha = 1 - D_o / D_e = 1 - (n - 1) sum_ck o_ck delta^2_ck / sum_ck n_c n_k delta^2_ck
        D_o = (1/n) sum_u [ sum_{i != j in u} delta^2(v_i, v_j) / (m_u - 1) ]  (= sum o_ck d_ck / n)
        D_e = 1/(n (n-1)) sum_{c, k} n_c n_k delta^2_ck

    Difference functions delta^2_ck: nominal ``0 if c == k else 1``; interval ``(c - k)**2``;
    ordinal ``(sum_{g=c..k} n_g - (n_c + n_k)/2)**2``; ratio ``((c - k)/(c + k))**2`` (values
    must be >= 0). Nominal, interval and ordinal are exact and linear in the data (closed forms,
    see the helpers); ratio is float (fsum) and quadratic in the number of distinct values.
    Ordinal uses the values' natural order (numbers, or mutually comparable labels).

    ``None`` when fewer than two units are pairable (with one unit alpha is 0 or undefined,
    whatever the data) or when ``D_e = 0`` (all pairable values identical).
    """
    _check_level(level)
    pairable: list[list] = []
    for row in units:
        values = [v for v in row if not _is_missing(v)]
        if len(values) >= 2:
            pairable.append(values)
    if len(pairable) < 2:
        return None
    n = sum(len(u) for u in pairable)

    do_sum: Fraction | float
    de_num: Fraction | float | int
    if level == "nominal":
        counts = Counter(v for u in pairable for v in u)
        de_num = n * n - sum(c * c for c in counts.values())  # sum_{c != k} n_c n_k
        by_size: Counter = Counter()
        for u in pairable:  # sum_{c != k} n_uc n_uk = m_u**2 - sum_c n_uc**2
            by_size[len(u)] += len(u) ** 2 - sum(c * c for c in Counter(u).values())
        do_sum = sum((Fraction(t, m - 1) for m, t in by_size.items()), Fraction(0))
    elif level == "interval":
        do_sum, de_num = _interval_terms(_scaled_integers(pairable)[0])
    elif level == "ordinal":
        do_sum, de_num = _interval_terms(_ordinal_positions(pairable))
    else:  # ratio
        numbers = _scaled_integers(pairable)[0]
        if any(v < 0 for u in numbers for v in u):
            raise ValueError("ratio level needs non-negative values")
        do_sum, de_num = _ratio_terms(numbers)
        if de_num == 0:
            return None
        return 1 - (n - 1) * do_sum / de_num

    if de_num == 0:
        return None
    return float(1 - (n - 1) * Fraction(do_sum) / de_num)


# --------------------------------------------------------------------------------------------
# scores


def mean_abs_diff(pairs: Sequence[tuple[Value, Value]]) -> float | None:
    """Mean absolute difference ``(1/n) sum |a - b|`` of numeric scores; ``None`` for no pairs."""
    clean = _clean_pairs(pairs)
    if not clean:
        return None
    scaled, scale = _scaled_integers(clean)
    return float(Fraction(sum(abs(a - b) for a, b in scaled), len(clean) * scale))


def pearson_r(pairs: Sequence[tuple[Value, Value]]) -> float | None:
    """Pearson's product-moment correlation of numeric scores.

    ``r = S_ab / sqrt(S_aa S_bb)`` with ``S_xy = n sum xy - sum x sum y`` computed exactly;
    ``None`` for fewer than two pairs or when either rater's scores do not vary.
    """
    clean = _clean_pairs(pairs)
    n = len(clean)
    if n < 2:
        return None
    scaled, _ = _scaled_integers(clean)
    sa = sum(a for a, _ in scaled)
    sb = sum(b for _, b in scaled)
    s_ab = n * sum(a * b for a, b in scaled) - sa * sb
    s_aa = n * sum(a * a for a, _ in scaled) - sa * sa
    s_bb = n * sum(b * b for _, b in scaled) - sb * sb
    if s_aa == 0 or s_bb == 0:
        return None
    r = math.copysign(math.sqrt(Fraction(s_ab * s_ab, s_aa * s_bb)), s_ab)
    return max(-1.0, min(1.0, r))


# --------------------------------------------------------------------------------------------
# rater -> item -> value mappings


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two raters over the items both rated.

    Nominal level: ``percent_agreement``, ``cohen_kappa`` and ``confusion``
    (``(categories, counts[rater_a][rater_b])``) are filled, plus nominal alpha for the pair.
    Other levels (numeric scores): those three are ``None`` (they treat scores as unordered
    labels); ``krippendorff_alpha`` is at the requested level and ``mean_abs_diff`` /
    ``pearson_r`` are filled.
    """

    rater_a: str
    rater_b: str
    n: int
    percent_agreement: float | None
    cohen_kappa: float | None
    confusion: tuple[list[Value], list[list[int]]] | None
    krippendorff_alpha: float | None = None
    mean_abs_diff: float | None = None
    pearson_r: float | None = None
    level: str = "nominal"


@dataclass(frozen=True)
class GroupAgreement:
    """Agreement of all raters together.

    ``n_items`` counts items rated by at least two raters (the only ones that can show
    agreement); ``n_single_rated`` those rated by exactly one. ``fleiss_kappa`` is computed for
    the nominal level only (``None`` otherwise).
    """

    raters: list[str]
    n_items: int
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    level: str = "nominal"
    n_single_rated: int = 0


def _present(values: Mapping[Hashable, Value]) -> dict[Hashable, Value]:
    return {item: v for item, v in values.items() if not _is_missing(v)}


def pairwise_agreement(
    ratings: Mapping[str, Mapping[Hashable, Value]],
    level: Level = "nominal",
) -> list[PairAgreement]:
    """One :class:`PairAgreement` per unordered pair of raters (in the mapping's order), over
    the items both rated (an item only one of the two rated is ignored; ``n`` is the number of
    shared items). Empty for fewer than two raters."""
    _check_level(level)
    raters = list(ratings)
    present = {r: _present(ratings[r]) for r in raters}
    out: list[PairAgreement] = []
    for a, b in itertools.combinations(raters, 2):
        ra, rb = present[a], present[b]
        pairs = [(ra[item], rb[item]) for item in ra if item in rb]
        alpha = krippendorff_alpha([list(p) for p in pairs], level)
        if level == "nominal":
            out.append(
                PairAgreement(
                    rater_a=a,
                    rater_b=b,
                    n=len(pairs),
                    percent_agreement=percent_agreement(pairs),
                    cohen_kappa=cohen_kappa(pairs),
                    confusion=confusion_matrix(pairs),
                    krippendorff_alpha=alpha,
                    level=level,
                )
            )
        else:
            out.append(
                PairAgreement(
                    rater_a=a,
                    rater_b=b,
                    n=len(pairs),
                    percent_agreement=None,
                    cohen_kappa=None,
                    confusion=None,
                    krippendorff_alpha=alpha,
                    mean_abs_diff=mean_abs_diff(pairs),
                    pearson_r=pearson_r(pairs),
                    level=level,
                )
            )
    return out


def group_agreement(
    ratings: Mapping[str, Mapping[Hashable, Value]],
    level: Level = "nominal",
) -> GroupAgreement:
    """Fleiss' kappa (nominal only) and Krippendorff's alpha over all raters and all items.

    Every item any rater rated is a unit (first-seen order); an item rated by one rater only is
    unpairable (excluded from both coefficients, counted in ``n_single_rated``). With fewer than
    two raters both coefficients are ``None``.
    """
    _check_level(level)
    raters = list(ratings)
    present = {r: _present(ratings[r]) for r in raters}
    items: dict[Hashable, None] = {}
    for r in raters:
        for item in present[r]:
            items.setdefault(item, None)
    units = [[present[r][item] for r in raters if item in present[r]] for item in items]
    n_items = sum(1 for u in units if len(u) >= 2)
    n_single = sum(1 for u in units if len(u) == 1)
    enough = len(raters) >= 2
    return GroupAgreement(
        raters=raters,
        n_items=n_items,
        fleiss_kappa=fleiss_kappa(units) if enough and level == "nominal" else None,
        krippendorff_alpha=krippendorff_alpha(units, level) if enough else None,
        level=level,
        n_single_rated=n_single,
    )
