"""Inter-rater agreement measures, checked against published worked examples.

Sources of the worked examples (values quoted as published; each test says which):

* Wikipedia, "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10,
  no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.  Same article, "same agreement, different
  kappa": tables (45, 15 / 25, 15) -> kappa = 0.1304 and (25, 35 / 5, 35) -> kappa = 0.2593.
* Wikipedia, "Fleiss' kappa", worked example (10 subjects, 14 raters, 5 categories):
  P_bar = 0.378, P_bar_e = 0.213, kappa = 0.210 (the same table is Fleiss-style doctest data in
  several public implementations, printing 0.20993070442195...).
* Krippendorff, K. (2011) "Computing Krippendorff's Alpha-Reliability" (asc_papers/43):
  - binary data, two observers, no missing data: A = 0100000010, B = 1110010000 -> alpha = 0.095
  - 4 observers x 12 units with missing values: nominal 0.743, ordinal 0.815, interval 0.849,
    ratio 0.797.  (Data as in the paper; also the Stata ``kalpha`` help example and Gwet's
    ``raw_4raters`` data set; the values are asserted by the ``krippendorff`` PyPI package's
    tests - ordinal 0.815, ratio 0.797 - and the R ``krippendorff`` package's tests - nominal
    0.743, binary 0.0952.)
* Wikipedia, "Krippendorff's alpha", computational example (3 coders x 15 units):
  nominal alpha = 0.691; the ``krippendorff`` PyPI package's doctests give 0.691358 nominal and
  0.810845 interval for the same data.
* Gwet, K. L. (2014) Handbook of Inter-Rater Reliability, 4th ed. (data sets ``raw_5observers``
  and ``raw_4raters``, p. 120/125), Fleiss' generalised kappa for unequal numbers of raters as
  published by the irrCAC package tests: raw_5observers p_a = 0.616, p_e = 0.291,
  kappa = 0.458; raw_4raters p_a = 0.818.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.team.agreement import (
    LEVELS,
    GroupAgreement,
    PairAgreement,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    fleiss_terms,
    group_agreement,
    krippendorff_alpha,
    mean_abs_diff,
    pairwise_agreement,
    pearson_r,
    percent_agreement,
)
from tests.properties import examples

N = None


def transpose(rows_by_rater):
    """Observers-by-units (as printed in the papers) -> units-by-raters (our input)."""
    return [list(unit) for unit in zip(*rows_by_rater, strict=True)]


def pairs_from_table(yy, yn, ny, nn):
    """2x2 table, rows = rater A (yes, no), columns = rater B (yes, no)."""
    return [("yes", "yes")] * yy + [("yes", "no")] * yn + [("no", "yes")] * ny + [("no", "no")] * nn


def items_from_counts(table):
    """Fleiss' subjects-by-categories count table -> list of label lists."""
    return [[f"c{j}" for j, c in enumerate(row) for _ in range(c)] for row in table]


# Krippendorff (2011), 4 observers (rows) x 12 units (columns), None = missing.
KRIPP_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],  # A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],  # B
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],  # C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],  # D
]
KRIPP_2011_UNITS = transpose(KRIPP_2011)

# Wikipedia "Krippendorff's alpha" computational example, 3 coders x 15 units.
WIKI_ALPHA = [
    [N, N, N, N, N, 3, 4, 1, 2, 1, 1, 3, 3, N, 3],
    [1, N, 2, 1, 3, 3, 4, 3, N, N, N, N, N, N, N],
    [N, N, 2, 1, 3, 4, 4, N, 2, 1, 1, 3, 3, N, 4],
]

# Wikipedia "Fleiss' kappa" worked example: 10 subjects x 5 categories, 14 raters each.
FLEISS_WIKI = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Gwet (2014) raw_5observers: 5 observers x 15 units, 3 to 5 ratings per unit.
GWET_5OBS = [
    [1, 1, 2, N, 0, 0, 1, 1, 2, 2, N, 0, 1, 3, 1],
    [1, 1, 3, 0, 0, 0, 0, N, 2, 1, 1, 0, 2, 3, 1],
    [2, 0, 3, 0, 0, 0, 2, 2, 2, 1, 0, 0, 2, 2, 1],
    [N, 1, 3, N, N, N, N, 0, N, 1, 0, 0, 2, 2, N],
    [2, N, N, 0, 0, 0, 1, N, 2, N, N, N, N, 3, 1],
]


