"""Synthetic asset seizures (``seizures.xlsx``): one row per seizure record, with a count and a value in
pounds (sometimes written as text, ``£12,345``), one location each (docs/synthetic-data.md, "Asset seizures")."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from synth import files
from synth.common import (LOCATION_COLUMNS, Calibration, Geography, Points, Source, Table, WardPicker, add_months,
                          bad_row_count, bad_single_location, choose_defects, defect_date, draw_shares, merge_bad,
                          probabilities, random_dates, seizure_monthly_means, single_location, single_location_form,
                          source_id_key)
from synth.intensity import response_weights

COLUMNS = ["source_id", "date", "seizure_count", "value_gbp", *LOCATION_COLUMNS, "synthetic"]
DEFECTS = ("missing_source_id", "duplicate_source_id", "date_in_future", "date_before_2000", "negative_value",
           "count_below_1", "unknown_ward_code", "unknown_borough_code", "point_outside_london", "lonlat_swapped",
           "bng_as_lonlat")


def table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
          cal: Calibration = Calibration()) -> Table:
    """Seizure records per borough and month growing from a first-year total shared by where the police act
    (residents × policing intensity), one to three seizures each with lognormal values, mostly known only by
    borough."""
    wards, end = geo.wards, add_months(start, months)
    points = Points(wards, rng, cal.point_margin_m)
    boroughs = geo.borough_codes
    ward_weights = response_weights(wards)
    borough_weights = ward_weights.groupby(wards["borough_code"]).sum()
    borough_weights = borough_weights.reindex(boroughs)
    growth = pd.Series(rng.normal(cal.seizure_growth_mean, cal.seizure_growth_sd, len(boroughs)), index=boroughs)
    month_starts = [add_months(start, k) for k in range(months)]
    mid_years = np.array([(k + 0.5) / 12 for k in range(months)])
    counts = rng.poisson(seizure_monthly_means(borough_weights, growth, cal.seizures_per_year, mid_years))
    picker = WardPicker(wards, ward_weights)
    events = []
    for bi, b in enumerate(boroughs):
        for k, m0 in enumerate(month_starts):
            m1 = min(add_months(m0, 1), end)
            events += [(d, b) for d in random_dates(rng, int(counts[bi, k]), m0, m1)]
    events.sort()
    hows = draw_shares(rng, cal.seizure_locations, len(events))
    n_seized = rng.choice(3, size=len(events), p=probabilities(cal.seizure_counts)) + 1
    good = []
    for i, ((d, b), how, k) in enumerate(zip(events, hows, n_seized, strict=True)):
        values = rng.lognormal(math.log(cal.seizure_value_median_gbp), cal.seizure_value_sigma, int(k))
        value = float(min(cal.seizure_value_cap_gbp, round(values.sum())))
        written: Any = f"£{value:,.0f}" if rng.random() < cal.seizure_text_value_share else value
        ward = picker.pick(rng, borough=b)
        good.append({"source_id": f"SYN-AS-{i + 1:06d}", "date": d, "seizure_count": int(k), "value_gbp": written,
                     **single_location(rng, how, ward, b, points), "synthetic": True})
    bad = []
    for j, defect in enumerate(choose_defects(rng, DEFECTS, bad_row_count(len(good), bad_share))):
        of = int(rng.integers(len(good)))
        row, copied = dict(good[of]), None
        row["source_id"] = f"SYN-AS-X{j + 1:05d}"
        row["date"] = random_dates(rng, 1, start, end)[0]
        if defect == "missing_source_id":
            row["source_id"] = None
        elif defect == "duplicate_source_id":
            row["source_id"], copied = good[of]["source_id"], of
        elif defect.startswith("date_"):
            row["date"] = defect_date(rng, defect)
        elif defect == "negative_value":
            row["value_gbp"] = -float(round(rng.lognormal(math.log(cal.seizure_value_median_gbp), 1.0)))
        elif defect == "count_below_1":
            row["seizure_count"] = 0
        else:
            bad_single_location(rng, defect, row, geo, points, picker.pick(rng))
        bad.append((row, defect, copied))
    return merge_bad(rng, "seizures", COLUMNS, good, bad)


SOURCE = Source("seizures", "seizures.xlsx", DEFECTS, ("negative_value", "duplicate_source_id"), table,
                files.write_xlsx, single_location_form, source_id_key)
