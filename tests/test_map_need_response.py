"""Need, response and confidence on the tasking map's data (issue 18): the layers' families in meta.json, the
need x response layer in values.json, the police response beside the worst wards (worst.json, worst.csv, a
ward's panel), and /map/diagnostic.json, through Flask's test client.

Expected figures come from the published tables (harm.current_*), never from the endpoint under test.
"""

from __future__ import annotations

import csv
import io

import pytest

from harmmap import db
from harmmap.classes import YLORRD
from harmmap.indicators import BY_SLUG, FAMILY_LABELS, INDICATORS

pytestmark = pytest.mark.db

PERIOD = "FY2025/26"
LAMBETH = "E09000022"
GIPSY_HILL = "E05014103"
ALDERSGATE = "E05009288"        # a City of London ward: not MPS, so no response figures
QUADRANT_SLUGS = ["tasking_candidate", "possible_over_attention", "need_and_response_high", "low_need_low_response",
                  "no_signal"]


def query(settings, text: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(text, params).fetchall()


def get(client, url: str, status: int = 200):
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code, resp.get_data(as_text=True)[:400])
    return resp


def body(client, url: str) -> dict:
    resp = get(client, url)
    data = resp.get_json()
    assert data["marking"] == "OFFICIAL-SENSITIVE" and resp.headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert resp.headers["X-Synthetic-Data"] == ("true" if data["synthetic"] else "false")
    return data


def responses(settings, period: str = PERIOD) -> dict[str, dict]:
    rows = query(settings, """SELECT area_code, activity, trafficking, per_100, per_100_lo, per_100_hi, vs_london,
                                     need_level, quadrant
                              FROM harm.current_response WHERE period = %s AND level = 'ward'""", (period,))
    return {r["area_code"]: r for r in rows}


def activity_parts(settings, period: str = PERIOD) -> dict[str, list[float]]:
    """Each ward's counted police activity indicators (harm.period.activity), from the published tables."""
    counted = query(settings, "SELECT activity FROM harm.current_period WHERE period = %s", (period,))[0]["activity"]
    rows = query(settings, """SELECT ward_code, value FROM harm.current_ward_indicator
                              WHERE period = %s AND indicator = ANY(%s)""", (period, counted))
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r["ward_code"], []).append(float(r["value"] or 0))
    return out


