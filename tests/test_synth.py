"""Synthetic demo data (the synth package): the pure pieces by hand, then whole files checked against
docs/data-contracts.md by a small independent checker written here, not borrowed from the loader."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from synth import common, dataset, files, intensity, stop_search
from harmmap import db
from harmmap.config import REPO_ROOT

TODAY = date.today()


# --- pure pieces, small enough to check by hand ----------------------------------------------------

def test_shrunk_rate_mixes_in_the_london_rate_so_no_ward_has_zero_chance():
    count, pop = pd.Series([0.0, 10.0]), pd.Series([1000, 1000])
    # ward rates 0 and 10 per 1,000; London 10 / 2,000 residents = 5 per 1,000
    assert common.shrunk_rate(count, pop, 0.2).tolist() == pytest.approx([1.0, 9.0])
    assert common.shrunk_rate(count, pop, 0.0).tolist() == pytest.approx([0.0, 10.0])


def test_rate_of_a_ward_with_no_residents_is_nan_not_inf():
    assert common.rate_per_1000(pd.Series([3.0]), pd.Series([0])).isna().all()


def test_allocate_splits_a_total_in_proportion_and_refuses_all_zero_weights():
    assert common.allocate(10, pd.Series([1.0, 3.0])).tolist() == [2.5, 7.5]
    with pytest.raises(ValueError):
        common.allocate(10, pd.Series([0.0, 0.0]))


def test_response_weight_is_residents_times_policing_intensity_not_trafficking():
    wards = pd.DataFrame({"population": [1000, 2000], "trafficking": [0.0, 20.0], "intensity": [3.0, 0.5]})
    w = intensity.response_weights(wards)
    assert w.tolist() == [3000.0, 1000.0]  # the ward with no trafficking but more policing gets more closures
    expected = common.allocate(500, w)
    assert expected.sum() == pytest.approx(500)
    assert expected.iloc[0] / expected.iloc[1] == pytest.approx(3.0)


def test_cannabis_factory_weight_is_higher_in_outer_london():
    wards = pd.DataFrame({"population": [1000, 1000], "borough_code": ["E09000007", "E09000003"]})  # Camden, Barnet
    assert common.cannabis_factory_weights(wards, 2.0).tolist() == [1000, 2000]


def test_inner_london_is_the_ons_statistical_list():
    assert len(common.INNER_LONDON) == 14
    assert {"E09000014", "E09000025", "E09000001"} <= common.INNER_LONDON  # Haringey, Newham, City
    assert "E09000011" not in common.INNER_LONDON  # Greenwich: inner only in the 1963 Act list


def test_pas_true_rate_is_the_base_then_moves_by_the_trend_and_the_offence_rate():
    kw = {"base": 0.40, "slope": 0.35, "trend_per_year": -0.01}
    assert common.pas_true_rate(0.0, 0.0, 0.0, **kw) == pytest.approx(0.40)
    assert common.pas_true_rate(0.0, 1.0, 0.0, **kw) == pytest.approx(0.39, abs=0.0005)  # one point a year
    assert common.pas_true_rate(1.0, 0.0, 0.0, **kw) > 0.40 > common.pas_true_rate(-1.0, 0.0, 0.0, **kw)
    assert common.pas_true_rate(1.0, 0.0, 0.0, base=0.475, slope=-0.25, trend_per_year=0.01) < 0.475


def test_seizure_means_share_the_first_year_total_and_grow():
    weights, no_growth = pd.Series([1.0, 3.0]), pd.Series([0.0, 0.0])
    means = common.seizure_monthly_means(weights, no_growth, 1200, np.arange(12) + 0.5)
    assert means.sum() == pytest.approx(1200)
    assert means[:, 0].tolist() == pytest.approx([25.0, 75.0])
    grown = common.seizure_monthly_means(weights, pd.Series([0.1, 0.1]), 1200, np.array([0.5, 1.5]))
    assert grown[0, 1] / grown[0, 0] == pytest.approx(np.exp(0.1))


def test_quarters_are_whole_calendar_quarters_inside_the_period():
    ends = common.quarter_ends(date(2023, 4, 1), common.add_months(date(2023, 4, 1), 36))
    assert len(ends) == 12 and ends[0] == date(2023, 6, 1) and ends[-1] == date(2026, 3, 1)
    assert common.quarter_ends(date(2023, 5, 15), date(2024, 1, 1)) == [date(2023, 9, 1), date(2023, 12, 1)]
    assert common.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_sampled_points_are_inside_the_ward_and_away_from_its_edge():
    square = shapely.box(530_000, 180_000, 531_000, 181_000)
    pts = common.sample_points(square, 500, np.random.default_rng(0), margin_m=25)
    assert pts.shape == (500, 2)
    assert (pts[:, 0] > 530_025).all() and (pts[:, 0] < 530_975).all()
    assert (pts[:, 1] > 180_025).all() and (pts[:, 1] < 180_975).all()


def test_bad_rows_are_the_asked_share_and_show_every_defect_before_repeating():
    assert common.bad_row_count(97, 0.03) == 3  # 3 / (97 + 3)
    assert common.bad_row_count(10, 0.0) == 0
    menu = dataset.DEFECTS["closures"]
    drawn = common.choose_defects(np.random.default_rng(1), menu, len(menu) + 3)
    assert set(drawn[:len(menu)]) == set(menu)


def test_a_duplicate_goes_after_the_row_it_repeats():
    rng = np.random.default_rng(2)
    good = [{"source_id": f"S{i}"} for i in range(5)]
    for of in range(5):
        table = common.merge_bad(rng, "closures", ["source_id"], good,
                                 [({"source_id": f"S{of}"}, "duplicate_source_id", of)])
        (bad_at,) = table.expected
        first = next(i for i, r in enumerate(table.rows) if r["source_id"] == f"S{of}")
        assert first < bad_at


# --- a small independent checker for the contracts ---------------------------------------------------

_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


class Checker:
    """What docs/data-contracts.md says is quarantined, written out simply: problems(kind, row) -> set."""

    def __init__(self, ward_codes: set[str], borough_codes: set[str], london: shapely.Geometry) -> None:
        self.wards, self.boroughs, self.london = ward_codes, borough_codes, london
        shapely.prepare(london)

    def _inside(self, x: float, y: float) -> bool:
        return bool(shapely.contains_xy(self.london, x, y))

    def date_problem(self, value) -> str | None:
        if isinstance(value, datetime):
            d = value.date()
        elif isinstance(value, date):
            d = value
        else:
            text = str(value or "")
            fmt = "%d/%m/%Y" if "/" in text else "%Y-%m-%d"
            d = datetime.strptime(text, fmt).date()
        return "date_in_future" if d > TODAY else "date_before_2000" if d < date(2000, 1, 1) else None

    def location_problems(self, row: dict, geometry: dict | None = None) -> set[str]:
        get = lambda c: "" if row.get(c) is None else str(row.get(c)).strip()  # noqa: E731
        if get("ward_code"):
            return {"unknown_ward_code" for c in get("ward_code").split(";") if c not in self.wards}
        for a, b in (("lon", "lat"), ("easting", "northing")):
            if get(a) or get(b):
                xs, ys = [float(v) for v in get(a).split(";")], [float(v) for v in get(b).split(";")]
                if len(xs) != len(ys):
                    return {"unequal_location_lists"}
                out = set()
                for x, y in zip(xs, ys, strict=True):
                    if a == "lon" and abs(x) > 180:
                        out.add("bng_as_lonlat")
                    elif a == "lon" and 51 < x < 52 and -1 < y < 1:
                        out.add("lonlat_swapped")
                    elif a == "easting" and abs(x) <= 180 and abs(y) <= 90:
                        out.add("lonlat_as_bng")
                    elif not self._inside(*(_TO_BNG.transform(x, y) if a == "lon" else (x, y))):
                        out.add("point_outside_london")
                return out
        if geometry is not None:
            coords = geometry["coordinates"]
            coords = [coords] if geometry["type"] == "Point" else coords
            return {"point_outside_london" for lon, lat in coords if not self._inside(*_TO_BNG.transform(lon, lat))}
        if get("borough_code"):
            return set() if get("borough_code") in self.boroughs else {"unknown_borough_code"}
        return {"no_location"}

    def problems(self, kind: str, row: dict, seen: set, geometry: dict | None = None) -> set[str]:
        out: set[str] = set()
        if kind == "pas":
            key = tuple(row[c] for c in ("period_type", "period_end", "geography_level", "geography_code", "measure"))
            if row["period_type"] not in ("quarter", "r12"):
                out.add("unknown_period_type")
            elif row["period_type"] == "quarter" and int(row["period_end"][5:7]) not in (3, 6, 9, 12):
                out.add("quarter_not_ending_a_quarter")
            if row["measure"] not in ("drug_problem", "tackle_dealing"):
                out.add("unknown_measure")
            codes = self.wards if row["geography_level"] == "ward" else self.boroughs
            if row["geography_code"] not in codes:
                out.add(f"unknown_{row['geography_level']}_code")
            r = int(row["respondents"])
            if r <= 0:
                out.add("respondents_zero")
            if row["agree_count"]:
                if int(row["agree_count"]) > r:
                    out.add("respondents_below_count")
            elif row["agree_pct"]:
                if not 0 <= float(row["agree_pct"]) <= 100:
                    out.add("pct_over_100")
            else:
                out.add("no_count_or_pct")
            if not out and key in seen:
                out.add("duplicate_result")
            seen.add(key)
            return out
        sid = row.get("source_id")
        if not sid:
            out.add("missing_source_id")
        elif sid in seen:
            out.add("duplicate_source_id")
        seen.add(sid)
        if d := self.date_problem(row["date"]):
            out.add(d)
        if kind == "closures":
            if row["closure_type"] not in ("crack_house", "cannabis_factory"):
                out.add("unknown_closure_type")
            if re.sub(r"\s+", "_", row["stage"].strip().lower()) not in ("closure_notice", "closure_order", "other"):
                out.add("unknown_stage")
        if kind == "disruptions":
            if not row.get("network_ref"):
                out.add("missing_network_ref")
            if row["level"] not in ("local", "cross_borough", "county_lines", "international"):
                out.add("unknown_level")
            if row["grading"] not in ("major", "moderate", "minor"):
                out.add("unknown_grading")
        if kind == "seizures":
            if int(row["seizure_count"]) < 1:
                out.add("count_below_1")
            if float(str(row["value_gbp"]).replace("£", "").replace(",", "")) < 0:
                out.add("negative_value")
        return out | self.location_problems(row, geometry)


def read_kind(out_dir: Path, kind: str) -> tuple[list[str], list[tuple[dict, dict | None]]]:
    """(columns, [(row, geometry)]) by the plainest reader for each format."""
    path = out_dir / dataset.FILE_NAMES[kind]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            rows = [(r, None) for r in reader]
            return list(reader.fieldnames or []), rows
    if path.suffix == ".geojson":
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        return list(features[0]["properties"]), [(f["properties"], f["geometry"]) for f in features]
    ws = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    values = list(ws.iter_rows(values_only=True))
    header = [str(c) for c in values[0]]
    return header, [(dict(zip(header, v, strict=True)), None) for v in values[1:]]


def expected_quarantine(out_dir: Path, kind: str) -> dict[int, str]:
    with files.expected_quarantine_path(out_dir, kind).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["line_or_feature", "defect"]
        return {int(r["line_or_feature"]): r["defect"] for r in reader}


#: The kinds checked row by row here; stop and search (hundreds of thousands of rows) by check_stop_search.
ROW_KINDS = tuple(k for k in dataset.KINDS if k != "stop_search")


def check_sidecars(out_dir: Path, checker: Checker, start: date, end: date, *, every_defect: bool) -> None:
    """Each row the sidecar names has exactly its one defect; every other row has none and is in period."""
    check_stop_search(out_dir, checker, start, end, every_defect=every_defect)
    for kind in ROW_KINDS:
        expected = expected_quarantine(out_dir, kind)
        _, rows = read_kind(out_dir, kind)
        seen: set = set()
        for i, (row, geometry) in enumerate(rows):
            place = i + 1 if kind == "disruptions" else i + 2
            found = checker.problems(kind, row, seen, geometry)
            assert found == ({expected[place]} if place in expected else set()), (kind, place, row, geometry)
            assert row["synthetic"] in ("true", True), (kind, place)
            if place not in expected and kind != "pas":
                d = row["date"]
                d = d.date() if isinstance(d, datetime) else (
                    datetime.strptime(d, "%d/%m/%Y").date() if "/" in d else date.fromisoformat(d))
                assert start <= d < end, (kind, place, d)
        assert set(expected.values()) <= set(dataset.DEFECTS[kind]), kind
        if every_defect:  # each is shown once before any repeats, so a big enough file shows them all
            assert set(expected.values()) == set(dataset.DEFECTS[kind]), kind


CONTRACT_COLUMNS = {
    "closures": {"source_id", "closure_type", "stage", "date", "synthetic"},
    "disruptions": {"source_id", "date", "network_ref", "level", "grading", "synthetic"},
    "pas": {"period_type", "period_end", "geography_level", "geography_code", "ward_vintage", "measure",
            "respondents", "agree_count", "agree_pct", "synthetic"},
    "seizures": {"source_id", "date", "seizure_count", "value_gbp", "synthetic"},
}
LOCATION = {"ward_code", "ward_vintage", "lon", "lat", "easting", "northing", "borough_code"}


def check_stop_search(out_dir: Path, checker: Checker, start: date, end: date, *, every_defect: bool) -> None:
    """police.uk's header exactly; each planted row has exactly its defect and every other row none, checked
    column by column (the same rules as Checker, vectorised)."""
    path = out_dir / dataset.FILE_NAMES["stop_search"]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns) == stop_search.HEADER
    expected = expected_quarantine(out_dir, "stop_search")
    problems: dict[str, np.ndarray] = {}
    problems["unknown_search_type"] = ~frame["Type"].isin(["Person search", "Person and Vehicle search",
                                                           "Vehicle search"]).to_numpy()
    when = pd.to_datetime(frame["Date"], utc=True, format="ISO8601").dt.tz_convert("Europe/London").dt.date
    problems["date_in_future"] = (when > TODAY).to_numpy()
    problems["date_before_2000"] = (when < date(2000, 1, 1)).to_numpy()
    lat, lon = frame["Latitude"], frame["Longitude"]
    problems["latitude_without_longitude"] = ((lat != "") != (lon != "")).to_numpy()
    both = ((lat != "") & (lon != "")).to_numpy()
    la, lo = pd.to_numeric(lat, errors="coerce").to_numpy(), pd.to_numeric(lon, errors="coerce").to_numpy()
    swapped = both & (la > -1) & (la < 1) & (lo > 51) & (lo < 52)
    problems["lonlat_swapped"] = swapped
    x, y = _TO_BNG.transform(np.where(both, lo, 0.0), np.where(both, la, 0.0))
    problems["point_outside_london"] = both & ~swapped & ~shapely.contains_xy(checker.london, x, y)
    problems["outcome_linked_not_true_or_false"] = ~frame["Outcome linked to object of search"].isin(
        ["True", "False", ""]).to_numpy()
    problems["synthetic_id_in_real_format"] = frame["Policing operation"].str.startswith("SYN-").to_numpy()
    assert set(problems) == set(dataset.DEFECTS["stop_search"])
    found = np.column_stack([problems[d] for d in dataset.DEFECTS["stop_search"]])
    names = np.array(dataset.DEFECTS["stop_search"])
    for i in np.flatnonzero(found.any(axis=1) | np.isin(np.arange(len(frame)) + 2, list(expected))):
        assert set(names[found[i]]) == {expected.get(i + 2, "none")}, (i + 2, frame.iloc[i].to_dict())
    good = np.ones(len(frame), bool)
    good[[line - 2 for line in expected]] = False
    assert (frame.loc[good, "Policing operation"] == "SYNTHETIC").all()
    days = when[good]
    assert days.min() >= start and days.max() < end
    if every_defect:
        assert set(expected.values()) == set(dataset.DEFECTS["stop_search"])


def check_columns(out_dir: Path) -> None:
    for kind in ROW_KINDS:
        columns, _ = read_kind(out_dir, kind)
        allowed = CONTRACT_COLUMNS[kind] | (LOCATION if kind != "pas" else set()) | ({"address"} if kind == "closures" else set())
        assert CONTRACT_COLUMNS[kind] <= set(columns) <= allowed, kind
        assert columns == [re.sub(r"[\s\-]+", "_", c.strip().lower()) for c in columns]  # already normalised


# --- whole files on a toy geography (no database) ---------------------------------------------------

def toy_geography() -> common.Geography:
    """Six 2 km square wards near Camden, Barnet and Bromley's real places (codes made up)."""
    rows = []
    for i, (borough, x0, y0) in enumerate([("E09000007", 528_000, 183_000), ("E09000007", 530_000, 183_000),
                                           ("E09000003", 524_000, 191_000), ("E09000003", 526_000, 191_000),
                                           ("E09000006", 540_000, 168_000), ("E09000006", 542_000, 168_000)]):
        rows.append({"ward_code": f"E0590000{i}", "borough_code": borough, "population": 10_000 + 1000 * i,
                     "trafficking": [40.0, 5.0, 10.0, 0.0, 20.0, 2.0][i],
                     "drug_offences": [120.0, 20.0, 30.0, 4.0, 50.0, 8.0][i],
                     "geom": shapely.box(x0, y0, x0 + 2000, y0 + 2000)})
    return common.Geography(pd.DataFrame(rows).set_index("ward_code"), ("E05000111",))