# ============================================================================================
# Cohen's kappa


def test_cohen_kappa_wikipedia_worked_example():
    # Wikipedia "Cohen's kappa": yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa = 0.4
    pairs = pairs_from_table(20, 5, 10, 15)
    assert percent_agreement(pairs) == 0.7
    assert cohen_kappa(pairs) == 0.4  # exact rational 2/5 -> the float nearest 0.4


@pytest.mark.parametrize(
    ("table", "published"),
    [
        # Wikipedia "Cohen's kappa", same agreement (60/100) but different kappa
        ((45, 15, 25, 15), 0.1304),
        ((25, 35, 5, 35), 0.2593),
    ],
)
def test_cohen_kappa_wikipedia_same_agreement_different_kappa(table, published):
    pairs = pairs_from_table(*table)
    assert percent_agreement(pairs) == 0.6
    assert round(cohen_kappa(pairs), 4) == published


def test_cohen_kappa_exact_fractions():
    assert cohen_kappa(pairs_from_table(45, 15, 25, 15)) == float(Fraction(3, 23))
    assert cohen_kappa(pairs_from_table(25, 35, 5, 35)) == float(Fraction(7, 27))


def test_confusion_matrix_shape_and_order():
    cats, m = confusion_matrix(pairs_from_table(20, 5, 10, 15))
    assert cats == ["no", "yes"]  # sorted
    assert m == [[15, 10], [5, 20]]  # rows = rater A, columns = rater B
    # the union of both raters' labels, square even if one rater never used a category
    cats, m = confusion_matrix([("a", "b"), ("a", "c"), ("a", "a")])
    assert cats == ["a", "b", "c"]
    assert m == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    # numbers sort numerically and before strings
    cats, _ = confusion_matrix([(10, 2), (2, "x"), (1.5, "b")])
    assert cats == [1.5, 2, 10, "b", "x"]
    assert confusion_matrix([]) == ([], [])


# ============================================================================================
# Fleiss' kappa


def test_fleiss_kappa_wikipedia_worked_example():
    # Wikipedia "Fleiss' kappa": P_bar = 0.378, P_bar_e = 0.213, kappa = 0.210
    items = items_from_counts(FLEISS_WIKI)
    p_bar, p_e = fleiss_terms(items)
    assert round(float(p_bar), 3) == 0.378
    assert round(float(p_e), 3) == 0.213
    kappa = fleiss_kappa(items)
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx(0.20993070442195, abs=1e-14)
    # p_j of the article: 0.143 0.200 0.279 0.150 0.229 -> sum of squares
    assert p_e == sum(Fraction(c, 140) ** 2 for c in (20, 28, 39, 21, 32))


def test_fleiss_kappa_unequal_raters_gwet_example():
    # Gwet (2014) raw_5observers, irrCAC published: p_a 0.616, p_e 0.291, kappa 0.458
    units = transpose(GWET_5OBS)
    assert sorted({sum(v is not None for v in u) for u in units}) == [3, 4, 5]
    p_a, p_e = fleiss_terms(units)
    assert round(float(p_a), 3) == 0.616
    assert round(float(p_e), 3) == 0.291
    assert round(fleiss_kappa(units), 3) == 0.458


def test_fleiss_kappa_krippendorff_data_excludes_single_rated_unit():
    # Gwet (2014) p.120 (= Krippendorff's data): published p_a = 0.818 (unit 12, rated once,
    # cannot contribute to p_a).  Gwet keeps unit 12 in the category marginals (p_e 0.239,
    # kappa 0.761); we exclude single-rated items from both terms, so kappa is that of the 11
    # pairable units - the same as when unit 12 is deleted.
    p_a, _p_e = fleiss_terms(KRIPP_2011_UNITS)
    assert round(float(p_a), 3) == 0.818
    assert fleiss_kappa(KRIPP_2011_UNITS) == fleiss_kappa(KRIPP_2011_UNITS[:11])
    assert round(fleiss_kappa(KRIPP_2011_UNITS), 3) == 0.762


