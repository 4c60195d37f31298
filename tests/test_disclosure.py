"""Disclosure control (harmmap/disclosure.py, docs/security.md): the same small count of one ward, seen
as a viewer, a sergeant and an analyst through every surface that carries it: the map's JSON, the data
in the map page, the CSV, the briefing PDF, the API and the tiles. Real demo data: counts from 1 to 4
are common in the synthetic closures.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace

import mapbox_vector_tile
import pdfplumber
import pytest

from harmmap.config import Settings, SettingsError
from harmmap.disclosure import COUNT_INDICATORS, Disclosure, for_role

SUPPRESSED = "fewer than 5"
LAYER = "crack_house_closures"
#: Column or key names that would carry a premises address (none may be published).
ADDRESS_LIKE = re.compile(r"address|street|postcode|post_code|premises|house_number|uprn|line1", re.I)


# --- the pure rules ---------------------------------------------------------------------------------------

def test_counts_from_1_to_4_are_small_and_zero_is_not():
    d = Disclosure()
    assert [d.small(x) for x in (0, 1, 4, 4.0, 5, None, float("nan"))] == [False, True, True, True, False, False,
                                                                          False]
    assert not Disclosure(exact=True).small(3)
    assert Disclosure(min_count=10).small(9) and Disclosure(min_count=10).text == "fewer than 10"
    assert not Disclosure(min_count=1).small(1)           # 1: suppression off
    assert d.small_count("drug_trafficking", 2) and not d.small_count("pas_drug_problem", 2)
    assert not d.small_count("asset_seizure_value_gbp", 2)  # pounds, not a count of events


def test_roles_below_the_exact_role_and_no_role_are_suppressed():
    assert [for_role(r).exact for r in (None, "viewer", "sergeant", "analyst", "admin", "nobody")] == \
        [False, False, False, True, True, False]
    assert not for_role("analyst", exact_role="admin").exact
    assert for_role("viewer").key != for_role("analyst").key


def test_settings_read_the_disclosure_variables():
    s = Settings.from_env({"HARMMAP_DISCLOSURE_MIN_COUNT": "10", "HARMMAP_DISCLOSURE_EXACT_ROLE": "admin"})
    assert s.disclosure_for("analyst") == Disclosure(exact=False, min_count=10)
    assert s.disclosure_for("admin").exact
    for bad in ({"HARMMAP_DISCLOSURE_EXACT_ROLE": "chief"}, {"HARMMAP_DISCLOSURE_MIN_COUNT": "0"}):
        with pytest.raises(SettingsError, match="HARMMAP_DISCLOSURE"):
            Settings.from_env(bad)


def test_a_ward_summary_loses_every_figure_that_gives_a_small_count_back():
    entry = {"indicator": LAYER, "kind": "count", "value": 3.0, "rate_per_1000": 0.25, "rank_london": 40,
             "contribution": 7.5, "prev_value": 9.0, "prev_change": -0.67, "prev_p": 0.04, "prev_trend": "down",
             "yoy_value": 2.0, "yoy_change": 0.5, "yoy_p": 0.9, "yoy_trend": "no_change"}
    other = {"indicator": "drug_trafficking", "kind": "count", "value": 0.0, "rate_per_1000": 0.0,
             "prev_value": 4.0, "prev_change": -1.0, "prev_p": 0.1, "yoy_value": 0.0}
    summary = {"score": 50.0, "indicators": [entry, other],
               "contributions": [{"indicator": LAYER, "points": 7.5}, {"indicator": "drug_trafficking", "points": 1}],
               "trend": {"months": ["2025-01", "2025-02", "2025-03"],
                         "series": {LAYER: [0, 2, 7], "asset_seizure_value_gbp": [3, 3, 3]}}}
    out = Disclosure().ward_summary(summary)
    e, o = out["indicators"]
    assert e["suppressed"] == SUPPRESSED and e["value"] is e["rate_per_1000"] is e["rank_london"] is None
    assert e["contribution"] is e["prev_change"] is e["prev_p"] is e["yoy_change"] is None
    assert e["prev_value"] == 9.0 and e["prev_trend"] == "down"      # the previous count is 9: shown
    assert e["yoy_suppressed"] == SUPPRESSED and e["yoy_value"] is None
    assert o["value"] == 0.0 and "suppressed" not in o                 # zero stays zero
    assert o["prev_suppressed"] == SUPPRESSED and o["prev_value"] is o["prev_change"] is None
    assert out["contributions"] == [{"indicator": "drug_trafficking", "points": 1},
                                    {"indicator": LAYER, "points": None, "suppressed": SUPPRESSED}]
    assert out["trend"]["series"][LAYER] == [0, None, 7] and out["trend"]["suppressed"] == {LAYER: [1]}
    assert out["trend"]["series"]["asset_seizure_value_gbp"] == [3, 3, 3]
    assert summary["indicators"][0]["value"] == 3.0                     # the input is not changed
    assert Disclosure(exact=True).ward_summary(summary) is summary


# --- through the app, with the demo data ----------------------------------------------------------------

@pytest.fixture
def small(sql, demo_index) -> dict:
    """A ward, period and count of 1..4 crack house closures, with the ward's population (rate check)."""
    row = sql("""SELECT wi.period, wi.ward_code, wi.value, wi.rate_per_1000, w.ward_name
                 FROM harm.current_ward_indicator wi JOIN geo.ward w ON w.ward_code = wi.ward_code AND w.vintage = 2022
                 JOIN harm.current_period p ON p.period = wi.period
                 WHERE wi.indicator = %s AND wi.value BETWEEN 1 AND 4 AND p.kind = 'fy'
                 ORDER BY p.first_month DESC, wi.value, wi.ward_code LIMIT 1""", (LAYER,))
    assert row, "the demo data has no small crack house closure count"
    return row[0]


