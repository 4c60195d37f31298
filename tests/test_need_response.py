"""Need, response and confidence: police activity is never counted as harm by default, it is shown against
need with its uncertainty, and the diagnostic view says what moved together and never why.

Small worlds built by hand, as in test_harm.py; expected figures are worked out beside each assertion."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from harmmap import diagnostics, hotspots, periods
from harmmap.harm import IndexConfig, IndexInputs, build_index
from harmmap.indicators import ACTIVITY, BY_SLUG, DEFAULT_WEIGHTS, INDICATORS, response_weighted
from harmmap.published import response_note
from harmmap.scoring import WorstRule, worst_affected

MONTHS = [periods.add_months(date(2024, 4, 1), i) for i in range(12)]
#: 12 wards in two boroughs on a 4 x 3 grid: (borough, population)
WARDS = {f"W{i:02d}": ("B1" if i < 6 else "B2", 1000 + 100 * i) for i in range(12)}
#: Recorded trafficking per ward and month (need); W11 has almost none.
TRAFFICKING = {f"W{i:02d}": 1 + (i * 7) % 5 for i in range(12)} | {"W11": 0}
#: Police activity per ward and month, its own pattern (not proportional to need): W11 gets the most.
CLOSURES = {f"W{i:02d}": (i * 3) % 4 for i in range(12)} | {"W11": 9}


def _row(indicator: str, ward: str, month: date, value: float) -> dict:
    return {"indicator": indicator, "month": month, "borough_code": WARDS[ward][0], "ward_code": ward,
            "value": value, "synthetic": True}


def world(scale_response: float = 1.0, weights: dict[str, float] | None = None,
          scaled_wards: set[str] | None = None) -> tuple[IndexInputs, IndexConfig]:
    """``scale_response`` multiplies the police activity of ``scaled_wards`` (default: every ward)."""
    codes = list(WARDS)
    wards = pd.DataFrame({"borough_code": [WARDS[c][0] for c in codes], "population": [WARDS[c][1] for c in codes],
                          "in_area": True}, index=pd.Index(codes, name="ward_code"))
    geoms = [shapely.box((i % 4) * 1000, (i // 4) * 1000, (i % 4) * 1000 + 1000, (i // 4) * 1000 + 1000)
             for i in range(12)]
    rows = []
    for m in MONTHS:
        for w in codes:
            rows.append(_row("drug_trafficking", w, m, TRAFFICKING[w]))
            rows.append(_row("drug_possession", w, m, 2 * TRAFFICKING[w] + 1))
            factor = scale_response if scaled_wards is None or w in scaled_wards else 1.0
            for slug in ("crack_house_closures", "network_disruptions", "drug_searches"):
                rows.append(_row(slug, w, m, CLOSURES[w] * factor))
    pas = pd.DataFrame([{"period_type": "quarter", "period_end": m, "geography_level": "ward", "geography_code": w,
                         "borough_code": WARDS[w][0], "measure": measure, "respondents": 40,
                         "agree_count": 10 + (int(w[1:]) * 3) % 20, "synthetic": True}
                        for m in MONTHS[2::3] for w in codes for measure in ("drug_problem", "tackle_dealing")])
    inputs = IndexInputs(
        wards=wards, contiguity=hotspots.queen_contiguity(codes, geoms), monthly=pd.DataFrame(rows), pas=pas,
        networks=pd.DataFrame(columns=["month", "borough_code", "network_ref", "synthetic"]),
        seizures=pd.DataFrame(columns=["month", "borough_code", "value_gbp", "synthetic"]))
    config = IndexConfig(weights=weights or DEFAULT_WEIGHTS, baseline=periods.parse("FY2024/25"), permutations=99)
    return inputs, config


def test_the_default_index_is_built_from_need_only():
    assert {BY_SLUG[k].family for k in DEFAULT_WEIGHTS} == {"need"}
    assert set(DEFAULT_WEIGHTS) == {"drug_trafficking", "drug_possession", "pas_drug_problem"}
    assert response_weighted(DEFAULT_WEIGHTS) == [] and response_note(DEFAULT_WEIGHTS) is None
    assert {i.family for i in INDICATORS} == {"need", "response", "confidence"}
    assert BY_SLUG["drug_possession"].caveat and "stop and search" in BY_SLUG["drug_possession"].caveat
    assert BY_SLUG["pas_drug_problem"].also == "confidence"   # read as an outcome too, and said so


def test_doubling_every_response_count_changes_no_default_score_or_rank():
    base = build_index(*world(), np.random.default_rng(1)).ward_index
    doubled = build_index(*world(scale_response=2.0), np.random.default_rng(1)).ward_index
    cols = ["period", "ward_code", "score", "rank_london", "decile_london", "rank_borough", "decile_borough"]
    pd.testing.assert_frame_equal(base[cols], doubled[cols])
    # An operation doubles activity in a third of the wards: still no default score moves ...
    op = {"W00", "W03", "W06", "W09"}
    targeted = build_index(*world(scale_response=2.0, scaled_wards=op), np.random.default_rng(1)).ward_index
    pd.testing.assert_frame_equal(base[cols], targeted[cols])
    # ... and the same check can fail: with closures weighted in, those wards' scores move
    weighted = {**DEFAULT_WEIGHTS, "crack_house_closures": 0.3}
    a = build_index(*world(weights=weighted), np.random.default_rng(1)).ward_index
    b = build_index(*world(scale_response=2.0, weights=weighted, scaled_wards=op), np.random.default_rng(1)).ward_index
    assert not np.allclose(a["score"].to_numpy(float), b["score"].to_numpy(float), equal_nan=True)


def test_a_ward_with_high_response_and_low_need_is_not_in_the_default_worst_list():
    tables = build_index(*world(), np.random.default_rng(1))
    fy = tables.ward_index[tables.ward_index["period"] == "FY2024/25"]
    worst = worst_affected(fy, WorstRule("top_n", 3))
    assert "W11" not in set(worst["ward_code"])
    default_rank = fy.set_index("ward_code").loc["W11", "rank_london"]
    # weighted by activity, the same ward climbs into the worst three: the feedback loop the default avoids
    weighted = build_index(*world(weights={**DEFAULT_WEIGHTS, "crack_house_closures": 1.0}),
                           np.random.default_rng(1)).ward_index
    fy_w = weighted[weighted["period"] == "FY2024/25"]
    assert fy_w.set_index("ward_code").loc["W11", "rank_london"] < default_rank
    assert "W11" in set(worst_affected(fy_w, WorstRule("top_n", 3))["ward_code"])
    assert response_note({**DEFAULT_WEIGHTS, "crack_house_closures": 1.0}).startswith(
        "This index includes police activity (Crack house closures)")


def test_activity_per_100_trafficking_offences_with_its_exact_interval():
    tables = build_index(*world(), np.random.default_rng(1))
    r = tables.response
    fy = r[(r["period"] == "FY2024/25")].set_index(["level", "area_code"])
    # W01: trafficking 1 + 7 % 5 = 3 a month -> 36; activity (3 % 4 = 3) x 3 indicators x 12 = 108
    w01 = fy.loc[("ward", "W01")]
    assert (w01["activity"], w01["trafficking"]) == (108, 36)
    assert w01["per_100"] == pytest.approx(300.0)
    # Clopper-Pearson for 108 of 144, mapped to 100 p / (1 - p)
    lo_p, hi_p = stats.beta.ppf(0.025, 108, 37), stats.beta.ppf(0.975, 109, 36)
    assert w01["per_100_lo"] == pytest.approx(100 * lo_p / (1 - lo_p))
    assert w01["per_100_hi"] == pytest.approx(100 * hi_p / (1 - hi_p))
    # W11: no trafficking recorded: no rate, and London's comparison says so rather than inventing one
    w11 = fy.loc[("ward", "W11")]
    assert np.isnan(w11["per_100"]) and w11["trafficking"] == 0
    london = fy.loc[("london", "london")]
    assert london["activity"] == sum(3 * 12 * c for c in CLOSURES.values())
    assert london["trafficking"] == sum(12 * t for t in TRAFFICKING.values())
    assert set(tables.periods.set_index("period").loc["FY2024/25", "activity"]) == {
        "crack_house_closures", "network_disruptions", "drug_searches"}
    assert set(ACTIVITY) >= {"crack_house_closures", "network_disruptions", "drug_searches"}


def test_need_by_response_quadrants_are_never_claimed_on_noise():
    tables = build_index(*world(), np.random.default_rng(1))
    r = tables.response
    wards = r[(r["period"] == "FY2024/25") & (r["level"] == "ward")].set_index("area_code")
    ranks = tables.ward_index[tables.ward_index["period"] == "FY2024/25"].set_index("ward_code")
    for code, row in wards.iterrows():
        decile = ranks.loc[code, "decile_london"]
        assert row["need_level"] == ("high" if decile <= 3 else "low" if decile >= 8 else "middle")
        if row["quadrant"] == "tasking_candidate":
            assert row["need_level"] == "high" and row["per_100_hi"] < wards["per_100"].pipe(lambda _: r[
                (r["period"] == "FY2024/25") & (r["level"] == "london")]["per_100"].iloc[0])
        if row["vs_london"] in ("similar", "too_few"):
            assert row["quadrant"] == "no_signal"
    assert wards.loc["W11", "quadrant"] in ("possible_over_attention", "no_signal")


# --- the diagnostic view -----------------------------------------------------------------------------

def hand_built_borough() -> tuple[list[diagnostics.Change], dict[str, diagnostics.Change]]:
    """A borough whose confidence fell 4 points on 1,600 respondents a year (design effect 1.5); crack house
    closures fell from 9 to 2, network disruptions rose from 12 to 13; trafficking rose 19%, as London's did."""
    changes = [
        diagnostics.pas_change("pas_tackle_dealing", 992, 1600, 928, 1600, design_effect=1.0),
        diagnostics.pas_change("pas_drug_problem", 480, 1600, 480, 1600, design_effect=1.0),
        diagnostics.count_change("crack_house_closures", 9, 2),
        diagnostics.count_change("network_disruptions", 12, 13),
        diagnostics.count_change("drug_trafficking", 400, 476),
    ]
    london = {"drug_trafficking": diagnostics.count_change("drug_trafficking", 17000, 20230)}
    return changes, london