def test_fleiss_two_raters_is_scotts_pi():
    # Scott's pi on the Wikipedia Cohen table: p_o = 0.7, pooled yes = 55/100 ->
    # p_e = 0.55^2 + 0.45^2 = 0.505, pi = 0.195 / 0.495
    items = [list(p) for p in pairs_from_table(20, 5, 10, 15)]
    assert fleiss_kappa(items) == float(Fraction(195, 495))


# ============================================================================================
# Krippendorff's alpha


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_four_observers(level, published):
    # Krippendorff (2011), 4 observers x 12 units with missing values
    assert round(krippendorff_alpha(KRIPP_2011_UNITS, level), 3) == published


def test_krippendorff_2011_nominal_exact():
    # the paper's nominal computation: alpha = 1 - (n-1) * (sum o_ck, c != k) / sum n_c n_k
    # = 0.743; exactly 113/152 with n = 40 pairable values
    assert krippendorff_alpha(KRIPP_2011_UNITS) == float(Fraction(113, 152))


def test_krippendorff_2011_binary_two_observers():
    # Krippendorff (2011), binary data, 2 observers, no missing data: alpha = 0.095
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    alpha = krippendorff_alpha(transpose([a, b]))
    assert round(alpha, 3) == 0.095
    assert alpha == float(1 - Fraction(19 * 4, 14 * 6))  # 1 - (n-1) o_01 / (n_0 n_1)
    # for 0/1 data every difference function gives the same alpha
    for level in LEVELS:
        assert krippendorff_alpha(transpose([a, b]), level) == pytest.approx(alpha, abs=1e-15)


def test_krippendorff_wikipedia_computational_example():
    # Wikipedia "Krippendorff's alpha": nominal 0.691; krippendorff package doctests:
    # 0.691358 (nominal), 0.810845 (interval)
    units = transpose(WIKI_ALPHA)
    assert round(krippendorff_alpha(units), 3) == 0.691
    assert round(krippendorff_alpha(units), 6) == 0.691358
    assert round(krippendorff_alpha(units, "interval"), 6) == 0.810845


def reference_alpha(units, level):
    """Independent float reference: the coincidence-matrix formulation of Krippendorff (2011)
    (o_ck = sum_u pairs(c,k in u)/(m_u-1); e_ck = n_c (n_k - [c=k]) / (n-1);
    alpha = 1 - sum o*d / sum e*d), as also implemented by the ``krippendorff`` package."""
    pairable = [[v for v in u if v is not None] for u in units]
    pairable = [u for u in pairable if len(u) >= 2]
    values = sorted({v for u in pairable for v in u})
    o = Counter()
    for u in pairable:
        for i, j in itertools.permutations(range(len(u)), 2):
            o[u[i], u[j]] += 1 / (len(u) - 1)
    n_c = Counter()
    for (c, _k), w in o.items():
        n_c[c] += w
    n = sum(n_c.values())

    def d(c, k):
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return float((c - k) ** 2)
        if level == "ratio":
            return 0.0 if c + k == 0 else ((c - k) / (c + k)) ** 2
        lo, hi = sorted((values.index(c), values.index(k)))
        return (sum(n_c[g] for g in values[lo : hi + 1]) - (n_c[c] + n_c[k]) / 2) ** 2

    observed = sum(o[c, k] * d(c, k) for c in values for k in values)
    expected = sum(n_c[c] * (n_c[k] - (c == k)) * d(c, k) for c in values for k in values)
    expected /= n - 1
    return None if expected == 0 else 1 - observed / expected


def test_reference_formula_reproduces_the_paper():
    for level, published in [
        ("nominal", 0.743),
        ("ordinal", 0.815),
        ("interval", 0.849),
        ("ratio", 0.797),
    ]:
        assert round(reference_alpha(KRIPP_2011_UNITS, level), 3) == published


reliability_data = st.lists(
    st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=1, max_size=5),
    min_size=0,
    max_size=12,
)


@settings(max_examples=examples(200), deadline=None)
@given(units=reliability_data, level=st.sampled_from(LEVELS))
def test_alpha_matches_coincidence_matrix_reference(units, level):
    ours = krippendorff_alpha(units, level)
    n_pairable_units = sum(1 for u in units if sum(v is not None for v in u) >= 2)
    ref = reference_alpha(units, level) if n_pairable_units >= 2 else None
    if ref is None:
        assert ours is None
    else:
        assert ours == pytest.approx(ref, rel=1e-9, abs=1e-9)


# ============================================================================================
# edge cases


