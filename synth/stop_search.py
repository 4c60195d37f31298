"""Synthetic stop and search (``stop_search_synthetic.csv``) in police.uk's own monthly format, so the demo
shows the response indicator ``drug_searches`` (docs/synthetic-data.md, "Stop and search").

police.uk's header cannot hold a ``synthetic`` column, so the file is labelled the two ways it can be: every
row names its policing operation ``SYNTHETIC`` (which the loader reads as synthetic), and a sidecar
``_stop_search_synthetic.SYNTHETIC.txt`` beside it says so in words.

Each search takes its type, person (gender, age range, self- and officer-defined ethnicity), legislation,
object, outcome and whether it has a location from a random row of the **real** Metropolitan Police file for
June 2016 (resampled whole, so the combinations are real ones); the number of searches is that month's per
resident of the geography, Poisson each month; where a located search happens is drawn from the policing
intensity (residents × intensity, synth/intensity.py), not from harm; its time is uniform over the month
in London. "Outcome linked to object of search" is blank throughout the real file, so it is an assumption
here (:attr:`Calibration.search_outcome_linked_share`). The statements this makes about people are the real
file's, London-wide: they say nothing about any ward or borough's population.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from synth.common import (DEFAULT_SEARCH_FILE, OUTSIDE_LONDON_LONLAT, Calibration, FrameTable, Geography, Source,
                          Table, add_months, bad_row_count, choose_defects, defect_date, sample_points)
from synth.intensity import response_weights

#: police.uk's header, exactly (the synth package never imports the loader: this is the contract's text).
HEADER = ["Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude", "Gender",
          "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation", "Object of search",
          "Outcome", "Outcome linked to object of search", "Removal of more than just outer clothing"]
#: What each row's "Policing operation" says: the loader marks such rows synthetic.
SYNTHETIC_OPERATION = "SYNTHETIC"
FILE_NAME = "stop_search_synthetic.csv"
#: Taken whole from a random row of the real file.
FROM_REAL = ["Type", "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
             "Object of search", "Outcome"]
DEFECTS = ("date_in_future", "date_before_2000", "point_outside_london", "lonlat_swapped",
           "latitude_without_longitude", "unknown_search_type", "outcome_linked_not_true_or_false",
           "synthetic_id_in_real_format")
LONDON_TZ = "Europe/London"
_TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


@functools.cache
def real_month(path: Path = DEFAULT_SEARCH_FILE) -> pd.DataFrame:
    """The real police.uk month, as text, with whether each search has a location (``located``)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in HEADER if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name}: not a police.uk stop and search file (missing {', '.join(missing)})")
    frame["located"] = (frame["Latitude"].str.strip() != "") & (frame["Longitude"].str.strip() != "")
    return frame


def utc_text(instants: pd.DatetimeIndex) -> np.ndarray:
    """UTC instants as police.uk writes them: ``2016-05-31T23:01:00+00:00``."""
    return np.asarray(instants.strftime("%Y-%m-%dT%H:%M:%S+00:00"), dtype=object)


