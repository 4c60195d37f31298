"""The API's own queries (ranking, ward summary, point in ward, radius and polygon) and vector tiles,
against the demo index in real PostGIS. Expected answers come from PostGIS, harmmap.published (the read model) or shapely."""

from __future__ import annotations

import json
import math

import mapbox_vector_tile
import pytest
import shapely

from harmmap import db, published
from harmmap.published import WorstRule

pytestmark = pytest.mark.db


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    body = r.get_json(force=True)
    assert body["marking"] == "OFFICIAL-SENSITIVE" and r.headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    return body


def bad(r, status: int = 400) -> str:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/problem+json"
    return r.get_json(force=True)["detail"]


# --- ranking --------------------------------------------------------------------------------------

def test_worst_wards_match_the_shared_report_with_components_and_trend(api, settings, sql):
    body = ok(api.get("/api/harm/worst?period=FY2025/26&n=10"))
    with db.connect(settings.database_url) as conn, published.opened(conn) as snap:
        expected = snap.worst(snap.period("FY2025/26"), WorstRule("top_n", 10))
    assert [w["ward_code"] for w in body["wards"]] == [r.ward_code for r in expected.rows]
    scores = [w["score"] for w in body["wards"]]
    assert scores == sorted(scores, reverse=True)
    assert body["synthetic"] is True and body["synthetic_indicators"]
    top = body["wards"][0]
    assert top["decile_london"] == 1 and top["hotspot"]
    # the components are every weighted indicator's points, and add up to the score
    assert sum(c["points"] for c in top["components"]) == pytest.approx(top["score"], abs=0.05)
    prev = sql("SELECT score FROM harm.current_ward_index WHERE period = 'FY2024/25' AND ward_code = %s",
               (top["ward_code"],))
    trend = top["trend"]["previous_period"]
    assert trend["period"] == "FY2024/25"
    if prev and prev[0]["score"] is not None:
        assert trend["change"] == pytest.approx(top["score"] - prev[0]["score"], abs=1e-3)
        assert trend["direction"] in ("up", "down", "no_change")


def test_worst_in_a_borough_and_by_decile_and_as_csv(api):
    lambeth = ok(api.get("/api/harm/worst?period=FY2025/26&borough=lambeth&rule=top_decile"))
    assert lambeth["borough"] == {"code": "E09000022", "name": "Lambeth"}
    assert lambeth["wards"] and all(w["borough_name"] == "Lambeth" for w in lambeth["wards"])
    assert all(w["decile_borough"] == 1 for w in lambeth["wards"])
    above = ok(api.get("/api/harm/worst?period=FY2025/26&rule=threshold&threshold=60"))
    assert all(w["score"] >= 60 for w in above["wards"])
    r = api.get("/api/harm/worst?period=FY2025/26&n=3&f=csv")
    lines = r.get_data(as_text=True).splitlines()
    assert r.mimetype == "text/csv" and len(lines) == 4 and lines[1].endswith("OFFICIAL-SENSITIVE")


def test_one_wards_summary_is_the_shared_ward_summary(api, settings):
    body = ok(api.get("/api/harm/wards/E05013806?period=FY2025/26"))
    with db.connect(settings.database_url) as conn, published.opened(conn) as snap:
        expected = snap.ward_summary(snap.period("FY2025/26"), "E05013806")
    assert body["ward_code"] == "E05013806" and body["score"] == pytest.approx(expected["score"])
    assert body["rank_london"] == expected["rank_london"] and len(body["indicators"]) == len(expected["indicators"])
    assert body["trend"]["months"] == expected["trend"]["months"] and len(body["trend"]["months"]) >= 24
    assert body["synthetic"] is True
    default = ok(api.get("/api/harm/wards/e05013806"))           # latest financial year, code in any case
    assert default["ward_code"] == "E05013806" and default["period"].startswith("FY")


# --- point in ward --------------------------------------------------------------------------------

def test_point_in_ward_by_lon_lat_and_by_easting_northing_in_every_vintage(api, sql):
    p = sql("""SELECT ST_X(pt) AS x, ST_Y(pt) AS y, ST_X(ST_Transform(pt, 4326)) AS lon,
                      ST_Y(ST_Transform(pt, 4326)) AS lat
               FROM (SELECT ST_PointOnSurface(geom) AS pt FROM geo.ward
                     WHERE vintage = 2022 AND ward_code = 'E05013806') s""")[0]
    expected = {r["vintage"]: r["ward_code"] for r in sql(
        "SELECT vintage, ward_code FROM geo.ward WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), 27700))",
        (p["x"], p["y"]))}
    for url in (f"/api/wards/at?lon={p['lon']}&lat={p['lat']}&period=FY2025/26",
                f"/api/wards/at?x={p['x']}&y={p['y']}&period=FY2025/26"):
        body = ok(api.get(url))
        assert body["wards"]["2022"]["ward_code"] == "E05013806"
        assert body["wards"]["2018"]["ward_code"] == expected[2018]
        assert body["wards"]["2014"]["ward_code"] == expected[2014]
        assert body["summary"]["ward_code"] == "E05013806" and body["summary"]["period"] == "FY2025/26"
        assert abs(body["point"]["easting"] - p["x"]) < 0.01


