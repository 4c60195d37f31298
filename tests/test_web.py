"""The map page, its ward geometry endpoint and health, through Flask's test client."""

import gzip
import hashlib
import json
import re
from dataclasses import replace

import pytest

from harmmap.config import REPO_ROOT

pytestmark = pytest.mark.db

EXTERNAL = re.compile(rb"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def test_page_carries_marking_attribution_and_boundary_note(viewer):
    html = viewer.get("/").get_data()
    assert html.count(b"OFFICIAL-SENSITIVE") >= 2  # top and bottom
    assert b"Contains Ordnance Survey data" in html and b"Open Government Licence v3.0" in html
    assert b'id="boundary-note"' in html and b"generalised to 20 m" in html
    assert b"City of London Police" in html
    assert b"approximate-note" not in html  # the shipped 2022 wards are the official ones


def test_page_loads_nothing_from_outside_the_app(viewer):
    html = viewer.get("/").get_data()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert b"/static/vendor/leaflet/leaflet.js" in html
    assert b"features" not in html  # ward shapes are fetched, not embedded


def test_marking_is_configurable(app, settings):
    from web import create_app

    other = create_app(replace(settings, protective_marking="OFFICIAL"))
    html = other.test_client().sign_in("viewer").get("/").get_data()
    other.extensions["harmmap"].pool.close()
    assert b"OFFICIAL-SENSITIVE" not in html and html.count(b">OFFICIAL<") == 2


def test_approximate_boundaries_are_announced_when_the_data_says_so(viewer, settings):
    # The flag lives in the data (geodata/manifest.toml -> geo.ward_vintage.approximate), not in code.
    from harmmap import db

    assert b'id="approximate-note"' not in viewer.get("/").get_data()
    with db.connect(settings.database_url) as c:
        c.execute("UPDATE geo.ward_vintage SET approximate = true WHERE vintage = 2022")
    try:
        html = viewer.get("/").get_data()
        assert b'id="approximate-note"' in html and b"Approximate ward boundaries" in html
        assert viewer.get("/map/wards.geojson").get_json()["approximate"] is True  # no stale cached body
    finally:
        with db.connect(settings.database_url) as c:
            c.execute("UPDATE geo.ward_vintage SET approximate = false WHERE vintage = 2022")


def test_london_geojson_is_light_and_complete(viewer):
    resp = viewer.get("/map/wards.geojson?vintage=2022&zoom=10")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    fc = resp.get_json()
    assert len(fc["features"]) == 704
    assert len(resp.get_data()) < 1_000_000
    assert fc["tolerance_m"] == 100 and fc["approximate"] is False
    props = {f["id"]: f["properties"] for f in fc["features"]}
    assert props["E05009288"]["city_of_london"] is True
    assert sum(p["population"] for p in props.values()) == 8_799_776


def test_geometry_is_wgs84_and_inside_london(viewer):
    fc = viewer.get("/map/wards.geojson?tolerance=100").get_json()
    xs = [pt[0] for f in fc["features"] for poly in f["geometry"]["coordinates"] for ring in poly for pt in ring]
    ys = [pt[1] for f in fc["features"] for poly in f["geometry"]["coordinates"] for ring in poly for pt in ring]
    assert -0.52 < min(xs) and max(xs) < 0.34 and 51.28 < min(ys) and max(ys) < 51.70


def test_finer_zoom_gets_finer_geometry(viewer):
    coarse = len(viewer.get("/map/wards.geojson?zoom=10").get_data())
    fine = len(viewer.get("/map/wards.geojson?zoom=15").get_data())
    assert fine > coarse


def test_etag_gives_304_and_gzip_is_honoured(viewer):
    first = viewer.get("/map/wards.geojson?zoom=10", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(first.get_data()))["type"] == "FeatureCollection"
    again = viewer.get("/map/wards.geojson?zoom=10", headers={"If-None-Match": first.headers["ETag"],
                                                               "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.get_data() == b""
    plain = viewer.get("/map/wards.geojson?zoom=10")
    assert plain.headers["ETag"] != first.headers["ETag"]  # one strong validator per representation


def test_borough_filter(viewer):
    fc = viewer.get("/map/wards.geojson?borough=E09000022").get_json()
    assert {f["properties"]["borough_name"] for f in fc["features"]} == {"Lambeth"}


@pytest.mark.parametrize(("query", "detail"), [
    ("vintage=1999", "vintage must be one of 2014, 2018, 2022"),
    ("vintage=abc", "vintage must be one of 2014, 2018, 2022"),
    ("zoom=99", "zoom must be from 0 to 22"),
    ("tolerance=7", "tolerance must be one of 5, 25, 100"),
    ("borough=';drop table geo.ward;--", "borough must be a borough GSS code"),
])
def test_bad_parameters_get_problem_json(viewer, query, detail):
    resp = viewer.get(f"/map/wards.geojson?{query}")
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert detail in body["detail"] and body["status"] == 400


def test_unknown_route_is_a_clean_404(client):
    resp = client.get("/nope", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.get_json()["title"] == "Not Found"


def test_healthz_reports_database_and_reference_data(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["wards"] == {"2014": 654, "2018": 657, "2022": 704}


def test_healthz_and_pages_answer_503_when_the_database_is_unreachable(settings):
    from web import create_app

    down = create_app(replace(settings, database_url="postgresql://postgres@127.0.0.1:1/harmmap", db_timeout_s=1))
    try:
        client = down.test_client(as_role="viewer")  # a key: nobody can sign in while it is down
        health = client.get("/healthz")
        assert health.status_code == 503 and health.get_json()["database"] == "unavailable"
        page = client.get("/")
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert b"Traceback" not in page.get_data() and b"127.0.0.1:1" not in page.get_data()
        api = client.get("/map/wards.geojson")
        assert api.status_code == 503 and api.mimetype == "application/problem+json"
    finally:
        down.extensions["harmmap"].pool.close()


def test_vendored_assets_are_unmodified():
    vendor = REPO_ROOT / "web/static/vendor"
    lines = (vendor / "SHA256SUMS").read_text().splitlines()
    assert lines
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((vendor / name.lstrip("*")).read_bytes()).hexdigest() == digest, name
    assert (vendor / "leaflet/LICENSE").exists()
