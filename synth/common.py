"""What the four synthetic source kinds share: the calibration, the real geography they are calibrated
on, rates and allocation, dates, points in wards, and the rows (good and deliberately bad) of a table.

All randomness comes from one ``np.random.Generator`` passed down, so a seed gives the same bytes;
every number and its basis is in docs/synthetic-data.md and in :class:`Calibration`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from pyproj import Transformer

from harmmap.config import REPO_ROOT

#: The real MPS ward crime file the rates are calibrated on (docs/synthetic-data.md).
DEFAULT_CRIME_FILE = REPO_ROOT / "geodata" / "crime" / "mps_ward_level_crime_2024-03_to_2026-03.csv"
#: The real police.uk stop and search month (the Met, June 2016) synthetic searches are drawn like.
DEFAULT_SEARCH_FILE = REPO_ROOT / "geodata" / "crime" / "2016-06-metropolitan-stop-and-search.csv"
#: The real 2016 PAS results by MPS neighbourhood that set the spread of synthetic "tackle dealing".
DEFAULT_PAS_FILE = REPO_ROOT / "geodata" / "survey" / "mopac_pas_neighbourhoods_2016.csv"
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

#: Made-up places for deliberately bad points: (lon, lat) and (easting, northing) outside London.
OUTSIDE_LONDON_LONLAT = {"Paris": (2.3522, 48.8566), "Birmingham": (-1.8904, 52.4862)}
OUTSIDE_LONDON_BNG = {"Birmingham": (406_900, 286_900), "Brighton": (531_000, 104_500)}
UNKNOWN_WARD = "E05999999"
UNKNOWN_BOROUGH = "E09999999"


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
    pas_tackle_trend: float = 0.01
    pas_borough_sd: float = 0.15              # logit scale
    pas_pct_share: float = 0.10               # rows giving agree_pct instead of agree_count
    #: Interviews a year in the real PAS (MOPAC): with 106 neighbourhoods, about 121 each in 2016, the
    #: sampling noise taken out of the 2016 spread before it is used as the true spread between areas.
    pas_interviews_per_year: float = 12_800.0
    #: Share of the true between-area variance of "tackle dealing" that follows the drug offence rate
    #: (down where offences are high); the rest is borough and ward, split as in the 2016 figures.
    pas_tackle_need_share: float = 0.5
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
    # Policing intensity (synth/intensity.py): what the response kinds are drawn from, not harm
    intensity_field_sd: float = 0.5           # SD of the smooth random field, log scale
    intensity_length_m: float = 5000.0        # its length scale
    intensity_need_link: float = 0.10         # log intensity per SD of log shrunk trafficking rate (weak)
    operation_boroughs: int = 3               # boroughs with a standing operation, drawn at random
    operation_multiplier: float = 2.0         # intensity there
    # Stop and search (synth/stop_search.py), drawn like the real Met June 2016 file
    #: Residents of the MPS area (Census 2021), to turn the real month's searches into searches per resident.
    search_reference_residents: float = 8_791_193.0
    #: Chance that a drug search whose outcome is not "nothing found" has that outcome linked to the object
    #: of the search (police.uk's field; blank in the whole 2016 file, so an assumption).
    search_outcome_linked_share: float = 0.75
    # Points
    point_margin_m: float = 25.0


# --- reference geography ------------------------------------------------------------------------

@dataclass(frozen=True)
class Geography:
    """The MPS-area 2022 wards with real rates, as the generator needs them.

    ``wards`` is indexed by ward_code with columns borough_code, population (Census 2021),
    trafficking and drug_offences (real MPS counts, average per year), and geom (shapely, EPSG:27700); and,
    once :func:`synth.intensity.with_intensity` has drawn it, the policing intensity the response kinds are
    drawn from (``intensity``). City of London wards are left out: the City has its own police force.
    """

    wards: pd.DataFrame
    #: 2014 ward codes that are not 2022 codes (realistic "unknown ward for the vintage" defects).
    retired_ward_codes: tuple[str, ...] = ()
    #: Boroughs drawn as having a standing operation (synth/intensity.py); set with the intensity column.
    operation_boroughs: tuple[str, ...] = ()

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
    rows = conn.execute(_query("wards"), {"vintage": VINTAGE}).fetchall()
    if not rows:
        raise ValueError("no 2022 wards are loaded: run `harmmap geo load` first")
    wards = pd.DataFrame(rows).set_index("ward_code")
    wards["geom"] = shapely.from_wkb(wards.pop("wkb").map(bytes).to_numpy())
    offences = read_drug_offences(crime_file)
    wards = wards.join(offences, how="left").fillna({"trafficking": 0.0, "drug_offences": 0.0})
    retired = conn.execute(_query("retired_wards"), {"vintage": VINTAGE}).fetchall()
    return Geography(wards, tuple(r["ward_code"] for r in retired))



def _query(name: str) -> str:
    """The text of ``synth/queries/<name>.sql``."""
    return resources.files("synth.queries").joinpath(f"{name}.sql").read_text(encoding="utf-8")



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


def probabilities(values: Sequence[float]) -> np.ndarray:
    """``values`` scaled to sum to 1 (probabilities for ``rng.choice``)."""
    a = np.asarray(values, dtype=float)
    return a / a.sum()


def draw_shares(rng: np.random.Generator, shares: Mapping[str, float], n: int) -> np.ndarray:
    """``n`` keys of ``shares`` drawn with those weights."""
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


class FrameRows(Sequence[dict[str, Any]]):
    """A frame's rows as dicts, made one at a time (a file of 400,000 searches is never a list of dicts)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def __len__(self) -> int:
        return len(self._frame)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._frame.iloc[int(i)].to_dict()