def test_no_items():
    assert percent_agreement([]) is None
    assert cohen_kappa([]) is None
    assert fleiss_kappa([]) is None
    assert fleiss_terms([]) is None
    for level in LEVELS:
        assert krippendorff_alpha([], level) is None
    assert mean_abs_diff([]) is None
    assert pearson_r([]) is None


def test_one_item():
    assert percent_agreement([("a", "a")]) == 1.0
    assert percent_agreement([("a", "b")]) == 0.0
    assert cohen_kappa([("a", "b")]) is None
    assert fleiss_kappa([["a", "b", "b"]]) is None
    assert krippendorff_alpha([[1, 2, 2]]) is None
    assert krippendorff_alpha([[1, 2], [3]]) is None  # the second unit is unpairable


def test_single_category_everywhere_is_undefined():
    pairs = [("pass", "pass")] * 5
    assert percent_agreement(pairs) == 1.0
    assert cohen_kappa(pairs) is None  # p_e = 1
    assert fleiss_kappa([["pass"] * 3] * 4) is None  # P_bar_e = 1
    for level in LEVELS:
        assert krippendorff_alpha([[2, 2, 2]] * 4, level) is None  # D_e = 0


def test_each_rater_constant_but_different_is_zero_not_undefined():
    # A always "yes", B always "no": p_o = p_e = 0 -> kappa = 0
    assert cohen_kappa([("yes", "no")] * 4) == 0.0


def test_missing_values_are_ignored():
    pairs = [*pairs_from_table(20, 5, 10, 15), ("yes", None), (None, "no"), (math.nan, "yes")]
    assert cohen_kappa(pairs) == 0.4
    assert percent_agreement(pairs) == 0.7
    assert confusion_matrix(pairs)[1] == [[15, 10], [5, 20]]
    nan_units = [[math.nan if v is None else v for v in u] for u in KRIPP_2011_UNITS]
    assert krippendorff_alpha(nan_units) == krippendorff_alpha(KRIPP_2011_UNITS)
    assert fleiss_kappa([["a", "a", None], ["b", "a", "b"], ["b", None]]) == fleiss_kappa(
        [["a", "a"], ["b", "a", "b"], ["b"]]
    )


def test_single_rated_units_do_not_change_alpha_or_fleiss():
    extra = [*KRIPP_2011_UNITS, [N, 4, N, N], [1], [N, N, N, N]]
    for level in LEVELS:
        assert krippendorff_alpha(extra, level) == krippendorff_alpha(KRIPP_2011_UNITS, level)
    assert fleiss_kappa(extra) == fleiss_kappa(KRIPP_2011_UNITS)


def test_float_labels_compare_exactly_for_nominal():
    pairs = [(0.1 + 0.2, 0.3), (0.5, 0.5), (1, 1.0), (2.0, 2)]
    assert percent_agreement(pairs) == 0.75  # 0.30000000000000004 != 0.3; 1 == 1.0
    cats, _ = confusion_matrix(pairs)
    assert cats == [0.3, 0.1 + 0.2, 0.5, 1, 2.0]


def test_bad_level_and_bad_values():
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2], [2, 2]], "circular")
    with pytest.raises(TypeError):
        krippendorff_alpha([["a", "b"], ["b", "b"]], "interval")
    with pytest.raises(ValueError):
        krippendorff_alpha([[-1, 2], [2, 2]], "ratio")
    with pytest.raises(ValueError):
        pairwise_agreement({"a": {1: 1}, "b": {1: 1}}, "bogus")
    with pytest.raises(ValueError):
        group_agreement({"a": {1: 1}, "b": {1: 1}}, "bogus")


def test_scores_helpers():
    pairs = [(1, 2), (3, 3), (5, 4), (2, N)]
    assert mean_abs_diff(pairs) == pytest.approx(2 / 3)
    assert pearson_r([(1, 2), (2, 4), (3, 6)]) == 1.0
    assert pearson_r([(1, 3), (2, 2), (3, 1)]) == -1.0
    assert pearson_r([(1, 5), (2, 5), (3, 5)]) is None  # no variance
    assert pearson_r([(1, 5)]) is None
    # r for a textbook-sized set, checked against the definition
    xs, ys = [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]
    mx, my = sum(xs) / 5, sum(ys) / 5
    r = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(
        sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)
    )
    assert pearson_r(list(zip(xs, ys, strict=True))) == pytest.approx(r, abs=1e-15)