def toy_checker(geo: common.Geography) -> Checker:
    return Checker(set(geo.wards.index), set(geo.wards["borough_code"]), shapely.union_all(geo.wards["geom"].tolist()))


def write_toy(out_dir: Path, seed: int, months: int = 12) -> dict[str, Path]:
    tables = dataset.generate(toy_geography(), np.random.default_rng(seed), start=date(2024, 1, 1), months=months,
                            bad_share=0.1)
    return dataset.write_tables(tables, out_dir)


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path):
    a, b, c = (write_toy(tmp_path / name, seed, months=6) for name, seed in (("a", 7), ("b", 7), ("c", 8)))
    for kind in dataset.KINDS:
        assert a[kind].read_bytes() == b[kind].read_bytes(), kind  # the XLSX too: its timestamps are fixed
        assert a[kind].read_bytes() != c[kind].read_bytes(), kind
        assert a[kind].name == dataset.FILE_NAMES[kind]


def test_toy_files_follow_the_contracts_and_the_sidecars_name_exactly_the_bad_rows(tmp_path):
    write_toy(tmp_path, 3)
    check_columns(tmp_path)
    check_sidecars(tmp_path, toy_checker(toy_geography()), date(2024, 1, 1), date(2025, 1, 1), every_defect=False)


def test_sidecars_are_skipped_by_run_all_and_data_files_are_not():
    sidecar = files.expected_quarantine_path(Path("x"), "closures")
    assert sidecar.name.startswith("_")  # run-all skips names starting with "_" or "."
    from etl.kinds import kind_of_file  # the loader's own rule for picking a file's kind

    assert kind_of_file(sidecar) is None
    assert kind_of_file(stop_search.label_path(Path(dataset.FILE_NAMES["stop_search"]))) is None
    assert stop_search.label_path(Path("x.csv")).name.startswith("_")
    assert all(kind_of_file(Path(name)) == kind for kind, name in dataset.FILE_NAMES.items())


