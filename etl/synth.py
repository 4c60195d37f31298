"""Synthetic demo files for the four source kinds no public source gives: premises closures, network
disruptions, ward-level PAS results and asset seizures. Every row says ``synthetic`` = true.

The files follow docs/data-contracts.md exactly, so ``harmmap etl run-all DIR`` loads them like any
analyst's file. The numbers are calibrated on real facts (ward populations from ``geo.ward`` 2022 and the
MPS ward-level drug offence counts), and every figure and its basis is in docs/synthetic-data.md and in
:class:`Calibration`. A few percent of rows in each file are deliberately bad, each with one defect the
contract quarantines; ``_expected_quarantine_<kind>.csv`` beside the files says which line and why
(names starting with ``_`` are skipped by ``run-all``).

All randomness comes from one ``np.random.Generator`` passed down, so a seed gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from pyproj import Transformer

from harmmap.config import REPO_ROOT

DEFAULT_CRIME_FILE = REPO_ROOT / "geodata" / "crime" / "mps_ward_level_crime_2024-03_to_2026-03.csv"
FILE_NAMES = {"closures": "closures.csv", "disruptions": "disruptions.geojson", "pas": "pas.csv",
              "seizures": "seizures.xlsx"}
KINDS = tuple(FILE_NAMES)
VINTAGE = 2022

#: ONS statistical "Inner London" (13 boroughs and the City); every other borough is Outer London.
#: (The London Government Act 1963 list differs: Greenwich in, Haringey and Newham out.)
INNER_LONDON = frozenset({
    "E09000001",  # City of London
    "E09000007",  # Camden
    "E09000012",  # Hackney
    "E09000013",  # Hammersmith and Fulham
    "E09000014",  # Haringey
    "E09000019",  # Islington
    "E09000020",  # Kensington and Chelsea
    "E09000022",  # Lambeth
    "E09000023",  # Lewisham
    "E09000025",  # Newham
    "E09000028",  # Southwark
    "E09000030",  # Tower Hamlets
    "E09000032",  # Wandsworth
    "E09000033",  # Westminster
})

LOCATION_COLUMNS = ["ward_code", "ward_vintage", "lon", "lat", "easting", "northing", "borough_code"]
CLOSURE_COLUMNS = ["source_id", "closure_type", "stage", "date", *LOCATION_COLUMNS, "address", "synthetic"]
DISRUPTION_PROPERTIES = ["source_id", "date", "network_ref", "level", "grading", "ward_code", "ward_vintage",
                         "lon", "lat", "easting", "northing", "synthetic"]
PAS_COLUMNS = ["period_type", "period_end", "geography_level", "geography_code", "ward_vintage", "measure",
               "respondents", "agree_count", "agree_pct", "synthetic"]
SEIZURE_COLUMNS = ["source_id", "date", "seizure_count", "value_gbp", *LOCATION_COLUMNS, "synthetic"]
EXPECTED_COLUMNS = ["line_or_feature", "defect"]

#: Made-up places for deliberately bad points: (lon, lat) and (easting, northing) outside London.
OUTSIDE_LONDON_LONLAT = {"Paris": (2.3522, 48.8566), "Birmingham": (-1.8904, 52.4862)}
OUTSIDE_LONDON_BNG = {"Birmingham": (406_900, 286_900), "Brighton": (531_000, 104_500)}
UNKNOWN_WARD = "E05999999"
UNKNOWN_BOROUGH = "E09999999"
FAKE_STREETS = ("Example Street", "Sample Road", "Placeholder Lane", "Fictional Avenue", "Demo Close")
#: Fixed timestamp written into the XLSX package, so a seed gives the same bytes every time.
XLSX_TIMESTAMP = datetime(2000, 1, 1)

# Defects each kind's bad rows are drawn from: only what docs/data-contracts.md says is quarantined.
DEFECTS = {
    "closures": ("missing_source_id", "duplicate_source_id", "unknown_closure_type", "unknown_stage",
                 "date_in_future", "date_before_2000", "unknown_ward_code", "unknown_borough_code",
                 "point_outside_london", "lonlat_swapped", "bng_as_lonlat", "lonlat_as_bng"),
    "disruptions": ("missing_source_id", "duplicate_source_id", "missing_network_ref", "unknown_level",
                    "unknown_grading", "date_in_future", "date_before_2000", "unknown_ward_code",
                    "point_outside_london", "lonlat_swapped", "bng_as_lonlat", "unequal_location_lists"),
    "pas": ("respondents_below_count", "pct_over_100", "no_count_or_pct", "unknown_measure",
            "quarter_not_ending_a_quarter", "unknown_period_type", "unknown_ward_code", "unknown_borough_code",
            "respondents_zero", "duplicate_result"),
    "seizures": ("missing_source_id", "duplicate_source_id", "date_in_future", "date_before_2000",
                 "negative_value", "count_below_1", "unknown_ward_code", "unknown_borough_code",
                 "point_outside_london", "lonlat_swapped", "bng_as_lonlat"),
}


@dataclass(frozen=True)
class Calibration:
    """Every number the generator uses; docs/synthetic-data.md gives the basis of each."""

    # Closures (per year, London-wide, MPS area)
    crack_house_closures_per_year: float = 500.0
    cannabis_factory_closures_per_year: float = 300.0
    #: Share of the London mean mixed into each ward's rate, so no ward has zero chance.
    shrink_weight: float = 0.2
    #: Cannabis factory closures per resident in Outer London relative to Inner London.
    outer_london_multiplier: float = 2.0
    closure_stages: Mapping[str, float] = field(default_factory=lambda: {
        "closure_order": 0.70, "closure_notice": 0.22, "other": 0.08})
    closure_locations: Mapping[str, float] = field(default_factory=lambda: {
        "lonlat": 0.30, "easting_northing": 0.30, "ward": 0.30, "borough": 0.10})
    #: Share of good rows written with a spelling the contract also accepts (DD/MM/YYYY, "Closure Order").
    variant_spelling_share: float = 0.08
    # Network disruptions (per year)
    disruptions_per_year: Mapping[str, float] = field(default_factory=lambda: {
        "local": 500.0, "cross_borough": 200.0, "county_lines": 100.0, "international": 10.0})
    #: (major, moderate, minor) shares by level.
    gradings: Mapping[str, tuple[float, float, float]] = field(default_factory=lambda: {
        "local": (0.10, 0.30, 0.60), "cross_borough": (0.20, 0.40, 0.40),
        "county_lines": (0.30, 0.45, 0.25), "international": (0.50, 0.40, 0.10)})
    #: Shares of 1, 2 and 3 locations by level (cross-borough always spans two boroughs or more).
    location_counts: Mapping[str, tuple[float, float, float]] = field(default_factory=lambda: {
        "local": (0.75, 0.20, 0.05), "cross_borough": (0.0, 0.70, 0.30),
        "county_lines": (0.60, 0.30, 0.10), "international": (0.50, 0.35, 0.15)})
    disruptions_per_network: float = 2.5
    disruption_locations: Mapping[str, float] = field(default_factory=lambda: {
        "ward": 0.45, "geometry": 0.35, "lonlat": 0.10, "easting_northing": 0.10})
    # PAS
    pas_respondents_mean: float = 20.0
    #: Share of ward-quarters with no interviews at all (their rows are omitted).
    pas_no_interviews_share: float = 0.003
    #: Share answering "don't know" to tackle_dealing (not counted as respondents to it).
    pas_dont_know_tackle: float = 0.10
    pas_drug_problem_base: float = 0.40
    pas_drug_problem_slope: float = 0.35      # logit change per SD of log drug offence rate
    pas_drug_problem_trend: float = -0.01     # proportion per year
    pas_tackle_base: float = 0.475
    pas_tackle_slope: float = -0.25
    pas_tackle_trend: float = 0.01
    pas_borough_sd: float = 0.15              # logit scale
    pas_pct_share: float = 0.10               # rows giving agree_pct instead of agree_count
    pas_no_vintage_share: float = 0.20        # ward rows leaving ward_vintage empty (2022 by default)
    # Asset seizures
    seizures_per_year: float = 1000.0         # records in the first year
    seizure_counts: tuple[float, float, float] = (0.75, 0.18, 0.07)
    seizure_value_median_gbp: float = 3000.0
    seizure_value_sigma: float = 1.7
    seizure_value_cap_gbp: float = 1_000_000.0
    seizure_growth_mean: float = 0.10         # per year, log scale, per borough
    seizure_growth_sd: float = 0.05
    seizure_locations: Mapping[str, float] = field(default_factory=lambda: {
        "borough": 0.70, "ward": 0.20, "lonlat": 0.05, "easting_northing": 0.05})
    seizure_text_value_share: float = 0.05    # value written as text "£12,345"
    # Points
    point_margin_m: float = 25.0


# --- reference geography ------------------------------------------------------------------------

@dataclass(frozen=True)
class Geography:
    """The MPS-area 2022 wards with real rates, as the generator needs them.

    ``wards`` is indexed by ward_code with columns borough_code, population (Census 2021),
    trafficking and drug_offences (real MPS counts, average per year), and geom (shapely, EPSG:27700).
    City of London wards are left out: the City has its own police force.
    """

    wards: pd.DataFrame
    #: 2014 ward codes that are not 2022 codes (realistic "unknown ward for the vintage" defects).
    retired_ward_codes: tuple[str, ...] = ()

    @property
    def borough_codes(self) -> list[str]:
        return sorted(self.wards["borough_code"].unique())


def read_drug_offences(path: Path) -> pd.DataFrame:
    """Real MPS drug offences per 2022 ward, averaged to counts per year.

    Columns trafficking and drug_offences (possession + trafficking); index ward_code. The MPS file is
    wide (one YYYYMM column per month); the average over however many months it holds is scaled to 12.
    """
    frame = pd.read_csv(path, dtype={"WardCode": str})
    months = [c for c in frame.columns if re.fullmatch(r"\d{6}", str(c))]
    if not months:
        raise ValueError(f"{path.name}: no YYYYMM month columns")
    drugs = frame[frame["MajorText"].str.strip().str.upper() == "DRUG OFFENCES"]
    total = drugs[months].sum(axis=1) * 12 / len(months)
    by = pd.DataFrame({"ward_code": drugs["WardCode"], "minor": drugs["MinorText"].str.strip().str.upper(),
                       "per_year": total})
    wide = by.pivot_table(index="ward_code", columns="minor", values="per_year", aggfunc="sum", fill_value=0.0)
    trafficking = wide.get("TRAFFICKING OF DRUGS", pd.Series(0.0, index=wide.index))
    possession = wide.get("POSSESSION OF DRUGS", pd.Series(0.0, index=wide.index))
    return pd.DataFrame({"trafficking": trafficking, "drug_offences": trafficking + possession})


def read_geography(conn: psycopg.Connection, crime_file: Path) -> Geography:
    """2022 wards outside the City, with geometry, population and the real drug offence counts."""
    rows = conn.execute("""
        SELECT ward_code, borough_code, population, ST_AsBinary(geom) AS wkb
        FROM geo.ward WHERE vintage = %s AND NOT city_of_london ORDER BY ward_code""", (VINTAGE,)).fetchall()
    if not rows:
        raise ValueError("no 2022 wards are loaded: run `harmmap geo load` first")
    wards = pd.DataFrame(rows).set_index("ward_code")
    wards["geom"] = shapely.from_wkb(wards.pop("wkb").map(bytes).to_numpy())
    offences = read_drug_offences(crime_file)
    wards = wards.join(offences, how="left").fillna({"trafficking": 0.0, "drug_offences": 0.0})
    retired = conn.execute("""
        SELECT ward_code FROM geo.ward o WHERE vintage = 2014
        AND NOT EXISTS (SELECT 1 FROM geo.ward n WHERE n.vintage = %s AND n.ward_code = o.ward_code)
        ORDER BY ward_code""", (VINTAGE,)).fetchall()
    return Geography(wards, tuple(r["ward_code"] for r in retired))


# --- pure pieces: rates, allocation, trends -------------------------------------------------------

def rate_per_1000(count: pd.Series, population: pd.Series) -> pd.Series:
    """Wards with no residents give NaN, not inf."""
    return count / population.where(population > 0) * 1000


def shrunk_rate(count: pd.Series, population: pd.Series, weight: float) -> pd.Series:
    """``(1 - weight) * ward rate + weight * London rate`` (per 1,000 residents).

    The London rate is total count over total residents, so a ward with no recorded offences still
    gets ``weight`` times the London rate and a small chance of events.
    """
    london = count.sum() / population.sum() * 1000
    return (1 - weight) * rate_per_1000(count, population).fillna(london) + weight * london


def allocate(total: float, weights: pd.Series) -> pd.Series:
    """Split an expected ``total`` over units in proportion to ``weights`` (sums to ``total``)."""
    w = weights.clip(lower=0).fillna(0)
    if w.sum() <= 0:
        raise ValueError("allocation weights are all zero")
    return total * w / w.sum()


def crack_house_weights(wards: pd.DataFrame, shrink_weight: float) -> pd.Series:
    """Expected closures per resident proportional to the shrunk trafficking rate: residents x rate."""
    return wards["population"] * shrunk_rate(wards["trafficking"], wards["population"], shrink_weight)


def cannabis_factory_weights(wards: pd.DataFrame, outer_multiplier: float) -> pd.Series:
    """Residents, times ``outer_multiplier`` in Outer London boroughs."""
    outer = ~wards["borough_code"].isin(INNER_LONDON)
    return wards["population"] * np.where(outer, outer_multiplier, 1.0)


def logit(p: float | np.ndarray) -> Any:
    return np.log(p / (1 - p))


def expit(x: float | np.ndarray) -> Any:
    return 1 / (1 + np.exp(-x))


def standardised_log_rate(count: pd.Series, population: pd.Series) -> pd.Series:
    """z-score (across wards) of log(1 + offences per 1,000 residents): the PAS driver."""
    x = np.log1p(rate_per_1000(count, population))
    return ((x - x.mean()) / x.std(ddof=0)).fillna(0.0)


def pas_true_rate(z: np.ndarray, years: np.ndarray | float, borough_effect: np.ndarray | float, *,
                  base: float, slope: float, trend_per_year: float) -> np.ndarray:
    """True agreeing share: logit p = logit(base) + slope * z + trend + borough effect.

    ``trend_per_year`` is in proportion points at the base rate (-0.01 = one point a year down); it is
    turned into logit units by dividing by base * (1 - base), the slope of the logistic curve there.
    """
    per_year_logit = trend_per_year / (base * (1 - base))
    return expit(logit(base) + slope * np.asarray(z) + per_year_logit * np.asarray(years)
                 + np.asarray(borough_effect))


def seizure_monthly_means(borough_weights: pd.Series, growth: pd.Series, first_year_total: float,
                          month_years: np.ndarray) -> np.ndarray:
    """Expected records per borough (rows) and month (columns): exp(growth * t) growth from a first-year
    total shared by ``borough_weights``; ``month_years`` is each month's midpoint in years from the start.
    The first 12 months sum to about ``first_year_total`` (exactly when growth is 0)."""
    share = allocate(first_year_total / 12, borough_weights).to_numpy()[:, None]
    return share * np.exp(growth.to_numpy()[:, None] * np.asarray(month_years)[None, :])


def _shares(values: Sequence[float]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a / a.sum()


def draw_shares(rng: np.random.Generator, shares: Mapping[str, float], n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


# --- dates --------------------------------------------------------------------------------------

def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(d.day, last))


def random_dates(rng: np.random.Generator, n: int, start: date, end: date) -> list[date]:
    """Uniform over the days in [start, end)."""
    days = (end - start).days
    return [start + timedelta(days=int(k)) for k in rng.integers(0, days, size=n)]


def quarter_ends(start: date, end: date) -> list[date]:
    """First day of the last month of each calendar quarter lying wholly in [start, end)."""
    out = []
    d = date(start.year, 1, 1)
    while d < end:
        first, last_month = d, add_months(d, 2)
        after = add_months(d, 3)
        if first >= start and after <= end:
            out.append(last_month)
        d = after
    return out


def years_between(start: date, d: date) -> float:
    return (d - start).days / 365.25


# --- points -------------------------------------------------------------------------------------

def sample_points(geom: Any, n: int, rng: np.random.Generator, margin_m: float = 25.0,
                  edge: Any = None) -> np.ndarray:
    """``n`` points uniform inside ``geom`` (EPSG:27700), by rejection from its bounding box.

    Points closer than ``margin_m`` to the edge are rejected too, so a reprojection to WGS84 and back
    (a few metres at most) never moves one out of its ward or out of London. Returns an (n, 2) array.
    """
    if n == 0:
        return np.empty((0, 2))
    minx, miny, maxx, maxy = geom.bounds
    edge = geom.boundary if edge is None else edge
    found: list[np.ndarray] = []
    have, margin = 0, margin_m
    for attempt in range(200):
        if attempt == 100:
            margin = 0.0  # a ward too thin for the margin: take any interior point
        m = max(64, 4 * (n - have))
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        keep = shapely.contains_xy(geom, x, y)
        if margin > 0 and keep.any():
            keep[keep] = shapely.distance(shapely.points(x[keep], y[keep]), edge) > margin
        pts = np.column_stack([x[keep], y[keep]])
        found.append(pts)
        have += len(pts)
        if have >= n:
            return np.concatenate(found)[:n]
    raise ValueError("could not sample points inside the ward")


class Points:
    """Points in wards, with their WGS84 and rounded BNG forms."""

    def __init__(self, wards: pd.DataFrame, rng: np.random.Generator, margin_m: float) -> None:
        self._geoms = wards["geom"]
        self._edges: dict[str, Any] = {}
        self._rng = rng
        self._margin = margin_m
        self._to_wgs84 = Transformer.from_crs(27700, 4326, always_xy=True)

    def in_ward(self, ward_code: str) -> dict[str, Any]:
        if ward_code not in self._edges:
            self._edges[ward_code] = self._geoms[ward_code].boundary
        (x, y), = sample_points(self._geoms[ward_code], 1, self._rng, self._margin, self._edges[ward_code])
        lon, lat = self._to_wgs84.transform(x, y)
        return {"lon": round(float(lon), 6), "lat": round(float(lat), 6),
                "easting": int(round(x)), "northing": int(round(y))}


# --- tables and bad rows -----------------------------------------------------------------------

@dataclass
class Table:
    """One kind's rows in file order, and the deliberately bad ones (row index -> defect)."""

    kind: str
    columns: list[str]
    rows: list[dict[str, Any]]
    expected: dict[int, str]

    def good_rows(self) -> list[dict[str, Any]]:
        return [r for i, r in enumerate(self.rows) if i not in self.expected]

    def place(self, i: int) -> int:
        """Line (CSV/XLSX, header is line 1) or feature number (GeoJSON) of row index ``i``."""
        return i + 1 if self.kind == "disruptions" else i + 2