@pytest.fixture
def small_cells(sql, small) -> set[tuple[str, str]]:
    """(ward, indicator) of every count from 1 to 4 in the period of ``small``."""
    return {(r["ward_code"], r["indicator"]) for r in sql(
        "SELECT ward_code, indicator FROM harm.current_ward_indicator WHERE period = %s AND value BETWEEN 1 AND 4 "
        "AND indicator = ANY(%s)", (small["period"], sorted(COUNT_INDICATORS)))}


@pytest.fixture
def strict_app(settings, demo_index):
    """The app of a deployment where only admins see exact figures (HARMMAP_DISCLOSURE_EXACT_ROLE=admin)."""
    from web import create_app

    strict = create_app(replace(settings, disclosure_exact_role="admin"))
    yield strict
    strict.extensions["harmmap"].pool.close()


def signed_in(app, role: str):
    """A person of ``role`` signed in through the sign-in form: the map, its data and the briefings."""
    return app.test_client().sign_in(role)


@pytest.mark.db
def test_values_json_hides_a_small_count_from_viewers_and_sergeants_only(app, small):
    url = f"/map/values.json?layer={LAYER}&period={small['period']}"
    seen = {}
    for role in ("viewer", "sergeant", "analyst"):
        r = signed_in(app, role).get(url)
        assert r.status_code == 200, r.get_data(as_text=True)
        seen[role] = r
    body = seen["viewer"].get_json()
    ward = body["wards"][small["ward_code"]]
    assert ward["v"] is None and ward["rank"] is None and ward["suppressed"] == SUPPRESSED
    assert body["classes"][ward["k"]]["label"] == SUPPRESSED and body["classes"][ward["k"]]["suppressed"]
    assert body["disclosure"] == {"exact": False, "min_count": 5, "suppressed_text": SUPPRESSED}
    assert seen["sergeant"].get_json()["wards"][small["ward_code"]]["suppressed"] == SUPPRESSED
    exact = seen["analyst"].get_json()["wards"][small["ward_code"]]
    assert exact["v"] == pytest.approx(small["rate_per_1000"], abs=1e-4) and "suppressed" not in exact
    # a viewer's ranks are among the wards shown exactly, so no gap in them points at a suppressed ward
    ranks = [w["rank"] for w in body["wards"].values() if w["rank"] is not None]
    assert len(ranks) == body["n_ranked"] < seen["analyst"].get_json()["n_ranked"] and max(ranks) <= len(ranks)
    # the ETag differs by level, and an analyst's validator does not get a viewer a 304
    assert seen["viewer"].headers["ETag"] != seen["analyst"].headers["ETag"]
    again = signed_in(app, "viewer").get(url, headers={"If-None-Match": seen["analyst"].headers["ETag"]})
    assert again.status_code == 200 and again.get_json()["wards"][small["ward_code"]]["v"] is None