def test_the_generator_refuses_a_period_that_is_not_over_yet(tmp_path):
    with pytest.raises(ValueError, match="today"):
        dataset.write_all(None, tmp_path, seed=1,  # type: ignore[arg-type]
                          start=date(TODAY.year, TODAY.month, 1), months=3)


# --- the real geography and the real MPS rates (database) --------------------------------------------

@pytest.fixture(scope="module")
def default_set(settings, geo_loaded, tmp_path_factory) -> tuple[Path, Checker]:
    out = tmp_path_factory.mktemp("synth")
    with db.connect(settings.database_url) as conn:
        paths = dataset.write_all(conn, out, seed=1)
        ward_borough = {r["ward_code"]: r["borough_code"] for r in conn.execute(
            "SELECT ward_code, borough_code FROM geo.ward WHERE vintage = 2022")}
        boroughs = {r["borough_code"] for r in conn.execute("SELECT borough_code FROM geo.borough")}
        london = shapely.from_wkb(bytes(conn.execute(
            "SELECT ST_AsBinary(ST_Union(geom)) AS g FROM geo.borough").fetchone()["g"]))
    assert set(paths) == set(dataset.KINDS)
    checker = Checker(set(ward_borough), boroughs, london)
    checker.ward_borough = ward_borough  # type: ignore[attr-defined]
    return out, checker