# ============================================================================================
# rater -> item -> value mappings


def kripp_as_mapping():
    return {
        name: {f"u{i + 1}": v for i, v in enumerate(row) if v is not None}
        for name, row in zip("ABCD", KRIPP_2011, strict=True)
    }


def test_pairwise_over_items_both_rated():
    ratings = {
        "alice": {"t1": "pass", "t2": "fail", "t3": "pass", "t4": "pass", "only_a": "fail"},
        "bob": {"t1": "pass", "t2": "fail", "t3": "fail", "t4": "pass", "only_b": "pass"},
        "judge": {"t1": "pass", "t2": None, "t5": "fail"},
    }
    result = pairwise_agreement(ratings)
    assert [(p.rater_a, p.rater_b) for p in result] == [
        ("alice", "bob"),
        ("alice", "judge"),
        ("bob", "judge"),
    ]
    ab, aj, bj = result
    assert isinstance(ab, PairAgreement)
    assert ab.n == 4  # t1..t4; only_a / only_b ignored
    assert ab.percent_agreement == 0.75
    assert ab.cohen_kappa == cohen_kappa(
        [("pass", "pass"), ("fail", "fail"), ("pass", "fail"), ("pass", "pass")]
    )
    assert ab.confusion == (["fail", "pass"], [[1, 0], [1, 2]])
    assert ab.krippendorff_alpha == krippendorff_alpha(
        [["pass", "pass"], ["fail", "fail"], ["pass", "fail"], ["pass", "pass"]]
    )
    assert ab.mean_abs_diff is None and ab.pearson_r is None
    assert aj.n == 1  # t1 only: the judge's None on t2 is "not rated"
    assert aj.percent_agreement == 1.0 and aj.cohen_kappa is None
    assert bj.n == 1


def test_pairwise_wikipedia_cohen_example_as_mapping():
    pairs = pairs_from_table(20, 5, 10, 15)
    ratings = {
        "a": {f"p{i}": a for i, (a, _) in enumerate(pairs)},
        "b": {f"p{i}": b for i, (_, b) in enumerate(pairs)},
    }
    (pa,) = pairwise_agreement(ratings)
    assert (pa.n, pa.percent_agreement, pa.cohen_kappa) == (50, 0.7, 0.4)
    assert pa.confusion == (["no", "yes"], [[15, 10], [5, 20]])


def test_pairwise_interval_gives_alpha_and_differences():
    ratings = {
        "alice": {"t1": 1, "t2": 2, "t3": 4, "t4": 5},
        "judge": {"t1": 1.5, "t2": 2, "t3": 3, "t4": 5, "t9": 1},
    }
    (p,) = pairwise_agreement(ratings, level="interval")
    assert p.level == "interval"
    assert p.n == 4
    assert p.percent_agreement is None and p.cohen_kappa is None and p.confusion is None
    assert p.krippendorff_alpha == krippendorff_alpha(
        [[1, 1.5], [2, 2], [4, 3], [5, 5]], "interval"
    )
    assert p.mean_abs_diff == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert p.pearson_r == pearson_r([(1, 1.5), (2, 2), (4, 3), (5, 5)])
    assert 0.9 < p.pearson_r < 1


def test_pairwise_on_krippendorff_data():
    result = {(p.rater_a, p.rater_b): p for p in pairwise_agreement(kripp_as_mapping())}
    assert len(result) == 6
    # A rated u1-u9, C rated u2-u11: shared u2..u9
    assert result["A", "C"].n == 8
    assert result["B", "D"].n == 10  # u1..u10 (B's u12 and D's u11 unshared)


def test_group_agreement_krippendorff_data():
    ratings = kripp_as_mapping()
    g = group_agreement(ratings)
    assert isinstance(g, GroupAgreement)
    assert g.raters == ["A", "B", "C", "D"]
    assert g.n_items == 11 and g.n_single_rated == 1
    assert round(g.krippendorff_alpha, 3) == 0.743
    assert g.fleiss_kappa == fleiss_kappa(KRIPP_2011_UNITS)
    gi = group_agreement(ratings, level="interval")
    assert round(gi.krippendorff_alpha, 3) == 0.849
    assert gi.fleiss_kappa is None  # nominal only
    assert gi.level == "interval"