def lightness(hex_color: str) -> float:
    """CIE L* of an sRGB colour: how light it prints in greyscale."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    y = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    return 116 * y ** (1 / 3) - 16 if y > 0.008856 else 903.3 * y


# --- meta.json: the families ----------------------------------------------------------------------

def test_meta_layers_carry_their_family_label_and_caveat(viewer, demo_index):
    meta = body(viewer, "/map/meta.json")
    assert meta["families"] == [{"id": f, "label": FAMILY_LABELS[f]} for f in ("need", "response", "confidence")]
    layers = {layer["id"]: layer for layer in meta["layers"]}
    assert [layer["id"] for layer in meta["layers"]] == ["harm_index", *(i.slug for i in INDICATORS), "need_response"]
    for ind in INDICATORS:
        layer = layers[ind.slug]
        assert layer["family"] == ind.family and layer["family_label"] == FAMILY_LABELS[ind.family]
        assert layer["caveat"] == ind.caveat
    assert layers["harm_index"]["family"] == "need"
    assert "proactive policing" in layers["drug_possession"]["caveat"]
    assert layers["drug_trafficking"]["caveat"] == ""
    # PAS "problem" is need, and read as an outcome too: it says so
    assert layers["pas_drug_problem"]["also"] == "confidence" and "outcome" in layers["pas_drug_problem"]["also_note"]
    assert layers["pas_tackle_dealing"]["family"] == "confidence"
    nr = layers["need_response"]
    assert nr["family"] == "response" and nr["kind"] == "quadrant" and "not a harm score" in nr["caveat"]
    assert nr["synthetic"] is True      # the demo's police activity is synthetic
    # the layer is offered for exactly the periods with response figures, and each period says whether its
    # weights put police activity into the index (not by default)
    with_response = {r["period"] for r in query(demo_index.settings,
                                                "SELECT DISTINCT period FROM harm.current_response")}
    for p in meta["periods"]:
        assert ("need_response" in p["layers"]) == (p["period"] in with_response), p["period"]
        assert p["response_note"] is None
    assert "need_response" in next(p for p in meta["periods"] if p["period"] == PERIOD)["layers"]


# --- values.json?layer=need_response ----------------------------------------------------------------

def test_need_response_classes_every_ward_by_its_published_quadrant(analyst, demo_index):
    nr = body(analyst, f"/map/values.json?period={PERIOD}&layer=need_response")
    assert nr["layer"] == "need_response" and nr["kind"] == "quadrant" and nr["family"] == "response"
    assert nr["unit"] == "police activity per 100 trafficking offences"
    assert [c["slug"] for c in nr["classes"]] == QUADRANT_SLUGS
    assert nr["classes"][0]["label"] == "High need, response below London's rate — candidate for tasking"
    assert nr["classes"][1]["label"] == "Low need, response above London's rate — possible over-attention"
    assert nr["classes"][4]["label"] == "No clear difference, or too few events to tell"
    # categorical colours: none of the harm colours, and apart in greyscale
    colours = [c["color"] for c in nr["classes"]]
    assert not set(colours) & set(YLORRD) and len(set(colours)) == 5
    grey = sorted(lightness(c) for c in colours)
    assert all(b - a >= 10 for a, b in zip(grey, grey[1:])), grey

    published = responses(demo_index.settings)
    assert len(nr["wards"]) == 704
    for code, w in nr["wards"].items():
        r = published.get(code)
        if r is None:                                   # the City of London: no response figures, no class
            assert w["k"] is None and w["v"] is None, code
            continue
        assert nr["classes"][w["k"]]["slug"] == r["quadrant"] == w["q"], code
        assert w["vs"] == r["vs_london"]
        if r["per_100"] is None:
            assert w["v"] is None
        else:
            assert w["v"] == pytest.approx(r["per_100"]) and w["lo"] == pytest.approx(r["per_100_lo"])
            assert w["act"] == r["activity"] and w["traf"] == r["trafficking"]
    assert nr["wards"][ALDERSGATE]["k"] is None
    counts = {s: sum(r["quadrant"] == s for r in published.values()) for s in QUADRANT_SLUGS}
    assert {c["slug"]: c["count"] for c in nr["classes"]} == counts
    assert counts["tasking_candidate"] > 0
    # need beside response: each ward's harm index score; London's rate from the published London row
    scores = {r["ward_code"]: r["score"] for r in query(demo_index.settings, """SELECT ward_code, score
              FROM harm.current_ward_index WHERE period = %s""", (PERIOD,))}
    assert all(w["need"] == pytest.approx(scores[c], abs=0.01) for c, w in nr["wards"].items() if w["need"] is not None)
    london = query(demo_index.settings, """SELECT per_100, per_100_lo, per_100_hi FROM harm.current_response
                                            WHERE period = %s AND level = 'london'""", (PERIOD,))[0]
    assert nr["london"]["per_100"] == pytest.approx(london["per_100"])
    assert nr["london"]["per_100_lo"] < nr["london"]["per_100"] < nr["london"]["per_100_hi"]
    # high need is deciles 1-3: the cut lies between the low- and high-need wards' scores
    assert nr["low_need_to"] < nr["high_need_from"]
    assert [c["label"] for c in nr["counted"]] == [BY_SLUG[s].label for s in query(
        demo_index.settings, "SELECT activity FROM harm.current_period WHERE period = %s", (PERIOD,))[0]["activity"]]


def test_need_response_for_a_viewer_never_gives_a_small_count_back(viewer, analyst, demo_index):
    exact = body(analyst, f"/map/values.json?period={PERIOD}&layer=need_response")
    shown = body(viewer, f"/map/values.json?period={PERIOD}&layer=need_response")
    assert shown["disclosure"]["suppressed_text"] == "fewer than 5" and exact["disclosure"]["exact"] is True
    parts = activity_parts(demo_index.settings)
    published = responses(demo_index.settings)
    withheld = 0
    for code, r in published.items():
        w = shown["wards"][code]
        assert w["k"] == exact["wards"][code]["k"], code      # the class stays, as the index's does
        small = [x for x in parts.get(code, []) if 1 <= x <= 4]
        # the total less the parts shown is the sum of the hidden parts: it gives one back when it is under 5,
        # or when each hidden part can take one value only
        total_gives_back = bool(small) and (sum(small) < 5 or sum(small) in (len(small), 4 * len(small)))
        hide_activity = 1 <= r["activity"] <= 4 or total_gives_back
        hide_trafficking = 1 <= r["trafficking"] <= 4
        # the rate gives either count back from the other (activity = rate x trafficking / 100)
        if hide_activity or hide_trafficking:
            withheld += 1
            assert w["suppressed"] == "fewer than 5", code
            assert w["v"] is w["lo"] is w["hi"] is None, code
        else:
            assert "suppressed" not in w and w["v"] == pytest.approx(r["per_100"]), code
        assert w["act"] == (None if hide_activity else r["activity"]), code
        assert w["traf"] == (None if hide_trafficking else r["trafficking"]), code
    assert 0 < withheld < len(published)
    # at least one ward is hidden only because its total would give back one of its parts
    assert any(1 <= sum(x for x in parts.get(c, []) if 1 <= x <= 4) <= 4 and r["activity"] >= 5
               and r["trafficking"] >= 5 for c, r in published.items())


def test_need_response_in_a_borough_counts_its_wards_and_gives_its_rate(analyst, demo_index):
    nr = body(analyst, f"/map/values.json?period={PERIOD}&layer=need_response&borough=lambeth")
    assert nr["borough"] == {"code": LAMBETH, "name": "Lambeth"} and nr["rank_scope"] == "london"
    rows = query(demo_index.settings, """SELECT r.quadrant FROM harm.current_response r
                                          JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = r.area_code
                                          WHERE r.period = %s AND r.level = 'ward' AND w.borough_code = %s""",
                 (PERIOD, LAMBETH))
    assert sum(c["count"] for c in nr["classes"]) == len(rows) == nr["n_ranked"]
    borough = query(demo_index.settings, """SELECT per_100 FROM harm.current_response
                                             WHERE period = %s AND level = 'borough' AND area_code = %s""",
                    (PERIOD, LAMBETH))[0]
    assert nr["area"]["per_100"] == pytest.approx(borough["per_100"])
    assert len(nr["wards"]) == 704          # every ward keeps its class; the page fades those outside


def test_a_boroughs_total_is_hidden_when_it_would_give_a_part_back(viewer, analyst, demo_index):
    # in a month a borough's closures can be 1 to 4: its total of police actions, beside the parts in its
    # diagnostic, would give one back
    month = "2026-03"
    counted = query(demo_index.settings, "SELECT activity FROM harm.current_period WHERE period = %s",
                    (month,))[0]["activity"]
    rows = query(demo_index.settings, """SELECT area_code, array_agg(value) AS parts FROM harm.current_area_indicator
                                          WHERE period = %s AND level = 'borough' AND indicator = ANY(%s)
                                          GROUP BY area_code ORDER BY area_code""", (month, counted))

    def gives_back(parts: list[float]) -> bool:
        small = [x for x in parts if 1 <= x <= 4]
        return bool(small) and (sum(small) < 5 or sum(small) in (len(small), 4 * len(small)))

    hidden = [r["area_code"] for r in rows if gives_back(r["parts"])]
    shown = [r["area_code"] for r in rows if not gives_back(r["parts"]) and r["area_code"] != "E09000001"]
    assert hidden and shown
    for code, expect_hidden in ((hidden[0], True), (shown[0], False)):
        area = body(viewer, f"/map/values.json?period={month}&layer=need_response&borough={code}")["area"]
        exact = body(analyst, f"/map/values.json?period={month}&layer=need_response&borough={code}")["area"]
        assert exact["per_100"] is not None and exact["activity"] is not None
        if expect_hidden:
            assert area["per_100"] is area["activity"] is None and area["suppressed"] == "fewer than 5", code
        else:
            assert area["per_100"] == pytest.approx(exact["per_100"]), code


def test_need_response_for_a_period_without_response_figures_is_a_problem(viewer, demo_index):
    have = {r["period"] for r in query(demo_index.settings, "SELECT DISTINCT period FROM harm.current_response")}
    without = [r["period"] for r in query(demo_index.settings, "SELECT period FROM harm.current_period")
               if r["period"] not in have]
    assert without, "the demo index has a period without response figures (FY2023/24: no trafficking data)"
    resp = get(viewer, f"/map/values.json?period={without[0]}&layer=need_response", 400)
    assert resp.mimetype == "application/problem+json" and "no need x response figures" in resp.get_json()["detail"]
    resp = get(viewer, "/map/values.json?layer=need_and_greed", 400)
    assert "need_response" in resp.get_json()["detail"]


# --- the worst wards with their response --------------------------------------------------------------

def test_worst_rows_carry_the_response_beside_need(analyst, demo_index):
    worst = body(analyst, f"/map/worst.json?period={PERIOD}&rule=top_n&n=25")
    ranked = query(demo_index.settings, """SELECT ward_code FROM harm.current_ward_index WHERE period = %s
                                            ORDER BY rank_london LIMIT 25""", (PERIOD,))
    assert [r["ward_code"] for r in worst["rows"]] == [r["ward_code"] for r in ranked]   # need alone orders
    assert worst["response_note"] is None       # the default weights hold no police activity
    assert worst["london_response"]["per_100"] > 0
    published = responses(demo_index.settings)
    for row in worst["rows"]:
        r, x = published[row["ward_code"]], row["response"]
        assert x["per_100"] == pytest.approx(r["per_100"]) and x["per_100_lo"] == pytest.approx(r["per_100_lo"])
        assert x["vs_london"] == r["vs_london"] and x["quadrant"] == r["quadrant"] and x["suppressed"] is None
        assert x["vs_london_text"] in ("above London's rate", "below London's rate",
                                       "no clear difference from London's rate", "too few events to tell")
    # the CSV has the same figures in its response columns
    text = get(analyst, f"/map/worst.csv?period={PERIOD}&rule=top_n&n=25").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[-7:] == ["response_per_100", "response_lo", "response_hi", "response_vs_london",
                                  "need_response", "synthetic", "protective_marking"]
    for c, j in zip(rows, worst["rows"]):
        assert c["ward_code"] == j["ward_code"] and c["response_per_100"] == f"{j['response']['per_100']:.1f}"
        assert c["response_vs_london"] == j["response"]["vs_london"] and c["need_response"] == j["response"]["quadrant"]


def test_a_wards_panel_gives_its_response_and_londons(viewer, analyst, demo_index):
    ward = body(analyst, f"/map/ward/{GIPSY_HILL}.json?period={PERIOD}")
    r = responses(demo_index.settings)[GIPSY_HILL]
    assert ward["response"]["per_100"] == pytest.approx(r["per_100"]) and ward["response"]["activity"] == r["activity"]
    assert ward["response"]["quadrant_label"] and ward["response"]["quadrant_color"].startswith("#")
    assert ward["london_response"]["per_100"] > 0
    city = body(viewer, f"/map/ward/{ALDERSGATE}.json?period={PERIOD}")
    assert city["response"] is None


# --- /map/diagnostic.json ---------------------------------------------------------------------------

def area_figures(settings, level: str, code: str, periods: tuple[str, str]) -> dict[tuple[str, str], dict]:
    if level == "ward":
        rows = query(settings, """SELECT period, indicator, value, respondents FROM harm.current_ward_indicator
                                  WHERE ward_code = %s AND period = ANY(%s)""", (code, list(periods)))
    else:
        rows = query(settings, """SELECT period, indicator, value, respondents FROM harm.current_area_indicator
                                  WHERE level = %s AND area_code = %s AND period = ANY(%s)""",
                     (level, code, list(periods)))
    return {(r["period"], r["indicator"]): r for r in rows}


@pytest.mark.parametrize("area, level, code", [("london", "london", "london"), ("lambeth", "borough", LAMBETH),
                                               (LAMBETH, "borough", LAMBETH)])
def test_diagnostic_sets_confidence_beside_response_and_need(analyst, demo_index, area, level, code):
    d = body(analyst, f"/map/diagnostic.json?area={area}&period={PERIOD}&against=previous")
    assert d["area"]["level"] == level and d["area"]["code"] == code and d["against_period"] == "FY2024/25"
    assert d["summary"].endswith("These moved together; the figures do not say why.")
    assert "not say why" in d["note"]
    figures = area_figures(demo_index.settings, level, code, (PERIOD, "FY2024/25"))
    # the two PAS measures first, the strategy's target (tackle dealing) before "problem"
    assert [r["indicator"] for r in d["pas"]] == ["pas_tackle_dealing", "pas_drug_problem"]
    for r in d["pas"]:
        now, before = figures[PERIOD, r["indicator"]], figures["FY2024/25", r["indicator"]]
        assert r["after"] == pytest.approx(100 * now["value"] / now["respondents"])
        assert r["change"] == pytest.approx(r["after"] - r["before"])
        assert r["lo"] < r["change"] < r["hi"] and r["tested"] is True and isinstance(r["significant"], bool)
        assert r["respondents_after"] == round(now["respondents"])
    assert {r["indicator"] for r in d["response"]} <= {i.slug for i in INDICATORS if i.family == "response"}
    assert {r["indicator"] for r in d["need"]} == {"drug_trafficking", "drug_possession"}
    for r in d["response"] + d["need"]:
        assert r["before"] == figures["FY2024/25", r["indicator"]]["value"]
        assert r["after"] == figures[PERIOD, r["indicator"]]["value"]
        if r["kind"] == "count" and r["before"] > 0:
            assert r["change"] == pytest.approx(r["after"] / r["before"] - 1)
    if level != "london":   # London's own change beside each figure
        assert all("london" in r for r in d["need"])


def test_diagnostic_against_the_baseline_and_for_a_ward(viewer, demo_index):
    base = body(viewer, f"/map/diagnostic.json?area=london&period={PERIOD}&against=baseline")
    baseline = query(demo_index.settings, "SELECT parameters FROM harm.publish JOIN harm.current USING (version)")
    assert base["against"] == "baseline" and base["against_period"] == baseline[0]["parameters"]["target_baseline"]
    assert base["against_label"] == "the baseline year"
    ward = body(viewer, f"/map/diagnostic.json?area={GIPSY_HILL.lower()}&period={PERIOD}")
    assert ward["area"] == {"level": "ward", "code": GIPSY_HILL, "name": "Gipsy Hill (Lambeth)"}
    assert ward["summary"].startswith("In Gipsy Hill (Lambeth), FY2025/26 against FY2024/25")


def test_diagnostic_hides_small_counts_from_a_viewer(viewer, analyst, demo_index):
    # a ward with a count of police activity from 1 to 4 in one of the two years
    rows = query(demo_index.settings, """SELECT ward_code, indicator, value FROM harm.current_ward_indicator
                                          WHERE period IN (%s, 'FY2024/25') AND value BETWEEN 1 AND 4
                                            AND indicator = 'crack_house_closures' ORDER BY ward_code LIMIT 1""",
                 (PERIOD,))
    code = rows[0]["ward_code"]
    exact = body(analyst, f"/map/diagnostic.json?area={code}&period={PERIOD}")
    shown = body(viewer, f"/map/diagnostic.json?area={code}&period={PERIOD}")
    e = next(r for r in exact["response"] if r["indicator"] == "crack_house_closures")
    s = next(r for r in shown["response"] if r["indicator"] == "crack_house_closures")
    assert "crack_house_closures" in shown["hidden"] and exact["hidden"] == []
    assert s["suppressed"] == "fewer than 5" and s["change"] is s["lo"] is s["hi"] is s["p"] is None
    for side in ("before", "after"):
        if 1 <= e[side] <= 4:
            assert s[side] is None and s[f"{side}_suppressed"] == "fewer than 5"
        else:
            assert s[side] == e[side]
    if "crack house closures" in exact["summary"]:
        assert "crack house closures" in shown["summary"] and "fewer than 5" in shown["summary"]
    assert s["significant"] == e["significant"]       # the words stay, as the summary says them


@pytest.mark.parametrize("url, status, words", [
    ("/map/diagnostic.json?area=Narnia", 400, "not a London borough"),
    ("/map/diagnostic.json?area=E05999999", 404, "not a 2022 London ward"),
    ("/map/diagnostic.json?area=E09000099", 404, "not a London borough"),
    ("/map/diagnostic.json?area=E05xyz", 400, "not a 2022 London ward"),
    ("/map/diagnostic.json?against=sideways", 400, "previous or baseline"),
    ("/map/diagnostic.json?period=2019-Q9", 400, "period"),
])
def test_diagnostic_questions_it_cannot_answer_are_problems(viewer, demo_index, url, status, words):
    resp = get(viewer, url, status)
    problem = resp.get_json()
    assert resp.mimetype == "application/problem+json" and problem["status"] == status
    assert words in problem["detail"] and "Traceback" not in resp.get_data(as_text=True)


def test_diagnostic_answers_with_validators_and_needs_a_sign_in(client, viewer, demo_index):
    resp = get(viewer, f"/map/diagnostic.json?area=lambeth&period={PERIOD}")
    assert resp.headers["Cache-Control"].startswith("private") and resp.headers["ETag"]
    again = viewer.get(f"/map/diagnostic.json?area=lambeth&period={PERIOD}",
                       headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(f"/map/diagnostic.json?area=lambeth&period={PERIOD}").status_code == 401


# --- the rule for a total of police actions, by hand ------------------------------------------------------

@pytest.mark.parametrize("parts, hidden", [
    ([0, 0, 0, 0], False),          # nothing small: nothing to give back
    ([12, 7, 0, 5], False),
    ([12, 3, 0, 5], True),          # one small part: the total less the rest is that part
    ([2, 1, 0, 9], True),           # two small parts adding to 3: under 5
    ([3, 3, 0, 9], False),          # two small parts adding to 6: (2, 4), (3, 3) or (4, 2)
    ([4, 4, 0, 9], True),           # adding to 8: each can only be 4
    ([1, 1, 1, 1, 1], True),        # five parts adding to 5: each can only be 1
])
def test_a_total_of_police_actions_is_hidden_when_it_gives_a_part_back(parts, hidden):
    from harmmap.disclosure import Disclosure
    from harmmap.published import _activity_gives_back

    assert _activity_gives_back(parts, Disclosure(exact=False, min_count=5)) is hidden
    assert _activity_gives_back(parts, Disclosure(exact=True)) is False
