"""Injection and traversal (docs/security.md, "Tried against it"): SQL metacharacters in every query
parameter of the map, briefing and API routes, huge or malformed geometries posted to the API, path
traversal in every path parameter and file argument, oversized bodies and wrong content types. Each must
get an answer below 500 (a 4xx is a problem document with a detail a person can act on), and the database
must be unchanged afterwards.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harmmap.cli import main

SQL = ["' OR 1=1 --", "1; DROP TABLE harm.publish; --", "'); DELETE FROM geo.ward; --", "\" OR \"\"=\"",
       "1' UNION SELECT password_hash FROM auth.app_user --", "%", "_", "\\", "%00", "\x00", "\u202e", "😀" * 50,
       "FY2025/26' --", "E05000001' OR '1'='1", "x" * 5000, "-1e309", "NaN"]
TRAVERSAL = ["../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "....//....//etc/passwd",
             "..\\..\\windows\\win.ini", "/etc/passwd", "%252e%252e%252f"]
#: GET routes and the query parameters each reads (the API's are also in its OpenAPI document).
GET_ROUTES = {
    "/map/meta.json": [],
    "/map/values.json": ["period", "layer", "borough"],
    "/map/worst.json": ["period", "borough", "rule", "n", "threshold"],
    "/map/worst.csv": ["period", "borough", "rule", "n", "threshold"],
    "/map/ward/E05013666.json": ["period"],
    "/map/search": ["q"],
    "/map/wards.geojson": ["vintage", "tolerance"],
    "/": ["period", "layer", "borough", "rule", "n", "lat", "lon", "zoom", "ward"],
    "/brief/ward/E05013666.pdf": ["period"],
    "/api/collections/wards/items": ["limit", "offset", "bbox", "bbox-crs", "crs", "ward_code", "borough_name", "f"],
    "/api/collections/harm-index/items": ["period", "datetime", "ward_code", "hotspot", "limit", "sortby"],
    "/api/harm/worst": ["period", "rule", "n", "threshold", "borough", "f"],
    "/api/harm/wards/E05013666": ["period"],
    "/api/wards/at": ["lon", "lat", "x", "y", "period"],
    "/api/wards/near": ["lon", "lat", "radius_m", "period", "crs"],
    "/api/tiles/12/2046/1362.mvt": ["period"],
}


def _counts(sql) -> dict:
    tables = ["geo.ward", "geo.borough", "harm.publish", "harm.current", "etl.batch", "etl.quarantine",
              "harm.indicator_month"]
    return {t: sql(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}  # names from the list above


def _no_5xx(r, what: str) -> None:
    assert r.status_code < 500, (what, r.status_code, r.get_data(as_text=True)[:300])
    assert r.status_code not in (401, 403), (what, "refused: the input never reached the route")
    if r.status_code >= 400 and r.status_code not in (401, 403):
        if r.mimetype == "text/html":   # a page outside the data routes: the error page says what happened
            assert "Not found" in r.get_data(as_text=True) or "<p" in r.get_data(as_text=True), what
        else:
            body = r.get_json(silent=True)
            assert body and body.get("detail"), (what, r.status_code, r.get_data(as_text=True)[:300])
        assert "Traceback" not in r.get_data(as_text=True) and "psycopg" not in r.get_data(as_text=True)


@pytest.fixture
def ask(analyst, api):
    """GET as an analyst (who may use every route here): pages and map data signed in, the API with a key."""
    return lambda path, **kwargs: (api if path.startswith("/api/") else analyst).get(path, **kwargs)


@pytest.mark.db
def test_sql_metacharacters_in_every_query_parameter_get_an_answer_not_a_500(ask, sql, demo_index):
    before = _counts(sql)
    for path, params in GET_ROUTES.items():
        for name in params:
            for value in SQL:
                r = ask(path, query_string={name: value})
                _no_5xx(r, f"{path}?{name}={value[:30]!r}")
    assert _counts(sql) == before


@pytest.mark.db
def test_metacharacters_and_traversal_in_path_parameters_are_404_or_400(ask, sql, demo_index):
    before = _counts(sql)
    templates = ["/map/ward/{}.json", "/brief/ward/{}.pdf", "/brief/borough/{}.pdf", "/api/harm/wards/{}",
                 "/api/collections/{}/items", "/api/collections/wards/items/{}", "/static/{}", "/static/vendor/{}",
                 "/api/tiles/{}/1/1.mvt"]
    for template in templates:
        for value in SQL[:6] + TRAVERSAL:
            r = ask(template.format(value))
            _no_5xx(r, template.format(value[:30]))
            assert r.status_code in (400, 404, 405, 308), (template, value, r.status_code)
            assert b"root:" not in r.data
    assert _counts(sql) == before


@pytest.mark.db
def test_static_files_never_leave_the_static_folder(app):
    client = app.test_client()
    for value in TRAVERSAL + ["harmmap/../../__init__.py", "harmmap/%2e%2e/%2e%2e/__init__.py"]:
        # the raw path, as curl --path-as-is sends it (the test client would resolve the dots itself)
        r = client.get("/", environ_overrides={"PATH_INFO": "/static/" + value})
        if r.status_code == 308:   # "/static//etc/passwd": the double slash merged, still under /static
            assert r.headers["Location"].split("://")[-1].lstrip("localhost").startswith("/static/etc"), r.headers
            continue
        assert r.status_code == 404, (value, r.status_code)
        assert b"create_app" not in r.data and b"root:" not in r.data


def _post(client, path: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


@pytest.mark.db
def test_huge_or_malformed_geometries_get_a_4xx_with_a_message(api, sql, demo_index):
    before = _counts(sql)
    square = [[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.51], [-0.13, 51.50]]
    ring = [[-0.1 + 0.01 * (i % 7), 51.5 + 0.00001 * i] for i in range(1_000_000)] + [[-0.1, 51.5]]
    nested = "[" * 5000 + json.dumps(square) + "]" * 5000
    cases = {
        "invalid JSON": "{\"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[0, 0]",
        "not an object": [1, 2, 3],
        "wrong GeoJSON type": {"geometry": {"type": "Point", "coordinates": [-0.1, 51.5]}},
        "a million vertices": {"geometry": {"type": "Polygon", "coordinates": [ring]}},
        "deeply nested": "{\"geometry\": {\"type\": \"Polygon\", \"coordinates\": " + nested + "}}",
        "deeply nested JSON": "[" * 100_000 + "]" * 100_000,
        "NaN coordinates": "{\"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[NaN, 51.5], [0, 51.5], "
                           "[0, 51.6], [NaN, 51.5]]]}}",
        "infinite coordinates": "{\"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[Infinity, 51.5], "
                                "[0, 51.5], [0, 51.6], [Infinity, 51.5]]]}}",
        "self-intersecting bow tie with no area": {"geometry": {"type": "Polygon", "coordinates": [
            [[-0.13, 51.50], [-0.12, 51.51], [-0.13, 51.51], [-0.12, 51.50], [-0.13, 51.50]]]}},
        "unclosed ring": {"geometry": {"type": "Polygon", "coordinates": [square[:3]]}},
        "strings for numbers": {"geometry": {"type": "Polygon", "coordinates": [[["a", "b"], ["c", "d"],
                                                                                  ["e", "f"], ["a", "b"]]]}},
        "SQL in the CRS": {"geometry": {"type": "Polygon", "coordinates": [square]}, "crs": "' OR 1=1 --"},
        "SQL in the period": {"geometry": {"type": "Polygon", "coordinates": [square]}, "period": "'; DROP --"},
        "whole Earth": {"geometry": {"type": "Polygon", "coordinates": [
            [[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}},
        "unknown member": {"geometry": {"type": "Polygon", "coordinates": [square]}, "sql": "DROP"},
    }
    for what, body in cases.items():
        r = _post(api, "/api/wards/within", body)
        _no_5xx(r, what)
        assert 400 <= r.status_code < 500 or what.startswith("self-intersecting"), (what, r.status_code)
    points = {
        "NaN point": "{\"points\": [[NaN, 51.5]]}",
        "too many points": {"points": [[-0.1, 51.5]] * 10_001},
        "nested points": {"points": [[[-0.1, 51.5]]]},
        "point as strings": {"points": [["-0.1", "51.5"]]},
        "huge numbers": {"points": [[1e308, 1e308]], "crs": "EPSG:27700"},
        "deeply nested JSON": "{\"points\": " + "[" * 100_000 + "]" * 100_000 + "}",
    }
    for what, body in points.items():
        r = _post(api, "/api/wards/at", body)
        _no_5xx(r, what)
        if what == "huge numbers":   # finite metres, just nowhere near London: answered, in no ward
            assert r.status_code == 200 and r.get_json()["located"] == 0, r.get_data(as_text=True)[:200]
            continue
        assert 400 <= r.status_code < 500, (what, r.status_code)
    assert _counts(sql) == before


@pytest.mark.db
def test_oversized_bodies_are_413_and_wrong_content_types_415(app, api, demo_index):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = b"{\"points\": [" + b"[0, 0]," * (limit // 7 + 1) + b"[0, 0]]}"
    r = _post(api, "/api/wards/at", big)
    assert r.status_code == 413 and r.mimetype == "application/problem+json" and r.get_json()["detail"]
    body = json.dumps({"points": [[-0.1, 51.5]]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/xml", ""):
        for path in ("/api/wards/at", "/api/wards/within"):
            r = _post(api, path, body, content_type)
            assert r.status_code == 415, (path, content_type, r.status_code)
            assert r.mimetype == "application/problem+json" and "application/json" in r.get_json()["detail"]


@pytest.mark.db
def test_cli_file_arguments_with_traversal_or_no_file_are_refused_with_a_message(settings, tmp_path):
    env = {"HARMMAP_DATABASE_URL": settings.database_url}
    runner = CliRunner()
    for args in (["etl", "run", "closures", "../../etc/passwd"], ["etl", "run", "closures", "/etc/passwd"],
                 ["etl", "run", "closures", str(tmp_path / ".." / "nowhere.csv")],
                 ["etl", "run", "../../etc/passwd", str(tmp_path)]):
        r = runner.invoke(main, args, env=env)
        assert r.exit_code != 0 and r.exception is None or isinstance(r.exception, SystemExit), (args, r.output)
        assert "Traceback" not in r.output and r.output.strip(), (args, r.output)
    # a ward "code" with traversal in it never becomes part of a written path
    out = tmp_path / "out"
    r = runner.invoke(main, ["brief", "--ward", "../../../tmp/evil", "--out", str(out)], env=env)
    assert r.exit_code != 0 and not list(tmp_path.rglob("*evil*")), r.output