@pytest.mark.db
def test_ward_json_and_its_trend_say_fewer_than_5(app, small):
    url = f"/map/ward/{small['ward_code']}.json?period={small['period']}"
    viewer = signed_in(app, "viewer").get(url).get_json()
    entry = next(i for i in viewer["indicators"] if i["indicator"] == LAYER)
    assert entry["suppressed"] == SUPPRESSED and entry["value"] is None and entry["rate_per_1000"] is None
    for slug in COUNT_INDICATORS:
        assert all(x is None or x == 0 or x >= 5 for x in viewer["trend"]["series"][slug]), slug
    analyst = signed_in(app, "analyst").get(url).get_json()
    exact = next(i for i in analyst["indicators"] if i["indicator"] == LAYER)
    assert exact["value"] == small["value"] and "suppressed" not in exact


@pytest.fixture
def month_cells(sql, demo_index) -> tuple[str, set[tuple[str, str]]]:
    """The latest published month and the (ward, indicator) of every count from 1 to 4 in it. The index is
    built from need (trafficking, possession, PAS), whose yearly counts in the worst wards are large; in one
    month they are small, so the worst list has small counts to hide."""
    period = sql("SELECT period FROM harm.current_period WHERE kind = 'month' ORDER BY first_month DESC LIMIT 1")[0][
        "period"]
    return period, {(r["ward_code"], r["indicator"]) for r in sql(
        "SELECT ward_code, indicator FROM harm.current_ward_indicator WHERE period = %s AND value BETWEEN 1 AND 4 "
        "AND indicator = ANY(%s)", (period, sorted(COUNT_INDICATORS)))}


@pytest.mark.db
def test_worst_lists_never_name_a_suppressed_indicator_to_a_viewer(app, month_cells):
    period, small_cells = month_cells
    body = signed_in(app, "viewer").get(f"/map/worst.json?period={period}&n=200").get_json()
    named = {(r["ward_code"], t["indicator"]) for r in body["rows"] for t in r["top_indicators"]}
    assert named and not named & small_cells
    exact = signed_in(app, "analyst").get(f"/map/worst.json?period={period}&n=200").get_json()
    assert {(r["ward_code"], t["indicator"]) for r in exact["rows"] for t in r["top_indicators"]} & small_cells
    # the CSV is an analyst's export (web/auth.py); below analyst it is refused, not suppressed
    assert signed_in(app, "sergeant").get(f"/map/worst.csv?period={period}").status_code == 403


@pytest.mark.db
def test_worst_csv_suppresses_too_when_analysts_are_below_the_exact_role(strict_app, month_cells):
    period, small_cells = month_cells
    for role, hidden in (("analyst", True), ("admin", False)):
        text = signed_in(strict_app, role).get(f"/map/worst.csv?period={period}&n=200").get_data(
            as_text=True)
        rows = list(csv.DictReader(io.StringIO(text)))
        named = {(r["ward_code"], part.split()[0]) for r in rows for part in r["top_indicators"].split("; ") if part}
        assert rows and bool(named & small_cells) is not hidden, role


@pytest.mark.db
def test_the_map_page_boot_data_is_per_level(app, small):
    url = f"/?layer={LAYER}&period={small['period']}"

    def boot(role):
        html = signed_in(app, role).get(url).get_data(as_text=True)
        data = json.loads(re.search(r'<script type="application/json" id="hm-boot">(.*?)</script>', html, re.S)[1])
        return data["values"]["wards"][small["ward_code"]]

    assert boot("analyst")["v"] is not None          # first into the per-worker cache
    assert boot("viewer")["suppressed"] == SUPPRESSED and boot("viewer")["v"] is None
    assert boot("analyst")["v"] is not None


def _pdf_text(body: bytes) -> str:
    with pdfplumber.open(io.BytesIO(body)) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


@pytest.mark.db
def test_briefing_pdf_says_fewer_than_5_to_a_sergeant_not_to_an_analyst(app, small):
    url = f"/brief/ward/{small['ward_code']}.pdf?period={small['period']}"
    sergeant = signed_in(app, "sergeant").get(url)
    assert sergeant.status_code == 200, sergeant.get_data(as_text=True)
    text = _pdf_text(sergeant.data)
    row = next(line for line in text.splitlines() if line.startswith("Crack house closures"))
    assert SUPPRESSED in row and "per 1,000" not in row
    exact = _pdf_text(signed_in(app, "analyst").get(url).data)
    row = next(line for line in exact.splitlines() if line.startswith("Crack house closures"))
    assert SUPPRESSED not in row and f"{small['value']:.0f} · " in row


