"""Stop and search in police.uk's own format: the real Metropolitan Police file for June 2016, small files
with hand-counted outcomes, the find rate's interval by hand, and what the read model lets out."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl import batch, index
from etl.errors import EtlError
from etl.kinds import kind_of_file, stop_search
from conftest import query, reasons, ward_at
from harmmap import db, harm, published
from harmmap.disclosure import Disclosure

TODAY = date(2026, 11, 23)
REAL = "crime/2016-06-metropolitan-stop-and-search.csv"
HEADER = stop_search.HEADER
LAMBETH_POINT = (-0.1145, 51.4613)   # lon, lat: Lambeth, as in tests/test_etl.py
CAMDEN_POINT = (-0.1426, 51.5390)    # Camden Town
PARIS = (2.3522, 48.8566)


# --- pure pieces ----------------------------------------------------------------------------------------------

def test_self_defined_ethnicity_goes_to_the_census_2021_groups():
    cases = {"White - White British (W1)": "white", "White - Any other White ethnic background (W9)": "white",
             "Black or Black British - African (B2)": "black", "Mixed - White and Asian (M3)": "mixed",
             "Asian or Asian British - Bangladeshi (A3)": "asian",
             "Chinese or other ethnic group - Chinese (O1)": "asian",          # Asian in Census 2021
             "Chinese or other ethnic group - Any other ethnic group (O9)": "other",
             "Not Stated (NS)": "not_stated", "": "not_stated", "something else": "not_stated",
             "Asian/Asian British - Indian": "asian", "Other ethnic group - Arab": "other"}
    for text, group in cases.items():
        assert stop_search.ethnic_group(text) == group, text


def test_police_uk_file_names_are_recognised_by_run_all():
    assert kind_of_file(Path("2016-06-metropolitan-stop-and-search.csv")) == "stop_search"
    assert kind_of_file(Path("2025-01-city-of-london-stop-and-search.csv")) == "stop_search"
    assert kind_of_file(Path("stop_search_synthetic.csv")) == "stop_search"
    assert kind_of_file(Path("2016-06-metropolitan-street.csv")) is None


def test_find_rate_interval_by_hand():
    # 1 found of 3 recorded: Wilson (1927) with z = 1.959964
    z = 1.959963984540054
    n, p = 3, 1 / 3
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    got = harm.find_rate(np.array([1, 0, 5]), np.array([3, 0, 5]))
    assert got["pct"][0] == pytest.approx(100 / 3)
    assert got["lo"][0] == pytest.approx(100 * (centre - half)) and got["hi"][0] == pytest.approx(100 * (centre + half))
    assert round(got["lo"][0], 1) == 6.1 and round(got["hi"][0], 1) == 79.2
    assert np.isnan(got["pct"][1]) and np.isnan(got["lo"][1])          # nothing recorded: no rate, not 0%
    assert got["pct"][2] == 100 and got["hi"][2] == pytest.approx(100) and got["lo"][2] < 100


def test_search_tables_count_unlocated_searches_in_london_only():
    frame = pd.DataFrame([
        ("2025-01-01", "E09000022", "white", 2, 2, 1, False),
        ("2025-01-01", "E09000022", "black", 1, 1, 0, False),
        ("2025-01-01", None, "black", 3, 1, 1, False),            # no location: force level
        ("2025-01-01", "E09000001", "white", 5, 5, 5, False),     # the City: not in the MPS area
    ], columns=["month", "borough_code", "ethnic_group", "searches", "recorded", "found", "synthetic"])
    outcome, groups = harm.search_tables(frame, ["E09000007", "E09000022"])
    assert list(outcome["period"].unique()) == ["2025-01"]   # one month: no quarter, year or 12 months
    rows = outcome.set_index("area_code")
    assert rows.loc["E09000022", ["searches", "recorded", "found", "unlocated"]].tolist() == [3, 3, 1, 0]
    assert rows.loc["E09000007", "searches"] == 0 and np.isnan(rows.loc["E09000007", "find_pct"])
    assert rows.loc["london", ["searches", "recorded", "found", "unlocated"]].tolist() == [6, 4, 2, 3]
    assert rows.loc["london", "find_pct"] == 50
    g = groups.set_index(["area_code", "ethnic_group"])["searches"]
    assert g[("E09000022", "white")] == 2 and g[("E09000022", "mixed")] == 0 and g[("london", "black")] == 4
    assert len(groups) == 3 * len(harm.ETHNIC_GROUPS)


def test_month_runs_never_bridge_a_gap():
    months = [date(2016, 6, 1), date(2023, 4, 1), date(2023, 5, 1), date(2023, 6, 1)]
    assert harm.month_runs(months) == [(date(2016, 6, 1), date(2016, 6, 1)), (date(2023, 4, 1), date(2023, 6, 1))]
    monthly = pd.DataFrame({"indicator": ["drug_searches", "drug_searches", "drug_trafficking"],
                            "month": [date(2016, 6, 1), date(2023, 5, 1), date(2023, 5, 1)]})
    searches = pd.DataFrame({"month": months})
    kept = index.searches_for_index(monthly, searches)
    assert kept["month"].tolist() == [date(2023, 5, 1), date(2023, 5, 1)]  # 2016 is not made to cover 2016-2023
    alone = index.searches_for_index(monthly.iloc[:1], searches.iloc[:1])
    assert alone.empty   # nothing else to set it beside: not in the index (its find rate still is)


# --- loading (database) ------------------------------------------------------------------------------------------


@pytest.fixture
def etl(settings, geo_loaded, clear_loaded_indicators):
    """Jobs commit through their own connections: start and end with no indicator data and no searches."""
    def clear() -> None:
        clear_loaded_indicators()
        with db.connect(settings.database_url) as c:
            c.execute("DELETE FROM etl.stop_search")
    clear()
    yield settings
    clear()


def run(settings, path: Path):
    return batch.run(settings, "stop_search", path, today=TODAY)


def search(when: str = "2025-01-15T12:00:00+00:00", point: tuple[float, float] | None = LAMBETH_POINT,
           obj: str = "Controlled drugs", linked: str = "", ethnicity: str = "White - White British (W1)",
           **cells: str) -> dict[str, str]:
    row = {h: "" for h in HEADER}
    row.update({"Type": "Person search", "Date": when, "Part of a policing operation": "False",
                "Latitude": f"{point[1]}" if point else "", "Longitude": f"{point[0]}" if point else "",
                "Gender": "Male", "Age range": "18-24", "Self-defined ethnicity": ethnicity,
                "Officer-defined ethnicity": "White", "Legislation": "Misuse of Drugs Act 1971 (section 23)",
                "Object of search": obj, "Outcome": "Nothing found - no further action",
                "Outcome linked to object of search": linked})
    row.update(cells)
    return row


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.mark.db
def test_the_real_june_2016_file_loads_every_search_or_says_why_not(etl):
    path = etl.geodata_dir / REAL
    source = pd.read_csv(path, dtype=str, keep_default_na=False)
    drugs = source[source["Object of search"] == "Controlled drugs"]
    assert (len(source), len(drugs), int((drugs["Latitude"] != "").sum())) == (10_490, 6_572, 6_025)

    report = run(etl, path)
    assert report.rows_read == 10_490 == report.rows_loaded + report.rows_quarantined
    assert report.synthetic is False
    got = reasons(etl, report.batch_id)
    # Four searches by one snap point west of Heathrow, outside London: quarantined with the point, not lost
    assert len(got) == report.rows_quarantined == 4
    assert all(r.endswith("point (-0.50725, 51.48015) is outside London") for r in got.values()), got
    lines = sorted(got)
    assert (source.iloc[[n - 2 for n in lines]]["Object of search"] == "Controlled drugs").all()

    loaded = {(r["drugs"], r["location_method"]): r["n"] for r in query(etl, """
        SELECT drugs, location_method, count(*) AS n FROM etl.stop_search GROUP BY 1, 2""")}
    assert loaded[(True, "force")] == 547                      # no location: counted at force level, kept
    assert loaded[(True, "point")] + len(got) == 6_025          # every located drug search placed or quarantined
    assert loaded[(True, "point")] + loaded[(True, "force")] + len(got) == 6_572
    # police.uk dates are UTC: the 13 searches before midnight BST on 31 May count in June in London
    assert query(etl, "SELECT min(searched_on) AS a, max(searched_on) AS b FROM etl.stop_search")[0] == \
        {"a": date(2016, 6, 1), "b": date(2016, 6, 30)}

    published_rows = query(etl, """SELECT borough_code, ward_code IS NULL AS force, sum(value) AS n, bool_or(synthetic) AS s
                                   FROM harm.indicator_month WHERE indicator = 'drug_searches' AND month = '2016-06-01'
                                   GROUP BY 1, 2""")
    force = [r for r in published_rows if r["force"]]
    assert force == [{"borough_code": stop_search.FORCE_AREA, "force": True, "n": 547, "s": False}]
    assert sum(r["n"] for r in published_rows) == 6_572 - len(got)
    notes = query(etl, "SELECT notes FROM etl.batch WHERE batch_id = %s", (report.batch_id,))[0]["notes"]
    assert notes["months"] == ["2016-06"] and notes["drug_searches_force_level"] == 547


@pytest.mark.db
def test_bad_rows_are_quarantined_with_a_reason_a_person_can_act_on(etl, tmp_path):
    rows = [
        search(),                                                               # line 2: good
        search(point=PARIS),                                                    # 3
        search(point=(LAMBETH_POINT[1], LAMBETH_POINT[0])),                     # 4: swapped
        search(Longitude=""),                                                   # 5: latitude alone
        search(Type="Foot search"),                                             # 6
        search(when="31/06/2025"),                                              # 7
        search(when="2031-01-01T12:00:00+00:00"),                               # 8
        search(linked="Yes"),                                                   # 9
        search(**{"Policing operation": "SYN-OP-0001"}),                        # 10: synthetic id, real format
        search(when="2025-01-31T23:30:00+00:00", point=None),                   # 11: good: still 31 January in London (GMT)
        search(when="2025-06-30T23:30:00+00:00", point=None),                   # 12: good: 1 July in London (BST)
    ]
    report = run(etl, write(tmp_path / "stop_search.csv", rows))
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (11, 3, 8)
    got = reasons(etl, report.batch_id)
    expected = {3: "point (2.35220, 48.85660) is outside London", 4: "look swapped",
                5: "Latitude is given without Longitude", 6: "Type 'Foot search' is not one of",
                7: "Date '31/06/2025' is not a date-time", 8: "Date 2031-01-01 is in the future",
                9: "Outcome linked to object of search 'Yes' is not True, False or empty",
                10: "Policing operation SYN-OP-0001 is synthetic but police.uk files are real by definition"}
    assert set(got) == set(expected)
    for line, text in expected.items():
        assert got[line].startswith(f"line {line}: ") and text in got[line], (line, got[line])
    days = sorted(r["searched_on"] for r in query(etl, "SELECT searched_on FROM etl.stop_search"))
    assert days == [date(2025, 1, 15), date(2025, 1, 31), date(2025, 7, 1)]


@pytest.mark.db
def test_a_file_without_police_uks_header_is_refused_whole(etl, tmp_path):
    path = tmp_path / "stop_search.csv"
    pd.DataFrame([search()]).drop(columns="Object of search").to_csv(path, index=False)
    with pytest.raises(EtlError, match="missing column.*object_of_search"):
        run(etl, path)


@pytest.mark.db
def test_harmmaps_own_synthetic_rows_load_flagged_synthetic(etl, tmp_path):
    rows = [search(**{"Policing operation": "SYNTHETIC"}), search()]
    report = run(etl, write(tmp_path / "stop_search.csv", rows))
    assert report.synthetic is True and report.rows_loaded == 2
    assert {r["line"]: r["synthetic"] for r in query(etl, "SELECT line, synthetic FROM etl.stop_search")} == \
        {2: True, 3: False}
    assert query(etl, "SELECT bool_or(synthetic) AS s FROM harm.indicator_month WHERE indicator = 'drug_searches'")[0]["s"]


@pytest.mark.db
def test_a_later_file_replaces_the_months_it_holds(etl, tmp_path):
    first = write(tmp_path / "2025-01-metropolitan-stop-and-search.csv", [search(), search(), search()])
    run(etl, first)
    revised = write(tmp_path / "2025-01-metropolitan-stop-and-search-revised.csv",
                    [search(), search(when="2025-02-03T10:00:00+00:00")])
    run(etl, revised)
    months = {r["month"]: r["n"] for r in query(etl, """SELECT month, sum(value) AS n FROM harm.indicator_month
                                                        WHERE indicator = 'drug_searches' GROUP BY 1""")}
    assert months == {date(2025, 1, 1): 1, date(2025, 2, 1): 1}
    assert query(etl, "SELECT count(*) AS n FROM etl.stop_search")[0]["n"] == 2


def _small_month(settings, tmp_path: Path) -> dict[str, str]:
    """One month of searches in two wards (Lambeth, Camden) and two with no location, and the same month's
    trafficking offences there (an MPS file), so that a publish has a period to put them beside."""
    lambeth, camden = ward_at(settings, *LAMBETH_POINT), ward_at(settings, *CAMDEN_POINT)
    w1, b2, a1 = "White - White British (W1)", "Black or Black British - African (B2)", "Asian or Asian British - Indian (A1)"
    rows = ([search(linked="True", ethnicity=w1), search(linked="False", ethnicity=b2), search(linked="False", ethnicity="")]
            + [search(point=CAMDEN_POINT, linked=v, ethnicity=e) for v, e in
               (("True", w1), ("True", w1), ("False", w1), ("False", w1), ("False", w1), ("False", a1), ("", a1))]
            + [search(point=None, linked="True", ethnicity=b2), search(point=None, linked="", ethnicity="Not Stated (NS)")]
            + [search(obj="Offensive weapons", linked="True")])
    run(settings, write(tmp_path / "stop_search.csv", rows))
    mps = pd.DataFrame({"MajorText": "DRUG OFFENCES", "MinorText": "TRAFFICKING OF DRUGS", "WardName": ["L", "C"],
                        "WardCode": [lambeth, camden], "LookUp_BoroughName": ["Lambeth", "Camden"], "202501": [5, 5]})
    mps.to_csv(tmp_path / "mps_ward_level_crime.csv", index=False)
    batch.run(settings, "mps_ward_crime", tmp_path / "mps_ward_level_crime.csv", today=TODAY)
    return {"lambeth": "E09000022", "camden": "E09000007"}


@pytest.mark.db
def test_the_publish_gives_the_find_rate_and_london_keeps_the_unlocated(etl, tmp_path):
    codes = _small_month(etl, tmp_path)
    index.publish(etl)
    london = query(etl, """SELECT searches, unlocated, recorded, found, find_pct, find_lo, find_hi, synthetic
                           FROM harm.current_search_outcome WHERE period = '2025-01' AND level = 'london'""")[0]
    # 3 Lambeth + 7 Camden + 2 with no location; recorded 3 + 6 + 1, found 1 + 2 + 1
    assert (london["searches"], london["unlocated"], london["recorded"], london["found"]) == (12, 2, 10, 4)
    lo, hi = (100 * x for x in harm.scoring.wilson_interval(np.array([4.0]), np.array([10.0])))
    assert london["find_pct"] == pytest.approx(40) and (london["find_lo"], london["find_hi"]) == \
        pytest.approx((lo[0], hi[0]))
    assert 16 < london["find_lo"] < 17 and 68 < london["find_hi"] < 69   # 16.8% to 68.7%, by hand
    # London's drug_searches figure carries the two with no location; no borough or ward has them
    area = {r["area_code"]: r["value"] for r in query(etl, """SELECT area_code, value FROM harm.current_area_indicator
                                                              WHERE indicator = 'drug_searches' AND period = '2025-01'""")}
    assert area["london"] == 12 and area[codes["lambeth"]] == 3 and area[codes["camden"]] == 7
    wards = query(etl, """SELECT sum(value) AS n FROM harm.current_ward_indicator
                          WHERE indicator = 'drug_searches' AND period = '2025-01'""")[0]["n"]
    assert wards == 10
    # nothing published holds a coordinate: searches are counted in places, never shown as points
    columns = {r["column_name"] for r in query(etl, """SELECT column_name FROM information_schema.columns
                                                       WHERE table_schema = 'harm' AND table_name LIKE '%%search%%'""")}
    assert not columns & {"x", "y", "lat", "lon", "latitude", "longitude", "geom"}


@pytest.mark.db
def test_the_read_model_hides_small_counts_and_what_gives_them_back(etl, tmp_path):
    codes = _small_month(etl, tmp_path)
    index.publish(etl)
    viewer, analyst = Disclosure(exact=False), Disclosure(exact=True)
    with db.connect(etl.database_url) as conn, published.opened(conn) as snap:
        exact = snap.search_outcomes("2025-01", "borough", codes["camden"], disclosure=analyst)
        seen = snap.search_outcomes("2025-01", "borough", codes["camden"], disclosure=viewer)
        london = snap.search_outcomes("2025-01", "london", "london", disclosure=viewer)
        none = snap.search_outcomes("2024-12", "london", "london", disclosure=viewer)
        with pytest.raises(published.BadRequest):
            snap.search_outcomes("2025-01", "ward", "E05014118")
    assert (exact.searches, exact.recorded, exact.found) == (7, 6, 2)
    assert exact.find_pct == pytest.approx(100 / 3) and exact.groups["white"] == 5 and exact.groups["asian"] == 2
    assert "TS021" in exact.note
    # a viewer: 2 found hides itself and the rate (rate x recorded = found); the 7 searches and 6 recorded stay
    assert (seen.searches, seen.recorded, seen.found, seen.find_pct, seen.find_lo) == (7, 6, None, None, None)
    # 2 Asian searches are hidden, and so is the next smallest group (5 White): 7 - 5 would give the 2 back
    assert seen.groups["asian"] is None and seen.groups["white"] is None and seen.groups["black"] == 0
    assert {"found", "find_pct", "group:asian", "group:white"} <= set(seen.hidden)
    # London: 2 with no location hide themselves and London's total (the total less the boroughs' is them)
    assert london.unlocated is None and london.searches is None and london.found is None
    assert none is None