@dataclass
class FrameTable:
    """A large kind's rows as a data frame of text cells in file order (stop and search), with the same
    ``expected`` and ``place`` as :class:`Table`; :meth:`cut` gives a small :class:`Table` for the examples."""

    kind: str
    columns: list[str]
    frame: pd.DataFrame
    expected: dict[int, str]

    @property
    def rows(self) -> FrameRows:
        return FrameRows(self.frame)

    def good_rows(self) -> list[dict[str, Any]]:
        bad = np.zeros(len(self.frame), bool)
        bad[list(self.expected)] = True
        return self.frame[~bad].to_dict("records")

    def place(self, i: int) -> int:
        return i + 2  # CSV: the header is line 1

    def cut(self, n_good: int, defects: Sequence[str], form: Callable[[dict[str, Any]], tuple[Any, ...]]) -> Table:
        """The first good row of each ``form`` (among the first 5,000), then the earliest good rows up to
        ``n_good``, and the first bad row with each of ``defects``, in file order."""
        keep: list[int] = []
        forms: set[tuple[Any, ...]] = set()
        bad = set(self.expected)
        for i in range(min(len(self.frame), 5000)):  # every form shows up early in a big file
            if i in bad:
                continue
            f = form(self.frame.iloc[i].to_dict())
            if f not in forms:
                forms.add(f)
                keep.append(i)
        for i in range(len(self.frame)):
            if len(keep) >= n_good:
                break
            if i not in bad and i not in keep:
                keep.append(i)
        wanted = list(defects)
        for i in sorted(self.expected):
            if self.expected[i] in wanted:
                wanted.remove(self.expected[i])
                keep.append(i)
        order = sorted(keep)
        return Table(self.kind, self.columns, [self.frame.iloc[i].to_dict() for i in order],
                     {pos: self.expected[i] for pos, i in enumerate(order) if i in self.expected})


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


def defect_date(rng: np.random.Generator, defect: str) -> date:
    """A date in 2031 (``date_in_future``) or in 1999 (``date_before_2000``)."""
    if defect == "date_in_future":
        return date(2031, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    return date(1999, 1, 1) + timedelta(days=int(rng.integers(0, 365)))


def clear_location(row: dict[str, Any]) -> None:
    """Empty every location column ``row`` has."""
    for c in LOCATION_COLUMNS:
        if c in row:
            row[c] = None


def bad_single_location(rng: np.random.Generator, defect: str, row: dict[str, Any], geo: Geography,
                        points: Points, ward_code: str) -> None:
    """Give ``row`` a location with exactly the defect (closures and seizures: one location)."""
    clear_location(row)
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


def single_location(rng: np.random.Generator, how: str, ward_code: str, borough_code: str,
                    points: Points) -> dict[str, Any]:
    """The location columns of a good row placed ``how`` (ward, borough, lonlat, easting_northing)."""
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


def written_date(rng: np.random.Generator, d: date, variant_share: float) -> str:
    """``d`` as ISO, or (``variant_share`` of the time) as DD/MM/YYYY, which the contract also accepts."""
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


# --- one synthetic source kind ---------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One synthetic source kind (a module of this package each): the file it writes and how.

    ``table`` makes the rows from the geography, the generator, the start date, the number of months and
    the share of bad rows; ``form`` says how a row is written (which columns are filled, ignoring values)
    and ``key`` what makes two rows the same record, both for cutting the example files.
    """

    kind: str
    file_name: str
    #: The defects its bad rows are drawn from: only what docs/data-contracts.md says is quarantined.
    defects: tuple[str, ...]
    #: The two defects the shipped example file shows (geodata/examples/).
    example_defects: tuple[str, ...]
    table: Callable[[Geography, np.random.Generator, date, int, float, Calibration], Table | FrameTable]
    write: Callable[[Table | FrameTable, Path], None]
    form: Callable[[dict[str, Any]], tuple[Any, ...]]
    key: Callable[[dict[str, Any]], tuple[Any, ...]]


def single_location_form(row: dict[str, Any]) -> tuple[Any, ...]:
    """Which of the single-location columns a row fills (closures, seizures)."""
    return tuple(row.get(c) is None for c in ("ward_code", "lon", "easting", "borough_code"))


def source_id_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["source_id"],)
