"""The tasking map's data endpoints (/map/*.json, /map/worst.csv, /map/search) through Flask's test client,
checked against the published harm.current_* tables of the session's demo index."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime

import numpy as np
import pytest
from click.testing import CliRunner

from harmmap import db, published
from harmmap.cli import main
from harmmap.indicators import INDICATORS
from web import ATTRIBUTION
from harmmap.classes import YLORRD, quantile_classes

pytestmark = pytest.mark.db

FORBIDDEN = ("source_id", "network_ref", "address")
CAMDEN_TOWN = "E05013655"
ALDERSGATE = "E05009288"      # a City of London ward
LAMBETH = "E09000022"
SLUGS = [i.slug for i in INDICATORS]


def query(settings, sql: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(sql, params).fetchall()


def fetch(client, url: str, status: int = 200, **headers):
    resp = client.get(url, headers=headers)
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, (url, resp.status_code, text[:400])
    for word in FORBIDDEN:
        assert word not in text.lower(), (url, word)
    return resp


def data(client, url: str) -> dict:
    body = fetch(client, url).get_json()
    assert body["marking"] == "OFFICIAL-SENSITIVE" and isinstance(body["synthetic"], bool), url
    return body


# --- meta ------------------------------------------------------------------------------------------

def test_meta_lists_periods_layers_and_boroughs_in_order(viewer, demo_index):
    meta = data(viewer, "/map/meta.json")
    assert meta["version"] == demo_index.version and meta["synthetic"] is True
    assert meta["attribution"] == ATTRIBUTION
    kinds = [p["kind"] for p in meta["periods"]]
    assert kinds == ["month"] * 36 + ["quarter"] * 12 + ["fy"] * 3 + ["r12"] * 25
    for kind in ("month", "quarter", "fy", "r12"):
        firsts = [p["first_month"] for p in meta["periods"] if p["kind"] == kind]
        assert firsts == sorted(firsts)
    assert meta["default_period"] == "FY2025/26"
    fy = {p["period"]: p for p in meta["periods"]}
    assert fy["FY2025/26"]["title"] == "April 2025 to March 2026" and fy["FY2025/26"]["last_month"] == "2026-03"
    assert sorted(fy["FY2023/24"]["dropped"]) == ["drug_possession", "drug_trafficking"]  # MPS data start 2024-03
    assert "drug_trafficking" not in fy["FY2023/24"]["layers"] and "harm_index" in fy["FY2023/24"]["layers"]
    assert sum(fy["FY2025/26"]["weights"].values()) == pytest.approx(1, abs=1e-3)

    layers = meta["layers"]
    assert [layer["id"] for layer in layers] == ["harm_index", *SLUGS, "need_response"]
    units = {layer["id"]: layer["unit"] for layer in layers}
    assert units["harm_index"] == "score 0-100" and units["drug_trafficking"] == "per 1,000 residents"
    assert units["pas_drug_problem"] == "% agreeing (EB estimate)"
    assert units["asset_seizure_value_gbp"] == "£ per 1,000 residents"
    synthetic = {layer["id"]: layer["synthetic"] for layer in layers}
    assert synthetic["drug_trafficking"] is False and synthetic["crack_house_closures"] is True

    assert len(meta["boroughs"]) == 33
    city = [b for b in meta["boroughs"] if b["city_of_london"]]
    assert [b["code"] for b in city] == ["E09000001"]
    published = query(demo_index.settings, "SELECT published_at FROM harm.publish JOIN harm.current USING (version)")
    assert datetime.fromisoformat(meta["published_at"]) == published[0]["published_at"]
    assert meta["data_updated"]["indicators"]["drug_trafficking"] == {"first": "2024-03", "last": "2026-03",
                                                                      "synthetic": False}


# --- values ----------------------------------------------------------------------------------------

def test_harm_index_layer_has_every_ward_and_decile_classes(viewer, demo_index):
    body = data(viewer, "/map/values.json?period=FY2025/26")
    assert body["version"] == demo_index.version and body["layer"] == "harm_index" and body["borough"] is None
    wards = body["wards"]
    assert len(wards) == 704
    assert sum(w["v"] is not None for w in wards.values()) == 679
    assert [c["label"] for c in body["classes"]] == ["Worst 10%", "10–20%", "20–40%", "40–70%", "Least harm 30%"]
    assert [c["color"] for c in body["classes"]] == ["#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2"]
    db_rows = query(demo_index.settings, """SELECT ward_code, score, rank_london, decile_london, hotspot
                                            FROM harm.current_ward_index WHERE period = 'FY2025/26'""")
    group = {1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 4}
    for r in db_rows:
        w = wards[r["ward_code"]]
        if r["score"] is None:
            assert w["v"] is None and w["k"] is None and w["hotspot"] == "no_data"
        else:
            assert w["v"] == pytest.approx(r["score"], abs=1e-4)
            assert w["rank"] == r["rank_london"] and w["decile"] == r["decile_london"]
            assert w["k"] == group[r["decile_london"]] and w["hotspot"] == r["hotspot"]
            cls = body["classes"][w["k"]]
            assert cls["min"] - 1e-4 <= w["v"] <= cls["max"] + 1e-4
    assert sum(c["count"] for c in body["classes"]) == sum(w["k"] is not None for w in wards.values()) == 679


def test_a_borough_is_ranked_within_itself_and_the_rest_keep_their_values(viewer, demo_index):
    by_name = data(viewer, "/map/values.json?period=FY2025/26&borough=lambeth")
    by_code = data(viewer, f"/map/values.json?period=FY2025/26&borough={LAMBETH}")
    assert by_name["wards"] == by_code["wards"] and by_name["borough"] == {"code": LAMBETH, "name": "Lambeth"}
    rows = query(demo_index.settings, """SELECT ward_code, score, rank_borough FROM harm.current_ward_index
                                         WHERE period = 'FY2025/26' AND borough_code = %s""", (LAMBETH,))
    inside = {r["ward_code"]: r for r in rows}
    for code, w in by_code["wards"].items():
        if code in inside:
            assert w["k"] is not None and w["rank"] == inside[code]["rank_borough"]
        else:
            assert w["k"] is None and w["rank"] is None
    assert sum(w["v"] is not None for w in by_code["wards"].values()) == 679   # outside wards keep v
    assert sum(c["count"] for c in by_code["classes"]) == len(inside) == by_code["n_ranked"]


def test_an_indicator_layer_is_its_rate_in_quantile_classes(analyst, demo_index):
    # an analyst: the exact counts, which viewers see as "fewer than 5" (docs/security.md)
    body = data(analyst, "/map/values.json?period=FY2025/26&layer=drug_trafficking")
    assert body["unit"] == "per 1,000 residents" and body["synthetic"] is True   # hotspots come from the index
    assert body["layer_synthetic"] is False                                      # the MPS counts are real
    rates = {r["ward_code"]: r["rate_per_1000"] for r in query(demo_index.settings, """
        SELECT ward_code, rate_per_1000 FROM harm.current_ward_indicator
        WHERE period = 'FY2025/26' AND indicator = 'drug_trafficking'""")}
    wards = body["wards"]
    assert len(wards) == 704 and sum(w["v"] is not None for w in wards.values()) == len(rates) == 679
    for code, rate in rates.items():
        assert wards[code]["v"] == pytest.approx(rate, abs=1e-4)
    top = max(rates, key=rates.get)
    assert wards[top]["rank"] == 1 and wards[top]["k"] == 0
    classes = body["classes"]
    assert len(classes) == 5 and [c["color"] for c in classes] == list(YLORRD)
    assert all(c["label"].endswith(" per 1,000") for c in classes)
    assert all(a["min"] >= b["max"] for a, b in zip(classes, classes[1:]))           # worst (highest) first
    assert sum(c["count"] for c in classes) == 679
    assert all(abs(c["count"] - 679 / 5) <= 2 for c in classes)


def test_confidence_is_reversed_so_red_is_still_worse(viewer, demo_index):
    body = data(viewer, "/map/values.json?period=FY2025/26&layer=pas_tackle_dealing")
    classes = body["classes"]
    assert body["unit"] == "% agreeing (EB estimate)" and body["higher_is_worse"] is False
    assert classes[0]["color"] == "#bd0026" and all(c["label"].endswith("%") for c in classes)
    assert all(a["max"] <= b["min"] for a, b in zip(classes, classes[1:]))           # lowest confidence first
    lowest = min((w for w in body["wards"].values() if w["v"] is not None), key=lambda w: w["v"])
    assert lowest["k"] == 0


def test_sparse_counts_get_a_zero_class_of_their_own(analyst, demo_index):
    # an analyst: the exact counts, which viewers see as "fewer than 5" (docs/security.md)
    body = data(analyst, "/map/values.json?period=2025-05&layer=crack_house_closures")
    classes = body["classes"]
    assert classes[-1]["label"] == "0" and classes[-1]["color"] == "#ffffb2" and classes[-1]["max"] == 0
    zeros = sum(1 for w in body["wards"].values() if w["v"] == 0)
    assert classes[-1]["count"] == zeros > 679 / 2
    assert sum(c["count"] for c in classes) == 679


def test_quantile_classes_merge_coinciding_breaks():
    values = np.array([0.0] * 8 + [1.0, 2.0, np.nan])
    classes, k = quantile_classes(values, kind="count")
    assert [c["label"] for c in classes] == ["2.0 per 1,000", "1.0 per 1,000", "0"]
    assert list(k) == [2] * 8 + [1, 0, -1]
    assert [c["color"] for c in classes] == ["#bd0026", "#fd8d3c", "#ffffb2"]
    same, k = quantile_classes([5.0, 5.0, 5.0], kind="survey")
    assert [c["label"] for c in same] == ["5.0%"] and list(k) == [0, 0, 0]
    assert quantile_classes([np.nan], kind="value")[0] == []
    money, _ = quantile_classes(np.arange(1.0, 1001.0), kind="value")
    assert money[0]["label"] == "£801–£1,000 per 1,000" and len(money) == 5


def test_an_indicator_without_data_for_the_period_says_which_layers_there_are(viewer, demo_index):
    resp = fetch(viewer, "/map/values.json?period=FY2023/24&layer=drug_trafficking", 400)
    detail = resp.get_json()["detail"]
    assert "FY2023/24" in detail and "crack_house_closures" in detail and "harm_index" in detail


# --- worst -----------------------------------------------------------------------------------------

def test_worst_wards_start_with_the_highest_score_and_say_why(viewer, demo_index):
    body = data(viewer, "/map/worst.json?period=FY2025/26&rule=top_n&n=20")
    assert body["version"] == demo_index.version and body["rule"] == "top_n" and body["borough"] is None
    assert body["note"].startswith("Top 20 wards by score London-wide")
    rows = body["rows"]
    best = query(demo_index.settings, """SELECT ward_code, score FROM harm.current_ward_index
                                          WHERE period = 'FY2025/26' ORDER BY score DESC NULLS LAST LIMIT 20""")
    assert rows[0]["ward_code"] == best[0]["ward_code"] and rows[0]["score"] == pytest.approx(best[0]["score"])
    assert [r["ward_code"] for r in rows] == [b["ward_code"] for b in best]
    assert [r["rank"] for r in rows] == list(range(1, 21))
    contributions = {(r["ward_code"], r["indicator"]): r["contribution"] for r in query(demo_index.settings, """
        SELECT ward_code, indicator, contribution FROM harm.current_ward_indicator
        WHERE period = 'FY2025/26' AND ward_code = ANY(%s)""", ([r["ward_code"] for r in rows],))}
    for r in rows:
        points = [t["points"] for t in r["top_indicators"]]
        assert 1 <= len(points) <= 3 and points == sorted(points, reverse=True)
        for t in r["top_indicators"]:
            assert t["points"] == pytest.approx(contributions[(r["ward_code"], t["indicator"])], abs=0.01)
            assert t["label"]


def test_worst_by_decile_and_threshold_within_a_borough(viewer, demo_index):
    decile = data(viewer, "/map/worst.json?period=FY2025/26&rule=top_decile&borough=Lambeth")
    assert decile["borough"] == {"code": LAMBETH, "name": "Lambeth"} and "Lambeth" in decile["note"]
    assert decile["rows"] and all(r["borough_code"] == LAMBETH and r["decile"] == 1 for r in decile["rows"])
    above = data(viewer, "/map/worst.json?period=FY2025/26&rule=threshold&threshold=50")
    n = query(demo_index.settings, """SELECT count(*) AS n FROM harm.current_ward_index
                                       WHERE period = 'FY2025/26' AND score >= 50""")[0]["n"]
    assert len(above["rows"]) == n and all(r["score"] >= 50 for r in above["rows"])


def test_the_command_line_and_the_map_pick_the_same_worst_wards(viewer, demo_index):
    # one function (harmmap.published, Snapshot.worst) behind both; --top-decile used to crash the command line
    result = CliRunner().invoke(main, ["index", "show", "--period", "FY2025/26", "--top-decile", "--csv"],
                                env={"HARMMAP_DATABASE_URL": demo_index.settings.database_url})
    assert result.exit_code == 0, result.output
    shown = list(csv.DictReader(io.StringIO(result.output)))
    body = data(viewer, "/map/worst.json?period=FY2025/26&rule=top_decile")
    assert [r["ward_code"] for r in shown] == [r["ward_code"] for r in body["rows"]] and len(shown) >= 67


def test_worst_csv_is_plain_csv_with_the_marking_in_every_row(analyst, demo_index):
    resp = fetch(analyst, "/map/worst.csv?period=FY2025/26&n=10")
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="harmmap-worst-FY2025-26.csv"'
    text = resp.get_data(as_text=True)
    assert not text.startswith("#")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["rank", "ward_code", "ward_name", "borough_name", "score", "decile", "rank_london",
                             "hotspot", "lisa", "top_indicators", "response_per_100", "response_lo", "response_hi",
                             "response_vs_london", "need_response", "synthetic", "protective_marking"]
    assert len(rows) == 10 and all(r["protective_marking"] == "OFFICIAL-SENSITIVE" for r in rows)
    same = data(analyst, "/map/worst.json?period=FY2025/26&n=10")["rows"]
    for r, j in zip(rows, same):
        assert r["ward_code"] == j["ward_code"] and r["score"] == f"{j['score']:.1f}"
        assert r["synthetic"] == "true" and r["top_indicators"].count(";") == len(j["top_indicators"]) - 1
    assert rows[0]["top_indicators"].split(" ")[0] in SLUGS


# --- one ward --------------------------------------------------------------------------------------

def test_a_wards_panel_adds_up_to_its_score(analyst, demo_index):
    # an analyst: the exact counts, which viewers see as "fewer than 5" (docs/security.md)
    body = data(analyst, f"/map/ward/{CAMDEN_TOWN}.json?period=FY2025/26")
    row = query(demo_index.settings, """SELECT score, rank_london, rank_borough FROM harm.current_ward_index
                                        WHERE period = 'FY2025/26' AND ward_code = %s""", (CAMDEN_TOWN,))[0]
    assert body["ward_name"] == "Camden Town" and body["borough_name"] == "Camden" and body["population"] > 0
    assert body["score"] == pytest.approx(row["score"]) and body["rank_london"] == row["rank_london"]
    assert body["n_london"] == 679 and body["rank_borough"] == row["rank_borough"] and body["n_borough"] >= 15
    points = [c["points"] for c in body["contributions"]]
    assert sum(points) == pytest.approx(body["score"]) and points == sorted(points, reverse=True)
    assert [i["indicator"] for i in body["indicators"]] == SLUGS
    ind = {i["indicator"]: i for i in body["indicators"]}
    rates = query(demo_index.settings, """SELECT ward_code, rate_per_1000 FROM harm.current_ward_indicator
                                          WHERE period = 'FY2025/26' AND indicator = 'drug_trafficking'""")
    mine = next(r["rate_per_1000"] for r in rates if r["ward_code"] == CAMDEN_TOWN)
    assert ind["drug_trafficking"]["rank_london"] == 1 + sum(r["rate_per_1000"] > mine for r in rates)
    assert ind["drug_trafficking"]["rate_per_1000"] == pytest.approx(mine)
    pas = ind["pas_drug_problem"]
    assert pas["respondents"] > 0 and pas["pct_lo"] <= pas["pct"] <= pas["pct_hi"] and pas["eb_lo"] <= pas["eb_pct"]
    assert ind["drug_trafficking"]["prev_trend"] in ("up", "down", "no_change", "not_tested")
    assert body["links"] == {"briefing": f"/brief/ward/{CAMDEN_TOWN}.pdf?period=FY2025/26",
                             "api": f"/api/collections/wards/items/{CAMDEN_TOWN}"}


def test_a_wards_trend_covers_every_published_month(analyst, demo_index):
    # an analyst: the exact counts, which viewers see as "fewer than 5" (docs/security.md)
    trend = data(analyst, f"/map/ward/{CAMDEN_TOWN}.json")["trend"]
    months = trend["months"]
    assert len(months) >= 24 and months == sorted(months) and len(trend["score"]) == len(months)
    monthly = {r["period"]: r["score"] for r in query(demo_index.settings, """
        SELECT i.period, i.score FROM harm.current_ward_index i JOIN harm.current_period p USING (period)
        WHERE p.kind = 'month' AND i.ward_code = %s""", (CAMDEN_TOWN,))}
    assert set(months) == set(monthly)
    for month, score in zip(months, trend["score"]):
        assert score == pytest.approx(monthly[month])
    counts = {r["period"]: r["value"] for r in query(demo_index.settings, """
        SELECT period, value FROM harm.current_ward_indicator
        WHERE indicator = 'drug_trafficking' AND ward_code = %s AND period ~ '^[0-9]{4}-[0-9]{2}$'""",
                                                      (CAMDEN_TOWN,))}
    series = dict(zip(months, trend["series"]["drug_trafficking"]))
    assert {m: v for m, v in series.items() if v is not None} == counts and series["2023-04"] is None
    assert "pas_drug_problem" not in trend["series"]


def test_a_city_of_london_ward_is_shown_as_not_covered(viewer, demo_index):
    body = data(viewer, f"/map/ward/{ALDERSGATE}.json")
    assert body["city_of_london"] is True and body["score"] is None and body["hotspot"] == "no_data"
    assert "City of London Police" in body["note"] and body["contributions"] == []


# --- search ----------------------------------------------------------------------------------------

def test_search_finds_a_ward_by_name_or_code(viewer, settings):
    for q in ("camden%20t", "Camden+T", CAMDEN_TOWN, CAMDEN_TOWN.lower(), "E0501365"):
        results = fetch(viewer, f"/map/search?q={q}").get_json()["results"]
        assert CAMDEN_TOWN in [r["ward_code"] for r in results], q
    assert fetch(viewer, "/map/search?q=camden%20t").get_json()["results"][0] == {
        "ward_code": CAMDEN_TOWN, "ward_name": "Camden Town", "borough_code": "E09000007",
        "borough_name": "Camden", "city_of_london": False}
    west = [r["ward_name"] for r in fetch(viewer, "/map/search?q=west").get_json()["results"]]
    assert len(west) == 10 and all(name.lower().startswith("west") for name in west)   # prefixes first
    assert fetch(viewer, "/map/search?q=c").get_json()["results"] == []
    assert fetch(viewer, "/map/search?q=%25%25").get_json()["results"] == []          # "%%" is text, not a wildcard
    old = query(settings, """SELECT ward_code FROM geo.ward WHERE vintage = 2018 AND ward_code NOT IN
                             (SELECT ward_code FROM geo.ward WHERE vintage = 2022) LIMIT 1""")[0]["ward_code"]
    assert fetch(viewer, f"/map/search?q={old}").get_json()["results"] == []


# --- HTTP: caching, errors, what never leaves -----------------------------------------------------

DATA_URLS = ("/map/meta.json", "/map/values.json", "/map/values.json?layer=pas_drug_problem&borough=Lambeth",
             "/map/worst.json?n=5", "/map/worst.csv?n=5", f"/map/ward/{CAMDEN_TOWN}.json", "/map/search?q=camden")


def test_every_response_has_an_etag_and_answers_304(analyst, demo_index):
    # an analyst: the URLs include /map/worst.csv, an export
    tags = set()
    for url in DATA_URLS:
        resp = fetch(analyst, url)
        etag = resp.headers["ETag"]
        assert resp.headers["Cache-Control"] == "private, max-age=0, must-revalidate", url
        again = fetch(analyst, url, 304, **{"If-None-Match": etag})
        assert again.get_data() == b"" and again.headers["ETag"] == etag
        tags.add(etag)
    assert len(tags) == len(DATA_URLS)
    other = fetch(analyst, "/map/values.json?layer=drug_possession", 200, **{"If-None-Match": tags.pop()})
    assert other.get_json()["layer"] == "drug_possession"


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/map/values.json?period=next%20year", 400, "is not a period"),
    ("/map/values.json?period=FY2019/20", 400, "no index for FY2019/20"),
    ("/map/values.json?layer=rainfall", 400, "not a map layer"),
    ("/map/values.json?borough=Gotham", 400, "not a London borough"),
    ("/map/worst.json?rule=best", 400, "rule must be one of top_n, top_decile, threshold"),
    ("/map/worst.json?n=-3", 400, "from 1 to 1000"),
    ("/map/worst.json?n=many", 400, "whole number"),
    ("/map/worst.json?rule=threshold", 400, "needs threshold"),
    ("/map/worst.json?rule=threshold&threshold=nan", 400, "score from 0 to 100"),
    ("/map/worst.csv?period=2019-Q9", 400, "is not a period"),
    ("/map/worst.csv?borough=Narnia", 400, "not a London borough"),
    ("/map/ward/E05099999.json", 404, "not a 2022 London ward"),
    ("/map/ward/%3Cscript%3E.json", 404, "not a 2022 London ward"),
    ("/map/ward/E05013655.json?period=R12-1999-13", 400, "is not a period"),
    ("/map/search?q=" + "x" * 101, 400, "too long"),
])
def test_bad_input_is_a_problem_document_never_a_500(viewer, analyst, demo_index, url, status, words):
    resp = fetch(analyst if url.startswith("/map/worst.csv") else viewer, url, status)  # the CSV is an export
    assert resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["status"] == status and words in problem["detail"], problem
    assert "Traceback" not in problem["detail"]


def test_no_published_index_is_a_503_that_says_what_to_run(analyst, demo_index):
    # an analyst: the URLs include /map/worst.csv, an export
    settings = demo_index.settings
    with db.connect(settings.database_url) as c:
        c.execute("DELETE FROM harm.current")
    try:
        for url in ("/map/meta.json", "/map/values.json", "/map/worst.csv", f"/map/ward/{CAMDEN_TOWN}.json"):
            resp = fetch(analyst, url, 503)
            assert resp.mimetype == "application/problem+json"
            assert resp.get_json()["detail"] == published.NO_INDEX
        assert fetch(analyst, "/map/search?q=camden").get_json()["version"] is None    # search needs no index
    finally:
        with db.connect(settings.database_url) as c:
            c.execute("INSERT INTO harm.current (version) VALUES (%s)", (demo_index.version,))
    assert data(analyst, "/map/meta.json")["version"] == demo_index.version


def test_every_data_response_says_its_marking_version_and_whether_it_is_synthetic(viewer, demo_index):
    for url in DATA_URLS:
        if url.endswith(".json") or ".json?" in url:
            body = data(viewer, url)
            assert body["version"] == demo_index.version, url
            assert not any(isinstance(v, float) and math.isnan(v) for v in body.values())
