"""Scoring is pure: every case here is small enough to check by hand, and the arithmetic is written out.

No database: `pytest -m "not db"` runs these anywhere. Expected values come from the hand sums in the
comments (or an exact sum with math.comb), never from running the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harmmap.scoring import (
    Z95,
    eb_shrink,
    decile,
    exponential_transform,
    harm_index,
    rank_desc,
    rank_normalise,
    ranks_within,
    rate_per_1000,
    rate_ratio_test,
    robustness,
    trend_label,
    two_proportion_test,
    wilson_interval,
    worst_affected,
    WorstRule,
)

nan = np.nan


def X(R: float) -> float:
    """The IoD transform written out independently of the module, for hand sums below."""
    return -23.0 * math.log(1.0 - R * (1.0 - math.exp(-100.0 / 23.0)))


# ---------------------------------------------------------------------------------------------
# rates


def test_ward_with_no_residents_gets_no_rate_and_no_rank():
    # 5 / 1000 * 1000 = 5; 3 / 0 -> NaN (not inf); 2 / 500 * 1000 = 4; NaN population -> NaN
    rate = rate_per_1000([5, 3, 2, 1], [1000, 0, 500, nan])
    np.testing.assert_allclose(rate, [5.0, nan, 4.0, nan])
    # ranks: 5 -> 1, 4 -> 2; the empty wards are not ranked (and do not top the list)
    np.testing.assert_array_equal(rank_desc(rate), [1.0, nan, 2.0, nan])
    np.testing.assert_array_equal(rank_normalise(rate), [1.0, nan, 0.5, nan])


def test_rate_accepts_series_and_rejects_negative_counts():
    rate = rate_per_1000(pd.Series([1.5, 0.0]), pd.Series([3000, 100]))  # 1.5/3000*1000 = 0.5
    np.testing.assert_allclose(rate, [0.5, 0.0])
    with pytest.raises(ValueError, match="count must be >= 0"):
        rate_per_1000([-1], [100])


# ---------------------------------------------------------------------------------------------
# Wilson


def test_wilson_interval_matches_hand_values():
    # z^2 = 3.8415, n = 10: denom = 1 + 0.38415 = 1.38415
    # 5/10: centre = (0.5 + 0.19207)/1.38415 = 0.5; half = 1.96 * sqrt(0.025 + 0.0096037)/1.38415
    #       = 1.96 * 0.186022 / 1.38415 = 0.263407 -> (0.2366, 0.7634)
    # 0/10: centre = 0.19207/1.38415 = 0.138764 = half -> (0, 0.2775)
    # 10/10: centre = 1.19207/1.38415 = 0.861236, half = 0.138764 -> (0.7225, 1)
    lo, hi = wilson_interval([0, 5, 10, 0], [10, 10, 10, 0])
    np.testing.assert_allclose(lo[:3], [0.0, 0.2366, 0.7225], atol=5e-5)
    np.testing.assert_allclose(hi[:3], [0.2775, 0.7634, 1.0], atol=5e-5)
    assert np.isnan(lo[3]) and np.isnan(hi[3])  # n == 0: no interval


def test_wilson_rejects_more_agreeing_than_respondents():
    with pytest.raises(ValueError, match="agree <= n"):
        wilson_interval([11], [10])


# ---------------------------------------------------------------------------------------------
# Empirical Bayes


def test_eb_shrink_three_ward_borough_by_hand():
    # Borough A: 10/20 = 0.5, 30/40 = 0.75, 8/40 = 0.2, and a ward with no respondents (0/0).
    # m = 48/100 = 0.48
    # s2 = (20*0.02^2 + 40*0.27^2 + 40*0.28^2)/100 = (0.008 + 2.916 + 3.136)/100 = 0.0606
    # nbar = 100/3 = 33.333; m(1-m) = 0.2496; m(1-m)/nbar = 0.007488
    # phi = 0.0606 - 0.007488 = 0.053112
    # A = 0.2496/0.053112 - 1 = 4.699503 - 1 = 3.699503; a = 0.48*A = 1.775761, b = 1.923742
    # B = 20/23.699503 = 0.843899; 40/43.699503 = 0.915342 (twice)
    # eb = (10 + 1.775761)/23.699503 = 0.496878; (30 + 1.775761)/43.699503 = 0.727142;
    #      (8 + 1.775761)/43.699503 = 0.223704; the 0/0 ward gets m = 0.48
    out = eb_shrink([10, 30, 8, 0], [20, 40, 40, 0], ["A"] * 4)
    np.testing.assert_allclose(out["raw_pct"], [0.5, 0.75, 0.2, nan])
    np.testing.assert_allclose(out["prior_mean"], [0.48] * 4)
    np.testing.assert_allclose(out["prior_strength"], [3.699503] * 4, rtol=1e-6)
    np.testing.assert_allclose(out["shrink_weight"], [0.843899, 0.915342, 0.915342, 0.0], rtol=1e-5)
    np.testing.assert_allclose(out["eb_pct"], [0.496878, 0.727142, 0.223704, 0.48], rtol=1e-5)
    # interval: the Beta(x + a, n - x + b) posterior; for the 0/0 ward, the Beta(a, b) prior
    a, b = 1.775761, 1.923742
    np.testing.assert_allclose(out.loc[0, ["eb_lo", "eb_hi"]], stats.beta.ppf([0.025, 0.975], 10 + a, 10 + b), rtol=1e-5)
    np.testing.assert_allclose(out.loc[3, ["eb_lo", "eb_hi"]], stats.beta.ppf([0.025, 0.975], a, b), rtol=1e-5)
    assert (out["eb_lo"] < out["eb_pct"]).all() and (out["eb_pct"] < out["eb_hi"]).all()


def test_eb_shrink_pools_completely_when_wards_vary_less_than_sampling_noise():
    # Borough B: 5/10, 10/20, 15/30 all 0.5 -> s2 = 0, phi = 0 - 0.25/20 < 0 -> complete pooling.
    # Every ward gets m = 30/60 = 0.5, A = inf, B = 0, and the pooled Wilson interval for 30/60:
    # denom = 1 + 3.8415/60 = 1.064024; half = 1.96*sqrt(0.25/60 + 3.8415/14400)/1.064024
    #      = 1.96*sqrt(0.0041667 + 0.00026677)/1.064024 = 0.122650 -> (0.37735, 0.62265)
    # Borough C has one ward with respondents (k = 1 < 2): pooled too, so 7/10 stays 0.7, and its
    # 0/0 neighbour borrows 0.7.
    out = eb_shrink([5, 10, 15, 7, 0], [10, 20, 30, 10, 0], ["B", "B", "B", "C", "C"])
    np.testing.assert_allclose(out["eb_pct"], [0.5, 0.5, 0.5, 0.7, 0.7])
    assert np.isinf(out["prior_strength"]).all()
    np.testing.assert_array_equal(out["shrink_weight"], [0.0] * 5)
    np.testing.assert_allclose(out["eb_lo"][:3], [0.37735] * 3, atol=5e-6)
    np.testing.assert_allclose(out["eb_hi"][:3], [0.62265] * 3, atol=5e-6)


def test_ward_with_no_respondents_gets_its_borough_estimate_and_empty_borough_gets_nothing():
    idx = pd.Index(["E05000001", "E05000002", "E05000003", "E05000004"], name="ward_code")
    agree = pd.Series([3, 1, 0, 0], index=idx)
    n = pd.Series([4, 4, 0, 0], index=idx)
    borough = pd.Series(["E09000007", "E09000007", "E09000007", "E09000033"], index=idx)
    out = eb_shrink(agree, n, borough)
    assert out.index.equals(idx)
    # 3/4 and 1/4: m = 4/8 = 0.5; s2 = (4*0.25^2 + 4*0.25^2)/8 = 0.0625; nbar = 4;
    # phi = 0.0625 - 0.25/4 = 0 -> complete pooling -> the 0/0 ward gets 0.5
    assert out.loc["E05000003", "eb_pct"] == pytest.approx(0.5)
    assert np.isnan(out.loc["E05000003", "raw_pct"])
    # Westminster-like borough with no respondents at all: nothing to borrow, all NaN
    assert out.loc["E05000004"].isna().all()


def test_twelve_of_twelve_does_not_outrank_240_of_400_after_shrinkage():
    # Borough: 12/12 (100%), 240/400 (60%), eight wards at 100/200 (50%).
    # m = (12 + 240 + 800)/(12 + 400 + 1600) = 1052/2012 = 0.522863
    # n(p-m)^2: 12*0.477137^2 = 2.731919; 400*0.077137^2 = 2.380058; 8 * 200*0.022863^2 = 8*0.104542
    # s2 = (2.731919 + 2.380058 + 0.836334)/2012 = 5.948310/2012 = 0.0029564
    # nbar = 2012/10 = 201.2; m(1-m)/nbar = 0.249478/201.2 = 0.0012399
    # phi = 0.0029564 - 0.0012399 = 0.0017165; A = 0.249478/0.0017165 - 1 = 144.34; m*A = 75.47
    # eb(12/12)   = (12 + 75.47)/(12 + 144.34)  = 0.5595
    # eb(240/400) = (240 + 75.47)/(400 + 144.34) = 0.5795  -> the big ward stays worse
    x = [12, 240] + [100] * 8
    n = [12, 400] + [200] * 8
    out = eb_shrink(x, n, ["E09000022"] * 10)
    assert out["raw_pct"][0] > out["raw_pct"][1]
    np.testing.assert_allclose(out["eb_pct"][:2], [0.5595, 0.5795], atol=5e-4)
    assert rank_desc(out["eb_pct"])[0] > rank_desc(out["eb_pct"])[1]


# ---------------------------------------------------------------------------------------------
# rank normalisation and the exponential transform


def test_rank_normalise_gives_ties_their_average_rank():
    # [1, 2, 2, 4] -> ranks 1, 2.5, 2.5, 4 over N = 4 -> 0.25, 0.625, 0.625, 1
    np.testing.assert_allclose(rank_normalise([1, 2, 2, 4]), [0.25, 0.625, 0.625, 1.0])
    # NaN is not counted in N: [3, NaN, 1] -> ranks 2, -, 1 over N = 2
    np.testing.assert_array_equal(rank_normalise([3, nan, 1]), [1.0, nan, 0.5])


def test_exponential_transform_by_hand():
    # R = 1: -23 ln(1 - (1 - e^(-100/23))) = -23 * (-100/23) = 100
    # R = 0.5: 1 - 0.5*0.987065 = 0.506467; ln = -0.680295; * -23 = 15.6468
    np.testing.assert_allclose(exponential_transform([1.0, 0.5, nan]), [100.0, 15.6468, nan], atol=5e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        exponential_transform([1.5])


# ---------------------------------------------------------------------------------------------
# the index


def _four_wards() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "drug_offences": [10.0, 20.0, 30.0, 40.0],  # a
            "drug_deaths": [3.0, 1.0, 2.0, nan],        # b
            "needle_finds": [nan, nan, nan, nan],       # c: nothing this period
            "unweighted": [9.0, 9.0, 9.0, 9.0],
        },
        index=pd.Index(["W1", "W2", "W3", "W4"], name="ward_code"),
    )


def test_harm_index_four_wards_two_indicators_by_hand():
    # weights a = 3, b = 1, c = 2 (all-NaN -> dropped), d = 1 (absent -> dropped), unweighted ignored
    # weights_used: a = 3/4 = 0.75, b = 1/4 = 0.25
    # a: R = 0.25, 0.5, 0.75, 1 -> X = 6.5177, 15.6468, 31.0091, 100
    #    (X(.25): 1 - 0.246766 = 0.753234, ln = -0.283380, *-23 = 6.5177; X(.75): ln 0.259701 = -1.348224 -> 31.0091)
    # b: 3, 1, 2 over N = 3 -> R = 1, 1/3, 2/3 -> X = 100, 9.1774, 24.6806
    #    (X(1/3): ln 0.670978 = -0.399018 -> 9.1774; X(2/3): ln 0.341957 = -1.073071 -> 24.6806)
    # W1 = 0.75*6.5177 + 0.25*100 = 4.8883 + 25 = 29.8883
    # W2 = 0.75*15.6468 + 0.25*9.1774 = 11.7351 + 2.2944 = 14.0295
    # W3 = 0.75*31.0091 + 0.25*24.6806 = 23.2568 + 6.1702 = 29.4270
    # W4 has only a: coverage 0.75, score = 0.75*100/0.75 = 100, contribution a = 100
    weights = {"drug_offences": 3, "drug_deaths": 1, "needle_finds": 2, "closures": 1, "unweighted": 0}
    res = harm_index(_four_wards(), weights)
    assert res.weights_used == pytest.approx({"drug_offences": 0.75, "drug_deaths": 0.25})
    assert res.indicators_dropped == ("needle_finds", "closures")
    assert list(res.transformed.columns) == ["drug_offences", "drug_deaths"]
    np.testing.assert_allclose(res.transformed["drug_offences"], [6.5177, 15.6468, 31.0091, 100], atol=5e-5)
    np.testing.assert_allclose(res.transformed["drug_deaths"], [100, 9.1774, 24.6806, nan], atol=5e-5)
    np.testing.assert_allclose(res.score, [29.8883, 14.0295, 29.4270, 100.0], atol=5e-4)
    np.testing.assert_allclose(res.coverage, [1, 1, 1, 0.75])
    np.testing.assert_allclose(res.contribution.loc["W1"], [4.8883, 25.0], atol=5e-4)
    np.testing.assert_allclose(res.contribution.loc["W4"], [100.0, nan])
    np.testing.assert_allclose(res.contribution.sum(axis=1), res.score)
    assert res.score.index.equals(_four_wards().index)


def test_all_nan_indicator_is_dropped_and_weights_renormalised_as_if_absent():
    # Same as above without c and d in the weights: identical scores.
    with_dropped = harm_index(_four_wards(), {"drug_offences": 3, "drug_deaths": 1, "needle_finds": 2})
    without = harm_index(_four_wards(), {"drug_offences": 3, "drug_deaths": 1})
    pd.testing.assert_series_equal(with_dropped.score, without.score)
    assert sum(with_dropped.weights_used.values()) == pytest.approx(1.0)


def test_ward_with_no_indicator_values_gets_no_score():
    values = pd.DataFrame({"a": [1.0, nan, 3.0], "b": [2.0, nan, 1.0]}, index=["W1", "W2", "W3"])
    res = harm_index(values, {"a": 1, "b": 1})
    assert np.isnan(res.score["W2"]) and res.coverage["W2"] == 0
    assert res.contribution.loc["W2"].isna().all()


def test_period_with_no_weighted_data_gets_figures_but_no_index():
    # needle_finds is all-NaN and closures absent: nothing to score, nothing to perturb
    res = harm_index(_four_wards(), {"needle_finds": 1, "closures": 2})
    assert res.score.isna().all() and (res.coverage == 0).all()
    assert res.weights_used == {} and res.indicators_dropped == ("needle_finds", "closures")
    assert res.transformed.shape == (4, 0) and res.contribution.shape == (4, 0)
    assert robustness(_four_wards(), {"needle_finds": 1}).empty


def test_min_coverage_withholds_scores_of_thinly_covered_wards():
    # W4 has coverage 0.75 (see the four-ward case): kept at 0.75, withheld at 0.8
    weights = {"drug_offences": 3, "drug_deaths": 1}
    assert harm_index(_four_wards(), weights, min_coverage=0.75).score["W4"] == pytest.approx(100.0)
    assert np.isnan(harm_index(_four_wards(), weights, min_coverage=0.8).score["W4"])


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"drug_offences": -1, "drug_deaths": 1}, "negative"),
        ({"drug_offences": 0, "drug_deaths": 0}, "all indicator weights are zero"),
        ({"drug_offences": float("nan")}, "not a finite number"),
    ],
)
def test_harm_index_rejects_unusable_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        harm_index(_four_wards(), weights)


# ---------------------------------------------------------------------------------------------
# ranks and deciles


def test_tied_scores_share_the_best_rank_and_a_decile():
    # [90, 80, 80, 70] -> 1, 2, 2, 4 ("1224")
    rank = rank_desc([90, 80, 80, 70, nan])
    np.testing.assert_array_equal(rank, [1, 2, 2, 4, nan])
    # n = 4: ceil(10*1/4) = ceil(2.5) = 3; ceil(10*2/4) = 5; ceil(10*4/4) = 10
    np.testing.assert_array_equal(decile(rank, 4), [3, 5, 5, 10, nan])


def test_decile_boundaries_are_exact():
    # n = 30: rank 3 -> ceil(10*3/30) = ceil(1.0) = 1 (on the boundary, still decile 1); rank 4 -> ceil(1.33) = 2
    np.testing.assert_array_equal(decile([3, 4, 30], 30), [1, 2, 10])
    with pytest.raises(ValueError, match="rank <= n"):
        decile([5], 4)


def test_ranks_within_each_borough():
    # borough X: 50 -> 1, 40 -> 2, NaN -> unranked; n = 2; deciles ceil(10*1/2) = 5, ceil(10) = 10
    # borough Y: 10 -> 2, 30 -> 1; n = 2
    idx = pd.Index(["W1", "W2", "W3", "W4", "W5"])
    score = pd.Series([50, 40, nan, 10, 30], index=idx)
    group = pd.Series(["X", "X", "X", "Y", "Y"], index=idx)
    out = ranks_within(score, group)
    np.testing.assert_array_equal(out["rank"], [1, 2, nan, 2, 1])
    np.testing.assert_array_equal(out["decile"], [5, 10, nan, 10, 5])
    np.testing.assert_array_equal(out["n"], [2, 2, 2, 2, 2])


# ---------------------------------------------------------------------------------------------
# worst affected


def _london() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "score": [90.0, 80.0, 80.0, 70.0, nan, 60.0],
            "borough_code": ["E09000028", "E09000022", "E09000028", "E09000022", "E09000022", "E09000022"],
        },
        index=pd.Index(["W1", "W2", "W3", "W4", "W5", "W6"], name="ward_code"),
    )


def test_top_n_includes_every_ward_tied_with_the_nth_and_says_so():
    # ranks 1, 2, 2, 4, -, 5: top 2 = rank <= 2 = W1, W2, W3 (W3 tied with W2)
    out = worst_affected(_london(), WorstRule("top_n", 2))
    assert list(out.index) == ["W1", "W2", "W3"]
    assert list(out["tied_at_cutoff"]) == [False, True, True]
    assert out.attrs["ties_extended"] is True and out.attrs["n_selected"] == 3
    assert out.attrs["note"] == "Top 2 wards by score London-wide; 3 shown because 2 wards tie at rank 2"
    # top 3: the tie is inside the cut, nothing extended
    out3 = worst_affected(_london(), WorstRule("top_n", 3))
    assert list(out3.index) == ["W1", "W2", "W3"] and not out3["tied_at_cutoff"].any()
    assert out3.attrs["ties_extended"] is False


def test_threshold_mode_selects_scores_at_or_above_and_never_nan():
    out = worst_affected(_london(), WorstRule.of("threshold", threshold=80))
    assert list(out.index) == ["W1", "W2", "W3"]
    assert "W5" not in worst_affected(_london(), WorstRule.of("threshold", threshold=0)).index


def test_top_decile_mode_needs_ten_wards_per_decile_and_keeps_ties():
    # 12 scored wards, scores 12..1 but the top two tied at 12: ranks 1, 1, 3, ...
    # decile 1 = ceil(10*rank/12) == 1 = rank <= 1.2 -> both wards at rank 1
    frame = pd.DataFrame({"score": [12.0, 12.0] + [float(s) for s in range(10, 0, -1)]},
                         index=[f"W{i}" for i in range(12)])
    out = worst_affected(frame, WorstRule.of("top_decile"))
    assert list(out.index) == ["W0", "W1"]
    # with 6 wards, rank 1 is decile ceil(10/5) = 2: nobody is in decile 1
    assert worst_affected(_london(), WorstRule.of("top_decile")).empty


def test_within_borough_ranks_only_that_boroughs_wards():
    # E09000022: W2 80, W4 70, W5 NaN, W6 60 -> borough ranks 1, 2, -, 3 (W2 is 2nd London-wide)
    out = worst_affected(_london(), WorstRule("top_n", 2), borough="E09000022")
    assert list(out.index) == ["W2", "W4"]
    assert list(out["rank"]) == [1.0, 2.0]
    assert out.attrs["scope"] == "E09000022" and out.attrs["n_ranked"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "worst"}, "rule must be one of"),
        ({"mode": "top_n", "n": None}, "needs n"),
        ({"mode": "top_n", "n": 0}, "from 1 to 1000"),
        ({"mode": "top_n", "n": 1001}, "from 1 to 1000"),
        ({"mode": "top_n", "n": 2.5}, "whole number"),
        ({"mode": "top_n", "n": 2, "threshold": 50.0}, "not threshold"),
        ({"mode": "threshold", "n": None}, "needs threshold"),
        ({"mode": "threshold", "n": None, "threshold": math.inf}, "from 0 to 100"),
        ({"mode": "threshold", "n": None, "threshold": 100.5}, "from 0 to 100"),
        ({"mode": "top_decile", "n": 3}, "neither"),
    ],
)
def test_worst_rule_refuses_unclear_requests(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorstRule(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"borough": "E09000001"}, "no wards"),
        ({"score_col": "harm"}, "no score column"),
    ],
)
def test_worst_affected_rejects_unclear_requests(kwargs, message):
    with pytest.raises(ValueError, match=message):
        worst_affected(_london(), WorstRule("top_n", 1), **kwargs)


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({}, WorstRule("top_n", 20)),
        ({"rule": "top_decile", "n": "7"}, WorstRule("top_decile", None)),   # n checked, then not used
        ({"rule": "threshold", "threshold": "60", "n": ""}, WorstRule("threshold", None, 60.0)),
        ({"rule": " top_n ", "n": " 5 "}, WorstRule("top_n", 5)),
    ],
)
def test_worst_rule_from_a_query_string(args, rule):
    assert WorstRule.parse(args) == rule


@pytest.mark.parametrize("args", [{"n": "abc"}, {"n": "0"}, {"rule": "top_decile", "n": "5000"},
                                  {"threshold": "nan"}, {"rule": "threshold"}, {"rule": "best"}])
def test_worst_rule_from_a_bad_query_string_says_what_is_wrong(args):
    with pytest.raises(ValueError):
        WorstRule.parse(args)


# ---------------------------------------------------------------------------------------------
# change between periods


def test_three_events_after_one_is_not_a_significant_rise_but_forty_after_ten_is():
    # (3, 1): t = 4, X ~ Bin(4, 0.5): P(X >= 3) = (4 + 1)/16 = 5/16, P(X <= 3) = 15/16
    #         p = 2 * 5/16 = 0.625; ratio = 3/1 = 3
    # (40, 10): p = 2 * sum_{k=40..50} C(50, k) / 2^50
    p_40_10 = 2 * sum(math.comb(50, k) for k in range(40, 51)) / 2**50  # = 2.386e-05
    out = rate_ratio_test(pd.Series([3, 40]), pd.Series([1, 10]))
    np.testing.assert_allclose(out["ratio"], [3.0, 4.0])
    np.testing.assert_allclose(out["p"], [0.625, p_40_10], rtol=1e-9)
    np.testing.assert_array_equal(trend_label(out["ratio"] - 1, out["p"]), ["no_change", "up"])


def test_rate_ratio_edge_cases_by_hand():
    # (2, 0): ratio inf; p = 2 * P(X >= 2 | 2, 0.5) = 2 * 1/4 = 0.5
    #         Clopper-Pearson lower for 2/2: beta.ppf(0.025, 2, 1) = sqrt(0.025) = 0.158114
    #         -> ratio lo = 0.158114/0.841886 = 0.187809; hi = inf (x_now = t)
    # (0, 0): nothing to test: p = 1, ratio NaN
    # (6, 3) over a now period twice as long (e = 2): ratio = (6/3)/2 = 1; t = 9, p0 = 2/3;
    #         P(X >= 6) = (84*64 + 36*128 + 9*256 + 512)/3^9 = 12800/19683 = 0.6503,
    #         P(X <= 6) = 1 - 7424/19683 = 0.6228 -> p = min(1, 2*0.6228) = 1
    # (2.5, 1): fractional (crosswalked) -> ratio 2.5 but no test
    out = rate_ratio_test([2, 0, 6, 2.5], [0, 0, 3, 1], [1, 1, 2, 1])
    assert np.isinf(out["ratio"][0]) and np.isinf(out["hi"][0])
    assert out["lo"][0] == pytest.approx(0.187809, abs=1e-6)
    np.testing.assert_allclose(out["p"], [0.5, 1.0, 1.0, nan])
    np.testing.assert_allclose(out["ratio"][1:], [nan, 1.0, 2.5])
    assert np.isnan(out["lo"][3]) and np.isnan(out["hi"][3])
    with pytest.raises(ValueError, match="exposure_ratio"):
        rate_ratio_test([1], [1], 0)
    with pytest.raises(ValueError, match=">= 0"):
        rate_ratio_test([-1], [1])


def test_two_proportion_test_matches_newcombe_worked_example():
    # Newcombe (1998) example (a): 56/70 = 0.8 vs 48/80 = 0.6; diff = 0.2
    #   Wilson 56/70: (0.6931, 0.8770); 48/80: (0.4907, 0.7003)
    #   lo = 0.2 - sqrt((0.8 - 0.6931)^2 + (0.7003 - 0.6)^2) = 0.2 - 0.1476 = 0.0524
    #   hi = 0.2 + sqrt((0.8770 - 0.8)^2 + (0.6 - 0.4907)^2) = 0.2 + 0.1339 = 0.3339 (Newcombe: 0.0524, 0.3339)
    #   pooled pp = 104/150 = 0.69333; se = sqrt(0.69333*0.30667*(1/70 + 1/80)) = 0.075467;
    #   z = 0.2/0.075467 = 2.6502 -> p = 2*(1 - Phi(2.6502)) = 0.00805
    # 0/10 vs 0/10: diff 0, no variation -> p = 1; n0 = 0 -> NaN throughout
    out = two_proportion_test([56, 0, 3], [70, 10, 5], [48, 0, 0], [80, 10, 0])
    np.testing.assert_allclose(out.loc[0, ["diff", "lo", "hi"]], [0.2, 0.0524, 0.3339], atol=5e-5)
    assert out.loc[0, "p"] == pytest.approx(0.00805, abs=5e-5)
    assert out.loc[1, "diff"] == 0 and out.loc[1, "p"] == 1.0
    assert out.loc[2].isna().all()


def test_trend_label_only_calls_significant_changes():
    labels = trend_label([0.4, -0.3, 0.4, 0.1, nan], [0.01, 0.01, 0.3, nan, 0.01])
    assert labels.tolist() == ["up", "down", "no_change", "not_tested", "not_tested"]
    assert trend_label([0.4], [0.05]).tolist() == ["no_change"]  # p == alpha is not significant


# ---------------------------------------------------------------------------------------------
# robustness


def _designed_wards(n: int = 10) -> pd.DataFrame:
    # a ranks: W0 n, W1 n-1, W2 n-2, the rest 1..n-3;  b ranks: W1 n, W2 n-1, W0 n-2, the rest 1..n-3
    # The rest rise together on both and sit below W2 on both, so only W0 and W1 can change order.
    rest = list(range(1, n - 2))
    return pd.DataFrame(
        {"a": [n, n - 1, n - 2] + rest, "b": [n - 2, n, n - 1] + rest},
        index=[f"W{i}" for i in range(n)],
    )


def _designed_ten_wards() -> pd.DataFrame:
    return _designed_wards(10)


def test_robustness_with_unchanged_weights_keeps_everything():
    out = robustness(_designed_ten_wards(), {"a": 2, "b": 1}, factors=(1.0,))
    assert out["top_decile_retained"].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(out["spearman"], [1.0, 1.0])


def test_robustness_detects_a_top_ward_that_depends_on_its_weight():
    # N = 10, top decile = rank 1. X(1) = 100, X(.9) = 50.4267, X(.8) = 35.8568.
    # base (a = 2, b = 1): W0 = (2*100 + 35.8568)/3 = 78.62 > W1 = (2*50.4267 + 100)/3 = 66.95
    # a x 0.4 (0.8, 1):   W0 = (80 + 35.8568)/1.8 = 64.36 < W1 = (40.3413 + 100)/1.8 = 77.97 -> lost
    # a x 1.6 (3.2, 1):   W0 gains more than W1 -> kept
    # b x 0.4 (2, 0.4):   W0 = (200 + 14.34)/2.4 = 89.3 > W1 = (100.85 + 40)/2.4 = 58.7 -> kept
    # b x 1.6 (2, 1.6):   W0 = (200 + 57.37)/3.6 = 71.49 < W1 = (100.85 + 160)/3.6 = 72.46 -> lost
    # When W0 and W1 swap, every other ward keeps its place: sum d^2 = 1 + 1 = 2,
    #   rho = 1 - 6*2/(10*(100 - 1)) = 1 - 12/990 = 0.987879
    out = robustness(_designed_ten_wards(), {"a": 2, "b": 1}, delta=0.6)
    assert out["indicator"].tolist() == ["a", "a", "b", "b"]
    np.testing.assert_allclose(out["factor"], [0.4, 1.6, 0.4, 1.6])
    assert out["top_decile_retained"].tolist() == [0.0, 1.0, 1.0, 0.0]
    np.testing.assert_allclose(out["spearman"], [1 - 12 / 990, 1.0, 1.0, 1 - 12 / 990])
    # and at the default +-20% W0's lead survives everywhere
    assert (robustness(_designed_ten_wards(), {"a": 2, "b": 1})["top_decile_retained"] == 1.0).all()


def test_robustness_top_set_is_decile_one_not_the_top_rounded_up():
    # 12 wards: decile 1 = ceil(10*rank/12) == 1 = rank <= 1.2 -> W0 alone (W1, rank 2, is decile 2).
    # X(11/12) = 54.0932, X(10/12) = 39.7691
    # base:   W0 = (200 + 39.7691)/3 = 79.92 > W1 = (2*54.0932 + 100)/3 = 69.40
    # a x 0.4: W0 = (80 + 39.7691)/1.8 = 66.54 < W1 = (0.8*54.0932 + 100)/1.8 = 79.60 -> W0 lost
    # b x 1.6: W0 = (200 + 1.6*39.7691)/3.6 = 73.23 < W1 = (2*54.0932 + 160)/3.6 = 74.50 -> W0 lost
    # (had the top set been rank <= 2, W0 would count as retained at rank 2)
    out = robustness(_designed_wards(12), {"a": 2, "b": 1}, delta=0.6)
    assert out["top_decile_retained"].tolist() == [0.0, 1.0, 1.0, 0.0]


def test_wilson_default_z_is_the_95_percent_normal_quantile():
    assert Z95 == pytest.approx(stats.norm.ppf(0.975), abs=1e-15)