def bad_row_count(n_good: int, bad_share: float) -> int:
    """So that bad rows are ``bad_share`` of the file: n_bad / (n_good + n_bad)."""
    if not 0 <= bad_share < 1:
        raise ValueError("bad_share must be in [0, 1)")
    return int(round(bad_share * n_good / (1 - bad_share)))


def choose_defects(rng: np.random.Generator, menu: Sequence[str], n: int) -> list[str]:
    """Every defect on the menu once (in random order) before any repeats, so each kind shows them all."""
    out: list[str] = []
    while len(out) < n:
        out.extend(menu[i] for i in rng.permutation(len(menu)))
    return out[:n]


def merge_bad(rng: np.random.Generator, kind: str, columns: list[str], good: list[dict[str, Any]],
              bad: list[tuple[dict[str, Any], str, int | None]]) -> Table:
    """Put bad rows among the good at random places; a duplicate goes after the row it copies.

    ``bad`` holds (row, defect, index of the copied good row or None). The loader keeps the first of
    two rows sharing a key, so the later copy is the one expected in quarantine.
    """
    keys = list(np.arange(len(good), dtype=float))
    for _, _, of in bad:
        if of is None:
            keys.append(float(rng.uniform(-0.5, len(good) - 0.5)))
        else:
            keys.append(of + float(rng.uniform(0.1, min(20.0, len(good) - of))))
    order = np.argsort(np.array(keys), kind="stable")
    rows_all = good + [b[0] for b in bad]
    rows = [rows_all[i] for i in order]
    expected = {pos: bad[i - len(good)][1] for pos, i in enumerate(order) if i >= len(good)}
    return Table(kind, columns, rows, expected)