def _good(out_dir: Path, kind: str) -> pd.DataFrame:
    expected = expected_quarantine(out_dir, kind)
    _, rows = read_kind(out_dir, kind)
    offset = 1 if kind == "disruptions" else 2
    return pd.DataFrame([r for i, (r, _) in enumerate(rows) if i + offset not in expected])


def _year(dates: pd.Series, start: date = date(2023, 4, 1)) -> pd.Series:
    d = pd.to_datetime(dates.astype(str).map(lambda s: "-".join(reversed(s.split("/"))) if "/" in s else s[:10]))
    return ((d.dt.year - start.year) * 12 + d.dt.month - start.month) // 12


@pytest.mark.db
def test_crack_house_closures_are_about_500_a_year_and_cannabis_factories_lean_outer(default_set):
    out, checker = default_set
    good = _good(out, "closures")
    per_year = good.groupby([good["closure_type"], _year(good["date"])]).size()
    assert len(per_year["crack_house"]) == 3
    assert all(425 <= n <= 575 for n in per_year["crack_house"]), per_year
    assert all(240 <= n <= 360 for n in per_year["cannabis_factory"]), per_year
    stages = good["stage"].str.lower().str.replace(" ", "_").value_counts(normalize=True)
    assert stages.idxmax() == "closure_order" and stages["closure_order"] > 0.6
    borough = good["ward_code"].map(checker.ward_borough).fillna(good["borough_code"]).replace("", np.nan)
    inner = borough.dropna().isin(common.INNER_LONDON).groupby(good["closure_type"]).mean()
    # both follow the policing intensity (not trafficking), and cannabis factories lean to Outer London
    # (x 2 per resident): about 24% against 39% of residents (crack houses) with an even intensity
    assert inner["cannabis_factory"] < 0.75 * inner["crack_house"], inner