def month_instants(rng: np.random.Generator, n: int, month: date) -> pd.DatetimeIndex:
    """``n`` instants uniform over a calendar month in London (so the month's first hour in summer is the
    previous day in UTC, as in police.uk's own files), to the minute, in time order, as UTC."""
    first = pd.Timestamp(month).tz_localize(LONDON_TZ).tz_convert("UTC")
    last = pd.Timestamp(add_months(month, 1)).tz_localize(LONDON_TZ).tz_convert("UTC")
    minutes = np.sort(rng.integers(0, int((last - first).total_seconds() // 60), n))
    return first + pd.to_timedelta(minutes, unit="min")


def linked(rng: np.random.Generator, outcome: np.ndarray, share: float) -> np.ndarray:
    """"Outcome linked to object of search": False when nothing was found, else True with chance ``share``."""
    nothing = np.char.startswith(outcome.astype(str), "Nothing found") | np.char.startswith(
        outcome.astype(str), "A no further action")
    return np.where(~nothing & (rng.random(len(outcome)) < share), "True", "False").astype(object)


def table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
          cal: Calibration = Calibration()) -> FrameTable:
    """Every month's searches at the real June 2016 rate per resident, located where the police act."""
    wards = geo.wards
    real = real_month()
    columns = {c: real[c].to_numpy(dtype=object) for c in FROM_REAL}
    per_month = len(real) * float(wards["population"].sum()) / cal.search_reference_residents
    weights = response_weights(wards).to_numpy(float)
    counts = rng.poisson(per_month, months)
    n = int(counts.sum())
    pick = rng.integers(0, len(real), n)
    when = [month_instants(rng, int(k), add_months(start, m)) for m, k in enumerate(counts)]
    located = real["located"].to_numpy(bool)[pick]
    ward = rng.choice(len(wards), size=n, p=weights / weights.sum())
    lat = np.full(n, "", dtype=object)
    lon = np.full(n, "", dtype=object)
    for w in np.unique(ward[located]):  # all of a ward's points at once
        rows = np.flatnonzero(located & (ward == w))
        pts = sample_points(wards["geom"].iat[int(w)], len(rows), rng, cal.point_margin_m)
        x, y = _TO_WGS84.transform(pts[:, 0], pts[:, 1])
        lon[rows], lat[rows] = np.char.mod("%.6f", x), np.char.mod("%.6f", y)
    good = pd.DataFrame({c: columns[c][pick] for c in FROM_REAL})
    good["Date"] = np.concatenate([utc_text(t) for t in when]) if n else np.array([], dtype=object)
    good["Part of a policing operation"] = ""
    good["Policing operation"] = SYNTHETIC_OPERATION
    good["Latitude"], good["Longitude"] = lat, lon
    good["Outcome linked to object of search"] = linked(rng, columns["Outcome"][pick], cal.search_outcome_linked_share)
    good["Removal of more than just outer clothing"] = ""
    good = good[HEADER]
    cells = {c: good[c].to_numpy(dtype=object) for c in HEADER}
    with_point = np.flatnonzero(located)
    bad = [_bad_row(rng, cells, with_point, defect) for defect in
           choose_defects(rng, DEFECTS, bad_row_count(n, bad_share) if n else 0)]
    return _merge(rng, good, bad)


def _bad_row(rng: np.random.Generator, cells: dict[str, np.ndarray], with_point: np.ndarray,
             defect: str) -> tuple[dict[str, Any], str]:
    """A copy of a random good row with exactly one defect the contract quarantines. A London point for a
    location defect is a located good row's."""
    n = len(cells["Type"])
    i = int(rng.integers(n))
    row = {c: v[i] for c, v in cells.items()}

    def london_point() -> tuple[str, str]:
        j = int(with_point[int(rng.integers(len(with_point)))])
        return cells["Latitude"][j], cells["Longitude"][j]

    if defect in ("date_in_future", "date_before_2000"):
        row["Date"] = f"{defect_date(rng, defect).isoformat()}T12:00:00+00:00"
    elif defect == "point_outside_london":
        lon, lat = list(OUTSIDE_LONDON_LONLAT.values())[int(rng.integers(len(OUTSIDE_LONDON_LONLAT)))]
        jitter = rng.uniform(-0.01, 0.01, 2)
        row["Latitude"], row["Longitude"] = f"{lat + jitter[1]:.6f}", f"{lon + jitter[0]:.6f}"
    elif defect == "lonlat_swapped":
        lat, lon = london_point()
        row["Latitude"], row["Longitude"] = lon, lat
    elif defect == "latitude_without_longitude":
        row["Latitude"], row["Longitude"] = london_point()[0], ""
    elif defect == "unknown_search_type":
        row["Type"] = ("Foot search", "Premises search")[int(rng.integers(2))]
    elif defect == "outcome_linked_not_true_or_false":
        row["Outcome linked to object of search"] = ("Yes", "N/A")[int(rng.integers(2))]
    elif defect == "synthetic_id_in_real_format":
        row["Policing operation"] = f"SYN-OP-{int(rng.integers(1, 10_000)):04d}"
    else:
        raise ValueError(defect)
    return row, defect


def _merge(rng: np.random.Generator, good: pd.DataFrame, bad: list[tuple[dict[str, Any], str]]) -> FrameTable:
    """Bad rows at random places among the good (as common.merge_bad does for small kinds)."""
    keys = np.concatenate([np.arange(len(good), dtype=float),
                           rng.uniform(-0.5, max(len(good) - 0.5, 0.0), len(bad))])
    order = np.argsort(keys, kind="stable")
    both = pd.concat([good, pd.DataFrame([r for r, _ in bad], columns=HEADER)], ignore_index=True)
    frame = both.iloc[order].reset_index(drop=True)
    expected = {pos: bad[i - len(good)][1] for pos, i in enumerate(order) if i >= len(good)}
    return FrameTable("stop_search", list(HEADER), frame, expected)


def label_path(path: Path) -> Path:
    """The sidecar that says the file is synthetic (named with ``_`` so ``harmmap etl run-all`` skips it)."""
    return path.parent / f"_{path.stem}.SYNTHETIC.txt"


LABEL = ("SYNTHETIC DATA. Every row of {name} is made up by HarmMap's synthetic data generator "
         "(harmmap synth): no search in it happened. It is written in police.uk's own stop and search format, "
         "whose header has no synthetic column, so every row names its policing operation SYNTHETIC, which the "
         "loader reads as synthetic. The people's details (type, gender, age range, ethnicity, legislation, "
         "object, outcome) are resampled whole from the real Metropolitan Police file for June 2016 "
         "(police.uk, Open Government Licence v3.0); places and times are synthetic. "
         "See docs/synthetic-data.md.\n")


def write(table: Table | FrameTable, path: Path) -> None:
    """The CSV as police.uk writes it (UTF-8, header, ``\\n``), and its SYNTHETIC label beside it."""
    frame = table.frame if isinstance(table, FrameTable) else pd.DataFrame(table.rows, columns=table.columns)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    label_path(path).write_text(LABEL.format(name=path.name), encoding="utf-8")


def form(row: dict[str, Any]) -> tuple[Any, ...]:
    """Whether a search is for drugs and has a location."""
    return (row["Object of search"] == "Controlled drugs", bool(row["Latitude"]))


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in ("Date", "Latitude", "Longitude"))


SOURCE = Source("stop_search", FILE_NAME, DEFECTS, ("point_outside_london", "latitude_without_longitude"), table,
                write, form, key)
