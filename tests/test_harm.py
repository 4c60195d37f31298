"""build_index on a world small enough to check by hand (no database).

Eight 1 km square wards. A B C in borough B1, D E Z in borough B2, all in a row (X A B C D E Z);
X is a City of London ward (not MPS area); F is in B2 but far away (an island); Z has no residents.

    population:   X 100 | A 1000  B 2000  C 1000 | D 1000  E 1000  Z 0 | F 500
    trafficking:  X 5   | A 2+2   B 4     C 1    | D 0     E 2     Z 3 | F 1     + 3 borough-only in B1
    PAS drug_problem, FY2023/24 (two quarters each): A 10/20, B 30/40, C 8/40, E 12/20, F 4/20, D none
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely

from harmmap import hotspots, periods
from harmmap.harm import IndexConfig, IndexInputs, build_index

WARDS = {  # code: (borough, population, in_area, (column, row) of its 1 km square)
    "X": ("CITY", 100, False, (-1, 0)),
    "A": ("B1", 1000, True, (0, 0)), "B": ("B1", 2000, True, (1, 0)), "C": ("B1", 1000, True, (2, 0)),
    "D": ("B2", 1000, True, (3, 0)), "E": ("B2", 1000, True, (4, 0)), "Z": ("B2", 0, True, (5, 0)),
    "F": ("B2", 500, True, (10, 10)),
}
APR, JUN, MAR = date(2023, 4, 1), date(2023, 6, 1), date(2024, 3, 1)
K = 1 - math.exp(-100 / 23)


def x(r: float) -> float:
    """The Indices of Deprivation exponential transform, for the hand calculations."""
    return -23 * math.log(1 - r * K)


def traffic(ward: str | None, borough: str, month: date, value: float) -> dict:
    return {"indicator": "drug_trafficking", "month": month, "borough_code": borough, "ward_code": ward,
            "value": value, "synthetic": False}


def pas(ward: str, borough: str, end: date, n: int, agree: int) -> dict:
    return {"period_type": "quarter", "period_end": end, "geography_level": "ward", "geography_code": ward,
            "borough_code": borough, "measure": "drug_problem", "respondents": n, "agree_count": agree,
            "synthetic": True}


def world(weights: dict[str, float] | None = None) -> tuple[IndexInputs, IndexConfig]:
    codes = list(WARDS)
    wards = pd.DataFrame({"borough_code": [WARDS[c][0] for c in codes], "population": [WARDS[c][1] for c in codes],
                          "in_area": [WARDS[c][2] for c in codes]}, index=pd.Index(codes, name="ward_code"))
    geoms = [shapely.box(i * 1000, j * 1000, i * 1000 + 1000, j * 1000 + 1000) for i, j in (WARDS[c][3] for c in codes)]
    monthly = pd.DataFrame([
        traffic("A", "B1", APR, 2), traffic("A", "B1", MAR, 2), traffic("B", "B1", JUN, 4), traffic("C", "B1", JUN, 1),
        traffic("E", "B2", JUN, 2), traffic("Z", "B2", JUN, 3), traffic("F", "B2", JUN, 1),
        traffic("X", "CITY", JUN, 5), traffic(None, "B1", JUN, 3)])
    q2, q1 = date(2023, 6, 1), date(2024, 3, 1)
    pas_rows = pd.DataFrame([pas("A", "B1", q2, 10, 5), pas("A", "B1", q1, 10, 5),
                             pas("B", "B1", q2, 20, 15), pas("B", "B1", q1, 20, 15),
                             pas("C", "B1", q2, 20, 4), pas("C", "B1", q1, 20, 4),
                             pas("E", "B2", q2, 10, 6), pas("E", "B2", q1, 10, 6),
                             pas("F", "B2", q2, 10, 2), pas("F", "B2", q1, 10, 2)])
    inputs = IndexInputs(
        wards=wards, contiguity=hotspots.queen_contiguity(codes, geoms), monthly=monthly, pas=pas_rows,
        networks=pd.DataFrame(columns=["month", "borough_code", "network_ref", "synthetic"]),
        seizures=pd.DataFrame(columns=["month", "borough_code", "value_gbp", "synthetic"]))
    config = IndexConfig(weights=weights or {"drug_trafficking": 2.0, "pas_drug_problem": 1.0},
                         baseline=periods.parse("FY2023/24"), permutations=99)
    return inputs, config


@pytest.fixture(scope="module")
def tables():
    inputs, config = world()
    return build_index(inputs, config, np.random.default_rng(3))


def ward_row(tables, period: str, ward: str) -> pd.Series:
    f = tables.ward_index
    return f[(f["period"] == period) & (f["ward_code"] == ward)].iloc[0]


def indicator_row(tables, period: str, ward: str, indicator: str) -> pd.Series:
    f = tables.ward_indicator
    return f[(f["period"] == period) & (f["ward_code"] == ward) & (f["indicator"] == indicator)].iloc[0]


def test_every_complete_period_of_the_twelve_months_is_published(tables):
    assert sorted(tables.periods["period"]) == sorted(
        [f"{m:%Y-%m}" for m in (periods.add_months(APR, i) for i in range(12))]
        + ["2023-Q2", "2023-Q3", "2023-Q4", "2024-Q1", "FY2023/24", "R12-2024-03"])


def test_financial_year_score_is_the_weighted_exponential_transform_computed_by_hand(tables):
    # Trafficking per 1,000 over the six ranked wards (Z has no residents, X is not MPS area):
    #   A 4/1000=4, B 4/2000=2, C 1, D 0, E 2, F 2/... F has 1 in 500 = 2  -> ranks D1 C2 (B,E,F tie: 4) A6
    # PAS empirical Bayes: B1 m=48/100, A(prior strength)=3.6995 -> A 49.69%, B 72.71%, C 22.37%;
    #   B2 m=16/40=.4, phi=.04-.24/20=.028, A=.24/.028-1=7.5714 -> E 54.51%, F 25.49%, D (no respondents) 40%
    #   ranks C1 F2 D3 A4 E5 B6
    # score = (2 X(trafficking R) + 1 X(PAS R)) / 3
    expected = {"A": (2 * x(1) + x(4 / 6)) / 3, "B": (2 * x(4 / 6) + x(1)) / 3, "C": (2 * x(2 / 6) + x(1 / 6)) / 3,
                "D": (2 * x(1 / 6) + x(3 / 6)) / 3, "E": (2 * x(4 / 6) + x(5 / 6)) / 3, "F": (2 * x(4 / 6) + x(2 / 6)) / 3}
    assert expected["A"] == pytest.approx(74.8935, abs=1e-4)   # 66.6667 + 8.2269
    assert expected["B"] == pytest.approx(49.7871, abs=1e-4)
    for ward, score in expected.items():
        assert ward_row(tables, "FY2023/24", ward)["score"] == pytest.approx(score, abs=1e-9), ward
    ranks = {w: ward_row(tables, "FY2023/24", w)["rank_london"] for w in expected}
    assert ranks == {"A": 1, "B": 2, "E": 3, "F": 4, "D": 5, "C": 6}
    assert ward_row(tables, "FY2023/24", "A")["decile_london"] == 2   # ceil(10 * 1 / 6)


def test_contributions_add_up_to_the_score_and_say_why_a_ward_ranks_first(tables):
    a_traffic = indicator_row(tables, "FY2023/24", "A", "drug_trafficking")
    a_pas = indicator_row(tables, "FY2023/24", "A", "pas_drug_problem")
    assert a_traffic["contribution"] == pytest.approx(2 * 100 / 3)          # 66.67 points from trafficking
    assert a_pas["contribution"] == pytest.approx(x(4 / 6) / 3)            # 8.23 points from PAS
    assert a_traffic["contribution"] + a_pas["contribution"] == pytest.approx(ward_row(tables, "FY2023/24", "A")["score"])
    assert a_traffic["rate_per_1000"] == pytest.approx(4.0)


def test_ward_with_no_residents_gets_no_rate_no_estimate_and_no_rank(tables):
    z = ward_row(tables, "FY2023/24", "Z")
    assert math.isnan(z["score"]) and pd.isna(z["rank_london"]) and z["hotspot"] == "no_data"
    traffic_z = indicator_row(tables, "FY2023/24", "Z", "drug_trafficking")
    assert traffic_z["value"] == 3 and math.isnan(traffic_z["rate_per_1000"])
    assert math.isnan(indicator_row(tables, "FY2023/24", "Z", "pas_drug_problem")["eb_pct"])


def test_ward_with_no_pas_respondents_gets_its_boroughs_estimate_not_a_raw_percentage(tables):
    d = indicator_row(tables, "FY2023/24", "D", "pas_drug_problem")
    assert d["respondents"] == 0 and math.isnan(d["pct"])
    assert d["eb_pct"] == pytest.approx(40.0)          # B2 pooled: (12 + 4) / (20 + 20)
    e = indicator_row(tables, "FY2023/24", "E", "pas_drug_problem")
    assert e["pct"] == pytest.approx(60.0) and e["eb_pct"] == pytest.approx(54.50777, abs=1e-4)
    assert e["pct_lo"] == pytest.approx(38.66, abs=0.01) and e["pct_hi"] == pytest.approx(78.12, abs=0.01)  # Wilson 12/20


def test_city_ward_is_published_unscored_and_its_events_stay_out_of_london(tables):
    assert math.isnan(ward_row(tables, "FY2023/24", "X")["score"])
    assert ward_row(tables, "FY2023/24", "X")["hotspot"] == "no_data"
    assert "X" not in set(tables.ward_indicator["ward_code"])
    london = tables.area_indicator.query("period == 'FY2023/24' and level == 'london' and indicator == 'drug_trafficking'")
    # 4+4+1 (B1 wards) + 3 borough-only in B1 + 0+2+3+1 (B2 wards incl. Z) = 18; X's 5 are the City's
    assert london["value"].item() == 18
    assert london["rate_per_1000"].item() == pytest.approx(18 / 6500 * 1000)


def test_borough_only_records_count_in_the_borough_never_in_a_ward(tables):
    b1 = tables.area_indicator.query("period == 'FY2023/24' and area_code == 'B1' and indicator == 'drug_trafficking'")
    assert b1["value"].item() == 4 + 4 + 1 + 3
    wards_b1 = tables.ward_indicator.query("period == 'FY2023/24' and indicator == 'drug_trafficking' "
                                           "and ward_code in ['A', 'B', 'C']")
    assert wards_b1["value"].sum() == 9


def test_island_ward_is_said_and_not_tested(tables):
    assert ward_row(tables, "FY2023/24", "F")["hotspot"] == "island"
    assert ward_row(tables, "FY2023/24", "F")["lisa_cluster"] == "island"
    fy = tables.periods.set_index("period").loc["FY2023/24"]
    assert "F" in fy["islands"]


def test_single_months_have_no_pas_and_say_which_weights_were_used(tables):
    june = tables.periods.set_index("period").loc["2023-06"]
    assert june["weights"] == {"drug_trafficking": 1.0}
    assert june["dropped"] == ["pas_drug_problem"]
    fy = tables.periods.set_index("period").loc["FY2023/24"]
    assert fy["weights"] == pytest.approx({"drug_trafficking": 2 / 3, "pas_drug_problem": 1 / 3})
    assert bool(fy["synthetic"]) is True and bool(june["synthetic"]) is False   # the PAS rows are synthetic


def test_a_fall_on_few_events_is_not_called_a_fall_but_londons_is(tables):
    # A: 2 in Apr-Jun, 0 in Jul-Sep: p = 2 * P(X <= 0 | 2, 1/2) = 0.5 -> no change
    a = indicator_row(tables, "2023-Q3", "A", "drug_trafficking")
    assert a["prev_value"] == 2 and a["prev_p"] == pytest.approx(0.5) and a["prev_trend"] == "no_change"
    # London: 16 -> 0: p = 2 * 0.5**16
    london = tables.area_indicator.query("period == '2023-Q3' and level == 'london' and indicator == 'drug_trafficking'")
    assert london["prev_value"].item() == 16
    assert london["prev_p"].item() == pytest.approx(2 * 0.5**16) and london["prev_trend"].item() == "down"
    # a year before is outside the data: not tested
    assert a["yoy_trend"] == "not_tested"


def test_tied_scores_share_a_rank_and_a_decile():
    inputs, config = world({"drug_trafficking": 1.0})
    t = build_index(inputs, config, np.random.default_rng(3))
    fy = t.ward_index[t.ward_index["period"] == "FY2023/24"].set_index("ward_code")
    # rates A 4; B, E, F 2 (tied); C 1; D 0  -> ranks 1, 2, 2, 2, 5, 6 ("1224" ranking)
    assert fy.loc[["A", "B", "E", "F", "C", "D"], "rank_london"].tolist() == [1, 2, 2, 2, 5, 6]
    assert fy.loc[["A", "B", "C", "D"], "decile_london"].tolist() == [2, 4, 9, 10]   # ceil(10 r / 6)
    # within B2 (D, E, F ranked; Z has no residents): E and F tie first, D third
    assert fy.loc[["E", "F", "D"], "rank_borough"].tolist() == [1, 1, 3]


def test_pas_targets_use_the_pooled_baseline_year(tables):
    london = tables.targets.query("level == 'london' and target == 'pas_drug_problem'").iloc[0]
    assert london["baseline_period"] == "FY2023/24"
    assert london["baseline"] == pytest.approx((10 + 30 + 8 + 12 + 4) / (20 + 40 + 40 + 20 + 20) * 100)
    assert london["target_value"] == pytest.approx(london["baseline"] - 3)   # "a problem": better is down
    assert set(tables.targets["target"]) == {"pas_drug_problem"}   # no networks or seizures loaded: no target


def test_robustness_is_published_for_each_weight_moved_both_ways(tables):
    fy = tables.robustness[tables.robustness["period"] == "FY2023/24"]
    assert sorted(zip(fy["indicator"], fy["factor"])) == [
        ("drug_trafficking", 0.8), ("drug_trafficking", 1.2), ("pas_drug_problem", 0.8), ("pas_drug_problem", 1.2)]
    assert fy["spearman"].between(-1, 1).all()


def test_same_seed_same_hotspots():
    inputs, config = world()
    a = build_index(inputs, config, np.random.default_rng(9)).ward_index
    b = build_index(inputs, config, np.random.default_rng(9)).ward_index
    pd.testing.assert_frame_equal(a, b)