@pytest.mark.db
def test_default_files_follow_the_contracts_and_the_sidecars_name_exactly_the_bad_rows(default_set):
    out, checker = default_set
    check_columns(out)
    check_sidecars(out, checker, date(2023, 4, 1), date(2026, 4, 1), every_defect=True)
    for kind in dataset.KINDS:
        rows = (sum(1 for _ in (out / dataset.FILE_NAMES[kind]).open(encoding="utf-8")) - 1 if kind == "stop_search"
                else len(read_kind(out, kind)[1]))
        share = len(expected_quarantine(out, kind)) / rows
        assert 0.025 <= share <= 0.035, (kind, share)


@pytest.mark.db
def test_closures_mix_points_ward_codes_and_boroughs_and_carry_an_address_to_drop(default_set):
    good = _good(default_set[0], "closures")
    has = lambda c: good[c].fillna("").astype(str) != ""  # noqa: E731
    assert 0.2 < has("lon").mean() < 0.4 and 0.2 < has("easting").mean() < 0.4 and 0.2 < has("ward_code").mean() < 0.4
    assert 0.05 < (has("borough_code") & ~has("ward_code") & ~has("lon") & ~has("easting")).mean() < 0.15
    assert good["address"].str.fullmatch(r"\d+ (?:Example Street|Sample Road|Placeholder Lane|Fictional Avenue|Demo Close)").all()


