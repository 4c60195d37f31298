"""The analyst API (/api): OGC API Features Part 1 and 2, against the demo index in real PostGIS.

Expected answers come from PostGIS directly (counts, intersections, transforms) or from pyproj, never
from the API itself.
"""

from __future__ import annotations

import gzip
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from openapi_spec_validator import validate
from pyproj import Transformer

from web.api.collections import COLLECTIONS

pytestmark = pytest.mark.db

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG27700 = "http://www.opengis.net/def/crs/EPSG/0/27700"
CLASSES = {
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
}


def get_json(api, url: str, status: int = 200, **kw) -> dict:
    r = api.get(url, **kw)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_json(force=True)


def problem(api, url: str, status: int = 400, method: str = "get", **kw) -> dict:
    r = getattr(api, method)(url, **kw)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    body = r.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["marking"] == "OFFICIAL-SENSITIVE" and r.headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert "Traceback" not in body["detail"]
    return body


def rel(links: list[dict], name: str, mime: str | None = None) -> list[dict]:
    return [link for link in links if link["rel"] == name and (mime is None or link["type"] == mime)]


def local(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + ("?" + parts.query if parts.query else "")


# --- landing page, conformance, OpenAPI, collections ---------------------------------------------

def test_landing_page_links_the_definition_docs_conformance_and_data(api):
    body = get_json(api, "/api/")
    links = body["links"]
    assert rel(links, "self", "application/json") and rel(links, "alternate", "text/html")
    assert rel(links, "service-desc")[0]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rel(links, "service-doc", "text/html")
    assert local(rel(links, "conformance")[0]["href"]) == "/api/conformance"
    assert local(rel(links, "data")[0]["href"]) == "/api/collections"
    assert body["marking"] == "OFFICIAL-SENSITIVE" and body["synthetic"] is True
    assert "Open Government Licence" in body["attribution"]


def test_conformance_declares_core_html_geojson_oas30_and_crs(api):
    assert set(get_json(api, "/api/conformance")["conformsTo"]) == CLASSES


def test_openapi_document_is_valid_and_declares_every_collections_filters(api):
    r = api.get("/api/openapi")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = json.loads(r.get_data(as_text=True))
    validate(doc)
    for c in COLLECTIONS.values():
        params = doc["paths"][f"/collections/{c.id}/items"]["get"]["parameters"]
        names = {p.get("name") or doc["components"]["parameters"][p["$ref"].split("/")[-1]]["name"] for p in params}
        assert {"limit", "bbox", "datetime", "crs", "bbox-crs", "f"} <= names
        assert set(c.filters) <= names
    for path in ("/harm/worst", "/harm/wards/{code}", "/wards/at", "/wards/near", "/wards/within",
                 "/tiles/{z}/{x}/{y}.mvt", "/tiles.json"):
        assert path in doc["paths"]


def test_html_pages_carry_the_marking_and_the_synthetic_banner(api):
    for url in ("/api/?f=html", "/api/conformance?f=html", "/api/collections?f=html", "/api/openapi?f=html",
                "/api/collections/harm-index?f=html", "/api/collections/harm-index/items?f=html&limit=3",
                "/api/collections/wards/items/E05013806?f=html"):
        r = api.get(url)
        assert r.status_code == 200 and r.mimetype == "text/html", url
        text = r.get_data(as_text=True)
        assert text.count("OFFICIAL-SENSITIVE") >= 2, url
    assert "SYNTHETIC DATA" in api.get("/api/collections/harm-index/items?f=html&limit=3").get_data(as_text=True)
    assert "/wards/within" in api.get("/api/openapi?f=html").get_data(as_text=True)
    # a browser's Accept header gets HTML without f=
    assert api.get("/api/collections", headers={"Accept": "text/html,*/*;q=0.8"}).mimetype == "text/html"


def test_collections_describe_extent_crs_and_items_links(api, sql):
    body = get_json(api, "/api/collections")
    ids = [c["id"] for c in body["collections"]]
    assert ids == list(COLLECTIONS)
    assert {"wards", "wards-2018", "wards-2014", "boroughs", "harm-index", "indicator-drug_trafficking"} <= set(ids)
    for c in body["collections"]:
        assert rel(c["links"], "items", "application/geo+json") and rel(c["links"], "items", "text/html")
        assert CRS84 in c["crs"] and EPSG27700 in c["crs"] and c["storageCrs"] == EPSG27700
        minx, miny, maxx, maxy = c["extent"]["spatial"]["bbox"][0]
        assert -0.6 < minx < maxx < 0.4 and 51.2 < miny < maxy < 51.8
        assert c["itemType"] == "feature"
    one = get_json(api, "/api/collections/harm-index")
    lo, hi = one["extent"]["temporal"]["interval"][0]
    first = sql("SELECT min(first_month) AS m FROM harm.current_period")[0]["m"]
    assert lo.startswith(first.isoformat())
    assert get_json(api, "/api/collections/wards-2018")["extent"]["temporal"]["interval"][0][0].startswith("2018-05")


# --- items, paging --------------------------------------------------------------------------------

def walk(api, url: str) -> tuple[list[dict], int]:
    features, pages = [], 0
    while url:
        body = get_json(api, url)
        pages += 1
        assert body["numberReturned"] == len(body["features"])
        features += body["features"]
        nxt = rel(body["links"], "next", "application/geo+json")
        url = local(nxt[0]["href"]) if nxt else None
    return features, pages


@pytest.mark.parametrize("cid, where", [
    ("wards", "SELECT ward_code AS id FROM geo.ward WHERE vintage = 2022"),
    ("wards-2014", "SELECT ward_code AS id FROM geo.ward WHERE vintage = 2014"),
    ("boroughs", "SELECT borough_code AS id FROM geo.borough"),
])
def test_next_links_page_to_the_end_of_a_collection_with_every_feature_once(api, sql, cid, where):
    features, pages = walk(api, f"/api/collections/{cid}/items?limit=100")
    expected = sorted(r["id"] for r in sql(where))
    assert [f["id"] for f in features] == expected
    assert pages == -(-len(expected) // 100) + (1 if len(expected) % 100 == 0 else 0)


def test_paging_a_harm_collection_filtered_to_one_period_matches_the_database(api, sql):
    features, _ = walk(api, "/api/collections/harm-index/items?limit=250&period=FY2025/26")
    rows = sql("SELECT ward_code FROM harm.current_ward_index WHERE period = 'FY2025/26' ORDER BY ward_code")
    assert [f["properties"]["ward_code"] for f in features] == [r["ward_code"] for r in rows]
    assert all(f["id"] == f"{f['properties']['ward_code']}_FY2025-26" for f in features)


def test_items_default_limit_numbers_and_headers(api, sql):
    r = api.get("/api/collections/wards/items")
    body = r.get_json(force=True)
    assert r.mimetype == "application/geo+json" and r.headers["Content-Crs"] == f"<{CRS84}>"
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 10 == len(body["features"])
    assert body["numberMatched"] == sql("SELECT count(*) AS n FROM geo.ward WHERE vintage = 2022")[0]["n"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["timeStamp"])
    assert body["marking"] == "OFFICIAL-SENSITIVE" and body["synthetic"] is False
    f = body["features"][0]
    assert f["geometry"]["type"] == "MultiPolygon" and "crs" not in f["geometry"]
    assert rel(body["links"], "self", "application/geo+json") and rel(body["links"], "alternate", "text/csv")


def test_offset_and_keyset_pages_agree_and_a_deep_page_is_right(api, sql):
    by_offset = get_json(api, "/api/collections/wards/items?limit=50&offset=600")["features"]
    codes = [r["ward_code"] for r in sql("SELECT ward_code FROM geo.ward WHERE vintage = 2022 ORDER BY ward_code")]
    assert [f["id"] for f in by_offset] == codes[600:650]
    after = get_json(api, f"/api/collections/wards/items?limit=50&after={codes[599]}")["features"]
    assert [f["id"] for f in after] == codes[600:650]
    last = get_json(api, "/api/collections/wards/items?limit=50&offset=700")
    assert last["numberReturned"] == len(codes) - 700 and not rel(last["links"], "next")
    # the 10,000th feature of an indicator collection
    row = sql("""SELECT ward_code, period FROM harm.current_ward_indicator WHERE indicator = 'asset_seizures'
                 ORDER BY period, ward_code OFFSET 9999 LIMIT 1""")[0]
    deep = get_json(api, "/api/collections/indicator-asset_seizures/items?limit=1&offset=9999")["features"][0]
    assert deep["properties"]["ward_code"] == row["ward_code"] and deep["properties"]["period"] == row["period"]


def test_number_matched_is_counted_only_when_asked_or_free(api, sql):
    body = get_json(api, "/api/collections/harm-index/items?limit=5&period=FY2025/26")
    assert "numberMatched" not in body
    counted = get_json(api, "/api/collections/harm-index/items?limit=5&period=FY2025/26&count=true")
    assert counted["numberMatched"] == sql(
        "SELECT count(*) AS n FROM harm.current_ward_index WHERE period = 'FY2025/26'")[0]["n"]


def test_bbox_selects_exactly_the_wards_postgis_says_intersect(api, sql):
    box = (-0.15, 51.49, -0.10, 51.52)
    features, _ = walk(api, "/api/collections/wards/items?limit=100&bbox=" + ",".join(map(str, box)))
    expected = sql("""SELECT ward_code FROM geo.ward WHERE vintage = 2022 AND ST_Intersects(geom,
                      ST_Transform(ST_Segmentize(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 0.005), 27700))
                      ORDER BY ward_code""", box)
    assert [f["id"] for f in features] == [r["ward_code"] for r in expected] and len(features) > 5
    # the same box in EPSG:27700, and in EPSG:4326 (latitude first), finds the same wards or nearly
    t = Transformer.from_crs(4326, 27700, always_xy=True)
    (x0, y0), (x1, y1) = t.transform(box[0], box[1]), t.transform(box[2], box[3])
    bng = walk(api, f"/api/collections/wards/items?limit=100&bbox={x0},{y0},{x1},{y1}&bbox-crs={EPSG27700}")[0]
    assert abs(len(bng) - len(features)) <= 3
    latlon = walk(api, f"/api/collections/wards/items?limit=100&bbox={box[1]},{box[0]},{box[3]},{box[2]}"
                       f"&bbox-crs={EPSG4326}")[0]
    assert [f["id"] for f in latlon] == [f["id"] for f in features]
    six = walk(api, "/api/collections/wards/items?limit=100&bbox=" + ",".join(map(str, (box[0], box[1], 0,
                                                                                          box[2], box[3], 10))))[0]
    assert len(six) == len(features)


def test_crs_round_trip_a_ward_in_27700_and_in_crs84_is_the_same_place(api, sql):
    crs84 = api.get("/api/collections/wards/items/E05013806")
    bng = api.get(f"/api/collections/wards/items/E05013806?crs={EPSG27700}")
    latlon = api.get(f"/api/collections/wards/items/E05013806?crs={EPSG4326}")
    assert crs84.headers["Content-Crs"] == f"<{CRS84}>" and bng.headers["Content-Crs"] == f"<{EPSG27700}>"
    assert latlon.headers["Content-Crs"] == f"<{EPSG4326}>"
    ring84 = crs84.get_json(force=True)["geometry"]["coordinates"][0][0]
    ring27700 = bng.get_json(force=True)["geometry"]["coordinates"][0][0]
    ringll = latlon.get_json(force=True)["geometry"]["coordinates"][0][0]
    to84 = Transformer.from_crs(27700, 4326, always_xy=True)
    for (e, n), (lon, lat), (lat2, lon2) in zip(ring27700, ring84, ringll):
        x, y = to84.transform(e, n)
        assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6
        assert (lat2, lon2) == (lat, lon)
    stored = sql("SELECT ST_X(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)) AS x FROM geo.ward "
                 "WHERE vintage = 2022 AND ward_code = 'E05013806'")[0]["x"]
    assert abs(ring27700[0][0] - stored) < 0.01
    # the short forms work too, and the items resource honours crs
    items = get_json(api, "/api/collections/wards/items?limit=1&crs=EPSG:27700")
    assert items["features"][0]["geometry"]["coordinates"][0][0][0][0] > 100000


def test_datetime_filters_by_the_period_or_the_boundary_years(api, sql):
    assert get_json(api, "/api/collections/wards?f=json")["id"] == "wards"
    assert get_json(api, "/api/collections/wards/items?datetime=2015-06-01")["numberReturned"] == 0
    assert get_json(api, "/api/collections/wards-2014/items?datetime=2015-06-01&limit=1")["numberReturned"] == 1
    assert get_json(api, "/api/collections/wards/items?datetime=2023-01-01T00:00:00Z/..&limit=1")["numberReturned"] == 1
    features, _ = walk(api, "/api/collections/harm-index/items?limit=1000&datetime=2025-06-15&ward_code=E05013806")
    expected = sql("""SELECT period FROM harm.current_period WHERE first_month <= '2025-06-15'
                      AND last_month + interval '1 month' > '2025-06-15' ORDER BY period""")
    assert sorted(f["properties"]["period"] for f in features) == [r["period"] for r in expected]
    assert {f["properties"]["period_kind"] for f in features} >= {"month", "quarter", "fy", "r12"}
    # boroughs have no time: datetime does not restrict them
    assert get_json(api, "/api/collections/boroughs/items?datetime=1990-01-01&limit=1")["numberReturned"] == 1


def test_property_filters_of_each_type(api, sql):
    body = get_json(api, "/api/collections/harm-index/items?period=FY2025/26&decile_london=1&limit=1000")
    n = sql("SELECT count(*) AS n FROM harm.current_ward_index WHERE period = 'FY2025/26' AND decile_london = 1")
    assert body["numberReturned"] == n[0]["n"] > 0
    assert all(f["properties"]["decile_london"] == 1 for f in body["features"])
    city = get_json(api, "/api/collections/wards/items?city_of_london=true&limit=100")
    assert city["numberReturned"] == 25 and all(f["properties"]["borough_name"] == "City of London"
                                                for f in city["features"])
    lambeth = get_json(api, "/api/collections/wards/items?borough_name=Lambeth&limit=100")
    assert lambeth["numberReturned"] == sql("SELECT count(*) AS n FROM geo.ward WHERE vintage = 2022 "
                                            "AND borough_name = 'Lambeth'")[0]["n"]
    # the period filter takes the same spellings as the map and the command line
    assert get_json(api, "/api/collections/harm-index/items?period=FY2025-26&limit=1")["features"][0][
        "properties"]["period"] == "FY2025/26"


def test_one_feature_by_id_and_its_links(api, sql):
    f = get_json(api, "/api/collections/harm-index/items/E05013806_FY2025-26")
    row = sql("SELECT score, rank_london FROM harm.current_ward_index WHERE period = 'FY2025/26' "
              "AND ward_code = 'E05013806'")[0]
    assert f["type"] == "Feature" and f["id"] == "E05013806_FY2025-26"
    assert f["properties"]["score"] == pytest.approx(row["score"]) and f["properties"]["rank_london"] == row["rank_london"]
    assert rel(f["links"], "collection") and rel(f["links"], "self", "application/geo+json")
    assert f["marking"] == "OFFICIAL-SENSITIVE" and f["synthetic"] is True
    ind = get_json(api, "/api/collections/indicator-drug_trafficking/items/E05013806_2025-Q1")
    assert ind["properties"]["indicator"] == "drug_trafficking" and ind["properties"]["period"] == "2025-Q1"
    problem(api, "/api/collections/wards/items/E05099999", 404)
    problem(api, "/api/collections/wards/items/not-a-code", 404)
    problem(api, "/api/collections/harm-index/items/E05013806_FY2099-00", 404)
    problem(api, "/api/collections/nope/items/E05013806", 404)


def test_csv_items_carry_every_property_the_geometry_and_the_marking(api):
    r = api.get("/api/collections/harm-index/items?f=csv&limit=5&period=FY2025/26")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).splitlines()
    header = lines[0].split(",")
    assert header[0] == "id" and "score" in header and header[-2:] == ["wkt", "protective_marking"]
    assert len(lines) == 6 and all(line.endswith("OFFICIAL-SENSITIVE") for line in lines[1:])
    assert "MULTIPOLYGON" in lines[1]
    one = api.get("/api/collections/wards/items/E05013806?f=csv&crs=EPSG:27700").get_data(as_text=True)
    assert one.splitlines()[1].startswith("E05013806,") and "MULTIPOLYGON(((5" in one


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, words", [
    ("/api/collections/wards/items?limit=0", "limit"),
    ("/api/collections/wards/items?limit=10001", "limit"),
    ("/api/collections/wards/items?limit=ten", "limit"),
    ("/api/collections/wards/items?offset=-1", "offset"),
    ("/api/collections/wards/items?bbox=1,2,3", "bbox"),
    ("/api/collections/wards/items?bbox=a,b,c,d", "bbox"),
    ("/api/collections/wards/items?bbox=0.1,51.5,-0.1,51.6", "min"),
    ("/api/collections/wards/items?bbox=530000,180000,531000,181000", "bbox-crs"),
    ("/api/collections/wards/items?bbox=0,0,1,1&bbox-crs=EPSG:3857", "bbox-crs"),
    ("/api/collections/wards/items?bbox-crs=EPSG:27700", "without bbox"),
    ("/api/collections/wards/items?crs=EPSG:3857", "crs"),
    ("/api/collections/wards/items?datetime=yesterday", "datetime"),
    ("/api/collections/wards/items?datetime=2025-02-30", "datetime"),
    ("/api/collections/wards/items?datetime=../..", "datetime"),
    ("/api/collections/wards/items?datetime=2025-01-01/2024-01-01", "before it starts"),
    ("/api/collections/wards/items?colour=red", "unknown query parameter"),
    ("/api/collections/wards/items?limit=1&limit=2", "more than once"),
    ("/api/collections/wards/items?after=Z", "after"),
    ("/api/collections/wards/items?after=E05013806&offset=3", "not both"),
    ("/api/collections/wards/items?f=xml", "f must be"),
    ("/api/collections/wards/items?count=maybe", "count"),
    ("/api/collections/harm-index/items?decile_london=top", "decile_london"),
    ("/api/collections/harm-index/items?synthetic=yes", "synthetic"),
    ("/api/collections/harm-index/items?period=FY25", "period"),
    ("/api/collections/wards/items/E05013806?limit=3", "unknown query parameter"),
    ("/api/conformance?x=1", "unknown query parameter"),
    ("/api/harm/worst?rule=worst", "rule"),
    ("/api/harm/worst?rule=threshold", "threshold"),
    ("/api/harm/worst?n=0", "n must"),
    ("/api/harm/worst?borough=Atlantis", "Atlantis"),
    ("/api/harm/worst?period=FY1990/91", "no index"),
    ("/api/wards/at?lon=-0.1", "lat"),
    ("/api/wards/at", "give a point"),
    ("/api/wards/at?lon=530000&lat=180000", "degrees"),
    ("/api/wards/at?x=-0.12&y=51.5&lon=1&lat=1", "not both"),
    ("/api/wards/at?lon=nan&lat=51.5", "finite"),
    ("/api/wards/near?lon=-0.12&lat=51.5", "radius_m"),
    ("/api/wards/near?lon=-0.12&lat=51.5&radius_m=50000", "radius_m"),
    ("/api/tiles/25/0/0.mvt", "zoom"),
    ("/api/tiles/3/8/0.mvt", "does not exist"),
])
def test_every_bad_parameter_is_a_400_problem_that_names_it(api, url, words):
    assert words.lower() in problem(api, url)["detail"].lower()


