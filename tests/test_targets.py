"""Strategy targets: hand-computed cases, the arithmetic written out beside each."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harmmap.targets import PAS_DIRECTION, Z95, count_increase, pas_target, value_uplift

AREAS = pd.Index(["E12000007", "E09000022", "E09000028"], name="area_code")  # London, Lambeth, Southwark


# ---------------------------------------------------------------- PAS


def test_pas_higher_is_better_ahead_of_the_line_is_on_track() -> None:
    # tackle_dealing (+1): b = 500/1000 = 50%, c = 560/1000 = 56%, 1.5 of 3 years gone.
    # target = 50 + 3 = 53; expected = 50 + 3 * 1.5/3 = 51.5; gap = +1 * (56 - 51.5) = 4.5 pp
    # SE = 100 * sqrt(.5 * .5 / 1000 + .56 * .44 / 1000) = 100 * sqrt(.00025 + .0002464) = 2.22800
    # 95%: 4.5 -/+ 1.959964 * 2.22800 = 0.13319 .. 8.86681 -> all >= 0 -> on_track
    # prob = Phi(4.5 / 2.22800) = Phi(2.01975) = 0.978295
    out = pas_target(500, 1000, 560, 1000, elapsed_years=1.5, direction=PAS_DIRECTION["tackle_dealing"])
    row = out.iloc[0]
    assert (row.baseline_pct, row.target_pct, row.expected_pct, row.current_pct) == (50, 53, 51.5, 56)
    assert row.gap_pp == pytest.approx(4.5)
    assert row.gap_lo == pytest.approx(0.133193, abs=1e-6)
    assert row.gap_hi == pytest.approx(8.866807, abs=1e-6)
    assert row.prob_on_track == pytest.approx(0.978295, abs=1e-6)
    assert row.status == "on_track"
    # smallest detectable change: (1.959964 + 0.841621) * 100 * sqrt(.5 * .5 * (1/1000 + 1/1000)) = 6.26454 pp
    assert row.mdc_pp == pytest.approx(6.26454, abs=1e-4)
    assert list(out.columns) == ["baseline_pct", "target_pct", "expected_pct", "current_pct", "gap_pp",
                                 "mdc_pp", "gap_lo", "gap_hi", "prob_on_track", "status"]


def test_pas_lower_is_better_elapsed_past_the_horizon_is_capped_and_uncertain() -> None:
    # drug_problem (-1): b = 800/2000 = 40%, c = 770/2000 = 38.5%, 4 years gone -> capped at 3/3.
    # target = 40 - 3 = 37 = expected; gap = -1 * (38.5 - 37) = -1.5 pp (behind)
    # SE = 100 * sqrt(.4 * .6 / 2000 + .385 * .615 / 2000) = 100 * sqrt(.00012 + .000118388) = 1.54398
    # 95%: -1.5 -/+ 3.02612 = -4.52615 .. 1.52615 -> straddles 0 -> uncertain
    # prob = Phi(-1.5 / 1.54398) = Phi(-0.97152) = 0.165646
    out = pas_target(800, 2000, 770, 2000, elapsed_years=4, direction=PAS_DIRECTION["drug_problem"])
    row = out.iloc[0]
    assert row.target_pct == 37 and row.expected_pct == 37
    assert row.gap_pp == pytest.approx(-1.5)
    assert (row.gap_lo, row.gap_hi) == (pytest.approx(-4.526146, abs=1e-6), pytest.approx(1.526146, abs=1e-6))
    assert row.prob_on_track == pytest.approx(0.165646, abs=1e-6)
    assert row.status == "uncertain"
    at_horizon = pas_target(800, 2000, 770, 2000, elapsed_years=3, direction=-1)
    pd.testing.assert_frame_equal(out, at_horizon)


def test_pas_lower_is_better_getting_worse_is_off_track() -> None:
    # drug_problem: b = 800/2000 = 40, c = 860/2000 = 43 (worse), 3 years: expected 37; gap = -(43 - 37) = -6
    # SE = 100 * sqrt(.4 * .6 / 2000 + .43 * .57 / 2000) = 1.55740; hi = -6 + 3.05244 = -2.94755 < 0
    row = pas_target(800, 2000, 860, 2000, elapsed_years=3, direction=-1).iloc[0]
    assert row.gap_hi == pytest.approx(-2.947549, abs=1e-6)
    assert row.status == "off_track"
    assert row.prob_on_track < 1e-4


def test_pas_no_respondents_is_no_data_and_rows_keep_their_area_codes() -> None:
    agree_b = pd.Series([500.0, 0.0, 208.0], index=AREAS)
    n_b = pd.Series([1000, 0, 400], index=AREAS)          # Lambeth had no baseline sample
    agree_c = pd.Series([560.0, 153.0, 0.0], index=AREAS)
    n_c = pd.Series([1000, 300, 0], index=AREAS)          # Southwark: none this year
    out = pas_target(agree_b, n_b, agree_c, n_c, elapsed_years=1.5, direction=1)
    assert out.index.equals(AREAS)
    assert out.status.tolist() == ["on_track", "no_data", "no_data"]
    stats = ["gap_pp", "gap_lo", "gap_hi", "prob_on_track"]
    assert out.loc[["E09000022", "E09000028"], stats].isna().all().all()
    assert np.isnan(out.loc["E09000022", "target_pct"]) and out.loc["E09000022", "current_pct"] == 51
    assert out.loc["E09000028", "target_pct"] == 55      # 208/400 = 52% + 3: known without a current


def test_pas_elapsed_zero_compares_with_the_baseline_itself() -> None:
    # elapsed 0: expected = baseline; c = b -> gap 0, prob 0.5, uncertain
    row = pas_target(500, 1000, 500, 1000, elapsed_years=0, direction=1).iloc[0]
    assert row.expected_pct == 50 and row.gap_pp == 0
    assert row.prob_on_track == 0.5 and row.status == "uncertain"


def test_pas_refuses_bad_direction_more_agreeing_than_asked_and_misaligned_areas() -> None:
    with pytest.raises(ValueError, match="direction"):
        pas_target(50, 100, 50, 100, elapsed_years=1, direction=0)
    with pytest.raises(ValueError, match="0 <= agree <= n"):
        pas_target(50, 100, 150, 100, elapsed_years=1, direction=1)
    with pytest.raises(ValueError, match="index differs"):
        pas_target(pd.Series([50.0], index=["a"]), 100, pd.Series([50.0], index=["b"]), 100,
                   elapsed_years=1, direction=1)


def test_pas_design_effect_widens_the_interval() -> None:
    # deff 2 multiplies the variance by 2: SE 2.22800 * sqrt(2) = 3.15087; lo = 4.5 - 6.17560 < 0
    row = pas_target(500, 1000, 560, 1000, elapsed_years=1.5, direction=1, design_effect=2.0).iloc[0]
    assert row.gap_lo == pytest.approx(4.5 - Z95 * 2.2280036 * math.sqrt(2), abs=1e-5)
    assert row.status == "uncertain"


# ---------------------------------------------------------------- counts


def test_count_increase_significant_rise_is_on_track() -> None:
    # 20 this year vs 8 last: N = 28, P(X >= 20 | 28, 1/2) = sum_{k=20..28} C(28, k) / 2^28
    #   = (3108105 + 1184040 + 376740 + 98280 + 20475 + 3276 + 378 + 28 + 1) / 268435456
    #   = 4791323 / 268435456 = 0.0178491 < .05 -> on_track
    row = count_increase(current=20, previous=8).iloc[0]
    assert row.change == 12 and row.ratio == 2.5
    assert row.p_increase == pytest.approx(4791323 / 2**28, rel=1e-12)
    assert row.status == "on_track"
    assert row.prob_on_track > 0.95


def test_count_increase_small_rise_is_uncertain() -> None:
    # 10 vs 5: P(X >= 10 | 15, 1/2) = (C(15,10) + ... + C(15,15)) / 2^15
    #   = (3003 + 1365 + 455 + 105 + 15 + 1) / 32768 = 4944 / 32768 = 0.150879 -> uncertain
    row = count_increase(current=10, previous=5).iloc[0]
    assert row.p_increase == pytest.approx(4944 / 32768, rel=1e-12)
    assert row.status == "uncertain"


def test_count_significant_fall_is_off_track() -> None:
    # 5 vs 15: P(X <= 5 | 20, 1/2) = (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20 = 21700 / 1048576
    #   = 0.020695 < .05 -> off_track;  p_increase = P(X >= 5) = 1 - 6196 / 1048576 = 0.994091
    row = count_increase(current=5, previous=15).iloc[0]
    assert row.p_increase == pytest.approx(1 - 6196 / 2**20, rel=1e-12)
    assert row.status == "off_track"
    assert row.prob_on_track < 0.05


def test_count_prob_on_track_is_the_jeffreys_posterior() -> None:
    # 1 vs 0: theta ~ Beta(1.5, 0.5). I_x(a+1, b) = I_x(a, b) - x^a (1-x)^b / (a B(a, b)), and
    # I_.5(.5, .5) = .5 (arcsine law), B(.5, .5) = pi, so I_.5(1.5, .5) = .5 - (.5^.5 .5^.5) / (.5 pi)
    # = .5 - 1/pi; P(theta > .5) = .5 + 1/pi = 0.818310.  Exact test: P(X >= 1 | 1) = .5.
    # 7 vs 7: Beta(7.5, 7.5) is symmetric about .5 -> 0.5.
    out = count_increase(current=[1, 7], previous=[0, 7])
    assert out.prob_on_track.tolist() == [pytest.approx(0.5 + 1 / math.pi, rel=1e-9), pytest.approx(0.5)]
    assert out.p_increase[0] == 0.5
    assert np.isnan(out.ratio[0]) and out.ratio[1] == 1
    assert out.status.tolist() == ["uncertain", "uncertain"]


def test_count_both_zero_is_no_data_and_counts_must_be_whole() -> None:
    idx = ["a", "b"]
    out = count_increase(current=pd.Series([0, 3], index=idx), previous=pd.Series([0, 0], index=idx))
    assert out.status.tolist() == ["no_data", "uncertain"]    # 3 vs 0: P(X >= 3 | 3) = 1/8
    assert out.loc["a", ["p_increase", "prob_on_track"]].isna().all()
    assert out.loc["b", "p_increase"] == 0.125
    with pytest.raises(ValueError, match="whole counts"):
        count_increase(current=2.5, previous=1)


# ---------------------------------------------------------------- £ recovered


def test_value_uplift_two_years_in_is_uncertain() -> None:
    # B = £100,000 (var 4e8, SD £20k), C = £140,000 (var 9e8), 2 of 3 years: frac 2/3
    # target = 150,000; expected = 100,000 * (1 + .5 * 2/3) = 133,333.33; gap = 6,666.67
    # SE = sqrt(9e8 + (4/3)^2 * 4e8) = sqrt(9e8 + 7.1111e8) = 40,138.65
    # 95%: 6,666.67 -/+ 78,670.3 = -72,003.6 .. 85,337.0 -> uncertain; prob = Phi(0.16609) = 0.565957
    row = value_uplift(100_000, 4e8, 140_000, 9e8, elapsed_years=2).iloc[0]
    assert row.target == 150_000
    assert row.expected == pytest.approx(400_000 / 3)
    assert row.gap == pytest.approx(20_000 / 3)
    assert row.gap_lo == pytest.approx(-72_003.64, abs=0.01)
    assert row.gap_hi == pytest.approx(85_336.97, abs=0.01)
    assert row.prob_on_track == pytest.approx(0.565957, abs=1e-6)
    assert row.status == "uncertain"


def test_value_uplift_capped_at_horizon_on_track_and_off_track() -> None:
    # Lambeth: B 200,000 (var 1e7), C 320,000 (var 2.5e7), 5 years -> capped: expected = 300,000
    #   gap 20,000; SE = sqrt(2.5e7 + 1.5^2 * 1e7) = sqrt(4.75e7) = 6,892.02; lo = 6,491.88 -> on_track
    # Southwark: B 200,000 (var 1e7), C 150,000 (var 1e7), 1.5 years: expected = 200,000 * 1.25
    #   = 250,000; gap -100,000; SE = sqrt(1e7 + 1.25^2 * 1e7) = 5,062.11; hi = -90,078.4 -> off_track
    out = value_uplift(
        pd.Series([200_000.0, 200_000.0], index=AREAS[1:]), 1e7,
        pd.Series([320_000.0, 150_000.0], index=AREAS[1:]), pd.Series([2.5e7, 1e7], index=AREAS[1:]),
        elapsed_years=pd.Series([5.0, 1.5], index=AREAS[1:]),
    )
    assert out.expected.tolist() == [300_000, 250_000]
    assert out.gap_lo.iloc[0] == pytest.approx(6_491.88, abs=0.01)
    assert out.gap_hi.iloc[1] == pytest.approx(-90_078.44, abs=0.01)
    assert out.prob_on_track.iloc[0] == pytest.approx(0.998145, abs=1e-6)
    assert out.status.tolist() == ["on_track", "off_track"]


def test_value_uplift_zero_baseline_has_no_target() -> None:
    out = value_uplift([0.0, 50_000.0], [0.0, 1e6], [30_000.0, np.nan], [1e6, 1e6], elapsed_years=1)
    assert out.status.tolist() == ["no_baseline", "no_data"]
    assert out.loc[0, "target"] == 0 and np.isnan(out.loc[0, "prob_on_track"])
    assert list(out.columns) == ["baseline", "target", "expected", "current", "gap", "gap_lo", "gap_hi",
                                 "prob_on_track", "status"]