def test_group_and_pairwise_with_fewer_than_two_raters():
    assert pairwise_agreement({}) == []
    assert pairwise_agreement({"solo": {"t1": "a", "t2": "b"}}) == []
    g = group_agreement({"solo": {"t1": "a", "t2": "b"}})
    assert (g.n_items, g.n_single_rated, g.fleiss_kappa, g.krippendorff_alpha) == (
        0,
        2,
        None,
        None,
    )
    g = group_agreement({})
    assert g.raters == [] and g.n_items == 0 and g.krippendorff_alpha is None


# ============================================================================================
# properties

labels = st.sampled_from(["a", "b", "c", "d"])
label_pairs = st.lists(st.tuples(labels, labels), min_size=0, max_size=40)
nominal_units = st.lists(
    st.lists(st.one_of(st.none(), labels), min_size=1, max_size=5), min_size=0, max_size=15
)


@given(st.lists(labels, min_size=0, max_size=40))
def test_perfect_agreement_gives_one(values):
    pairs = [(v, v) for v in values]
    defined = len(values) >= 2 and len(set(values)) >= 2
    assert cohen_kappa(pairs) == (1.0 if defined else None)
    assert krippendorff_alpha([[v, v, v] for v in values]) == (1.0 if defined else None)
    assert fleiss_kappa([[v, v, v] for v in values]) == (1.0 if defined else None)
    if values:
        assert percent_agreement(pairs) == 1.0


@given(st.lists(st.integers(-5, 5), min_size=0, max_size=30), st.sampled_from(LEVELS))
def test_perfect_agreement_alpha_any_level(values, level):
    if level == "ratio":
        values = [abs(v) for v in values]
    defined = len(values) >= 2 and len(set(values)) >= 2
    assert krippendorff_alpha([[v, v] for v in values], level) == (1.0 if defined else None)


@given(label_pairs, st.permutations(["w", "x", "y", "z"]))
def test_relabelling_does_not_change_kappa(pairs, new_names):
    rename = dict(zip(["a", "b", "c", "d"], new_names, strict=True))
    renamed = [(rename[a], rename[b]) for a, b in pairs]
    assert cohen_kappa(renamed) == cohen_kappa(pairs)
    assert percent_agreement(renamed) == percent_agreement(pairs)


@given(nominal_units, st.permutations([1, 2, 3, 4]))
def test_relabelling_does_not_change_alpha_or_fleiss(units, new_names):
    rename = dict(zip(["a", "b", "c", "d"], new_names, strict=True))
    renamed = [[None if v is None else rename[v] for v in u] for u in units]
    assert krippendorff_alpha(renamed) == krippendorff_alpha(units)
    assert fleiss_kappa(renamed) == fleiss_kappa(units)


@given(
    st.lists(st.lists(st.integers(0, 6), min_size=2, max_size=4), max_size=12),
    st.integers(1, 4).flatmap(lambda a: st.sampled_from([a, -a])),
    st.integers(-10, 10),
)
def test_interval_alpha_invariant_under_affine_rescaling(units, scale, shift):
    rescaled = [[scale * v + shift for v in u] for u in units]
    assert krippendorff_alpha(rescaled, "interval") == krippendorff_alpha(units, "interval")


@given(nominal_units)
def test_alpha_does_not_depend_on_unit_or_rater_order(units):
    alpha = krippendorff_alpha(units)
    assert krippendorff_alpha(list(reversed(units))) == alpha
    assert krippendorff_alpha([list(reversed(u)) for u in units]) == alpha


@given(label_pairs)
def test_kappa_is_symmetric(pairs):
    swapped = [(b, a) for a, b in pairs]
    assert cohen_kappa(swapped) == cohen_kappa(pairs)
    cats, m = confusion_matrix(pairs)
    cats_s, m_s = confusion_matrix(swapped)
    assert cats_s == cats
    assert m_s == [list(row) for row in zip(*m, strict=True)]


@given(label_pairs)
def test_kappa_and_agreement_bounds(pairs):
    kappa = cohen_kappa(pairs)
    if kappa is not None:
        assert -1.0 <= kappa <= 1.0
    p = percent_agreement(pairs)
    if p is not None:
        assert 0.0 <= p <= 1.0
    cats, m = confusion_matrix(pairs)
    assert sum(map(sum, m)) == len(pairs)
    assert all(len(row) == len(cats) for row in m) and len(m) == len(cats)


