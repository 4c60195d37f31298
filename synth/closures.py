"""Synthetic crack house and cannabis factory closures (``closures.csv``): one row per closure, one
location each, with a made-up address the loader must drop (docs/synthetic-data.md, "Closures")."""

from __future__ import annotations

from datetime import date

import numpy as np

from synth import files
from synth.common import (LOCATION_COLUMNS, Calibration, Geography, Points, Source, Table, WardPicker, add_months,
                          allocate, bad_row_count, bad_single_location, cannabis_factory_weights, choose_defects,
                          defect_date, draw_shares, merge_bad, random_dates, single_location, single_location_form,
                          source_id_key, written_date)
from synth.intensity import response_weights

COLUMNS = ["source_id", "closure_type", "stage", "date", *LOCATION_COLUMNS, "address", "synthetic"]
DEFECTS = ("missing_source_id", "duplicate_source_id", "unknown_closure_type", "unknown_stage", "date_in_future",
           "date_before_2000", "unknown_ward_code", "unknown_borough_code", "point_outside_london",
           "lonlat_swapped", "bng_as_lonlat", "lonlat_as_bng")
FAKE_STREETS = ("Example Street", "Sample Road", "Placeholder Lane", "Fictional Avenue", "Demo Close")
STAGE_VARIANTS = {"closure_order": ("Closure Order", "closure order"),
                  "closure_notice": ("Closure Notice", "closure notice"), "other": ("Other",)}


def table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
          cal: Calibration = Calibration()) -> Table:
    """Closures where the police act (residents × policing intensity, synth/intensity.py), not where
    trafficking is recorded; cannabis factories also twice as likely per resident in Outer London; stages,
    location forms and spellings in the calibrated mix."""
    wards, end, years = geo.wards, add_months(start, months), months / 12
    points = Points(wards, rng, cal.point_margin_m)
    events: list[tuple[date, str, str]] = []
    for closure_type, per_year, weights in (
            ("crack_house", cal.crack_house_closures_per_year, response_weights(wards)),
            ("cannabis_factory", cal.cannabis_factory_closures_per_year,
             cannabis_factory_weights(wards, cal.outer_london_multiplier) * wards["intensity"])):
        counts = rng.poisson(allocate(per_year * years, weights).to_numpy())
        for ward_code, k in zip(wards.index, counts, strict=True):
            events += [(d, closure_type, ward_code) for d in random_dates(rng, int(k), start, end)]
    events.sort()
    stages = draw_shares(rng, cal.closure_stages, len(events))
    hows = draw_shares(rng, cal.closure_locations, len(events))
    good = []
    for i, ((d, closure_type, ward_code), stage, how) in enumerate(zip(events, stages, hows, strict=True)):
        variants = STAGE_VARIANTS[stage]
        written = variants[int(rng.integers(len(variants)))] if rng.random() < cal.variant_spelling_share else stage
        good.append({"source_id": f"SYN-CL-{i + 1:06d}", "closure_type": closure_type, "stage": written,
                     "date": written_date(rng, d, cal.variant_spelling_share),
                     **single_location(rng, how, ward_code, wards.at[ward_code, "borough_code"], points),
                     "address": f"{int(rng.integers(1, 200))} {FAKE_STREETS[int(rng.integers(len(FAKE_STREETS)))]}",
                     "synthetic": True})
    bad, residents = [], WardPicker(wards, wards["population"])
    for j, defect in enumerate(choose_defects(rng, DEFECTS, bad_row_count(len(good), bad_share))):
        of = int(rng.integers(len(good)))
        row, copied = dict(good[of]), None
        row["source_id"] = f"SYN-CL-X{j + 1:05d}"
        row["date"] = random_dates(rng, 1, start, end)[0].isoformat()
        if defect == "missing_source_id":
            row["source_id"] = None
        elif defect == "duplicate_source_id":
            row["source_id"], copied = good[of]["source_id"], of
        elif defect == "unknown_closure_type":
            row["closure_type"] = ("crack_den", "cannabis_farm", "brothel")[int(rng.integers(3))]
        elif defect == "unknown_stage":
            row["stage"] = ("closure_warning", "appeal")[int(rng.integers(2))]
        elif defect.startswith("date_"):
            row["date"] = defect_date(rng, defect).isoformat()
        else:
            bad_single_location(rng, defect, row, geo, points, residents.pick(rng))
        bad.append((row, defect, copied))
    return merge_bad(rng, "closures", COLUMNS, good, bad)


SOURCE = Source("closures", "closures.csv", DEFECTS, ("unknown_ward_code", "lonlat_swapped"), table,
                files.write_csv, single_location_form, source_id_key)