def _defect_date(rng: np.random.Generator, defect: str) -> date:
    if defect == "date_in_future":
        return date(2031, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    return date(1999, 1, 1) + timedelta(days=int(rng.integers(0, 365)))


def _clear_location(row: dict[str, Any]) -> None:
    for c in LOCATION_COLUMNS:
        if c in row:
            row[c] = None


def _bad_single_location(rng: np.random.Generator, defect: str, row: dict[str, Any], geo: Geography,
                         points: Points, ward_code: str) -> None:
    """Give ``row`` a location with exactly the defect (closures and seizures: one location)."""
    _clear_location(row)
    if defect == "unknown_ward_code":
        retired = geo.retired_ward_codes  # real 2014 codes, wrong for 2022: the realistic mistake
        code = retired[int(rng.integers(len(retired)))] if retired and rng.random() < 0.5 else UNKNOWN_WARD
        row.update(ward_code=code, ward_vintage=VINTAGE)
    elif defect == "unknown_borough_code":
        row["borough_code"] = UNKNOWN_BOROUGH
    elif defect == "point_outside_london":
        jitter = rng.uniform(-0.01, 0.01, 2)
        if rng.random() < 0.5:
            lon, lat = list(OUTSIDE_LONDON_LONLAT.values())[int(rng.integers(len(OUTSIDE_LONDON_LONLAT)))]
            row.update(lon=round(lon + jitter[0], 6), lat=round(lat + jitter[1], 6))
        else:
            e, n = list(OUTSIDE_LONDON_BNG.values())[int(rng.integers(len(OUTSIDE_LONDON_BNG)))]
            row.update(easting=int(e + jitter[0] * 1e5), northing=int(n + jitter[1] * 1e5))
    else:
        p = points.in_ward(ward_code)
        if defect == "lonlat_swapped":
            row.update(lon=p["lat"], lat=p["lon"])
        elif defect == "bng_as_lonlat":
            row.update(lon=p["easting"], lat=p["northing"])
        elif defect == "lonlat_as_bng":
            row.update(easting=p["lon"], northing=p["lat"])
        else:
            raise ValueError(f"not a location defect: {defect}")


def _single_location(rng: np.random.Generator, how: str, ward_code: str, borough_code: str,
                     points: Points) -> dict[str, Any]:
    loc: dict[str, Any] = dict.fromkeys(LOCATION_COLUMNS)
    if how == "ward":
        loc.update(ward_code=ward_code, ward_vintage=VINTAGE)
    elif how == "borough":
        loc["borough_code"] = borough_code
    else:
        p = points.in_ward(ward_code)
        if how == "lonlat":
            loc.update(lon=p["lon"], lat=p["lat"])
        else:
            loc.update(easting=p["easting"], northing=p["northing"])
    return loc


def _write_date(rng: np.random.Generator, d: date, variant_share: float) -> str:
    return d.strftime("%d/%m/%Y") if rng.random() < variant_share else d.isoformat()


class WardPicker:
    """Draw wards in proportion to fixed weights, within a borough, outside one, or anywhere (numpy only:
    this runs once per generated row)."""

    def __init__(self, wards: pd.DataFrame, weights: pd.Series) -> None:
        self.codes = wards.index.to_numpy(dtype=object)
        self.boroughs = wards["borough_code"].to_numpy(dtype=object)
        self.weights = weights.reindex(wards.index).to_numpy(dtype=float)
        self.borough_of = dict(zip(self.codes, self.boroughs, strict=True))

    def pick(self, rng: np.random.Generator, *, borough: str | None = None, not_borough: str | None = None,
             exclude: Sequence[str] = ()) -> str | None:
        w = self.weights.copy()
        if borough is not None:
            w[self.boroughs != borough] = 0
        if not_borough is not None:
            w[self.boroughs == not_borough] = 0
        if exclude:
            w[np.isin(self.codes, list(exclude))] = 0
        total = w.sum()
        if total <= 0:
            return None
        return str(self.codes[rng.choice(len(w), p=w / total)])


# --- the four kinds -------------------------------------------------------------------------------

STAGE_VARIANTS = {"closure_order": ("Closure Order", "closure order"),
                  "closure_notice": ("Closure Notice", "closure notice"), "other": ("Other",)}


def closures_table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
                   cal: Calibration = Calibration()) -> Table:
    wards, end, years = geo.wards, add_months(start, months), months / 12
    points = Points(wards, rng, cal.point_margin_m)
    events: list[tuple[date, str, str]] = []
    for closure_type, per_year, weights in (
            ("crack_house", cal.crack_house_closures_per_year, crack_house_weights(wards, cal.shrink_weight)),
            ("cannabis_factory", cal.cannabis_factory_closures_per_year,
             cannabis_factory_weights(wards, cal.outer_london_multiplier))):
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
                     "date": _write_date(rng, d, cal.variant_spelling_share),
                     **_single_location(rng, how, ward_code, wards.at[ward_code, "borough_code"], points),
                     "address": f"{int(rng.integers(1, 200))} {FAKE_STREETS[int(rng.integers(len(FAKE_STREETS)))]}",
                     "synthetic": True})
    bad, residents = [], WardPicker(wards, wards["population"])
    for j, defect in enumerate(choose_defects(rng, DEFECTS["closures"], bad_row_count(len(good), bad_share))):
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
            row["date"] = _defect_date(rng, defect).isoformat()
        else:
            _bad_single_location(rng, defect, row, geo, points, residents.pick(rng))
        bad.append((row, defect, copied))
    return merge_bad(rng, "closures", CLOSURE_COLUMNS, good, bad)


