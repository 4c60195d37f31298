"""Synthetic Public Attitude Survey results (``pas.csv``): ward results per quarter and borough results
over rolling 12 months, as counts or percentages of respondents (docs/synthetic-data.md, "PAS")."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth import files
from synth.common import (DEFAULT_PAS_FILE, UNKNOWN_BOROUGH, UNKNOWN_WARD, VINTAGE, Calibration, Geography, Source,
                          Table, add_months, bad_row_count, choose_defects, merge_bad, pas_true_rate,
                          quarter_ends, standardised_log_rate, years_between)

COLUMNS = ["period_type", "period_end", "geography_level", "geography_code", "ward_vintage", "measure",
           "respondents", "agree_count", "agree_pct", "synthetic"]
DEFECTS = ("respondents_below_count", "pct_over_100", "no_count_or_pct", "unknown_measure",
           "quarter_not_ending_a_quarter", "unknown_period_type", "unknown_ward_code", "unknown_borough_code",
           "respondents_zero", "duplicate_result")


@dataclass(frozen=True)
class TackleSpread:
    """How much "the police tackle drug dealing" really differs between areas, from the real 2016 PAS results
    by MPS neighbourhood: the SD of the true logit between areas (the observed spread less the survey's own
    sampling noise) and the share of it between boroughs (the rest is within them)."""

    neighbourhoods: int
    mean_pct: float
    observed_logit_sd: float
    sampling_var: float       # mean 1 / (n p (1 - p)) at n interviews a neighbourhood
    true_logit_sd: float
    between_borough_share: float


@functools.cache
def tackle_spread(path: Path = DEFAULT_PAS_FILE, interviews_per_year: float = 12_800.0) -> TackleSpread:
    """The spread of "How well do you think the police tackle drug dealing and drug use?" (% well to some
    extent: 43-77, mean 60.4 over 106 neighbourhoods in 2016). Its observed logit variance (0.084) holds the
    survey's sampling variance at about 12,800 / 106 = 121 interviews a neighbourhood (0.035 on average), which
    the synthetic results get again from their own binomial draws, so only the rest (SD 0.22 on the logit
    scale, about 5.5 points at 47.5%) is used as the true spread between areas. Boroughs are the text before
    " - " of each neighbourhood's name."""
    frame = pd.read_csv(path, header=[0, 1], encoding="utf-8-sig")
    column = next(c for c in frame.columns if "tackle drug dealing" in str(c[0]).lower())
    p = pd.to_numeric(frame[column], errors="coerce").dropna() / 100.0
    borough = frame.iloc[:, 0].astype(str).str.split(" - ").str[0].loc[p.index]
    x = np.log(p / (1 - p))
    n = interviews_per_year / len(p)
    sampling = float((1.0 / (n * p * (1 - p))).mean())
    observed = float(x.var(ddof=0))
    between = float(x.groupby(borough).mean().var(ddof=0))
    within = float((x - x.groupby(borough).transform("mean")).var(ddof=0))
    return TackleSpread(len(p), float(p.mean() * 100), observed ** 0.5, sampling,
                        max(observed - sampling, 0.0) ** 0.5, between / (between + within))


def tackle_logit_effects(z: np.ndarray, b_index: np.ndarray, n_boroughs: int, rng: np.random.Generator,
                         spread: TackleSpread, need_share: float) -> np.ndarray:
    """Each ward's departure from the base on the logit scale for "tackle dealing": lower where drug offences
    are high (``need_share`` of the variance), then a borough and a ward effect sharing the rest as the 2016
    figures share it; the total SD across wards is the real ``spread.true_logit_sd``."""
    rest = 1.0 - need_share
    u = rng.normal(0.0, 1.0, n_boroughs)[b_index]
    e = rng.normal(0.0, 1.0, len(z))
    zs = (z - z.mean()) / (z.std() or 1.0)
    return spread.true_logit_sd * (-np.sqrt(need_share) * zs + np.sqrt(rest * spread.between_borough_share) * u
                                   + np.sqrt(rest * (1 - spread.between_borough_share)) * e)


def table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
          cal: Calibration = Calibration()) -> Table:
    """Ward results per calendar quarter (about 20 interviews each; "problem" driven by the real drug offence
    rate, a borough effect and a trend, "tackle dealing" spread between areas as the real 2016 neighbourhoods
    are), and each borough's rolling 12 months pooled from them."""
    wards, end = geo.wards, add_months(start, months)
    quarters = quarter_ends(start, end)
    z = standardised_log_rate(wards["drug_offences"], wards["population"]).to_numpy()
    boroughs = geo.borough_codes
    b_index = wards["borough_code"].map({b: i for i, b in enumerate(boroughs)}).to_numpy()
    measures = {
        "drug_problem": (cal.pas_drug_problem_base, cal.pas_drug_problem_slope, cal.pas_drug_problem_trend),
        "tackle_dealing": (cal.pas_tackle_base, 0.0, cal.pas_tackle_trend)}
    # "problem": a borough effect on top of the offence rate's slope; "tackle dealing": the whole spread
    # between areas set by the real 2016 neighbourhoods (tackle_spread), as a per-ward effect
    effects = {"drug_problem": rng.normal(0, cal.pas_borough_sd, len(boroughs))[b_index],
               "tackle_dealing": tackle_logit_effects(z, b_index, len(boroughs), rng,
                                                      tackle_spread(interviews_per_year=cal.pas_interviews_per_year),
                                                      cal.pas_tackle_need_share)}
    n_w = len(wards)
    # respondents and counts, [quarter, ward]
    interviewed = np.maximum(1, rng.poisson(cal.pas_respondents_mean, (len(quarters), n_w)))
    interviewed[rng.random((len(quarters), n_w)) < cal.pas_no_interviews_share] = 0
    respondents = {"drug_problem": interviewed,
                   "tackle_dealing": interviewed - rng.binomial(interviewed, cal.pas_dont_know_tackle)}
    agree = {}
    for m, (base, slope, trend) in measures.items():
        t = np.array([years_between(start, add_months(q, -1) + timedelta(days=14)) for q in quarters])
        p = pas_true_rate(z[None, :], t[:, None], effects[m][None, :], base=base, slope=slope,
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
