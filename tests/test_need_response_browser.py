"""Need, response and confidence on the tasking map in real headless Chromium (issue 18): the layer picker's
families, the need x response layer and its legend, the quadrant chart, the police response beside the worst
wards, and "Why did confidence move?" for a ward and a borough; the chart and the diagnostic by keyboard only.

Every test fails on a console error or on any request to a host other than the app's (those are blocked).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

import pytest

from conftest import session_header

pytestmark = [pytest.mark.db, pytest.mark.browser]

PERIOD = "FY2025/26"
LAMBETH = "E09000022"
VIEW_READY = "document.getElementById('map-container').dataset.view === location.search.slice(1)"
PANEL_READY = "(code) => (document.getElementById('map-container').dataset.panelWard || '').startsWith(code + '|')"
DIAGNOSTIC_READY = ("(area) => (document.getElementById('map-container').dataset.diagnostic || '')"
                    ".startsWith(area + '|')")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def get_json(live_server: str, path: str, role: str = "viewer") -> dict:
    with urlopen(Request(live_server + path, headers=session_header(live_server, role))) as r:
        return json.load(r)


def open_map(page, live_server: str, path: str = "/") -> None:
    page.goto(live_server + path)
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    page.wait_for_function(VIEW_READY, timeout=20_000)


def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until ``selector`` has the focus (the way a keyboard user gets there)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took the focus by Tab")


def focused(page, expression: str = "id"):
    return page.evaluate(f"() => document.activeElement.{expression}")


# --- the layer picker and the need x response layer ----------------------------------------------------

def test_layer_picker_groups_the_layers_under_the_three_families(page, live_server):
    open_map(page, live_server)
    meta = get_json(live_server, "/map/meta.json")
    groups = page.locator("#f-layer optgroup")
    assert groups.evaluate_all("gs => gs.map(g => g.label)") == [f["label"] for f in meta["families"]]
    for family in meta["families"]:
        options = page.locator(f"#f-layer optgroup[data-family='{family['id']}'] option")
        want = [layer["id"] for layer in meta["layers"] if layer["family"] == family["id"]]
        got = options.evaluate_all("os => os.map(o => o.value)")
        assert sorted(got) == sorted(want)
    first = page.locator("#f-layer optgroup[data-family='response'] option").first
    assert first.get_attribute("value") == "need_response"      # the view before its parts
    assert "also an outcome" in page.locator("#f-layer option[value='pas_drug_problem']").inner_text()
    # the legend names the family of the layer shown, and a caveat where one applies
    assert page.locator("#hm-legend-family").inner_text().lower() == "need (harm)"
    page.select_option("#f-layer", "drug_possession")
    page.wait_for_function(VIEW_READY, timeout=10_000)
    assert "proactive policing" in page.locator("#hm-legend-caveat").inner_text()
    page.select_option("#f-layer", "pas_tackle_dealing")
    page.wait_for_function(VIEW_READY, timeout=10_000)
    assert page.locator("#hm-legend-family").inner_text().lower() == "confidence (the strategy's targets)"
    assert page.locator("#hm-legend-caveat").count() == 0


def test_the_need_response_layer_draws_its_quadrants_with_their_legend(page, live_server, results_dir):
    open_map(page, live_server, "/?layer=need_response")
    values = get_json(live_server, f"/map/values.json?period={PERIOD}&layer=need_response")
    legend = page.locator("#hm-legend")
    text = legend.inner_text()
    assert text.startswith("Need x response") and "police response (diagnostic)" in text.lower()
    for c in values["classes"]:
        assert c["label"] in text
    assert f"London {values['london']['per_100']:.1f} (95% {values['london']['per_100_lo']:.1f}–" in text
    assert "not a harm score" in page.locator("#hm-legend-caveat").inner_text()
    # each ward filled in its class's colour: as many wards of each colour as the class holds
    fills = page.locator(".leaflet-overlay-pane path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))")
    for c in values["classes"]:
        assert fills.count(c["color"]) == c["count"], c["slug"]
    # the harm colours are not used for response
    assert "#bd0026" not in fills
    # a tooltip gives the rate with its interval (or says it is withheld) and London's rate
    code = next(c for c, w in values["wards"].items() if w.get("q") == "tasking_candidate")
    # as a pointer entering the ward does: the event reaches the ward layer's group, which opens the tooltip
    page.evaluate("(code) => { const m = Object.values(window).find(v => v && v._container && v.setZoom); "
                  "m.eachLayer(l => { if (l.feature && l.feature.properties.ward_code === code && l.getBounds) "
                  "l.fire('mouseover', {latlng: l.getBounds().getCenter()}, true); }); }", code)
    tip = page.locator(".leaflet-tooltip").inner_text()
    assert "candidate for tasking" in tip and "London: " in tip
    assert "per 100 trafficking offences" in tip and ("95%" in tip or "withheld" in tip)
    page.screenshot(path=str(results_dir / "need-response-layer.png"))


# --- the quadrant chart, by keyboard ----------------------------------------------------------------------

@pytest.mark.signed_in_as("analyst")      # exact figures: every ward has a point
def test_the_quadrant_chart_opens_by_keyboard_and_a_ward_in_it_opens_the_panel(page, live_server, results_dir):
    open_map(page, live_server, f"/?borough={LAMBETH}")
    tab_to(page, "#f-chart")
    page.keyboard.press("Enter")
    page.wait_for_selector("#hm-chart[open] #hm-quadrant-svg", timeout=10_000)
    assert query(page.url)["chart"] == "1"
    assert focused(page) == "hm-chart-title"
    values = get_json(live_server, f"/map/values.json?period={PERIOD}&layer=need_response&borough={LAMBETH}",
                      "analyst")
    dialog = page.locator("#hm-chart")
    assert "Lambeth" in dialog.locator("h2").inner_text()
    points = dialog.locator(".hm-q-pt")
    assert points.count() == sum(c["count"] for c in values["classes"])
    assert dialog.locator(".hm-q-london").count() == 1 and "London" in dialog.inner_text()
    for name in ("candidate for tasking", "possible over-attention", "High need, high response"):
        assert name in dialog.locator("svg").inner_html()
    page.screenshot(path=str(results_dir / "need-response-chart.png"))
    # one tab stop for the points; the arrows move through them by need, Enter opens the ward
    tab_to(page, ".hm-q-pt", limit=5)
    first = focused(page, "dataset.ward")
    page.keyboard.press("ArrowRight")
    second = focused(page, "dataset.ward")
    assert second != first
    page.keyboard.press("ArrowLeft")
    assert focused(page, "dataset.ward") == first
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_function(PANEL_READY, arg=second, timeout=10_000)
    page.wait_for_selector("#hm-panel-score", timeout=10_000)
    assert not dialog.is_visible()
    assert query(page.url)["ward"] == second and "chart" not in query(page.url)
    page.wait_for_function("() => document.activeElement.id === 'hm-panel-title'", timeout=5_000)


def test_escape_closes_the_chart_and_gives_the_focus_back(page, live_server):
    open_map(page, live_server)
    tab_to(page, "#f-chart")
    page.keyboard.press("Enter")
    page.wait_for_selector("#hm-chart[open] #hm-quadrant-svg", timeout=10_000)
    # a viewer: wards whose rate would give back a small count are drawn under the axis, without a rate
    assert page.locator("#hm-chart .hm-q-pt").count() > 0
    assert "withheld" in page.locator("#hm-chart").inner_text()
    page.keyboard.press("Escape")
    page.wait_for_selector("#hm-chart", state="hidden", timeout=5_000)
    assert "chart" not in query(page.url) and focused(page) == "f-chart"


# --- the worst list with the response beside it -------------------------------------------------------------

def test_the_worst_list_shows_the_response_beside_each_ward_when_asked(page, live_server):
    open_map(page, live_server)
    before = page.locator("#worst-rows tr[data-ward]").evaluate_all("rs => rs.map(r => r.dataset.ward)")
    assert page.locator("#worst-rows .hm-resp").count() == 0
    page.locator("#f-response").check()
    page.wait_for_function(VIEW_READY, timeout=10_000)
    assert query(page.url)["response"] == "1"
    worst = get_json(live_server, f"/map/worst.json?period={PERIOD}&rule=top_n&n=20")
    after = page.locator("#worst-rows tr[data-ward]").evaluate_all("rs => rs.map(r => r.dataset.ward)")
    assert after == before == [r["ward_code"] for r in worst["rows"]]          # ordered by need alone
    lines = page.locator("#worst-rows .hm-resp").all_inner_texts()
    assert len(lines) == 20
    for line, row in zip(lines, worst["rows"]):
        x = row["response"]
        assert line.endswith(x["vs_london_text"])
        if x["suppressed"]:
            assert "withheld (fewer than 5)" in line
        else:
            assert f"{x['per_100']:.1f} (95% {x['per_100_lo']:.1f}–" in line
    assert "Ordered by need alone" in page.locator("#worst-response-key").inner_text()
    # the toggle is part of the link
    page.reload()
    page.wait_for_function(VIEW_READY, timeout=20_000)
    assert page.locator("#f-response").is_checked() and page.locator("#worst-rows .hm-resp").count() == 20


def test_an_index_with_police_activity_weighted_in_says_so(ctx, page, live_server):
    note = ("This index includes police activity (Crack house closures) by explicit weights: wards rank higher "
            "where the police already act.")

    def with_note(route):
        if "/map/worst.json" in route.request.url:
            resp = route.fetch()
            route.fulfill(response=resp, json={**resp.json(), "response_note": note})
        else:
            route.fallback()

    ctx.route("**/map/worst.json*", with_note)
    open_map(page, live_server)
    page.select_option("#f-rule", "top_decile")       # a view the page did not come with: worst.json is fetched
    page.wait_for_function(VIEW_READY, timeout=10_000)
    assert page.locator("#worst-response-note").inner_text() == note
    assert page.locator("#hm-legend-response-note").inner_text() == note


# --- why did confidence move? by keyboard -----------------------------------------------------------------------

def test_a_wards_diagnostic_tab_shows_the_summary_and_the_table(page, live_server, results_dir):
    open_map(page, live_server, f"/?borough={LAMBETH}")
    tab_to(page, "#worst-rows tr[data-ward]")
    code = focused(page, "dataset.ward")
    page.keyboard.press("Enter")
    page.wait_for_function(PANEL_READY, arg=code, timeout=10_000)
    page.wait_for_function("() => document.activeElement.id === 'hm-panel-title'", timeout=5_000)
    tab_to(page, "#hm-tab-figures", limit=3)
    assert page.locator("#hm-tab-figures").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowRight")
    assert focused(page) == "hm-tab-why" and page.locator("#hm-tab-why").get_attribute("aria-selected") == "true"
    assert query(page.url)["why"] == "1" and page.locator("#hm-tabpanel-figures").is_hidden()
    page.wait_for_function(DIAGNOSTIC_READY, arg=code, timeout=10_000)
    want = get_json(live_server, f"/map/diagnostic.json?area={code}&period={PERIOD}&against=previous")
    why = page.locator("#hm-tabpanel-why")
    sections = why.locator("section.hm-diag")
    assert sections.count() == 2
    previous = why.locator("section[data-against='previous']")
    assert " ".join(previous.locator(".hm-diag-summary").inner_text().split()) == want["summary"]
    table = previous.locator("table.hm-diag-table")
    assert table.locator("tr[data-indicator]").count() == len(want["pas"]) + len(want["response"]) + len(want["need"])
    tackle = table.locator("tr[data-indicator='pas_tackle_dealing']").inner_text()
    pas = want["pas"][0]
    assert f"{pas['before']:.1f}% → {pas['after']:.1f}%" in tackle and "pts" in tackle
    assert ("Yes" if pas["significant"] else "No") in tackle
    groups = table.locator("tr.hm-diag-group").all_inner_texts()
    assert [g.split(" (")[0].lower() for g in groups] == ["confidence", "police response", "need"]
    assert "Against the baseline year" in why.locator("section[data-against='baseline'] h3").inner_text()
    page.screenshot(path=str(results_dir / "diagnostic-ward.png"))
    # the tab is in the link; Escape closes the panel and returns to the row
    page.keyboard.press("Escape")
    page.wait_for_selector("#hm-panel", state="hidden", timeout=5_000)
    assert "why" not in query(page.url) and focused(page, "dataset.ward") == code


def test_a_boroughs_diagnostic_opens_from_beside_the_filters(page, live_server, results_dir):
    open_map(page, live_server, f"/?borough={LAMBETH}")
    tab_to(page, "#f-why")
    page.keyboard.press("Enter")
    page.wait_for_function(DIAGNOSTIC_READY, arg=LAMBETH, timeout=10_000)
    assert query(page.url)["why"] == "1" and "ward" not in query(page.url)
    assert focused(page) == "hm-panel-title"
    assert page.locator("#hm-panel-title").inner_text() == "Why did confidence move in Lambeth?"
    want = get_json(live_server, f"/map/diagnostic.json?area={LAMBETH}&period={PERIOD}&against=baseline")
    baseline = page.locator("#hm-panel section[data-against='baseline']")
    assert " ".join(baseline.locator(".hm-diag-summary").inner_text().split()) == want["summary"]
    assert want["against_period"] in baseline.locator("h3").inner_text()
    # the synthetic survey and activity figures on screen are named in the banner
    assert "PAS: police tackle drug dealing well" in page.locator("#hm-synthetic").inner_text()
    page.screenshot(path=str(results_dir / "diagnostic-borough.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector("#hm-panel", state="hidden", timeout=5_000)
    assert focused(page) == "f-why" and "why" not in query(page.url)
    # London, when no borough is chosen
    page.select_option("#f-borough", "")
    page.wait_for_function(VIEW_READY, timeout=10_000)
    page.locator("#f-why").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(DIAGNOSTIC_READY, arg="london", timeout=10_000)
    assert page.locator("#hm-panel-title").inner_text() == "Why did confidence move in London?"
    london = get_json(live_server, f"/map/diagnostic.json?area=london&period={PERIOD}")
    shown = page.locator("#hm-panel section[data-against='previous'] .hm-diag-summary").inner_text()
    assert " ".join(shown.split()) == london["summary"]