LEVEL_ORDER = ("local", "cross_borough", "county_lines", "international")
GRADES = ("major", "moderate", "minor")


def _disruption_wards(rng: np.random.Generator, level: str, home: str, n: int, picker: WardPicker) -> list[str]:
    """``n`` distinct wards: the network's home first, then by level (same borough for local, other
    boroughs for cross-borough, anywhere for county lines and international), weighted by trafficking."""
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


def disruptions_table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
                      cal: Calibration = Calibration()) -> Table:
    wards, end, years = geo.wards, add_months(start, months), months / 12
    points = Points(wards, rng, cal.point_margin_m)
    weights = crack_house_weights(wards, cal.shrink_weight)
    picker = WardPicker(wards, weights)
    counts = {level: int(rng.poisson(cal.disruptions_per_year[level] * years)) for level in LEVEL_ORDER}
    n_networks = {level: max(1, math.ceil(counts[level] / cal.disruptions_per_network)) for level in LEVEL_ORDER}
    numbers = iter(rng.permutation(sum(n_networks.values())) + 1)
    events = []
    for level in LEVEL_ORDER:
        refs = [f"NET-{next(numbers):04d}" for _ in range(n_networks[level])]
        homes = [picker.pick(rng) for _ in refs]
        which = rng.integers(0, len(refs), size=counts[level])
        sizes = rng.choice(3, size=counts[level], p=_shares(cal.location_counts[level])) + 1
        grades = rng.choice(3, size=counts[level], p=_shares(cal.gradings[level]))
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
    for j, defect in enumerate(choose_defects(rng, DEFECTS["disruptions"], bad_row_count(len(good), bad_share))):
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
            props["date"] = _defect_date(rng, defect).isoformat()
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
    return merge_bad(rng, "disruptions", DISRUPTION_PROPERTIES, good, bad)


