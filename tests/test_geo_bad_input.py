"""A bad reference file stops the load with a message naming file, row and problem, and the
database is left exactly as it was."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from etl import geo
from harmmap import db

pytestmark = pytest.mark.db

FINGERPRINT = """
    SELECT md5(string_agg(t, '|' ORDER BY t)) AS h FROM (
        SELECT vintage || ward_code || ward_name || population || md5(ST_AsBinary(geom)) AS t FROM geo.ward
        UNION ALL SELECT vintage || label || approximate || boundary_note || source_sha256 FROM geo.ward_vintage
        UNION ALL SELECT borough_code || population || md5(ST_AsBinary(geom)) FROM geo.borough
        UNION ALL SELECT ward_code || ward_name || md5(ST_AsBinary(point)) FROM geo.ward_register
        UNION ALL SELECT lsoa_code || population || ward_code_2022 || md5(ST_AsBinary(geom)) FROM geo.lsoa21
        UNION ALL SELECT lsoa11_code || lsoa21_code || weight FROM geo.lsoa11_lsoa21
        UNION ALL SELECT from_code || to_code || area_weight || population_weight FROM geo.crosswalk
        UNION ALL SELECT vintage || ward_code || tolerance_m || md5(ST_AsBinary(geom)) FROM geo.ward_simplified
        UNION ALL SELECT batch_id || status FROM etl.batch) x"""


@pytest.fixture
def geodata_copy(settings, tmp_path: Path) -> Path:
    target = tmp_path / "geodata"
    shutil.copytree(settings.geodata_dir, target)
    for p in target.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return target


def _load_fails(settings, geodata: Path, match: str) -> str:
    with db.connect(settings.database_url) as c:
        before = c.execute(FINGERPRINT).fetchone()["h"]
    with db.connect(settings.database_url) as c, pytest.raises(geo.GeoLoadError, match=match) as info:
        geo.load(c, geodata, force=True)
    with db.connect(settings.database_url) as c:
        assert c.execute(FINGERPRINT).fetchone()["h"] == before, "a failed load changed the database"
    return str(info.value)


def _edit_geojson(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_duplicate_ward_code_names_file_and_rows(settings, geo_loaded, geodata_copy):
    def dup(d):
        d["features"][10]["properties"]["GSS_CODE"] = d["features"][3]["properties"]["GSS_CODE"]
    _edit_geojson(geodata_copy / "boundaries/london_wards_2018.geojson", dup)
    msg = _load_fails(settings, geodata_copy, "duplicate ward code")
    assert "london_wards_2018.geojson: feature 11" in msg and "also at feature 4" in msg


def test_missing_file_is_named(settings, geo_loaded, geodata_copy):
    (geodata_copy / "boundaries/london_boroughs_2022.geojson").unlink()
    _load_fails(settings, geodata_copy, r"london_boroughs_2022.geojson: file not found")


def test_corrupt_file_is_named(settings, geo_loaded, geodata_copy):
    path = geodata_copy / "boundaries/london_wards_2014.geojson"
    path.write_bytes(path.read_bytes()[: 50_000])
    _load_fails(settings, geodata_copy, r"london_wards_2014.geojson: cannot read it")


def test_unknown_crs_is_refused(settings, geo_loaded, geodata_copy):
    gpkg = geodata_copy / "boundaries/london_wards_2022.gpkg"
    with sqlite3.connect(gpkg) as g:  # declare the layer as Web Mercator: coordinates would be misread
        g.execute("UPDATE gpkg_geometry_columns SET srs_id = 3857")
        g.execute("UPDATE gpkg_contents SET srs_id = 3857")
        g.execute("""INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization,
                     organization_coordsys_id, definition) VALUES ('WGS 84 / Pseudo-Mercator', 3857, 'EPSG', 3857,
                     'PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Mercator_1SP"],PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","3857"]]')""")
    _load_fails(settings, geodata_copy, r"london_wards_2022.gpkg: unknown or unsupported CRS")


def test_ward_code_not_in_the_register_is_refused(settings, geo_loaded, geodata_copy):
    reg = geodata_copy / "lookups/london_wards_2025_register_ons.csv"
    lines = reg.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[0], "E05999999", 1)
    reg.write_text("\n".join(lines) + "\n")
    _load_fails(settings, geodata_copy, "differ from the ONS register")


def test_population_that_does_not_add_up_is_refused(settings, geo_loaded, geodata_copy):
    pop = geodata_copy / "population/census2021_usual_residents_lsoa21_london.csv"
    lines = pop.read_text().splitlines()
    head, *rest = lines[1].rsplit(",", 1)
    lines[1] = f"{head},{int(rest[0]) + 1}"
    pop.write_text("\n".join(lines) + "\n")
    _load_fails(settings, geodata_copy, "add up to 8,799,777")


def test_geometry_that_cannot_be_repaired_stops_the_load_mid_write(settings, geo_loaded, geodata_copy):
    # A "polygon" that runs out and back along one line: make_valid leaves no area, so it cannot be repaired.
    # This fails inside the write transaction (after old rows were deleted): nothing may be committed.
    def flatten(d):
        d["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.09, 51.51], [-0.1, 51.5],
                                                                            [-0.1, 51.5]]]}
    _edit_geojson(geodata_copy / "boundaries/london_wards_2018.geojson", flatten)
    msg = _load_fails(settings, geodata_copy, "cannot be repaired")
    assert "london_wards_2018.geojson: feature 1 " in msg


def test_degrees_labelled_as_british_national_grid_are_refused(settings, geo_loaded, geodata_copy):
    def relabel(d):
        d["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}
    _edit_geojson(geodata_copy / "boundaries/london_boroughs_2022.geojson", relabel)
    msg = _load_fails(settings, geodata_copy, "are not in London for EPSG:27700")
    assert "london_boroughs_2022.geojson: feature 1" in msg and "33 feature(s)" in msg


def test_eastings_in_a_lon_lat_file_name_the_feature(settings, geo_loaded, geodata_copy):
    def to_bng(d):
        d["features"][6]["geometry"] = {"type": "Polygon", "coordinates": [[[530000, 180000], [531000, 180000],
                                                                            [531000, 181000], [530000, 180000]]]}
    _edit_geojson(geodata_copy / "boundaries/london_wards_2018.geojson", to_bng)
    _load_fails(settings, geodata_copy, r"london_wards_2018.geojson: feature 7: coordinates .* not in London for EPSG:4326")


def test_empty_borough_name_names_the_feature(settings, geo_loaded, geodata_copy):
    def blank(d):
        d["features"][2]["properties"]["DISTRICT"] = None
    _edit_geojson(geodata_copy / "boundaries/london_wards_2018.geojson", blank)
    _load_fails(settings, geodata_copy, r"london_wards_2018.geojson: feature 3: DISTRICT is empty")


def test_ward_in_an_unknown_borough_names_the_feature(settings, geo_loaded, geodata_copy):
    def move(d):
        d["features"][299]["properties"]["LAGSSCODE"] = "E09000099"
    _edit_geojson(geodata_copy / "boundaries/london_wards_2018.geojson", move)
    _load_fails(settings, geodata_copy, r"london_wards_2018.geojson: feature 300: borough code E09000099 is not one of")


def test_unknown_change_indicator_names_the_line(settings, geo_loaded, geodata_copy):
    lookup = geodata_copy / "lookups/lsoa11_to_lsoa21_london.csv"
    lines = lookup.read_text().splitlines()
    fields = lines[9].split(",")
    fields[2] = "Q"
    lines[9] = ",".join(fields)
    lookup.write_text("\n".join(lines) + "\n")
    _load_fails(settings, geodata_copy, r"lsoa11_to_lsoa21_london.csv: line 10: change indicator 'Q'")


def test_missing_manifest_section_is_named(settings, geo_loaded, geodata_copy):
    manifest = geodata_copy / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("[boroughs]", "[borooughs]"))
    _load_fails(settings, geodata_copy, r"manifest.toml: section \[boroughs\] is missing")
