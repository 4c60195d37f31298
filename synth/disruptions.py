"""Synthetic drug network disruptions (``disruptions.geojson``): one feature per disruption, with one to
three locations given as ward codes, lon/lat or easting/northing lists, or a (Multi)Point geometry
(docs/synthetic-data.md, "Network disruptions")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from synth import files
from synth.common import (OUTSIDE_LONDON_LONLAT, UNKNOWN_WARD, VINTAGE, Calibration, Geography, Points, Source,
                          Table, WardPicker, add_months, bad_row_count, choose_defects, defect_date, draw_shares,
                          merge_bad, probabilities, random_dates)
from synth.intensity import response_weights

PROPERTIES = ["source_id", "date", "network_ref", "level", "grading", "ward_code", "ward_vintage", "lon", "lat",
              "easting", "northing", "synthetic"]
DEFECTS = ("missing_source_id", "duplicate_source_id", "missing_network_ref", "unknown_level", "unknown_grading",
           "date_in_future", "date_before_2000", "unknown_ward_code", "point_outside_london", "lonlat_swapped",
           "bng_as_lonlat", "unequal_location_lists")

LEVEL_ORDER = ("local", "cross_borough", "county_lines", "international")
GRADES = ("major", "moderate", "minor")


def _disruption_wards(rng: np.random.Generator, level: str, home: str, n: int, picker: WardPicker) -> list[str]:
    """``n`` distinct wards: the network's home first, then by level (same borough for local, other
    boroughs for cross-borough, anywhere for county lines and international), weighted by ``picker``'s
    weights (residents × policing intensity)."""
    chosen = [home]
    home_borough = picker.borough_of[home]
    for _ in range(n - 1):
        if level == "local":
            found = picker.pick(rng, borough=home_borough, exclude=chosen)
        elif level == "cross_borough":
            found = picker.pick(rng, not_borough=home_borough, exclude=chosen)
        else:
            found = picker.pick(rng, exclude=chosen)
        if found is None:
            break
        chosen.append(found)
    return chosen


def _join(values: Sequence[Any]) -> str:
    return ";".join(str(v) for v in values)


def table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
          cal: Calibration = Calibration()) -> Table:
    """Disruptions of recurring networks (about ``disruptions_per_network`` each), levels, gradings and
    numbers of locations in the calibrated mix, placed where the police act (residents × policing intensity)."""
    wards, end, years = geo.wards, add_months(start, months), months / 12
    points = Points(wards, rng, cal.point_margin_m)
    picker = WardPicker(wards, response_weights(wards))
    counts = {level: int(rng.poisson(cal.disruptions_per_year[level] * years)) for level in LEVEL_ORDER}
    n_networks = {level: max(1, math.ceil(counts[level] / cal.disruptions_per_network)) for level in LEVEL_ORDER}
    numbers = iter(rng.permutation(sum(n_networks.values())) + 1)
    events = []
    for level in LEVEL_ORDER:
        refs = [f"NET-{next(numbers):04d}" for _ in range(n_networks[level])]
        homes = [picker.pick(rng) for _ in refs]
        which = rng.integers(0, len(refs), size=counts[level])
        sizes = rng.choice(3, size=counts[level], p=probabilities(cal.location_counts[level])) + 1
        grades = rng.choice(3, size=counts[level], p=probabilities(cal.gradings[level]))
        for d, w, k, g in zip(random_dates(rng, counts[level], start, end), which, sizes, grades, strict=True):
            located = _disruption_wards(rng, level, homes[w], int(k), picker)
            events.append((d, refs[w], level, GRADES[g], located))
    events.sort(key=lambda e: (e[0], e[1]))
    hows = draw_shares(rng, cal.disruption_locations, len(events))
    good = []
    for i, ((d, ref, level, grade, located), how) in enumerate(zip(events, hows, strict=True)):
        props: dict[str, Any] = {"source_id": f"SYN-DR-{i + 1:06d}", "date": d.isoformat(), "network_ref": ref,
                                 "level": level, "grading": grade}
        geometry = None
        if how == "ward":
            props.update(ward_code=_join(located), ward_vintage=VINTAGE)
        else:
            pts = [points.in_ward(w) for w in located]
            if how == "geometry":
                geometry = _point_geometry([(p["lon"], p["lat"]) for p in pts])
            elif how == "lonlat":
                props.update(lon=_join(p["lon"] for p in pts), lat=_join(p["lat"] for p in pts))
            else:
                props.update(easting=_join(p["easting"] for p in pts), northing=_join(p["northing"] for p in pts))
        good.append(_feature(props, geometry))
    bad = []
    for j, defect in enumerate(choose_defects(rng, DEFECTS, bad_row_count(len(good), bad_share))):
        of = int(rng.integers(len(good)))
        template = good[of]["properties"]
        props = {k: template.get(k) for k in ("network_ref", "level", "grading")}
        props.update(source_id=f"SYN-DR-X{j + 1:05d}", date=random_dates(rng, 1, start, end)[0].isoformat())
        geometry, copied = None, None
        home = picker.pick(rng)
        located = _disruption_wards(rng, "county_lines", home, int(rng.integers(1, 4)), picker)
        pts = [points.in_ward(w) for w in located]
        props.update(ward_code=_join(located), ward_vintage=VINTAGE)  # a good location unless changed below
        if defect == "missing_source_id":
            props["source_id"] = None
        elif defect == "duplicate_source_id":
            props["source_id"], copied = template["source_id"], of
        elif defect == "missing_network_ref":
            props["network_ref"] = None
        elif defect == "unknown_level":
            props["level"] = ("regional", "national")[int(rng.integers(2))]
        elif defect == "unknown_grading":
            props["grading"] = ("severe", "critical")[int(rng.integers(2))]
        elif defect.startswith("date_"):
            props["date"] = defect_date(rng, defect).isoformat()
        elif defect == "unknown_ward_code":
            codes = [*located[:2], UNKNOWN_WARD]
            props["ward_code"] = _join(codes[i] for i in rng.permutation(len(codes)))
        else:
            props["ward_code"] = props["ward_vintage"] = None
            if defect == "point_outside_london":
                outside = list(OUTSIDE_LONDON_LONLAT.values())[int(rng.integers(len(OUTSIDE_LONDON_LONLAT)))]
                coords = [(p["lon"], p["lat"]) for p in pts[:2]] + [outside]
                geometry = _point_geometry(coords)
            elif defect == "lonlat_swapped":
                props.update(lon=_join(p["lat"] for p in pts), lat=_join(p["lon"] for p in pts))
            elif defect == "bng_as_lonlat":
                props.update(lon=_join(p["easting"] for p in pts), lat=_join(p["northing"] for p in pts))
            elif defect == "unequal_location_lists":
                extra = points.in_ward(home)
                props.update(easting=_join([p["easting"] for p in pts] + [extra["easting"]]),
                             northing=_join(p["northing"] for p in pts))
            else:
                raise ValueError(defect)
        bad.append((_feature(props, geometry), defect, copied))
    return merge_bad(rng, "disruptions", PROPERTIES, good, bad)


def _point_geometry(coords: Sequence[tuple[float, float]]) -> dict[str, Any]:
    if len(coords) == 1:
        return {"type": "Point", "coordinates": list(coords[0])}
    return {"type": "MultiPoint", "coordinates": [list(c) for c in coords]}


def _feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    full = {k: props.get(k) for k in PROPERTIES}
    full["synthetic"] = True
    return {"type": "Feature", "properties": full, "geometry": geometry}


def form(row: dict[str, Any]) -> tuple[Any, ...]:
    """The geometry's type, and which location properties a feature fills."""
    geometry = row["geometry"]["type"] if row["geometry"] else None
    return (geometry, *(row["properties"].get(c) is None for c in ("ward_code", "lon", "easting")))


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["properties"]["source_id"],)


SOURCE = Source("disruptions", "disruptions.geojson", DEFECTS, ("unequal_location_lists", "point_outside_london"),
                table, files.write_geojson, form, key)