def _point_geometry(coords: Sequence[tuple[float, float]]) -> dict[str, Any]:
    if len(coords) == 1:
        return {"type": "Point", "coordinates": list(coords[0])}
    return {"type": "MultiPoint", "coordinates": [list(c) for c in coords]}


def _feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    full = {k: props.get(k) for k in DISRUPTION_PROPERTIES}
    full["synthetic"] = True
    return {"type": "Feature", "properties": full, "geometry": geometry}


def pas_table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
              cal: Calibration = Calibration()) -> Table:
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
    for defect in choose_defects(rng, DEFECTS["pas"], bad_row_count(len(good), bad_share) if good else 0):
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
    return merge_bad(rng, "pas", PAS_COLUMNS, good, bad)


def seizures_table(geo: Geography, rng: np.random.Generator, start: date, months: int, bad_share: float,
                   cal: Calibration = Calibration()) -> Table:
    wards, end = geo.wards, add_months(start, months)
    points = Points(wards, rng, cal.point_margin_m)
    boroughs = geo.borough_codes
    borough_weights = (wards["population"] * shrunk_rate(wards["drug_offences"], wards["population"],
                                                         cal.shrink_weight)).groupby(wards["borough_code"]).sum()
    borough_weights = borough_weights.reindex(boroughs)
    growth = pd.Series(rng.normal(cal.seizure_growth_mean, cal.seizure_growth_sd, len(boroughs)), index=boroughs)
    month_starts = [add_months(start, k) for k in range(months)]
    mid_years = np.array([(k + 0.5) / 12 for k in range(months)])
    counts = rng.poisson(seizure_monthly_means(borough_weights, growth, cal.seizures_per_year, mid_years))
    ward_weights = crack_house_weights(wards, cal.shrink_weight)
    picker = WardPicker(wards, ward_weights)
    events = []
    for bi, b in enumerate(boroughs):
        for k, m0 in enumerate(month_starts):
            m1 = min(add_months(m0, 1), end)
            events += [(d, b) for d in random_dates(rng, int(counts[bi, k]), m0, m1)]
    events.sort()
    hows = draw_shares(rng, cal.seizure_locations, len(events))
    n_seized = rng.choice(3, size=len(events), p=_shares(cal.seizure_counts)) + 1
    good = []
    for i, ((d, b), how, k) in enumerate(zip(events, hows, n_seized, strict=True)):
        values = rng.lognormal(math.log(cal.seizure_value_median_gbp), cal.seizure_value_sigma, int(k))
        value = float(min(cal.seizure_value_cap_gbp, round(values.sum())))
        written: Any = f"£{value:,.0f}" if rng.random() < cal.seizure_text_value_share else value
        ward = picker.pick(rng, borough=b)
        good.append({"source_id": f"SYN-AS-{i + 1:06d}", "date": d, "seizure_count": int(k), "value_gbp": written,
                     **_single_location(rng, how, ward, b, points), "synthetic": True})
    bad = []
    for j, defect in enumerate(choose_defects(rng, DEFECTS["seizures"], bad_row_count(len(good), bad_share))):
        of = int(rng.integers(len(good)))
        row, copied = dict(good[of]), None
        row["source_id"] = f"SYN-AS-X{j + 1:05d}"
        row["date"] = random_dates(rng, 1, start, end)[0]
        if defect == "missing_source_id":
            row["source_id"] = None
        elif defect == "duplicate_source_id":
            row["source_id"], copied = good[of]["source_id"], of
        elif defect.startswith("date_"):
            row["date"] = _defect_date(rng, defect)
        elif defect == "negative_value":
            row["value_gbp"] = -float(round(rng.lognormal(math.log(cal.seizure_value_median_gbp), 1.0)))
        elif defect == "count_below_1":
            row["seizure_count"] = 0
        else:
            _bad_single_location(rng, defect, row, geo, points, picker.pick(rng))
        bad.append((row, defect, copied))
    return merge_bad(rng, "seizures", SEIZURE_COLUMNS, good, bad)


