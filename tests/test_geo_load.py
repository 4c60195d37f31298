"""The shipped reference geography, as loaded into PostGIS, checked against published facts."""

import pytest

from etl import geo

pytestmark = pytest.mark.db

LONDON_RESIDENTS_2021 = 8_799_776


def test_ward_counts_per_vintage(conn):
    counts = {r["vintage"]: r["n"] for r in conn.execute("SELECT vintage, count(*) AS n FROM geo.ward GROUP BY 1")}
    assert counts == {2014: 654, 2018: 657, 2022: 704}
    assert conn.execute("SELECT count(*) AS n FROM geo.borough").fetchone()["n"] == 33


def test_every_geometry_is_a_valid_multipolygon_in_british_national_grid(conn):
    for table in ("geo.ward", "geo.borough", "geo.lsoa21"):
        row = conn.execute(f"""SELECT count(*) AS n, count(*) FILTER (WHERE ST_IsValid(geom)) AS valid,
                                      count(*) FILTER (WHERE ST_SRID(geom) = 27700) AS bng,
                                      count(*) FILTER (WHERE GeometryType(geom) = 'MULTIPOLYGON') AS multi
                               FROM {table}""").fetchone()
        assert row["n"] == row["valid"] == row["bng"] == row["multi"] > 0, table


def test_geometry_columns_are_gist_indexed(conn):
    indexed = {r["tablename"] for r in conn.execute(
        "SELECT tablename FROM pg_indexes WHERE schemaname = 'geo' AND indexdef ILIKE '%USING gist%'")}
    assert {"ward", "borough", "lsoa21"} <= indexed


def test_the_load_leaves_fresh_planner_statistics_and_no_dead_rows(conn):
    """VACUUM (ANALYZE) after the load: the planner's row counts are the tables' (not the empty tables' of
    the migration), and index scans do not visit the dead copies the load's own updates left."""
    for table in geo.ANALYZED:
        planned = conn.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()["reltuples"]
        actual = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]  # names from the module
        assert planned == actual, table
    # pages marked all-visible, which only VACUUM does (a failed load in another test may since have
    # touched some): an index-only scan of the wards reads no heap page for them
    assert conn.execute("SELECT relallvisible FROM pg_class WHERE oid = 'geo.ward'::regclass").fetchone()["relallvisible"] > 0


def test_the_two_invalid_2014_wards_were_repaired_and_reported(geo_loaded, conn):
    repaired = {r["code"] for r in geo_loaded["report"].repaired}
    assert repaired == {"E05009392", "E05009400"}  # Colville, Pembridge (SOURCES.md)
    notes = conn.execute("SELECT notes FROM etl.batch WHERE job = 'geo' AND status = 'published'").fetchone()["notes"]
    assert {r["code"] for r in notes["repaired"]} == repaired


def test_area_in_hectares_matches_the_geometry(conn):
    row = conn.execute("""SELECT sum(area_ha) AS ha, max(abs(area_ha - ST_Area(geom) / 1e4)) AS err
                          FROM geo.ward WHERE vintage = 2022""").fetchone()
    assert row["err"] < 1e-6
    assert row["ha"] / 100 == pytest.approx(1573.3, abs=0.5)  # km2, SOURCES.md


@pytest.mark.parametrize("vintage", [2014, 2018, 2022])
def test_population_adds_up_to_londons_census_total(conn, vintage):
    total = conn.execute("SELECT sum(population) AS p FROM geo.ward WHERE vintage = %s", (vintage,)).fetchone()["p"]
    assert total == LONDON_RESIDENTS_2021


def test_2022_ward_populations_come_from_the_best_fit_lookup(conn):
    row = conn.execute("""SELECT count(*) FILTER (WHERE population > 0) AS populated,
                                 min(population) FILTER (WHERE population > 0) AS lo, max(population) AS hi,
                                 count(*) FILTER (WHERE population = 0 AND NOT city_of_london) AS empty_mps
                          FROM geo.ward WHERE vintage = 2022""").fetchone()
    assert (row["populated"], row["lo"], row["hi"], row["empty_mps"]) == (684, 1100, 23743, 0)