def test_the_diagnostic_summary_on_a_hand_built_borough_says_exactly_what_moved():
    changes, london = hand_built_borough()
    tackle = changes[0]
    # 62% -> 58%: -4 points; Newcombe interval excludes 0; pooled z = -0.04 / sqrt(.6 * .4 * 2 / 1600) = -2.309
    assert tackle.change == pytest.approx(-4.0)
    assert tackle.p == pytest.approx(2 * stats.norm.sf(0.04 / np.sqrt(0.6 * 0.4 * 2 / 1600)))
    assert tackle.significant and tackle.hi < 0
    # 9 -> 2 closures: exact test, X ~ Bin(11, 1/2): p = 2 P(X <= 2) = 2 * 67 / 2048 = 0.0654
    assert changes[2].p == pytest.approx(2 * 67 / 2048) and not changes[2].significant
    text = diagnostics.summarise("Lambeth", "FY2025/26 against FY2024/25", changes, london)
    assert text == (
        "In Lambeth, FY2025/26 against FY2024/25, confidence that the police tackle drug dealing fell 4.0 points, "
        "from 62.0% to 58.0% (significant); the share saying drug use or dealing is a problem did not change "
        "(30.0%). Over the same months crack house closures fell from 9 to 2 and drug network disruptions rose "
        "from 12 to 13 (none of these significant); drug trafficking offences rose 19%, as London's did (rose 19%). "
        "These moved together; the figures do not say why.")
    assert "because" not in text and "caused" not in text


def test_the_design_effect_widens_the_interval_and_can_take_significance_away():
    plain = diagnostics.pas_change("pas_tackle_dealing", 992, 1600, 928, 1600, design_effect=1.0)
    survey = diagnostics.pas_change("pas_tackle_dealing", 992, 1600, 928, 1600, design_effect=1.5)
    assert survey.hi - survey.lo > plain.hi - plain.lo
    assert plain.significant and not survey.significant   # z = 2.309 / sqrt(1.5) = 1.885


def test_small_counts_read_as_the_reader_may_see_them():
    changes = [diagnostics.count_change("crack_house_closures", 3, 1)]
    text = diagnostics.summarise("Ward", "2025 against 2024", changes,
                                 show=lambda x: "fewer than 5" if 1 <= x < 5 else f"{x:,.0f}")
    assert "crack house closures fewer than 5 in both periods" in text and " 3 " not in text
    assert "fell" not in text.split("Over the same months")[1].split(".")[0]   # not even the direction