def test_unknown_things_are_404_problems_and_unacceptable_formats_406(api):
    problem(api, "/api/collections/nope", 404)
    problem(api, "/api/collections/nope/items", 404)
    problem(api, "/api/harm/wards/E05099999", 404)
    problem(api, "/api/wards/at?lon=2.35&lat=48.85", 404)          # Paris
    problem(api, "/api/no/such/thing", 404)
    problem(api, "/api/collections/wards/items", 406, headers={"Accept": "image/png"})


# --- caching, compression, CORS --------------------------------------------------------------------

def test_etag_and_last_modified_give_304s_and_a_new_publish_changes_them(api):
    url = "/api/collections/harm-index/items?limit=5&period=FY2025/26"
    first = api.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"].startswith("private")
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert api.get(url, headers={"If-None-Match": "W/" + etag}).status_code == 304
    assert api.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert api.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert api.get(url + "&f=html").headers["ETag"] != etag
    assert api.get("/api/tiles/12/2046/1361.mvt", headers={"If-None-Match": api.get(
        "/api/tiles/12/2046/1361.mvt").headers["ETag"]}).status_code == 304


def test_items_are_gzipped_for_clients_that_ask(api):
    r = api.get("/api/collections/wards/items?limit=100", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(r.data))["numberReturned"] == 100
    tile = api.get("/api/tiles/11/1023/681.mvt", headers={"Accept-Encoding": "gzip"})
    assert tile.headers.get("Content-Encoding") == "gzip"