@pytest.mark.db
def test_disruptions_come_in_the_chosen_level_mix_from_recurring_networks(default_set):
    good = _good(default_set[0], "disruptions")
    levels = good["level"].value_counts()
    assert levels["local"] > levels["cross_borough"] > levels["county_lines"] > levels["international"] > 0
    assert 1300 < levels["local"] < 1700
    assert good["network_ref"].str.fullmatch(r"NET-\d{4}").all()
    assert good["network_ref"].value_counts().max() >= 3
    cross = good[(good["level"] == "cross_borough") & good["ward_code"].notna()]
    assert (cross["ward_code"].str.count(";") >= 1).all()


@pytest.mark.db
def test_pas_has_about_20_respondents_per_ward_and_counts_never_exceed_them(default_set):
    good = _good(default_set[0], "pas")
    num = lambda c: pd.to_numeric(good[c].replace("", np.nan))  # noqa: E731
    resp, count, pct = num("respondents"), num("agree_count"), num("agree_pct")
    agree = count.fillna((pct * resp / 100).round())
    assert (agree <= resp).all() and (agree >= 0).all()
    wards = good[good["period_type"] == "quarter"]
    assert wards["geography_code"].nunique() == 679  # the MPS wards: no City of London
    assert 18 < num("respondents")[wards.index].mean() < 21
    assert 0.05 < pct.notna().mean() < 0.15
    r12 = good[good["period_type"] == "r12"]
    assert len(r12) == 32 * 2 * 9 and set(r12["geography_level"]) == {"borough"}
    share = (agree.groupby([good["measure"], good["period_end"]]).sum()
             / resp.groupby([good["measure"], good["period_end"]]).sum())
    first, last = "2023-06", "2026-03"
    assert 0.35 < share["drug_problem"][first] < 0.45 and share["drug_problem"][last] < share["drug_problem"][first]
    assert 0.42 < share["tackle_dealing"][first] < 0.52 and share["tackle_dealing"][last] > share["tackle_dealing"][first]