def test_city_of_london_wards_are_kept_and_flagged(conn):
    rows = conn.execute("SELECT vintage, count(*) AS n FROM geo.ward WHERE city_of_london GROUP BY 1 ORDER BY 1").fetchall()
    assert [(r["vintage"], r["n"]) for r in rows] == [(2014, 25), (2018, 25), (2022, 25)]
    assert conn.execute("SELECT city_of_london FROM geo.borough WHERE borough_code = 'E09000001'").fetchone()["city_of_london"]


def test_register_is_the_authority_for_2022_names(conn):
    # ONS calls E05009317 "Bethnal Green East"; the MPS crime file calls it "Bethnal Green".
    name = conn.execute("SELECT ward_name FROM geo.ward WHERE vintage = 2022 AND ward_code = 'E05009317'").fetchone()
    assert name["ward_name"] == "Bethnal Green East"
    mismatched = conn.execute("""SELECT count(*) AS n FROM geo.ward w JOIN geo.ward_register r USING (ward_code)
                                 WHERE w.vintage = 2022 AND (w.ward_name <> r.ward_name OR w.borough_code <> r.borough_code)
                              """).fetchone()["n"]
    assert mismatched == 0


def test_borough_populations_add_up(conn):
    assert conn.execute("SELECT sum(population) AS p FROM geo.borough").fetchone()["p"] == LONDON_RESIDENTS_2021


@pytest.mark.parametrize(("from_v", "to_v"), [(2014, 2018), (2018, 2022)])
def test_crosswalk_weights_sum_to_one_for_every_source_ward(conn, from_v, to_v):
    row = conn.execute("""
        SELECT count(*) AS wards, max(abs(a - 1)) AS area_err, max(abs(p - 1)) AS pop_err
        FROM (SELECT from_code, sum(area_weight) AS a, sum(population_weight) AS p
              FROM geo.crosswalk WHERE from_vintage = %s AND to_vintage = %s GROUP BY 1) s""", (from_v, to_v)).fetchone()
    n_source = conn.execute("SELECT count(*) AS n FROM geo.ward WHERE vintage = %s", (from_v,)).fetchone()["n"]
    assert row["wards"] == n_source
    assert row["area_err"] <= 1e-6 and row["pop_err"] <= 1e-6


def test_unchanged_wards_map_to_themselves(conn):
    # Most of London kept its 2014 wards in 2018: those must cross over whole, to the same code.
    row = conn.execute("""SELECT count(*) AS n FROM geo.crosswalk
                          WHERE from_vintage = 2014 AND from_code = to_code AND area_weight > 0.999""").fetchone()
    assert row["n"] > 500


def test_lsoa_2011_lookup_weights_sum_to_one(conn):
    row = conn.execute("""SELECT count(*) AS n, max(abs(s - 1)) AS err
                          FROM (SELECT lsoa11_code, sum(weight) AS s FROM geo.lsoa11_lsoa21 GROUP BY 1) x""").fetchone()
    assert row["n"] == 4835 and row["err"] < 1e-12


def test_simplified_copies_exist_for_every_ward_and_tolerance(conn):
    rows = conn.execute("""SELECT vintage, tolerance_m, count(*) AS n FROM geo.ward_simplified
                           GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    expected = {2014: 654, 2018: 657, 2022: 704}
    assert len(rows) == 9
    assert all(r["n"] == expected[r["vintage"]] for r in rows)


def test_simplified_2022_wards_leave_no_gaps_between_neighbours(conn):
    # Coverage simplification: the union of simplified wards has no more holes than the original.
    row = conn.execute("""
        SELECT (SELECT sum(ST_NumInteriorRings(g)) FROM (SELECT (ST_Dump(ST_Union(ST_Transform(geom, 27700)))).geom g
                FROM geo.ward_simplified WHERE vintage = 2022 AND tolerance_m = 100) a) AS simple_holes,
               (SELECT sum(ST_NumInteriorRings(g)) FROM (SELECT (ST_Dump(ST_Union(geom))).geom g
                FROM geo.ward WHERE vintage = 2022) b) AS original_holes""").fetchone()
    assert row["simple_holes"] <= row["original_holes"]


def test_reloading_unchanged_files_is_a_no_op(settings, geo_loaded):
    from harmmap import db

    with db.connect(settings.database_url) as c:
        before = c.execute("SELECT count(*) AS n FROM etl.batch").fetchone()["n"]
        report = geo.load(c, settings.geodata_dir)
        after = c.execute("SELECT count(*) AS n FROM etl.batch").fetchone()["n"]
    assert report.status == "unchanged"
    assert before == after