def test_batch_point_in_ward_locates_ten_thousand_points_like_postgis(api, sql):
    pts = sql("""SELECT ST_X(g) AS x, ST_Y(g) AS y FROM (
                   SELECT (ST_Dump(ST_GeneratePoints(ST_Expand(ST_Extent(geom)::geometry, 2000), 10000, 7))).geom AS g
                   FROM geo.ward WHERE vintage = 2022) s""")
    assert len(pts) == 10_000
    r = api.post("/api/wards/at", json={"points": [[p["x"], p["y"]] for p in pts], "crs": "EPSG:27700",
                                        "period": "FY2025/26"})
    body = ok(r)
    assert body["count"] == 10_000 and [x["index"] for x in body["results"]] == list(range(10_000))
    expected = sql("""SELECT n, (SELECT min(w.ward_code) FROM geo.ward w WHERE w.vintage = 2022
                                 AND ST_Intersects(w.geom, ST_SetSRID(ST_MakePoint(x, y), 27700))) AS code
                      FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY u(x, y, n) ORDER BY n""",
                   ([p["x"] for p in pts], [p["y"] for p in pts]))
    assert [x["ward_code"] for x in body["results"]] == [e["code"] for e in expected]
    assert 0 < body["located"] < 10_000     # the box reaches outside London: some points are in no ward
    located = next(x for x in body["results"] if x["ward_code"] and x["borough_code"] != "E09000001")
    assert located["score"] is not None and located["decile_london"] in range(1, 11)


def test_batch_limits_and_bad_bodies(api):
    assert "10,000" in bad(api.post("/api/wards/at", json={"points": [[0.0, 51.5]] * 10_001}), 413)
    assert "points[1]" in bad(api.post("/api/wards/at", json={"points": [[-0.1, 51.5], [1]]}))
    assert "points[0]" in bad(api.post("/api/wards/at", json={"points": [["a", "b"]]}))
    assert "EPSG:27700" in bad(api.post("/api/wards/at", json={"points": [[530000, 180000]]}))
    assert "JSON object" in bad(api.post("/api/wards/at", data="not json", content_type="application/json"))
    assert "unknown member" in bad(api.post("/api/wards/at", json={"points": [[-0.1, 51.5]], "colour": 1}))
    assert "crs" in bad(api.post("/api/wards/at", json={"points": [[-0.1, 51.5]], "crs": "EPSG:3857"}))
    assert "non-empty" in bad(api.post("/api/wards/at", json={"points": []}))
    assert "unknown query parameter" in bad(api.post("/api/wards/at?x=1", json={"points": [[-0.1, 51.5]]}))


# --- radius and polygon --------------------------------------------------------------------------

def test_radius_finds_the_wards_touched_with_counts_shared_by_area(api, sql):
    body = ok(api.get("/api/wards/near?x=530000&y=180000&radius_m=800&period=FY2025/26"))
    expected = sql("""SELECT ward_code FROM geo.ward WHERE vintage = 2022 AND ST_Area(ST_Intersection(geom,
                      ST_Buffer(ST_SetSRID(ST_MakePoint(530000, 180000), 27700), 800, 32))) > 0 ORDER BY ward_code""")
    assert sorted(w["ward_code"] for w in body["wards"]) == [r["ward_code"] for r in expected]
    assert body["area_m2"] == pytest.approx(3.14159 * 800 ** 2, rel=0.01)
    land = sql("""SELECT ST_Area(ST_Intersection(ST_Union(geom), ST_Buffer(ST_SetSRID(ST_MakePoint(530000, 180000),
                  27700), 800, 32))) AS m2 FROM geo.ward WHERE vintage = 2022""")[0]["m2"]   # wards stop at the Thames
    assert sum(w["overlap_m2"] for w in body["wards"]) == pytest.approx(land, rel=1e-3)
    for w in body["wards"]:
        assert 0 < w["share_of_ward"] <= 1
        for slug, value in w["apportioned"].items():
            if value is not None:
                assert value == pytest.approx(w["counts"][slug] * w["share_of_ward"], rel=1e-4, abs=1e-3)
    total = sum(w["apportioned"]["drug_possession"] or 0 for w in body["wards"])
    assert body["totals"]["drug_possession"] == pytest.approx(total, abs=1e-2)


def test_a_posted_ward_polygon_gives_that_ward_whole(api, sql):
    row = sql("SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 9) AS g FROM geo.ward WHERE vintage = 2022 "
              "AND ward_code = 'E05013806'")[0]
    body = ok(api.post("/api/wards/within", json={"geometry": json.loads(row["g"]), "period": "FY2025/26"}))
    main = body["wards"][0]
    assert main["ward_code"] == "E05013806" and main["share_of_ward"] == pytest.approx(1, abs=1e-3)
    assert main["apportioned"]["drug_possession"] == pytest.approx(main["counts"]["drug_possession"], rel=1e-3)
    assert all(w["share_of_ward"] < 0.01 for w in body["wards"][1:])       # neighbours: slivers only
    # the same in British National Grid, as a Feature
    bng = sql("SELECT ST_AsGeoJSON(geom, 3) AS g FROM geo.ward WHERE vintage = 2022 AND ward_code = 'E05013806'")[0]
    again = ok(api.post("/api/wards/within", json={"geometry": {"type": "Feature", "geometry": json.loads(bng["g"])},
                                                   "crs": "EPSG:27700", "period": "FY2025/26"}))
    assert again["wards"][0]["ward_code"] == "E05013806"