@pytest.mark.db
def test_briefing_cli_is_a_sergeants_unless_exact(settings, small, tmp_path):
    from click.testing import CliRunner

    from harmmap.cli import main

    env = {"HARMMAP_DATABASE_URL": settings.database_url}
    for flag, expect in (([], True), (["--exact"], False)):
        out = tmp_path / (flag[0][2:] if flag else "default")
        r = CliRunner().invoke(main, ["brief", "--ward", small["ward_code"], "--period", small["period"],
                                      "--out", str(out), *flag], env=env)
        assert r.exit_code == 0, r.output
        text = _pdf_text(next(out.glob("*.pdf")).read_bytes())
        assert (SUPPRESSED in text) is expect


@pytest.mark.db
def test_api_is_exact_for_analysts_unless_the_exact_role_is_admin(app, strict_app, small):
    url = f"/api/harm/wards/{small['ward_code']}?period={small['period']}"

    def entry(application, role):
        r = application.test_client(as_role=role).get(url)
        assert r.status_code == 200, r.get_data(as_text=True)
        return next(i for i in r.get_json()["indicators"] if i["indicator"] == LAYER)

    assert entry(app, "analyst")["value"] == small["value"]
    hidden = entry(strict_app, "analyst")
    assert hidden["value"] is None and hidden["suppressed"] == SUPPRESSED
    assert entry(strict_app, "admin")["value"] == small["value"]


@pytest.mark.db
def test_tiles_carry_no_count_at_all(app, small):
    r = app.test_client(as_role="analyst").get(f"/api/tiles/12/2046/1362.mvt?period={small['period']}")
    assert r.status_code == 200
    props = {k for f in mapbox_vector_tile.decode(r.data)["wards"]["features"] for k in f["properties"]}
    assert "score" in props and not props & (COUNT_INDICATORS | {"value", "rate_per_1000", "count"})


@pytest.mark.db
def test_no_published_table_or_response_has_an_address(app, sql, small):
    columns = sql("""SELECT table_schema, table_name, column_name FROM information_schema.columns
                     WHERE table_schema IN ('harm', 'geo')""")
    assert columns and not [c for c in columns if ADDRESS_LIKE.search(c["column_name"])]
    person, program = signed_in(app, "analyst"), app.test_client(as_role="analyst")  # the API takes a key
    urls = ["/map/meta.json", f"/map/values.json?layer={LAYER}&period={small['period']}",
            f"/map/worst.json?period={small['period']}", f"/map/ward/{small['ward_code']}.json",
            f"/api/harm/wards/{small['ward_code']}", "/api/collections/wards/items?limit=5",
            f"/api/collections/indicator-{LAYER}/items?limit=20", "/api/openapi"]
    for url in urls:
        r = (program if url.startswith("/api/") else person).get(url)
        if r.status_code == 404:
            continue
        assert r.status_code == 200, (url, r.status_code)
        keys: set[str] = set()

        def walk(x):
            if isinstance(x, dict):
                keys.update(map(str, x))
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)

        walk(r.get_json())
        assert not [k for k in keys if ADDRESS_LIKE.search(k)], url


def test_a_boroughs_small_target_count_reads_fewer_than_5_in_the_briefing():
    from harmmap.briefing.layout import register_fonts
    from harmmap.briefing.pages import targets_table

    register_fonts()
    row = {"target": "networks_disrupted", "baseline": 3.0, "baseline_period": "R12-2025-03", "target_value": 3.0,
           "expected": None, "current": 7.0, "current_period": "R12-2026-03", "status": "uncertain",
           "prob_on_track": 0.5, "synthetic": True}

    def cells(disclosure):
        table, _ = targets_table([row], "Camden", 500, disclosure=disclosure)
        return [getattr(c, "text", c) for c in table._cellvalues[1]]

    hidden = cells(Disclosure())
    assert hidden[1].startswith(SUPPRESSED) and hidden[2] == SUPPRESSED and hidden[4].startswith("7 ")
    assert cells(Disclosure(exact=True))[1].startswith("3 ")
