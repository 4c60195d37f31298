"""Synthetic Public Attitude Survey results (``pas.csv``): ward results per quarter and borough results
over rolling 12 months, as counts or percentages of respondents (docs/synthetic-data.md, "PAS")."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from synth import files
from synth.common import (UNKNOWN_BOROUGH, UNKNOWN_WARD, VINTAGE, Calibration, Geography, Source, Table,
                          add_months, bad_row_count, choose_defects, merge_bad, pas_true_rate, quarter_ends,
                          standardised_log_rate, years_between)

COLUMNS = ["period_type", "period_end", "geography_level", "geography_code", "ward_vintage", "measure",
           "respondents", "agree_count", "agree_pct", "synthetic"]
DEFECTS = ("respondents_below_count", "pct_over_100", "no_count_or_pct", "unknown_measure",
           "quarter_not_ending_a_quarter", "unknown_period_type", "unknown_ward_code", "unknown_borough_code",
           "respondents_zero", "duplicate_result")


def table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
          cal: Calibration = Calibration()) -> Table:
    """Ward results per calendar quarter (about 20 interviews each, agreement driven by the real drug
    offence rate, a borough effect and a trend), and each borough's rolling 12 months pooled from them."""
    wards, end = geo.wards, add_months(start, months)
    quarters = quarter_ends(start, end)
    z = standardised_log_rate(wards["drug_offences"], wards["population"]).to_numpy()
    boroughs = geo.borough_codes
    b_index = wards["borough_code"].map({b: i for i, b in enumerate(boroughs)}).to_numpy()
    measures = {
        "drug_problem": (cal.pas_drug_problem_base, cal.pas_drug_problem_slope, cal.pas_drug_problem_trend),
        "tackle_dealing": (cal.pas_tackle_base, cal.pas_tackle_slope, cal.pas_tackle_trend)}
    effects = {m: rng.normal(0, cal.pas_borough_sd, len(boroughs)) for m in measures}
    n_w = len(wards)
    # respondents and counts, [quarter, ward]
    interviewed = np.maximum(1, rng.poisson(cal.pas_respondents_mean, (len(quarters), n_w)))
    interviewed[rng.random((len(quarters), n_w)) < cal.pas_no_interviews_share] = 0
    respondents = {"drug_problem": interviewed,
                   "tackle_dealing": interviewed - rng.binomial(interviewed, cal.pas_dont_know_tackle)}
    agree = {}
    for m, (base, slope, trend) in measures.items():
        t = np.array([years_between(start, add_months(q, -1) + timedelta(days=14)) for q in quarters])
        p = pas_true_rate(z[None, :], t[:, None], effects[m][b_index][None, :], base=base, slope=slope,
                          trend_per_year=trend)
        agree[m] = rng.binomial(respondents[m], p)
    good: list[dict[str, Any]] = []

    def emit(ptype: str, q: date, level: str, code: str, m: str, r: int, a: int) -> None:
        row = {"period_type": ptype, "period_end": f"{q:%Y-%m}", "geography_level": level, "geography_code": code,
               "ward_vintage": None, "measure": m, "respondents": r, "agree_count": a, "agree_pct": None,
               "synthetic": True}
        if level == "ward" and rng.random() >= cal.pas_no_vintage_share:
            row["ward_vintage"] = VINTAGE
        if rng.random() < cal.pas_pct_share:
            row["agree_count"], row["agree_pct"] = None, round(100 * a / r, 2)
        good.append(row)

    for qi, q in enumerate(quarters):
        for wi, code in enumerate(wards.index):
            for m in measures:
                if respondents[m][qi, wi] > 0:
                    emit("quarter", q, "ward", code, m, int(respondents[m][qi, wi]), int(agree[m][qi, wi]))
        if qi >= 3:  # rolling 12 months: the borough's pooled ward samples over four whole quarters
            for bi, b in enumerate(boroughs):
                in_b = b_index == bi
                for m in measures:
                    r = int(respondents[m][qi - 3:qi + 1, in_b].sum())
                    if r > 0:
                        emit("r12", q, "borough", b, m, r, int(agree[m][qi - 3:qi + 1, in_b].sum()))
    bad = []
    for defect in choose_defects(rng, DEFECTS, bad_row_count(len(good), bad_share) if good else 0):
        of = int(rng.integers(len(good)))
        row, copied = dict(good[of]), None
        if defect == "duplicate_result":
            copied = of
            if row["agree_count"] is not None:
                row["agree_count"] = int(rng.integers(0, row["respondents"] + 1))
        else:
            # a new key (a quarter outside the file), so only the defect can put it in quarantine
            q = add_months(quarters[0], -3 * int(rng.integers(1, 8)))
            if q < date(2000, 3, 1):
                q = quarters[0]
            row["period_end"] = f"{q:%Y-%m}"
            if row["period_type"] == "r12" and defect == "quarter_not_ending_a_quarter":
                row.update(period_type="quarter", geography_level="ward", ward_vintage=VINTAGE,
                           geography_code=str(wards.index[int(rng.integers(n_w))]))
            r = row["respondents"]
            if defect == "respondents_below_count":
                row.update(agree_pct=None, agree_count=r + int(rng.integers(1, 6)))
            elif defect == "pct_over_100":
                row.update(agree_count=None, agree_pct=round(float(rng.uniform(100.5, 180)), 1))
            elif defect == "no_count_or_pct":
                row.update(agree_count=None, agree_pct=None)
            elif defect == "unknown_measure":
                row["measure"] = ("drug_use", "feel_safe", "asb_problem")[int(rng.integers(3))]
            elif defect == "quarter_not_ending_a_quarter":
                row["period_end"] = f"{add_months(q, -int(rng.integers(1, 3))):%Y-%m}"
            elif defect == "unknown_period_type":
                row["period_type"] = ("month", "r6", "year")[int(rng.integers(3))]
            elif defect == "unknown_ward_code":
                row.update(geography_level="ward", geography_code=UNKNOWN_WARD, ward_vintage=VINTAGE,
                           period_type="quarter")
            elif defect == "unknown_borough_code":
                row.update(geography_level="borough", geography_code=UNKNOWN_BOROUGH, ward_vintage=None)
            elif defect == "respondents_zero":
                row.update(respondents=0, agree_count=0, agree_pct=None)
            else:
                raise ValueError(defect)
        bad.append((row, defect, copied))
    return merge_bad(rng, "pas", COLUMNS, good, bad)


def form(row: dict[str, Any]) -> tuple[Any, ...]:
    """Period type, and whether a row gives a percentage and a ward vintage."""
    return (row["period_type"], row["agree_pct"] is None, row["ward_vintage"] is None)


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in ("period_type", "period_end", "geography_level", "geography_code", "measure"))


SOURCE = Source("pas", "pas.csv", DEFECTS, ("respondents_below_count", "pct_over_100"), table, files.write_csv,
                form, key)