@pytest.mark.db
def test_seizures_are_mostly_borough_level_with_lognormal_values_and_growth(default_set):
    good = _good(default_set[0], "seizures")
    assert (good["ward_code"].isna() & good["lon"].isna() & good["easting"].isna()).mean() > 0.6
    assert good["seizure_count"].between(1, 3).all()
    value = pd.to_numeric(good["value_gbp"].astype(str).str.replace("[£,]", "", regex=True))
    per_seizure = value / good["seizure_count"]
    assert 2000 < per_seizure[good["seizure_count"] == 1].median() < 4500
    assert value.max() <= 1_000_000 and value.max() > 100_000
    per_year = good.groupby(_year(good["date"])).size()
    assert per_year[0] < per_year[2]


@pytest.mark.db
def test_the_shipped_example_files_are_cut_from_the_generator(settings, geo_loaded, tmp_path):
    shipped = REPO_ROOT / "geodata" / "examples"
    with db.connect(settings.database_url) as conn:
        cuts = dataset.write_examples(conn, tmp_path, seed=1)
    readme = (shipped / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme
    for kind, name in dataset.FILE_NAMES.items():
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name
        table = cuts[kind]
        assert len(table.expected) == 2 and len(table.rows) - 2 >= 8
        places = sorted(table.place(i) for i in table.expected)
        word = "feature" if kind == "disruptions" else "line"
        assert all(f"{word} {p}:" in readme for p in places), (name, places)  # the README names the bad rows