def test_posted_polygon_limits_and_bad_geometry(api):
    huge = shapely.geometry.mapping(shapely.box(-1.5, 51.0, 1.0, 52.0))
    assert "km²" in bad(api.post("/api/wards/within", json={"geometry": huge}), 413)
    ring = [[-0.1 + 0.01 * math.cos(i / 2000), 51.5 + 0.01 * math.sin(i / 2000)]
            for i in range(12_000)]
    ring.append(ring[0])
    many = {"type": "Polygon", "coordinates": [ring]}
    assert "vertices" in bad(api.post("/api/wards/within", json={"geometry": many}), 413)
    assert "Polygon" in bad(api.post("/api/wards/within", json={"geometry": {"type": "Point", "coordinates": [0, 0]}}))
    assert "valid GeoJSON" in bad(api.post("/api/wards/within", json={"geometry": {
        "type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}))
    assert "geometry must be" in bad(api.post("/api/wards/within", json={}))
    bowtie = {"type": "Polygon", "coordinates": [[[-0.12, 51.50], [-0.10, 51.52], [-0.10, 51.50], [-0.12, 51.52],
                                                  [-0.12, 51.50]]]}
    assert ok(api.post("/api/wards/within", json={"geometry": bowtie}))["wards"]   # repaired, not refused


# --- tiles ----------------------------------------------------------------------------------------

def test_vector_tiles_hold_the_wards_with_their_harm_figures(api, sql):
    for z, x, y in ((12, 2046, 1361), (14, 8186, 5448)):
        r = api.get(f"/api/tiles/{z}/{x}/{y}.mvt?period=FY2025/26")
        assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
        assert r.headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE" and r.headers["X-Synthetic-Data"] == "true"
        tile = mapbox_vector_tile.decode(r.data)
        feats = tile["wards"]["features"]
        assert feats, (z, x, y)
        codes = {f["properties"]["ward_code"] for f in feats}
        box = sql("SELECT ST_Transform(ST_TileEnvelope(%s, %s, %s), 27700) AS b", (z, x, y))[0]["b"]
        expected = {row["ward_code"] for row in sql(
            "SELECT ward_code FROM geo.ward WHERE vintage = 2022 AND ST_Intersects(geom, %s::geometry)", (box,))}
        assert codes <= expected | codes and len(codes & expected) >= len(expected) - 1
        scored = [f for f in feats if "score" in f["properties"]]
        assert scored and all(f["properties"]["period"] == "FY2025/26" for f in feats)
        one = scored[0]["properties"]
        row = sql("SELECT score FROM harm.current_ward_index WHERE period = 'FY2025/26' AND ward_code = %s",
                  (one["ward_code"],))[0]
        assert one["score"] == pytest.approx(row["score"])
    empty = api.get("/api/tiles/12/0/0.mvt")
    assert empty.status_code == 200 and not mapbox_vector_tile.decode(empty.data)


def test_tilejson_points_at_the_tiles(api):
    body = ok(api.get("/api/tiles.json?period=2025-Q1"))
    assert body["tilejson"] == "3.0.0" and body["tiles"][0].endswith("/api/tiles/{z}/{x}/{y}.mvt?period=2025-Q1")
    assert body["vector_layers"][0]["id"] == "wards" and "score" in body["vector_layers"][0]["fields"]
    assert "OFFICIAL-SENSITIVE" in body["attribution"] and body["synthetic"] is True


# --- before any publish (runs last here: the next test that needs the index publishes it again) -------

def test_before_any_publish_the_geography_still_answers_and_the_harm_is_503(api, settings):
    with db.connect(settings.database_url) as c:
        c.execute("DELETE FROM harm.current")
    ids = [c["id"] for c in ok(api.get("/api/collections"))["collections"]]
    assert "wards" in ids and "boroughs" in ids and "harm-index" not in ids
    assert "harm index" in bad(api.get("/api/collections/harm-index/items"), 503)
    bad(api.get("/api/harm/worst"), 503)
    bad(api.get("/api/collections/indicator-drug_trafficking"), 503)
    here = ok(api.get("/api/wards/at?x=531000&y=178000"))
    assert here["wards"]["2022"]["ward_code"] and here["summary"] is None and here["synthetic"] is False
    tile = api.get("/api/tiles/12/2046/1361.mvt")
    feats = mapbox_vector_tile.decode(tile.data)["wards"]["features"]
    assert feats and not any("score" in f["properties"] for f in feats)
    assert ok(api.get("/api/collections/wards/items?limit=2"))["numberReturned"] == 2
