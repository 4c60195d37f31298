"""Indicator jobs against the real throwaway PostGIS database: small files, hand-computed outcomes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import MultiPoint, Point

from etl import batch
from etl.errors import EtlError
from etl.kinds import monthly, records
from conftest import query, reasons, ward_at
from harmmap import db

pytestmark = pytest.mark.db
TODAY = date(2026, 11, 23)

PUBLISHED = """
    SELECT md5(coalesce(string_agg(t, '|' ORDER BY t), '')) AS h FROM (
        SELECT concat_ws(',', indicator, month, borough_code, ward_code, value, synthetic) AS t FROM harm.indicator_month
        UNION ALL SELECT concat_ws(',', indicator, year, ward_code, value) FROM harm.indicator_year
        UNION ALL SELECT concat_ws(',', source_id, ward_code, borough_code, event_date, batch_id) FROM etl.closure
        UNION ALL SELECT concat_ws(',', source_id, batch_id) FROM etl.disruption
        UNION ALL SELECT concat_ws(',', source_id, seq, ward_code) FROM etl.disruption_location
        UNION ALL SELECT concat_ws(',', geography_code, measure, period_end, agree_count) FROM etl.pas_result
        UNION ALL SELECT concat_ws(',', source_id, value_gbp) FROM etl.asset_seizure
        UNION ALL SELECT concat_ws(',', ward_code, month, minor, offences) FROM etl.recorded_crime
        UNION ALL SELECT concat_ws(',', batch_id, line, ward_code) FROM etl.stop_search
        UNION ALL SELECT concat_ws(',', quarantine_id, reason) FROM etl.quarantine) x"""


@pytest.fixture
def etl(settings, geo_loaded, clear_loaded_indicators):
    """Jobs commit through their own connections: start and end each test with no indicator data."""
    def clear() -> None:
        clear_loaded_indicators()
        with db.connect(settings.database_url) as c:
            c.execute("DELETE FROM etl.stop_search")  # not among the fixtures' tables yet
    clear()
    yield settings
    clear()


def run(settings, kind: str, path: Path):
    return batch.run(settings, kind, path, today=TODAY)


CLOSURES = pd.DataFrame([
    # good rows
    ("C1", "crack_house", "closure_order", "2024-05-03", "E05014118", "2022", "", "", "", "", "", "1 Example St"),
    ("C2", "cannabis_factory", "Closure Notice", "2024-05-20", "", "", "-0.1145", "51.4613", "", "", "", "2 Fake Rd"),
    ("C3", "crack_house", "other", "15/06/2024", "", "", "", "", "531000", "178000", "", ""),
    ("C4", "crack_house", "closure_order", "2024-05-09", "", "", "", "", "", "", "E09000022", ""),
    ("C5", "crack_house", "closure order", "2024-05-28", "E05000416", "2018", "", "", "", "", "", ""),
    # bad rows, one defect each
    ("C1", "crack_house", "closure_order", "2024-05-04", "E05014118", "2022", "", "", "", "", "", ""),
    ("C7", "crack_house", "closure_order", "2024-05-04", "E05999999", "2022", "", "", "", "", "", ""),
    ("C8", "crack_house", "closure_order", "2024-05-04", "", "", "51.5", "-0.12", "", "", "", "8 Quarantined Lane"),
    ("C9", "crack_house", "closure_order", "2024-05-04", "", "", "531000", "179000", "", "", "", ""),
    ("C10", "crack_house", "closure_order", "2031-01-01", "E05014118", "2022", "", "", "", "", "", ""),
    ("C11", "crack_house", "closure_order", "1999-12-31", "E05014118", "2022", "", "", "", "", "", ""),
    ("C12", "crack_house", "closure_order", "2024-05-04", "", "", "2.3522", "48.8566", "", "", "", ""),
    ("C13", "crack_den", "closure_order", "2024-05-04", "E05014118", "2022", "", "", "", "", "", ""),
    ("", "crack_house", "closure_order", "2024-05-04", "E05014118", "2022", "", "", "", "", "", ""),
    ("C15", "crack_house", "closure_order", "2024-05-04", "", "", "", "", "", "", "", ""),
    ("C16", "crack_house", "closure_order", "2024-05-04", "", "", "", "", "-0.11", "51.46", "", ""),
], columns=["Source ID", "closure_type", "stage", "date", "ward_code", "ward_vintage", "lon", "lat", "easting",
            "northing", "borough_code", "Premises Address"])
CLOSURES["synthetic"] = "false"  # every HarmMap contract says whether its rows are made up

EXPECTED_REASONS = {
    7: "duplicate source_id 'C1' (also at line 2)",
    8: "ward_code E05999999 is not a 2022 ward",
    9: "look swapped",
    10: "look like British National Grid easting/northing",
    11: "date 2031-01-01 is in the future",
    12: "date 1999-12-31 is before 2000",
    13: "point (2.35220, 48.85660) is outside London",
    14: "closure_type 'crack_den' is not one of crack_house, cannabis_factory",
    15: "source_id is empty",
    16: "no location",
    17: "look like lon/lat degrees",
}


def test_closures_load_locate_and_quarantine_with_reasons(etl, tmp_path):
    path = tmp_path / "closures.csv"
    CLOSURES.to_csv(path, index=False)
    report = run(etl, "closures", path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (16, 5, 11)
    assert report.dropped_columns == ["premises_address"]
    got = reasons(etl, report.batch_id)
    assert set(got) == set(EXPECTED_REASONS)
    for line, expected in EXPECTED_REASONS.items():
        assert got[line].startswith(f"line {line}: ") and expected in got[line], (line, got[line])

    rows = {r["source_id"]: r for r in query(etl, "SELECT * FROM etl.closure")}
    assert rows["C1"]["ward_code"] == "E05014118" and rows["C1"]["location_method"] == "ward_code"
    assert rows["C2"]["ward_code"] == ward_at(etl, -0.1145, 51.4613) and rows["C2"]["stage"] == "closure_notice"
    assert rows["C3"]["location_method"] == "point" and rows["C3"]["event_date"] == date(2024, 6, 15)
    assert rows["C4"]["ward_code"] is None and rows["C4"]["borough_code"] == "E09000022"
    assert rows["C5"]["ward_code"] == "E05014118"  # 2018 Bishop's -> its main 2022 successor

    # Published: two crack house closures in Waterloo & South Bank in May 2024 (C1 and C5), and the
    # borough-only closure kept at borough level with no ward.
    pub = {(r["indicator"], r["ward_code"], r["month"]): r["value"] for r in
           query(etl, "SELECT indicator, ward_code, month, value FROM harm.indicator_month")}
    assert pub[("crack_house_closures", "E05014118", date(2024, 5, 1))] == 2
    assert pub[("crack_house_closures", None, date(2024, 5, 1))] == 1
    assert sum(pub.values()) == 5


def test_addresses_are_never_stored(etl, tmp_path):
    path = tmp_path / "closures.csv"
    CLOSURES.to_csv(path, index=False)
    run(etl, "closures", path)
    stored = json.dumps(query(etl, "SELECT raw FROM etl.quarantine"), default=str)
    assert '"lat": "-0.12"' in stored  # the quarantined row C8 is there, whole...
    assert "Quarantined Lane" not in stored and "address" not in stored.lower()  # ...but without its address


def test_rerunning_the_same_file_changes_nothing(etl, tmp_path):
    path = tmp_path / "closures.csv"
    CLOSURES.to_csv(path, index=False)
    first = run(etl, "closures", path)
    before = query(etl, PUBLISHED)[0]["h"]
    again = run(etl, "closures", path)
    assert again.status == "unchanged" and again.same_as == first.batch_id
    assert query(etl, PUBLISHED)[0]["h"] == before


def test_source_id_loaded_by_an_earlier_batch_is_quarantined(etl, tmp_path):
    first, second = tmp_path / "closures_a.csv", tmp_path / "closures_b.csv"
    CLOSURES.iloc[:2].to_csv(first, index=False)
    CLOSURES.iloc[[0, 2]].to_csv(second, index=False)
    a = run(etl, "closures", first)
    b = run(etl, "closures", second)
    assert (b.rows_read, b.rows_loaded, b.rows_quarantined) == (2, 1, 1)
    assert reasons(etl, b.batch_id) == {2: f"line 2: duplicate source_id 'C1': already loaded by batch {a.batch_id}"}


@pytest.mark.parametrize("fmt", ["xlsx", "geojson", "gpkg"])
def test_every_accepted_format_gives_the_same_result(etl, tmp_path, fmt, clear_loaded_indicators):
    good = CLOSURES.iloc[:5].drop(columns="Premises Address")
    csv = tmp_path / "closures.csv"
    good.to_csv(csv, index=False)
    expected = run(etl, "closures", csv)
    baseline = query(etl, "SELECT source_id, ward_code, borough_code FROM etl.closure ORDER BY 1")
    clear_loaded_indicators()
    path = tmp_path / f"closures.{fmt}"
    if fmt == "xlsx":
        good.to_excel(path, index=False)
    else:
        # Vector files carry the point as geometry instead of lon/lat columns.
        frame = good.drop(columns=["lon", "lat"]).copy()
        geometry = [Point(-0.1145, 51.4613) if sid == "C2" else None for sid in frame["Source ID"]]
        gpd.GeoDataFrame(frame, geometry=geometry, crs=4326).to_file(path)
    report = run(etl, "closures", path)
    assert (report.rows_loaded, report.rows_quarantined) == (expected.rows_loaded, 0)
    assert query(etl, "SELECT source_id, ward_code, borough_code FROM etl.closure ORDER BY 1") == baseline


def test_a_file_missing_a_required_column_fails_whole_and_is_recorded(etl, tmp_path):
    path = tmp_path / "closures.csv"
    CLOSURES.drop(columns="stage").to_csv(path, index=False)
    before = query(etl, PUBLISHED)[0]["h"]
    with pytest.raises(EtlError, match="missing column"):
        run(etl, "closures", path)
    batch = query(etl, "SELECT status, error FROM etl.batch WHERE job = 'closures'")[0]
    assert batch["status"] == "failed" and "stage" in batch["error"]
    assert query(etl, PUBLISHED)[0]["h"] == before


def test_disruptions_count_once_in_each_ward_they_touch(etl, tmp_path):
    lambeth_point = (-0.1145, 51.4613)
    frame = pd.DataFrame([
        ("D1", "2025-01-10", "NET-0001", "county_lines", "major", "E05014118;E05014105", "2022", "", ""),
        ("D2", "2025-01-15", "NET-0001", "local", "minor", "", "", f"{lambeth_point[0]}", f"{lambeth_point[1]}"),
        ("D3", "2025-01-20", "NET-0002", "cross_borough", "moderate", "", "", "-0.1145;-0.12", "51.4613"),
        ("D4", "2025-01-21", "NET-0003", "regional", "moderate", "E05014118", "2022", "", ""),
        ("D5", "2025-01-22", "NET-0003", "local", "minor", "E05014118;E05999999", "2022", "", ""),
    ], columns=["source_id", "date", "network_ref", "level", "grading", "ward_code", "ward_vintage", "lon", "lat"])
    frame["synthetic"] = "false"
    path = tmp_path / "disruptions.csv"
    frame.to_csv(path, index=False)
    report = run(etl, "disruptions", path)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 3)
    got = reasons(etl, report.batch_id)
    assert "lon and lat hold 2 and 1 numbers" in got[4]
    assert "level 'regional' is not one of" in got[5]
    assert "E05999999 is not a 2022 ward" in got[6]
    pub = {r["ward_code"]: r["value"] for r in
           query(etl, "SELECT ward_code, value FROM harm.indicator_month WHERE indicator = 'network_disruptions'")}
    point_ward = ward_at(etl, *lambeth_point)
    expected = {"E05014118": 1, "E05014105": 1}
    expected[point_ward] = expected.get(point_ward, 0) + 1
    assert pub == expected


def test_multipoint_geometry_gives_several_locations(etl, tmp_path):
    frame = gpd.GeoDataFrame({"source_id": ["D1"], "date": ["2025-02-01"], "network_ref": ["NET-9"],
                              "level": ["local"], "grading": ["minor"], "synthetic": ["false"]},
                             geometry=[MultiPoint([(-0.1145, 51.4613), (-0.0877, 51.5074)])], crs=4326)
    path = tmp_path / "disruptions.geojson"
    frame.to_file(path)
    report = run(etl, "disruptions", path)
    assert report.rows_loaded == 1
    assert query(etl, "SELECT count(*) AS n FROM etl.disruption_location")[0]["n"] == 2
    # The second point is on the Thames by London Bridge: in no (bank-clipped) ward, so snapped.
    notes = query(etl, "SELECT notes FROM etl.batch WHERE batch_id = %s", (report.batch_id,))[0]["notes"]
    assert notes["points_snapped_to_nearest_ward"] == 1


def test_pas_counts_percentages_and_their_quarantine(etl, tmp_path):
    frame = pd.DataFrame([
        ("quarter", "2025-06", "ward", "E05014118", "drug_problem", "20", "8", ""),
        ("quarter", "2025-06", "ward", "E05014118", "tackle_dealing", "20", "", "45"),
        ("r12", "2025-07", "borough", "E09000022", "drug_problem", "400", "150", ""),
        ("quarter", "2025-06", "ward", "E05014105", "drug_problem", "12", "13", ""),
        ("quarter", "2025-06", "ward", "E05014105", "tackle_dealing", "12", "", "120"),
        ("quarter", "2025-07", "ward", "E05014105", "drug_problem", "12", "3", ""),
        ("quarter", "2025-06", "ward", "E05014118", "drug_problem", "20", "9", ""),
        ("quarter", "2025-06", "ward", "E05014105", "feel_safe", "20", "9", ""),
        ("quarter", "2025-06", "ward", "E05014105", "tackle_dealing", "20", "", ""),
    ], columns=["period_type", "period_end", "geography_level", "geography_code", "measure", "respondents",
                "agree_count", "agree_pct"])
    frame["synthetic"] = "false"
    path = tmp_path / "pas.csv"
    frame.to_csv(path, index=False)
    report = run(etl, "pas", path)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 6)
    got = reasons(etl, report.batch_id)
    assert "respondents 12 < agree_count 13" in got[5]
    assert "agree_pct 120 is outside 0-100" in got[6]
    assert "does not end a calendar quarter" in got[7]
    assert "duplicate result" in got[8]
    assert "measure 'feel_safe' is not one of" in got[9]
    assert "both agree_count and agree_pct are empty" in got[10]
    stored = {(r["geography_code"], r["measure"]): (r["respondents"], r["agree_count"]) for r in
              query(etl, "SELECT * FROM etl.pas_result")}
    assert stored[("E05014118", "tackle_dealing")] == (20, 9)  # 45% of 20
    assert stored[("E09000022", "drug_problem")] == (400, 150)


def test_seizures_money_and_borough_level(etl, tmp_path):
    frame = pd.DataFrame([
        ("S1", "2025-03-01", "2", "£12,500.50", "E05014118", "2022", ""),
        ("S2", "2025-03-02", "1", "800", "", "", "E09000022"),
        ("S3", "2025-03-03", "0", "100", "", "", "E09000022"),
        ("S4", "2025-03-04", "1", "-5", "", "", "E09000022"),
        ("S5", "2025-03-05", "1", "10", "", "", "E09000999"),
    ], columns=["source_id", "date", "seizure_count", "value_gbp", "ward_code", "ward_vintage", "borough_code"])
    frame["synthetic"] = "false"
    path = tmp_path / "seizures.csv"
    frame.to_csv(path, index=False)
    report = run(etl, "seizures", path)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 3)
    got = reasons(etl, report.batch_id)
    assert "seizure_count 0 is below 1" in got[4] and "is negative" in got[5] and "not a London borough" in got[6]
    pub = {(r["indicator"], r["ward_code"]): r["value"] for r in
           query(etl, "SELECT indicator, ward_code, value FROM harm.indicator_month")}
    assert pub == {("asset_seizures", "E05014118"): 2, ("asset_seizure_value_gbp", "E05014118"): 12500.5,
                   ("asset_seizures", None): 1, ("asset_seizure_value_gbp", None): 800}


def test_real_mps_drug_offences_equal_the_source_csv(etl, settings):
    path = settings.geodata_dir / "crime/mps_ward_level_crime_2024-03_to_2026-03.csv"
    report = run(etl, "mps_ward_crime", path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (18_669, 18_669, 0)
    source = pd.read_csv(path)
    drugs = source[source["MajorText"] == "DRUG OFFENCES"]
    expected = drugs.melt(id_vars=["MajorText", "MinorText", "WardName", "WardCode", "LookUp_BoroughName"],
                          var_name="yyyymm", value_name="n").groupby(["WardCode", "yyyymm"])["n"].sum()
    got = pd.DataFrame(query(etl, """SELECT ward_code, to_char(month, 'YYYYMM') AS yyyymm, value
                                     FROM harm.indicator_month WHERE indicator = 'drug_offences'"""))
    got = got.set_index(["ward_code", "yyyymm"])["value"]
    assert len(got) == len(expected) == 679 * 25
    assert (got.sort_index() == expected.sort_index().astype(float)).all()
    assert got.sum() == 92_807


def test_next_months_file_replaces_only_the_months_it_holds(etl, settings, tmp_path):
    path = settings.geodata_dir / "crime/mps_ward_level_crime_2024-03_to_2026-03.csv"
    run(etl, "mps_ward_crime", path)
    source = pd.read_csv(path, dtype=str)
    later = source.drop(columns=["202403"])
    later["202603"] = "0"  # revised month
    later["202604"] = "1"  # a new month
    newer = tmp_path / "MPS Ward Level Crime (most recent 24 months).csv"
    later.to_csv(newer, index=False)
    run(etl, "mps_ward_crime", newer, )
    months = {r["m"]: r["v"] for r in query(etl, """SELECT to_char(month, 'YYYYMM') AS m, sum(value) AS v
                                                    FROM harm.indicator_month WHERE indicator = 'drug_offences' GROUP BY 1""")}
    drugs = source[source["MajorText"] == "DRUG OFFENCES"]
    assert months["202403"] == drugs["202403"].astype(int).sum()  # kept from the first file
    assert months["202603"] == 0 and months["202604"] == 2 * 679


def test_real_lsoa_series_is_carried_to_2022_wards_whole(etl, settings):
    path = settings.geodata_dir / "crime/mps_lsoa_drug_offences_annual_2011_2021.csv"
    report = run(etl, "mps_lsoa_drug_annual", path)
    assert report.rows_quarantined == 0
    source = pd.read_csv(path)
    years = [str(y) for y in range(2011, 2022)]
    got = {r["year"]: r["v"] for r in query(etl, "SELECT year, sum(value) AS v FROM harm.indicator_year GROUP BY 1")}
    for y in years:
        assert got[int(y)] == pytest.approx(source[y].sum(), rel=1e-9)


def test_cli_status_and_quarantine_csv(etl, tmp_path):
    from harmmap.cli import main

    path = tmp_path / "closures.csv"
    CLOSURES.to_csv(path, index=False)
    env = {"HARMMAP_DATABASE_URL": etl.database_url}
    result = CliRunner().invoke(main, ["etl", "run", "closures", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "read 16 = loaded 5 + quarantined 11" in result.output
    assert "dropped column(s) premises_address" in result.output
    status = CliRunner().invoke(main, ["etl", "status", "--csv"], env=env)
    assert "closures" in status.output and ",16,5,11," in status.output
    quarantine = CliRunner().invoke(main, ["etl", "quarantine", "--csv"], env=env)
    assert quarantine.output.count("\n") == 12  # header + 11 rows
    bad = CliRunner().invoke(main, ["etl", "run", "nonsense", str(path)], env=env)
    assert bad.exit_code == 2 and "unknown kind 'nonsense'" in bad.output


def test_same_content_under_another_name_is_unchanged(etl, tmp_path):
    first, second = tmp_path / "closures_a.csv", tmp_path / "closures_copy.csv"
    CLOSURES.to_csv(first, index=False)
    CLOSURES.to_csv(second, index=False)
    a = run(etl, "closures", first)
    b = run(etl, "closures", second)
    assert b.status == "unchanged" and b.same_as == a.batch_id


def test_rerun_after_a_failed_run_loads(etl, tmp_path):
    path = tmp_path / "closures.csv"
    CLOSURES.drop(columns="stage").to_csv(path, index=False)
    with pytest.raises(EtlError):
        run(etl, "closures", path)
    CLOSURES.to_csv(path, index=False)
    assert run(etl, "closures", path).status == "published"


def test_borough_only_counts_add_up_across_batches(etl, tmp_path):
    for n, ids in enumerate((["B1", "B2"], ["B3"])):
        path = tmp_path / f"closures_{n}.csv"
        pd.DataFrame({"source_id": ids, "closure_type": "crack_house", "stage": "other", "date": "2024-07-01",
                      "borough_code": "E09000022", "synthetic": "false"}).to_csv(path, index=False)
        run(etl, "closures", path)
    rows = query(etl, "SELECT ward_code, value FROM harm.indicator_month WHERE indicator = 'crack_house_closures'")
    assert rows == [{"ward_code": None, "value": 3}]


def test_hostile_numbers_are_quarantined_not_crashes(etl, tmp_path):
    seizures = pd.DataFrame([
        ("S1", "2025-03-01", "inf", "10", "E09000022"), ("S2", "2025-03-01", "1", "1e20", "E09000022"),
        ("S3", "2025-03-01", "1", "inf", "E09000022"), ("S4", "2025-03-01", "1e12", "5", "E09000022"),
        ("S5", "2025-03-01", "1", "5", "E09000022"),
    ], columns=["source_id", "date", "seizure_count", "value_gbp", "borough_code"]).assign(synthetic="false")
    path = tmp_path / "seizures.csv"
    seizures.to_csv(path, index=False)
    report = run(etl, "seizures", path)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 4)
    pas = pd.DataFrame([("quarter", "2025-06", "ward", "E05014118", "drug_problem", "nan", "1"),
                        ("quarter", "2025-06", "ward", "E05014118", "tackle_dealing", "20", "inf")],
                       columns=["period_type", "period_end", "geography_level", "geography_code", "measure",
                                "respondents", "agree_count"]).assign(synthetic="false")
    path = tmp_path / "pas.csv"
    pas.to_csv(path, index=False)
    report = run(etl, "pas", path)
    assert (report.rows_loaded, report.rows_quarantined) == (0, 2)


def test_pas_ward_results_must_be_2022_codes(etl, tmp_path):
    path = tmp_path / "pas.csv"
    pd.DataFrame([("quarter", "2025-06", "ward", "E05000416", "2018", "drug_problem", "20", "5")],
                 columns=["period_type", "period_end", "geography_level", "geography_code", "ward_vintage",
                          "measure", "respondents", "agree_count"]).assign(synthetic="false").to_csv(path, index=False)
    report = run(etl, "pas", path)
    assert "must use 2022 ward codes" in reasons(etl, report.batch_id)[2]


def test_blank_lines_keep_line_numbers_right(etl, tmp_path):
    path = tmp_path / "closures.csv"
    head = "source_id,closure_type,stage,date,ward_code,ward_vintage,synthetic\n"
    path.write_text(head + "A1,crack_house,other,2024-01-01,E05014118,2022,false\n\n"
                    + "A2,crack_house,other,2024-01-01,E05999999,2022,false\n")
    report = run(etl, "closures", path)
    assert list(reasons(etl, report.batch_id)) == [4]


def test_percent_formatted_xlsx_cells_mean_what_they_show(etl, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["period_type", "period_end", "geography_level", "geography_code", "measure", "respondents",
                  "agree_pct", "synthetic"])
    sheet.append(["quarter", "2025-06", "ward", "E05014118", "drug_problem", 20, 0.45, False])
    sheet["G2"].number_format = "0%"
    path = tmp_path / "pas.xlsx"
    book.save(path)
    run(etl, "pas", path)
    assert query(etl, "SELECT agree_count FROM etl.pas_result")[0]["agree_count"] == 9  # 45% of 20


def test_null_date_in_a_geopackage_is_one_bad_row(etl, tmp_path):
    frame = gpd.GeoDataFrame({"source_id": ["G1", "G2"], "closure_type": ["crack_house"] * 2,
                              "stage": ["other"] * 2, "date": pd.to_datetime(["2024-03-01", None]),
                              "synthetic": [False, False]},
                             geometry=[Point(-0.1145, 51.4613)] * 2, crs=4326)
    path = tmp_path / "closures.gpkg"
    frame.to_file(path)
    report = run(etl, "closures", path)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    assert "date is empty" in reasons(etl, report.batch_id)[2]


def test_mps_rows_quarantined_later_keep_their_published_months(etl, settings, tmp_path):
    path = settings.geodata_dir / "crime/mps_ward_level_crime_2024-03_to_2026-03.csv"
    run(etl, "mps_ward_crime", path)
    before = query(etl, "SELECT sum(value) AS v FROM harm.indicator_month WHERE indicator = 'drug_offences'")[0]["v"]
    source = pd.read_csv(path, dtype=str)
    row = source.index[(source["WardCode"] == "E05013570") & (source["MinorText"] == "POSSESSION OF DRUGS")][0]
    source.loc[row, "202403"] = "n/a"
    source.loc[source.index[100], "WardCode"] = "E05999999"
    dup = source.iloc[[200]]
    bad = tmp_path / "mps_ward_level_crime_bad.csv"
    pd.concat([source, dup]).to_csv(bad, index=False)
    report = run(etl, "mps_ward_crime", bad)
    got = reasons(etl, report.batch_id)
    assert report.rows_quarantined == 3
    assert any("month 202403 has 'n/a'" in r for r in got.values())
    assert any("'E05999999' is not a 2022 ward" in r for r in got.values())
    assert any("duplicate row for ward" in r for r in got.values())
    after = query(etl, "SELECT sum(value) AS v FROM harm.indicator_month WHERE indicator = 'drug_offences'")[0]["v"]
    assert after == before  # nothing the earlier file published was lost


def test_lsoa_file_quarantine_reasons(etl, tmp_path):
    path = tmp_path / "lsoa.csv"
    path.write_text("LSOA11CD,2019,2020\nE01000006,5,6\nE01999999,1,1\nE01000007,-3,1\nE01000006,1,1\n")
    report = run(etl, "mps_lsoa_drug_annual", path)
    got = reasons(etl, report.batch_id)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 3)
    assert "not in the LSOA 2011 lookup" in got[3] and "not a count" in got[4] and "duplicate LSOA11CD" in got[5]


def test_2014_ward_codes_are_carried_to_2022(etl, tmp_path):
    path = tmp_path / "closures.csv"
    pd.DataFrame({"source_id": ["W14"], "closure_type": ["crack_house"], "stage": ["other"], "date": ["2024-01-01"],
                  "ward_code": ["E05000416"], "ward_vintage": ["2014"], "synthetic": ["false"]}).to_csv(path, index=False)
    run(etl, "closures", path)
    assert query(etl, "SELECT ward_code FROM etl.closure")[0]["ward_code"] == "E05014118"


def test_synthetic_set_quarantines_exactly_its_planted_bad_rows(etl, settings, tmp_path):
    from harmmap.cli import main

    env = {"HARMMAP_DATABASE_URL": settings.database_url}
    out = tmp_path / "synthetic"
    assert CliRunner().invoke(main, ["synth", "--seed", "5", "--out", str(out)], env=env).exit_code == 0
    result = CliRunner().invoke(main, ["etl", "run-all", str(out)], env=env)
    assert result.exit_code == 0, result.output
    for kind in ("closures", "disruptions", "pas", "seizures", "stop_search"):
        expected = pd.read_csv(out / f"_expected_quarantine_{kind}.csv")
        batch = query(etl, "SELECT batch_id, synthetic FROM etl.batch WHERE job = %s AND status = 'published'", (kind,))[0]
        assert batch["synthetic"] is True
        got = reasons(etl, batch["batch_id"])
        planted = {int(str(p).split()[-1]) for p in expected["line_or_feature"]}
        assert set(got) == planted, kind


@pytest.mark.parametrize("kind, frame", [
    ("closures", CLOSURES.iloc[:2]),
    ("disruptions", pd.DataFrame({"source_id": ["D1"], "date": ["2025-01-10"], "network_ref": ["NET-1"],
                                  "level": ["local"], "grading": ["minor"], "ward_code": ["E05014118"]})),
    ("pas", pd.DataFrame({"period_type": ["quarter"], "period_end": ["2025-06"], "geography_level": ["ward"],
                          "geography_code": ["E05014118"], "measure": ["drug_problem"], "respondents": ["20"],
                          "agree_count": ["8"]})),
    ("seizures", pd.DataFrame({"source_id": ["S1"], "date": ["2025-03-01"], "seizure_count": ["1"],
                               "value_gbp": ["10"], "borough_code": ["E09000022"]}))])
def test_a_harmmap_contract_file_without_the_synthetic_column_is_refused_whole(etl, tmp_path, kind, frame):
    path = tmp_path / f"{kind}.csv"
    frame.drop(columns="synthetic", errors="ignore").to_csv(path, index=False)
    before = query(etl, PUBLISHED)[0]["h"]
    with pytest.raises(EtlError, match="no synthetic column: every row must say whether it is synthetic"):
        run(etl, kind, path)
    assert query(etl, "SELECT status FROM etl.batch WHERE job = %s", (kind,))[0]["status"] == "failed"
    assert query(etl, PUBLISHED)[0]["h"] == before
    frame.assign(synthetic="false").to_csv(path, index=False)  # the same rows, saying they are real, load
    assert run(etl, kind, path).rows_quarantined == 0


def test_synthetic_ids_claiming_to_be_real_are_quarantined(etl, tmp_path):
    good = CLOSURES.iloc[0].to_dict()
    rows = [dict(good, **{"Source ID": "SYN-CL-000001", "synthetic": "false"}),
            dict(good, **{"Source ID": "SYN-CL-000002", "synthetic": "true"}),
            dict(good, **{"Source ID": "syn-cl-000003", "synthetic": "FALSE"}),
            dict(good, **{"Source ID": "REAL-4", "synthetic": "maybe"}),
            dict(good, **{"Source ID": "REAL-5", "synthetic": ""}),
            dict(good, **{"Source ID": "REAL-6", "synthetic": "No"})]
    path = tmp_path / "closures.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    report = run(etl, "closures", path)
    assert (report.rows_loaded, report.rows_quarantined, report.synthetic) == (2, 4, True)
    assert reasons(etl, report.batch_id) == {
        2: "line 2: source id SYN-CL-000001 is synthetic but the row claims to be real",
        4: "line 4: source id syn-cl-000003 is synthetic but the row claims to be real",
        5: "line 5: synthetic 'maybe' is not true or false",
        6: "line 6: synthetic is empty: say true or false"}
    assert {r["source_id"]: r["synthetic"] for r in query(etl, "SELECT source_id, synthetic FROM etl.closure")} == \
        {"SYN-CL-000002": True, "REAL-6": False}
    # a disruption says so the same way
    dis = pd.DataFrame({"source_id": ["SYN-DR-000001"], "date": ["2025-01-10"], "network_ref": ["NET-1"],
                        "level": ["local"], "grading": ["minor"], "ward_code": ["E05014118"], "synthetic": ["false"]})
    dis.to_csv(tmp_path / "disruptions.csv", index=False)
    d = run(etl, "disruptions", tmp_path / "disruptions.csv")
    assert reasons(etl, d.batch_id) == {2: "line 2: source id SYN-DR-000001 is synthetic but the row claims to be real"}


def test_the_real_mps_formats_refuse_synthetic_ids(etl, tmp_path):
    ward = tmp_path / "mps_ward_level_crime.csv"
    pd.DataFrame({"MajorText": "DRUG OFFENCES", "MinorText": "TRAFFICKING OF DRUGS", "WardName": "W",
                  "WardCode": ["E05014118", "SYN-E05014118"], "LookUp_BoroughName": "Lambeth",
                  "202501": [1, 2]}).to_csv(ward, index=False)
    report = run(etl, "mps_ward_crime", ward)
    assert reasons(etl, report.batch_id) == {
        3: "line 3: WardCode SYN-E05014118 is synthetic but MPS files are real by definition"}
    lsoa = tmp_path / "lsoa.csv"
    lsoa.write_text("LSOA11CD,2019\nE01000006,5\nSYN-E01000007,1\n")
    report = run(etl, "mps_lsoa_drug_annual", lsoa)
    assert reasons(etl, report.batch_id) == {
        3: "line 3: LSOA11CD SYN-E01000007 is synthetic but MPS files are real by definition"}


def test_run_all_carries_on_past_a_bad_file(etl, tmp_path):
    from harmmap.cli import main

    (tmp_path / "closures_0bad.csv").write_text("source_id,closure_type\n")
    CLOSURES.iloc[:2].to_csv(tmp_path / "closures_1good.csv", index=False)
    result = CliRunner().invoke(main, ["etl", "run-all", str(tmp_path)], env={"HARMMAP_DATABASE_URL": etl.database_url})
    assert result.exit_code == 1 and "1 of 2 file(s) failed: closures_0bad.csv" in result.output
    assert query(etl, "SELECT count(*) AS n FROM etl.closure")[0]["n"] == 2
    quarantine = CliRunner().invoke(main, ["etl", "quarantine", "--batch", "99999"], env={"HARMMAP_DATABASE_URL": etl.database_url})
    assert quarantine.exit_code == 0 and "nothing to show" in quarantine.output


def test_excel_style_cp1252_csv_is_read_and_said(etl, tmp_path):
    path = tmp_path / "seizures.csv"
    text = "source_id,date,seizure_count,value_gbp,borough_code,synthetic\nX1,2025-03-01,1,£1,250,E09000022,false\n"
    path.write_bytes(text.replace("£1,250", '"£1,250"').encode("cp1252"))
    report = run(etl, "seizures", path)
    assert (report.rows_loaded, report.encoding) == (1, "cp1252")
    assert query(etl, "SELECT value_gbp FROM etl.asset_seizure")[0]["value_gbp"] == 1250


def test_ragged_rows_are_quarantined_with_their_line_not_fatal(etl, tmp_path):
    path = tmp_path / "closures.csv"
    path.write_text("source_id,closure_type,stage,date,ward_code,ward_vintage,synthetic\n"
                    "R1,crack_house,other,2024-01-01,E05014118,2022,false\n"
                    "R2,crack_house,other\n"
                    "\n"
                    "R3,crack_house,other,2024-01-01,E05014118,2022,false,extra\n"
                    "R4,crack_house,other,2024-01-01,E05999999,2022,false\n")
    report = run(etl, "closures", path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (4, 1, 3)
    got = reasons(etl, report.batch_id)
    assert got[3] == "line 3: 3 fields where the header has 7"
    assert got[5] == "line 5: 8 fields where the header has 7"
    assert got[6].startswith("line 6: ward_code E05999999")


def test_a_file_checked_in_chunks_gives_the_same_reasons_and_counts(etl, tmp_path, monkeypatch):
    # Large files are checked and written a chunk at a time; tiny chunks put the duplicate C1 (lines
    # 2 and 7) in different chunks, so the file-wide checks must see across them.
    monkeypatch.setattr(records, "FIRST_CHUNK_ROWS", 2)
    monkeypatch.setattr(records, "CHUNK_ROWS", 3)
    path = tmp_path / "closures.csv"
    CLOSURES.to_csv(path, index=False)
    report = run(etl, "closures", path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (16, 5, 11)
    got = reasons(etl, report.batch_id)
    assert set(got) == set(EXPECTED_REASONS)
    for line, expected in EXPECTED_REASONS.items():
        assert got[line].startswith(f"line {line}: ") and expected in got[line], (line, got[line])
    pub = {(r["indicator"], r["ward_code"], r["month"]): r["value"] for r in
           query(etl, "SELECT indicator, ward_code, month, value FROM harm.indicator_month")}
    assert pub[("crack_house_closures", "E05014118", date(2024, 5, 1))] == 2
    assert pub[("crack_house_closures", None, date(2024, 5, 1))] == 1
    assert sum(pub.values()) == 5


def test_ids_an_earlier_batch_loaded_are_quarantined_whatever_chunk_they_are_in(etl, tmp_path, monkeypatch):
    monkeypatch.setattr(records, "FIRST_CHUNK_ROWS", 2)
    monkeypatch.setattr(records, "CHUNK_ROWS", 2)
    frame = pd.DataFrame({"source_id": [f"E{i}" for i in range(7)], "closure_type": "crack_house",
                          "stage": "other", "date": "2024-07-01", "ward_code": "E05014118", "synthetic": "false"})
    first, second = tmp_path / "closures_a.csv", tmp_path / "closures_b.csv"
    frame.iloc[[1, 5]].to_csv(first, index=False)
    frame.to_csv(second, index=False)
    a = run(etl, "closures", first)
    b = run(etl, "closures", second)
    assert (b.rows_read, b.rows_loaded, b.rows_quarantined) == (7, 5, 2)
    assert reasons(etl, b.batch_id) == {
        3: f"line 3: duplicate source_id 'E1': already loaded by batch {a.batch_id}",
        7: f"line 7: duplicate source_id 'E5': already loaded by batch {a.batch_id}"}
    loaded = query(etl, "SELECT source_id, batch_id FROM etl.closure ORDER BY source_id")
    assert [(r["source_id"], r["batch_id"] == a.batch_id) for r in loaded] == \
        [("E0", False), ("E1", True), ("E2", False), ("E3", False), ("E4", False), ("E5", True), ("E6", False)]
    assert query(etl, "SELECT value FROM harm.indicator_month")[0]["value"] == 7


def test_counts_add_to_published_rows_and_new_rows_are_inserted(conn, monkeypatch):
    def counts(*rows):
        return pd.DataFrame(rows, columns=["indicator", "month", "borough_code", "ward_code", "value", "synthetic"]
                            ).astype({"month": "datetime64[s]"})

    def published():
        return {(r["ward_code"], r["month"]): (r["value"], r["synthetic"]) for r in conn.execute(
            "SELECT ward_code, month, value, synthetic FROM harm.indicator_month WHERE indicator = 'x_closures'")}

    monthly.add_counts(conn, counts(("x_closures", "2024-05-01", "E09000022", "E05014118", 2.0, False),
                                     ("x_closures", "2024-05-01", "E09000022", None, 1.0, False)))
    monthly.add_counts(conn, counts(("x_closures", "2024-05-01", "E09000022", "E05014118", 3.0, True),
                                     ("x_closures", "2024-05-01", "E09000022", None, 1.0, False),
                                     ("x_closures", "2024-06-01", "E09000022", "E05014118", 1.0, False)))
    assert published() == {("E05014118", date(2024, 5, 1)): (5, True), (None, date(2024, 5, 1)): (2, False),
                           ("E05014118", date(2024, 6, 1)): (1, False)}
    # A row published after the lookup (the lookup misses it here): the plain COPY meets it and
    # everything is added through ON CONFLICT instead.
    monkeypatch.setattr(monthly, "_published", lambda _conn, c: np.zeros(len(c), bool))
    monthly.add_counts(conn, counts(("x_closures", "2024-06-01", "E09000022", "E05014118", 1.0, False),
                                     ("x_closures", "2024-07-01", "E09000022", None, 4.0, True)))
    assert published() == {("E05014118", date(2024, 5, 1)): (5, True), (None, date(2024, 5, 1)): (2, False),
                           ("E05014118", date(2024, 6, 1)): (2, False), (None, date(2024, 7, 1)): (4, True)}