# --- writing ------------------------------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(table: Table, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(table.columns)
        for row in table.rows:
            w.writerow([_text(row.get(c)) for c in table.columns])


def write_geojson(table: Table, path: Path) -> None:
    """RFC 7946 GeoJSON (WGS84 lon/lat), one feature per line for readable diffs."""
    features = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in table.rows)
    path.write_text('{"type":"FeatureCollection","features":[\n' + features + "\n]}\n", encoding="utf-8")


def write_xlsx(table: Table, path: Path) -> None:
    """One sheet, header in row 1, dates as date cells. The package's timestamps are fixed
    (:data:`XLSX_TIMESTAMP`), so the same rows give the same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = table.kind
    ws.append(table.columns)
    for row in table.rows:
        ws.append([row.get(c) for c in table.columns])
    for cell in ws["B"][1:]:
        if isinstance(cell.value, date):
            cell.number_format = "yyyy-mm-dd"
    wb.properties.creator = "harmmap synth (synthetic data)"
    buffer = io.BytesIO()
    wb.save(buffer)
    _normalise_zip(buffer.getvalue(), path)


def _normalise_zip(data: bytes, path: Path) -> None:
    stamp = XLSX_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=XLSX_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            out.writestr(entry, content)


WRITERS: dict[str, Callable[[Table, Path], None]] = {
    "closures": write_csv, "disruptions": write_geojson, "pas": write_csv, "seizures": write_xlsx}


def expected_quarantine_path(out_dir: Path, kind: str) -> Path:
    """Named with a leading ``_`` so ``harmmap etl run-all`` skips it."""
    return out_dir / f"_expected_quarantine_{kind}.csv"


def write_expected(table: Table, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(EXPECTED_COLUMNS)
        for i in sorted(table.expected):
            w.writerow([table.place(i), table.expected[i]])


def generate(geo: Geography, rng: np.random.Generator, *, start: date, months: int, bad_share: float,
             cal: Calibration = Calibration()) -> dict[str, Table]:
    """All four kinds from one generator, in a fixed order (so a seed fixes every file)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    return {
        "closures": closures_table(geo, rng, start, months, bad_share, cal),
        "disruptions": disruptions_table(geo, rng, start, months, bad_share, cal),
        "pas": pas_table(geo, rng, start, months, bad_share, cal),
        "seizures": seizures_table(geo, rng, start, months, bad_share, cal),
    }