def test_cors_is_configuration(settings, demo_index):
    from dataclasses import replace

    from web import create_app

    app = create_app(replace(settings, api_cors_origins="https://gis.example"))
    try:
        c = app.test_client(as_role="analyst")
        ok = c.get("/api/collections", headers={"Origin": "https://gis.example"})
        assert ok.headers["Access-Control-Allow-Origin"] == "https://gis.example"
        assert "Content-Crs" in ok.headers["Access-Control-Expose-Headers"]
        assert "Access-Control-Allow-Origin" not in c.get("/api/collections", headers={"Origin": "https://evil.example"}).headers
        pre = c.options("/api/wards/at", headers={"Origin": "https://gis.example",
                                                  "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 200 and "POST" in pre.headers["Access-Control-Allow-Methods"]
    finally:
        app.extensions["harmmap"].pool.close()


def test_no_cors_headers_by_default(api):
    assert "Access-Control-Allow-Origin" not in api.get("/api/", headers={"Origin": "https://gis.example"}).headers


# --- a real OGC client -----------------------------------------------------------------------------

def ogr(*args: str) -> str:
    import subprocess

    out = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gdal_ogr_lists_and_reads_the_collections_with_no_configuration(live_server, demo_index, sql, tmp_path,
                                                                        accounts, monkeypatch):
    import subprocess

    # the one setting an analyst gives GDAL: the key (docs/security.md)
    monkeypatch.setenv("GDAL_HTTP_HEADERS", f"Authorization: Bearer {accounts.keys['analyst']}")
    listing = ogr(f"OAPIF:{live_server}/api")
    for cid in ("wards", "wards-2014", "boroughs", "harm-index", "indicator-pas_drug_problem"):
        assert re.search(rf"^\d+: {re.escape(cid)} \(title", listing, re.M), listing
    summary = ogr("-so", f"OAPIF:{live_server}/api", "wards")
    assert "Feature Count: 704" in summary and "ward_code: String" in summary
    out = tmp_path / "wards.gpkg"
    done = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}/api", "wards", "boroughs"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Feature Count: 704" in ogr("-so", str(out), "wards")
    assert "Feature Count: 33" in ogr("-so", str(out), "boroughs")
    # GDAL turns a -where on declared properties and a -spat into the API's own filters
    filtered = ogr("-q", f"OAPIF:{live_server}/api", "harm-index", "-where",
                   "period = 'FY2025/26' AND borough_code = 'E09000022'", "-spat", "-0.13", "51.45", "-0.10", "51.47")
    expected = sql("""SELECT count(*) AS n FROM harm.current_ward_index i JOIN geo.ward w
                      ON w.vintage = 2022 AND w.ward_code = i.ward_code
                      WHERE i.period = 'FY2025/26' AND i.borough_code = 'E09000022' AND ST_Intersects(w.geom,
                      ST_Transform(ST_Segmentize(ST_MakeEnvelope(-0.13, 51.45, -0.10, 51.47, 4326), 0.005), 27700))""")
    assert filtered.count("OGRFeature(harm-index)") == expected[0]["n"] > 0


def test_next_link_queries_keep_the_request_filters(api):
    body = get_json(api, "/api/collections/harm-index/items?limit=3&period=FY2025/26&borough_code=E09000022")
    nxt = parse_qs(urlsplit(rel(body["links"], "next", "application/geo+json")[0]["href"]).query)
    assert nxt["period"] == ["FY2025/26"] and nxt["borough_code"] == ["E09000022"] and nxt["limit"] == ["3"]
    assert nxt["after"] == [body["features"][-1]["id"]]


def test_database_down_is_a_503_problem_with_retry_after(settings):
    from dataclasses import replace

    from web import create_app

    down = create_app(replace(settings, database_url="postgresql://postgres@127.0.0.1:1/harmmap", db_timeout_s=1))
    try:
        r = down.test_client(as_role="analyst").get("/api/collections/wards/items")
        assert r.status_code == 503 and r.mimetype == "application/problem+json" and r.headers["Retry-After"]
        assert b"127.0.0.1:1" not in r.data and b"Traceback" not in r.data
    finally:
        down.extensions["harmmap"].pool.close()