@given(label_pairs)
def test_alpha_fleiss_scott_relation_for_two_complete_raters(pairs):
    # two raters, no missing data: Fleiss' kappa is Scott's pi and
    # alpha = 1 - (n-1)/n * (1 - pi), n = 2N pairable values (Krippendorff 2011)
    units = [list(p) for p in pairs]
    alpha, pi = krippendorff_alpha(units), fleiss_kappa(units)
    assert (alpha is None) == (pi is None)
    if pi is not None:
        n = 2 * len(pairs)
        assert alpha == pytest.approx(1 - (n - 1) / n * (1 - pi), abs=1e-12)


@given(
    st.dictionaries(
        st.sampled_from(["ann", "bo", "cy", "llm"]),
        st.dictionaries(st.integers(0, 8), st.one_of(st.none(), labels), max_size=9),
        max_size=4,
    )
)
def test_pairwise_n_and_group_counts(ratings):
    result = pairwise_agreement(ratings)
    raters = list(ratings)
    assert len(result) == len(raters) * (len(raters) - 1) // 2
    for p in result:
        a = {i for i, v in ratings[p.rater_a].items() if v is not None}
        b = {i for i, v in ratings[p.rater_b].items() if v is not None}
        assert p.n == len(a & b)
        if p.confusion is not None:
            assert sum(map(sum, p.confusion[1])) == p.n
    g = group_agreement(ratings)
    per_item = Counter(i for r in raters for i, v in ratings[r].items() if v is not None)
    assert g.n_items == sum(1 for c in per_item.values() if c >= 2)
    assert g.n_single_rated == sum(1 for c in per_item.values() if c == 1)


float_reliability_data = st.lists(
    st.lists(
        st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.25, 1.5, 2.0, 3.3, 1e-3, 7.75])),
        min_size=1,
        max_size=4,
    ),
    max_size=10,
)


@settings(max_examples=examples(150), deadline=None)
@given(units=float_reliability_data, level=st.sampled_from(LEVELS))
def test_alpha_on_float_scores_matches_reference(units, level):
    ours = krippendorff_alpha(units, level)
    n_pairable_units = sum(1 for u in units if sum(v is not None for v in u) >= 2)
    ref = reference_alpha(units, level) if n_pairable_units >= 2 else None
    if ref is None:
        assert ours is None
    else:
        assert ours == pytest.approx(ref, rel=1e-9, abs=1e-9)


@given(st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=4), max_size=12))
def test_ordinal_alpha_depends_only_on_rank_order(units):
    # any strictly increasing recoding (here v -> v**3 + 0.5) leaves ordinal alpha unchanged
    recoded = [[v**3 + 0.5 for v in u] for u in units]
    assert krippendorff_alpha(recoded, "ordinal") == krippendorff_alpha(units, "ordinal")


@given(
    st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=4), max_size=12),
    st.sampled_from([2, 3, 0.5, 10.0]),
)
def test_ratio_alpha_invariant_under_positive_scaling(units, factor):
    scaled = [[v * factor for v in u] for u in units]
    before, after = krippendorff_alpha(units, "ratio"), krippendorff_alpha(scaled, "ratio")
    assert (before is None) == (after is None)
    if before is not None:
        assert after == pytest.approx(before, abs=1e-12)


def test_ordinal_accepts_ordered_labels():
    # labels whose natural order is the scale order behave like the numbers 1..5
    names = {1: "1-very low", 2: "2-low", 3: "3-mid", 4: "4-high", 5: "5-very high"}
    labelled = [[None if v is None else names[v] for v in u] for u in KRIPP_2011_UNITS]
    assert krippendorff_alpha(labelled, "ordinal") == krippendorff_alpha(
        KRIPP_2011_UNITS, "ordinal"
    )
    with pytest.raises(TypeError):
        krippendorff_alpha([["low", 1], [2, 2]], "ordinal")


def test_non_finite_scores_are_rejected():
    with pytest.raises(ValueError):
        krippendorff_alpha([[1.0, math.inf], [2.0, 2.0]], "interval")
    with pytest.raises(ValueError):
        mean_abs_diff([(1.0, -math.inf)])
