"""The analyst API shows need, response and confidence (issue 18): every indicator collection names its family,
the harm index says which families its weights draw on, police response is read against need (the
need-response collection, and beside each ward of /harm/worst), and /harm/diagnostic sets changes in
confidence beside the police response and need over the same months.

Against the demo index in real PostGIS. Expected figures come from the published tables by SQL (or, for
GDAL, from what GDAL itself reads), never from the API.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from dataclasses import replace

import pytest
from openapi_spec_validator import validate

from harmmap import published
from harmmap.indicators import BY_SLUG, FAMILY_LABELS, INDICATORS
from web.api.collections import COLLECTIONS
from web.api.features import families

pytestmark = pytest.mark.db

PERIOD = "FY2025/26"
LAMBETH = "E09000022"
MARKING = "OFFICIAL-SENSITIVE"


def get_json(client, url: str, status: int = 200) -> dict:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_json(force=True)


def problem(client, url: str, status: int) -> dict:
    r = client.get(url)
    assert r.status_code == status and r.mimetype == "application/problem+json", (url, r.status_code)
    body = r.get_json(force=True)
    assert body["marking"] == MARKING and "Traceback" not in body["detail"]
    return body


def area_values(sql, level: str, code: str, period: str) -> dict[str, dict]:
    """indicator -> {value, respondents} of one area and period, straight from the published tables."""
    if level == "ward":
        rows = sql("SELECT indicator, value, respondents FROM harm.current_ward_indicator "
                   "WHERE ward_code = %s AND period = %s", (code, period))
    else:
        rows = sql("SELECT indicator, value, respondents FROM harm.current_area_indicator "
                   "WHERE level = %s AND area_code = %s AND period = %s", (level, code, period))
    return {r["indicator"]: r for r in rows}


def check_against_tables(body: dict, sql, level: str, code: str) -> None:
    """Each change's before and after are the published figures of the two periods, the change is after
    against before (points for PAS, relative for counts), inside its interval, significant when p < 0.05."""
    now = area_values(sql, level, code, body["window"]["period"])
    then = area_values(sql, level, code, body["window"]["against_period"])
    assert body["changes"], body["summary"]
    for c in body["changes"]:
        a, b = now[c["indicator"]], then[c["indicator"]]
        assert c["family"] == BY_SLUG[c["indicator"]].family and c["family_label"] == FAMILY_LABELS[c["family"]]
        if c["kind"] == "survey":
            assert c["before"] == pytest.approx(100 * b["value"] / b["respondents"])
            assert c["after"] == pytest.approx(100 * a["value"] / a["respondents"])
            assert c["change"] == pytest.approx(c["after"] - c["before"])
            assert (c["respondents_before"], c["respondents_after"]) == (b["respondents"], a["respondents"])
        else:
            assert (c["before"], c["after"]) == (pytest.approx(b["value"]), pytest.approx(a["value"]))
            if b["value"]:
                assert c["change"] == pytest.approx(a["value"] / b["value"] - 1)
        if c["tested"] and c["change"] is not None and c["lo"] is not None and c["hi"] is not None:
            assert c["lo"] <= c["change"] <= c["hi"]
            assert c["significant"] == (c["p"] < 0.05)
        if c["kind"] == "value":
            assert c["p"] is None and not c["tested"]       # pounds are not tested


# --- families ----------------------------------------------------------------------------------------

def test_every_indicator_collection_says_its_family_and_possession_its_caveat(api):
    for ind in INDICATORS:
        doc = get_json(api, f"/api/collections/indicator-{ind.slug}")
        assert doc["family"] == ind.family and doc["family_label"] == FAMILY_LABELS[ind.family]
        assert doc["description"].startswith(FAMILY_LABELS[ind.family])
        page = get_json(api, f"/api/collections/indicator-{ind.slug}/items?limit=2&period={PERIOD}")
        for feature in page["features"]:
            assert feature["properties"]["family"] == ind.family
    possession = get_json(api, "/api/collections/indicator-drug_possession")
    assert "stop and search" in possession["caveat"] and "stop and search" in possession["description"]
    feature = get_json(api, f"/api/collections/indicator-drug_possession/items?limit=1&period={PERIOD}")["features"][0]
    assert feature["properties"]["caveat"] == BY_SLUG["drug_possession"].caveat
    problem_pas = get_json(api, "/api/collections/indicator-pas_drug_problem")
    assert problem_pas["family"] == "need" and problem_pas["also_family"] == "confidence"
    assert "confidence" in problem_pas["description"].lower()
    closures = get_json(api, "/api/collections/indicator-crack_house_closures")
    assert closures["family"] == "response" and "not a target" in closures["description"]
    # the family is a property like any other in the CSV
    text = api.get(f"/api/collections/indicator-drug_possession/items?f=csv&limit=2&period={PERIOD}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["family"] for r in rows} == {"need"} and all("stop and search" in r["caveat"] for r in rows)


def test_the_harm_index_says_which_families_its_weights_draw_on(api, sql):
    doc = get_json(api, "/api/collections/harm-index")
    weights = sql("SELECT weights FROM harm.publish p JOIN harm.current c USING (version)")[0]["weights"]
    assert doc["weights"] == pytest.approx(weights)
    assert doc["weight_families"] == sorted({BY_SLUG[k].family for k in weights}) == ["need"]
    assert doc["response_note"] is None and "need" in doc["description"]
    # When a deployment weights police activity in, the document says so in the words every surface uses.
    weighted = published.Snapshot(conn=None, version=1, published_at=None, synthetic=True,
                                  weights={"drug_trafficking": 0.5, "crack_house_closures": 0.5}, indicators=None,
                                  parameters=None, geo_batch=None, geo_loaded_at=None)
    said = families(weighted, COLLECTIONS["harm-index"])
    assert said["weight_families"] == ["need", "response"]
    assert "Crack house closures" in said["response_note"] and "already act" in said["response_note"]


# --- need against response ---------------------------------------------------------------------------

def test_need_response_collection_serves_every_ward_with_its_interval(api, sql):
    expected = sql("""SELECT area_code, activity, trafficking, per_100, per_100_lo, per_100_hi, vs_london,
                             need_level, quadrant, synthetic
                      FROM harm.current_response WHERE level = 'ward' AND period = %s""", (PERIOD,))
    by_code = {r["area_code"]: r for r in expected}
    assert len(by_code) >= 679
    body = get_json(api, f"/api/collections/need-response/items?period={PERIOD}&limit=1000&count=true")
    assert body["numberMatched"] == len(by_code) == len(body["features"])
    for f in body["features"]:
        p, row = f["properties"], by_code[f["properties"]["ward_code"]]
        assert f["id"] == f"{p['ward_code']}_FY2025-26" and f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        for name in ("activity", "trafficking", "per_100", "per_100_lo", "per_100_hi"):
            assert p[name] == (None if row[name] is None else pytest.approx(row[name])), (p["ward_code"], name)
        assert (p["vs_london"], p["need_level"], p["quadrant"], p["synthetic"]) == \
            (row["vs_london"], row["need_level"], row["quadrant"], row["synthetic"])
        if p["per_100"] is not None:
            assert p["per_100_lo"] <= p["per_100"] <= p["per_100_hi"]
    assert {f["properties"]["quadrant"] for f in body["features"]} >= {"tasking_candidate", "no_signal"}
    doc = get_json(api, "/api/collections/need-response")
    assert "not a target" in doc["description"] and doc["families"] == ["need", "response"]
    assert {"per_100", "per_100_lo", "per_100_hi", "vs_london", "need_level", "quadrant"} <= set(doc["properties"])


def test_need_response_filters_bbox_datetime_crs_paging_one_feature_csv_and_html(api, sql):
    candidates = sql("SELECT count(*) AS n FROM harm.current_response WHERE level = 'ward' AND period = %s "
                     "AND quadrant = 'tasking_candidate'", (PERIOD,))[0]["n"]
    body = get_json(api, f"/api/collections/need-response/items?period={PERIOD}&quadrant=tasking_candidate"
                         "&limit=500&count=true")
    assert body["numberMatched"] == candidates == len(body["features"]) > 0
    # a box round Lambeth, in British National Grid metres
    boxed = sql("""SELECT count(*) AS n FROM harm.current_response r JOIN geo.ward w ON w.vintage = 2022
                   AND w.ward_code = r.area_code WHERE r.level = 'ward' AND r.period = %s
                   AND ST_Intersects(w.geom, ST_MakeEnvelope(529000, 172000, 533000, 177000, 27700))""", (PERIOD,))
    body = get_json(api, f"/api/collections/need-response/items?period={PERIOD}&bbox=529000,172000,533000,177000"
                         "&bbox-crs=EPSG:27700&crs=EPSG:27700&limit=100")
    assert len(body["features"]) == boxed[0]["n"] > 0
    assert body["features"][0]["geometry"]["coordinates"][0][0][0][0] > 500000      # metres, not degrees
    months = get_json(api, "/api/collections/need-response/items?datetime=2025-06-15&ward_code=E05014095&limit=50")
    periods_seen = {f["properties"]["period"] for f in months["features"]}
    assert PERIOD in periods_seen and "2025-06" in periods_seen and "2025-Q2" in periods_seen
    # keyset paging walks every feature of the period once
    seen, url = [], f"/api/collections/need-response/items?period={PERIOD}&limit=300"
    while url:
        page = get_json(api, url)
        seen += [f["id"] for f in page["features"]]
        nxt = [link for link in page["links"] if link["rel"] == "next" and link["type"] == "application/geo+json"]
        url = nxt[0]["href"].split("localhost", 1)[1] if nxt else None
    assert len(seen) == len(set(seen)) == sql("SELECT count(*) AS n FROM harm.current_response WHERE level = 'ward' "
                                              "AND period = %s", (PERIOD,))[0]["n"]
    one = get_json(api, "/api/collections/need-response/items/E05014095_FY2025-26")
    assert one["properties"]["ward_name"] == "Brixton Acre Lane" and one["marking"] == MARKING
    text = api.get(f"/api/collections/need-response/items?f=csv&limit=3&period={PERIOD}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 and all(r["protective_marking"] == MARKING and r["wkt"].startswith("MULTIPOLYGON")
                                  for r in rows)
    assert {"per_100", "per_100_lo", "per_100_hi", "vs_london", "quadrant", "synthetic"} <= set(rows[0])
    html = api.get(f"/api/collections/need-response/items?f=html&limit=3&period={PERIOD}").get_data(as_text=True)
    assert html.count(MARKING) >= 2 and "SYNTHETIC" in html and "per_100_lo" in html


def ogr(*args: str) -> str:
    out = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gdal_reads_the_need_response_collection(live_server, demo_index, sql, accounts, monkeypatch):
    monkeypatch.setenv("GDAL_HTTP_HEADERS", f"Authorization: Bearer {accounts.keys['analyst']}")
    listing = ogr(f"OAPIF:{live_server}/api")
    assert re.search(r"^\d+: need-response \(title", listing, re.M), listing
    summary = ogr("-so", f"OAPIF:{live_server}/api", "need-response")
    # GDAL guesses each field's type from the first page (docs/api.md): the fields are all there, and those
    # never null have their types; per_100 is null where no trafficking was recorded, so it may read as text
    fields = dict(re.findall(r"^(\w+): (\S+) \(", summary, re.M))
    assert {"ward_code", "period", "activity", "trafficking", "per_100", "per_100_lo", "per_100_hi", "vs_london",
            "need_level", "quadrant", "synthetic"} <= set(fields), summary
    assert (fields["vs_london"], fields["quadrant"], fields["synthetic"]) == ("String", "String", "Integer(Boolean)")
    assert fields["activity"] in ("Integer", "Real") and fields["trafficking"] in ("Integer", "Real")
    # GDAL sends the -where on a declared property to the API as period=
    features = ogr("-q", f"OAPIF:{live_server}/api", "need-response", "-where", f"period = '{PERIOD}'")
    n = sql("SELECT count(*) AS n FROM harm.current_response WHERE level = 'ward' AND period = %s", (PERIOD,))[0]["n"]
    assert features.count("OGRFeature(need-response)") == n >= 679
    assert features.count("quadrant (String) = ") == n and "MULTIPOLYGON" in features


def test_worst_wards_keep_their_need_order_and_carry_their_response(api, sql):
    body = get_json(api, f"/api/harm/worst?period={PERIOD}&n=25")
    scores = [w["score"] for w in body["wards"]]
    assert scores == sorted(scores, reverse=True)          # ranked by the index (need), never by response
    assert body["weight_families"] == ["need"] and body["response_note"] is None and "not a target" in body["order"]
    response = {r["area_code"]: r for r in sql("SELECT * FROM harm.current_response WHERE level = 'ward' "
                                               "AND period = %s", (PERIOD,))}
    for w in body["wards"]:
        r, row = w["response"], response[w["ward_code"]]
        assert r["per_100"] == (None if row["per_100"] is None else pytest.approx(row["per_100"]))
        assert r["interval"] == [pytest.approx(row["per_100_lo"]), pytest.approx(row["per_100_hi"])]
        assert (r["vs_london"], r["quadrant"], r["suppressed"]) == (row["vs_london"], row["quadrant"], None)
    rows = list(csv.DictReader(io.StringIO(api.get(f"/api/harm/worst?period={PERIOD}&n=5&f=csv").get_data(as_text=True))))
    assert [r["ward_code"] for r in rows] == [w["ward_code"] for w in body["wards"][:5]]
    for r in rows:
        row = response[r["ward_code"]]
        assert float(r["response_per_100"]) == pytest.approx(row["per_100"])
        assert float(r["response_per_100_lo"]) == pytest.approx(row["per_100_lo"])
        assert (r["response_vs_london"], r["response_quadrant"]) == (row["vs_london"], row["quadrant"])
        assert r["protective_marking"] == MARKING
    assert list(rows[0])[-1] == "protective_marking"


# --- the diagnostic view -----------------------------------------------------------------------------

def test_diagnostic_for_london_against_the_previous_year(api, sql):
    body = get_json(api, "/api/harm/diagnostic")                      # the defaults: London, latest year
    assert body["area"] == {"level": "london", "code": "london", "name": "London"}
    assert body["window"] == {"period": PERIOD, "first_month": "2025-04", "last_month": "2026-03",
                              "against": "previous", "against_period": "FY2024/25",
                              "against_first_month": "2024-04", "against_last_month": "2025-03"}
    assert body["marking"] == MARKING and body["synthetic"] is True and body["synthetic_note"]
    assert body["design_effect"] == pytest.approx(1.5) and body["disclosure"]["exact"] is True
    check_against_tables(body, sql, "london", "london")
    kinds = {c["indicator"]: c["family"] for c in body["changes"]}
    assert {"pas_tackle_dealing", "pas_drug_problem", "drug_trafficking", "crack_house_closures"} <= set(kinds)
    assert {"need", "response", "confidence"} == set(kinds.values())
    assert body["summary"].startswith(f"In London, {PERIOD} against FY2024/25, ")
    assert body["summary"].endswith("These moved together; the figures do not say why.")
    assert "not a target" in body["note"]
    assert {c["family"] for c in body["london"]} == {"need"}


def test_diagnostic_for_a_borough_by_name_and_by_code_with_londons_need_beside_it(api, sql):
    by_name = get_json(api, f"/api/harm/diagnostic?area=lambeth&period={PERIOD}")
    by_code = get_json(api, f"/api/harm/diagnostic?area={LAMBETH}")
    assert by_name["area"] == by_code["area"] == {"level": "borough", "code": LAMBETH, "name": "Lambeth"}
    assert by_name["changes"] == by_code["changes"]
    check_against_tables(by_name, sql, "borough", LAMBETH)
    assert by_name["summary"].startswith(f"In Lambeth, {PERIOD} against FY2024/25, ")
    london_now = area_values(sql, "london", "london", PERIOD)
    for c in by_name["london"]:
        assert c["family"] == "need" and c["after"] == pytest.approx(
            london_now[c["indicator"]]["value"] if c["kind"] == "count"
            else 100 * london_now[c["indicator"]]["value"] / london_now[c["indicator"]]["respondents"])
    assert "London's" in by_name["summary"]
    caveat = next(c for c in by_name["changes"] if c["indicator"] == "drug_possession")["caveat"]
    assert "proactive policing" in caveat


def test_diagnostic_for_a_ward_shows_an_analyst_the_exact_small_counts(api, sql):
    # a ward with a count from 1 to 4 in the window, so there is something a lower role would not see
    ward = sql("""SELECT ward_code FROM harm.current_ward_indicator WHERE period = %s
                  AND indicator = 'network_disruptions' AND value BETWEEN 1 AND 4 ORDER BY ward_code LIMIT 1""",
               (PERIOD,))[0]["ward_code"]
    body = get_json(api, f"/api/harm/diagnostic?area={ward.lower()}&period={PERIOD}")
    assert body["area"]["level"] == "ward" and body["area"]["code"] == ward and "(" in body["area"]["name"]
    check_against_tables(body, sql, "ward", ward)
    disruptions = next(c for c in body["changes"] if c["indicator"] == "network_disruptions")
    assert 1 <= disruptions["after"] <= 4 and disruptions["suppressed"] is None
    assert disruptions["p"] is not None and body["disclosure"]["exact"] is True
    assert "fewer than" not in body["summary"]


def test_diagnostic_hides_small_counts_from_a_role_below_the_exact_one(settings, demo_index, sql):
    # A deployment that keeps exact figures for administrators: an analyst's key then gets "fewer than 5".
    from web import create_app

    ward = sql("""SELECT ward_code FROM harm.current_ward_indicator WHERE period = %s
                  AND indicator = 'network_disruptions' AND value BETWEEN 1 AND 4 ORDER BY ward_code LIMIT 1""",
               (PERIOD,))[0]["ward_code"]
    app = create_app(replace(settings, disclosure_exact_role="admin"))
    try:
        analyst = app.test_client(as_role="analyst")
        body = get_json(analyst, f"/api/harm/diagnostic?area={ward}")
        disruptions = next(c for c in body["changes"] if c["indicator"] == "network_disruptions")
        assert disruptions["suppressed"] == "fewer than 5" and disruptions["after"] is None
        assert disruptions["change"] is None and disruptions["p"] is None and disruptions["lo"] is None
        assert "fewer than 5" in body["summary"] and body["disclosure"]["exact"] is False
        text = json.dumps(body)
        shown = sql("SELECT value FROM harm.current_ward_indicator WHERE period = %s AND ward_code = %s "
                    "AND indicator = 'network_disruptions'", (PERIOD, ward))[0]["value"]
        assert f'"after": {shown}' not in text
        worst = get_json(analyst, f"/api/harm/worst?period={PERIOD}&rule=top_decile")
        hidden = {w["ward_code"]: w["response"] for w in worst["wards"] if w["response"]["suppressed"]}
        small = sql("""SELECT r.area_code FROM harm.current_response r JOIN harm.current_ward_index i
                       ON i.period = r.period AND i.ward_code = r.area_code WHERE r.level = 'ward' AND r.period = %s
                       AND i.decile_london = 1 AND (r.activity BETWEEN 1 AND 4 OR r.trafficking BETWEEN 1 AND 4)""",
                    (PERIOD,))
        # every small total is hidden (the read model may hide more: a total that would give back a small part)
        assert {r["area_code"] for r in small} <= set(hidden) and hidden
        assert all(r["per_100"] is None and r["interval"] == [None, None] and r["suppressed"] == "fewer than 5"
                   for r in hidden.values())
        assert all(w["response"]["per_100"] is not None or w["response"]["trafficking"] == 0
                   for w in worst["wards"] if w["ward_code"] not in hidden)
        admin = app.test_client(as_role="admin")
        exact = get_json(admin, f"/api/harm/diagnostic?area={ward}")
        assert next(c for c in exact["changes"] if c["indicator"] == "network_disruptions")["after"] == shown
        exact_worst = get_json(admin, f"/api/harm/worst?period={PERIOD}&rule=top_decile")
        assert not [w for w in exact_worst["wards"] if w["response"]["suppressed"]]
    finally:
        app.extensions["harmmap"].pool.close()


def test_diagnostic_against_the_baseline_year(api, sql, settings):
    body = get_json(api, f"/api/harm/diagnostic?area=Lambeth&period={PERIOD}&against=baseline")
    assert body["window"]["against"] == "baseline" and body["window"]["against_period"] == settings.target_baseline
    assert body["window"]["against_first_month"] == "2023-04" and body["window"]["against_last_month"] == "2024-03"
    check_against_tables(body, sql, "borough", LAMBETH)
    assert body["summary"].startswith(f"In Lambeth, {PERIOD} against {settings.target_baseline}, ")
    # twelve months only: a quarter set against a year would read as a fall of three quarters
    assert "12 months" in problem(api, "/api/harm/diagnostic?period=2025-Q4&against=baseline", 400)["detail"]
    assert "12 months" in problem(api, f"/api/harm/diagnostic?period={settings.target_baseline}&against=baseline",
                                  400)["detail"]


@pytest.mark.parametrize("url, status, words", [
    ("/api/harm/diagnostic?area=Atlantis", 404, "Atlantis"),
    ("/api/harm/diagnostic?area=E05999999", 404, "E05999999"),
    ("/api/harm/diagnostic?area=E09999999", 404, "E09999999"),
    ("/api/harm/diagnostic?against=lastyear", 400, "against must be previous or baseline"),
    ("/api/harm/diagnostic?period=FY1990/91", 400, "no index"),
    ("/api/harm/diagnostic?period=soon", 400, "period"),
    ("/api/harm/diagnostic?borough=Lambeth", 400, "unknown query parameter"),
])
def test_diagnostic_bad_input_is_a_problem_that_says_what_is_wrong(api, url, status, words):
    assert words.lower() in problem(api, url, status)["detail"].lower()


def test_the_diagnostic_is_for_analysts_and_answers_with_validators(app, demo_index, api):
    assert app.test_client(as_role="viewer").get("/api/harm/diagnostic").status_code == 403
    assert app.test_client().get("/api/harm/diagnostic").status_code == 401
    first = api.get("/api/harm/diagnostic?area=Lambeth")
    assert first.headers["X-Protective-Marking"] == MARKING and first.headers["X-Synthetic-Data"] == "true"
    assert first.headers["Cache-Control"].startswith("private")
    again = api.get("/api/harm/diagnostic?area=Lambeth", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


# --- the OpenAPI document ----------------------------------------------------------------------------

def test_openapi_describes_the_families_need_response_and_the_diagnostic(api):
    doc = json.loads(api.get("/api/openapi").get_data(as_text=True))
    validate(doc)
    info = doc["info"]["description"]
    for label in FAMILY_LABELS.values():
        assert label in info
    assert "diagnostic, not a target" in info and "proactive policing" in info
    assert doc["components"]["schemas"]["family"]["enum"] == ["need", "response", "confidence"]
    op = doc["paths"]["/harm/diagnostic"]["get"]
    assert "diagnostic, not a target" in op["summary"] + op["description"]
    params = {p.get("name") or doc["components"]["parameters"][p["$ref"].split("/")[-1]]["name"]: p
              for p in op["parameters"]}
    assert set(params) == {"area", "period", "against"}
    assert params["against"]["schema"]["enum"] == ["previous", "baseline"]
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ok.split("/")[-1]]
    assert {"area", "window", "changes", "london", "design_effect", "summary", "marking", "synthetic"} <= \
        set(schema["required"])
    assert {"404", "400"} <= set(op["responses"])
    items = doc["paths"]["/collections/need-response/items"]["get"]
    names = {p.get("name") or doc["components"]["parameters"][p["$ref"].split("/")[-1]]["name"]
             for p in items["parameters"]}
    assert {"period", "quadrant", "vs_london", "need_level", "bbox", "datetime", "crs", "limit"} <= names
    described = doc["paths"]["/collections/indicator-drug_possession"]["get"]["description"]
    assert described.startswith("Need (harm)") and "stop and search" in described
    assert "response" in doc["paths"]["/harm/worst"]["get"]["description"]
    page = api.get("/api/openapi?f=html").get_data(as_text=True)
    assert "/harm/diagnostic" in page and "need-response" in page