def write_tables(tables: Mapping[str, Table], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, table in tables.items():
        path = out_dir / FILE_NAMES[kind]
        WRITERS[kind](table, path)
        write_expected(table, expected_quarantine_path(out_dir, kind))
        paths[kind] = path
    return paths


def write_all(conn: psycopg.Connection, out_dir: Path, *, seed: int, start: date = date(2023, 4, 1),
              months: int = 36, bad_share: float = 0.03, crime_file: Path | None = None) -> dict[str, Path]:
    """Write closures.csv, disruptions.geojson, pas.csv and seizures.xlsx (all rows synthetic) into
    ``out_dir``, with ``_expected_quarantine_<kind>.csv`` beside each. Returns {kind: data file}.

    Dates fall in [start, start + months). The period must be over by today, or good rows would be
    quarantined as "in the future". Needs ``harmmap geo load`` (2022 wards) in ``conn``'s database.
    """
    end = add_months(start, months)
    if start < date(2000, 1, 1) or end > date.today() + timedelta(days=1):
        raise ValueError(f"the period {start} to {end - timedelta(days=1)} must lie between 2000 and today")
    geo = read_geography(conn, crime_file or DEFAULT_CRIME_FILE)
    tables = generate(geo, np.random.default_rng(seed), start=start, months=months, bad_share=bad_share)
    return write_tables(tables, out_dir)


# --- example files ------------------------------------------------------------------------------

def cut(table: Table, n_good: int, defects: Sequence[str]) -> Table:
    """About ``n_good`` good rows (the first of each way of writing a row, e.g. each location form, then
    the earliest) and the first bad row with each of ``defects``, kept in file order.

    A duplicate keeps the row it repeats (the loader keeps the first and quarantines the copy)."""
    dup_defects = {"duplicate_source_id", "duplicate_result"}
    good = [i for i in range(len(table.rows)) if i not in table.expected]
    keep: set[int] = set()
    forms: set[tuple[Any, ...]] = set()
    for i in good:
        if _form(table, i) not in forms:
            forms.add(_form(table, i))
            keep.add(i)
    for i in good:
        if len(keep) >= n_good:
            break
        keep.add(i)
    wanted = list(defects)
    for i in sorted(table.expected):
        d = table.expected[i]
        if d not in wanted:
            continue
        if d in dup_defects:
            firsts = [g for g in good if g < i and _row_key(table, g) == _row_key(table, i)]
            if not firsts:
                continue
            keep.add(firsts[0])
        keep.add(i)
        wanted.remove(d)
    order = sorted(keep)
    return Table(table.kind, table.columns, [table.rows[i] for i in order],
                 {pos: table.expected[i] for pos, i in enumerate(order) if i in table.expected})


def _form(table: Table, i: int) -> tuple[Any, ...]:
    """How a row is written: which columns are filled (and a geometry's type), ignoring values."""
    row = table.rows[i]
    if table.kind == "disruptions":
        geometry = row["geometry"]["type"] if row["geometry"] else None
        return (geometry, *(row["properties"].get(c) is None for c in ("ward_code", "lon", "easting")))
    if table.kind == "pas":
        return (row["period_type"], row["agree_pct"] is None, row["ward_vintage"] is None)
    return tuple(row.get(c) is None for c in ("ward_code", "lon", "easting", "borough_code"))


def _row_key(table: Table, i: int) -> tuple[Any, ...]:
    row = table.rows[i]
    if table.kind == "disruptions":
        return (row["properties"]["source_id"],)
    if table.kind == "pas":
        return tuple(row[c] for c in ("period_type", "period_end", "geography_level", "geography_code", "measure"))
    return (row["source_id"],)


EXAMPLE_DEFECTS = {"closures": ("unknown_ward_code", "lonlat_swapped"),
                   "disruptions": ("unequal_location_lists", "point_outside_london"),
                   "pas": ("respondents_below_count", "pct_over_100"),
                   "seizures": ("negative_value", "duplicate_source_id")}


def write_examples(conn: psycopg.Connection, out_dir: Path, *, seed: int = 1, n_good: int = 8,
                   crime_file: Path | None = None) -> dict[str, Table]:
    """The small files in geodata/examples/: a few good rows and two bad ones of each kind, cut from
    the default 36-month output for ``seed``."""
    geo = read_geography(conn, crime_file or DEFAULT_CRIME_FILE)
    tables = generate(geo, np.random.default_rng(seed), start=date(2023, 4, 1), months=36, bad_share=0.03)
    out_dir.mkdir(parents=True, exist_ok=True)
    cuts = {kind: cut(t, n_good, EXAMPLE_DEFECTS[kind]) for kind, t in tables.items()}
    for kind, t in cuts.items():
        WRITERS[kind](t, out_dir / FILE_NAMES[kind])
    return cuts
