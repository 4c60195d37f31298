"""The tasking map in real headless Chromium (Debian's chromium, driven by Playwright), against the demo index.

Every test fails on a console error, an uncaught page error, or any request to a host other than the app's
(such requests are also blocked, so nothing leaves the machine even when a test would fail).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

import pytest

from conftest import new_page, open_context, session_header

pytestmark = [pytest.mark.db, pytest.mark.browser]

LAMBETH = "E09000022"
GIPSY_HILL = "E05014103"  # a Lambeth ward (2022 code)
VIEW_READY = "document.getElementById('map-container').dataset.view === location.search.slice(1)"
PANEL_READY = "(code) => (document.getElementById('map-container').dataset.panelWard || '').startsWith(code + '|')"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def get_json(live_server: str, path: str, role: str = "viewer") -> dict:
    """The map's data as a person of ``role`` signed in gets it (the figures the page shows them)."""
    with urlopen(Request(live_server + path, headers=session_header(live_server, role))) as r:
        return json.load(r)


def wait_view(page) -> None:
    page.wait_for_function(VIEW_READY, timeout=20_000)


def open_map(page, live_server: str, path: str = "/") -> None:
    page.goto(live_server + path)
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    wait_view(page)


def table_wards(page) -> list[str]:
    return page.locator("#worst-rows tr[data-ward]").evaluate_all("rows => rows.map(r => r.dataset.ward)")


def map_zoom(page) -> float:
    return page.evaluate("() => Object.values(window).find(v => v && v._container && v.setZoom).getZoom()")


def wait_map_idle(page) -> None:
    page.wait_for_timeout(100)
    page.wait_for_selector(".folium-map:not([data-moving])", timeout=10_000)
    page.wait_for_timeout(200)


# --- the London view ----------------------------------------------------------------------------------

def test_london_view_colours_every_ward_and_lists_the_worst(ctx, page, live_server, results_dir, demo_index):
    open_map(page, live_server)
    # the page carries no geometry, but the first view's figures: the ward shapes are its only data request
    with urlopen(Request(live_server + "/", headers={"Accept-Encoding": "gzip",
                                                     **session_header(live_server, "viewer")})) as r:
        packed = r.read()
    html = gzip.decompress(packed)
    assert len(packed) < 25_000 and b'"coordinates"' not in html
    boot = json.loads(re.search(rb'<script type="application/json" id="hm-boot">(.*?)</script>', html, re.S)[1])
    meta = get_json(live_server, "/map/meta.json")
    assert boot["meta"]["default_period"] == meta["default_period"]
    assert boot["values"]["period"] == boot["worst"]["period"] == meta["default_period"]
    assert boot["values"]["layer"] == "harm_index" and boot["worst"]["rule"] == "top_n"
    fetched = [urlsplit(u).path + ("?" + urlsplit(u).query if urlsplit(u).query else "") for u in ctx.requests]
    assert [u for u in fetched if u.startswith("/map/")] == ["/map/wards.geojson?vintage=2022&tolerance=100"]
    assert query(page.url)["period"] == meta["default_period"]
    assert page.locator("#f-period").input_value() == meta["default_period"]
    # 704 ward shapes, filled from values.json in the YlOrRd classes
    paths = page.locator(".leaflet-overlay-pane path.leaflet-interactive")
    assert paths.count() == 704
    fills = set(paths.evaluate_all("ps => ps.map(p => p.getAttribute('fill'))"))
    assert {"#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2"} <= fills
    legend = page.locator("#hm-legend").inner_text()
    assert legend.startswith("Harm index") and "Worst 10%" in legend and "Least harm 30%" in legend
    assert "City of London" in legend and "Outlined and numbered" in legend
    # the worst 20, outlined and numbered on the map, ranked beside it
    rows = table_wards(page)
    assert len(rows) == 20
    worst = get_json(live_server, f"/map/worst.json?period={meta['default_period']}&rule=top_n&n=20")
    assert rows == [r["ward_code"] for r in worst["rows"]]
    assert page.locator(".hm-rank").count() >= 10  # numbers that would overlap are left off at this zoom
    assert page.locator("#worst-rows tr").first.locator("td.rank").inner_text() == "1"
    # synthetic data is announced, naming the indicators
    banner = page.locator("#hm-synthetic")
    assert banner.is_visible() and "Synthetic data shown" in banner.inner_text()
    for slug in worst["synthetic_indicators"]:
        label = next(layer["label"] for layer in meta["layers"] if layer["id"] == slug)
        assert label in banner.inner_text()
    # marking top and bottom, attribution, boundary note, last updated
    assert page.locator(".marking").all_inner_texts() == ["OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"]
    assert "Open Government Licence v3.0" in page.locator("#attribution").inner_text()
    assert "generalised to 20 m" in page.locator("#boundary-note").inner_text()
    assert re.search(r"Data to \w+ \d{4} · index published", page.locator("#hm-updated").inner_text())
    page.screenshot(path=str(results_dir / "tasking-london.png"))


def hover_a_ward(page) -> tuple[float, float, str]:
    """Move the mouse over the map until a ward's tooltip shows (the Thames and rank numbers have none)."""
    box = page.locator("#map-container").bounding_box()
    tip = page.locator(".leaflet-tooltip")
    for fx, fy in ((0.45, 0.4), (0.55, 0.6), (0.4, 0.6), (0.6, 0.35), (0.35, 0.45), (0.5, 0.7)):
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
        page.mouse.move(x, y)
        try:
            tip.wait_for(timeout=1_500)
        except Exception:  # noqa: BLE001 - no ward under this point: try the next
            continue
        return x, y, tip.inner_text()
    raise AssertionError("no ward tooltip anywhere on the map")


def test_hovering_a_ward_names_it_with_its_figure(page, live_server):
    open_map(page, live_server)
    _, _, text = hover_a_ward(page)
    assert "E05" in text and ("Harm index" in text or "City of London" in text)
    assert "Click for details" in text


# --- filters and the URL --------------------------------------------------------------------------------

@pytest.mark.signed_in_as("sergeant")  # the borough's briefing link
def test_changing_period_and_borough_moves_the_url_the_table_and_the_map(page, live_server, results_dir, app):
    open_map(page, live_server)
    london_rows = table_wards(page)
    zoom_london = map_zoom(page)

    quarter = page.locator("#f-period optgroup[label='Quarters'] option").first.get_attribute("value")
    page.select_option("#f-period", quarter)
    wait_view(page)
    assert query(page.url)["period"] == quarter
    quarter_rows = table_wards(page)
    assert quarter_rows != london_rows
    title = next(p["title"] for p in get_json(live_server, "/map/meta.json")["periods"] if p["period"] == quarter)
    assert title in page.locator("#hm-legend").inner_text()

    page.select_option("#f-borough", LAMBETH)
    wait_view(page)
    wait_map_idle(page)
    assert query(page.url)["borough"] == LAMBETH
    assert page.locator("#worst-title").inner_text() == "Worst 20 wards in Lambeth"
    assert page.locator("#worst-rank-h").inner_text() == "Rank in borough"
    lambeth = get_json(live_server, f"/map/worst.json?period={quarter}&borough={LAMBETH}&rule=top_n&n=20")
    assert table_wards(page) == [r["ward_code"] for r in lambeth["rows"]]
    assert all(r["borough_code"] == LAMBETH for r in lambeth["rows"])
    assert [int(t) for t in page.locator("#worst-rows td.rank").all_inner_texts()] == list(range(1, 21))
    assert map_zoom(page) >= zoom_london + 1.5  # zoomed to the borough
    page.screenshot(path=str(results_dir / "tasking-borough.png"))
    # the borough view offers its briefing: the overview, then a page per ward
    brief = page.locator("#brief-borough")
    assert brief.is_visible() and brief.inner_text() == "Print Lambeth briefing"
    href = brief.get_attribute("href")
    # (the PDF behind it, 26 pages, is checked in tests/test_brief.py; here, that the route exists)
    assert urlsplit(href).path == f"/brief/borough/{LAMBETH}.pdf" and query(href)["period"] == quarter
    assert app.url_map.bind("").match(urlsplit(href).path)[0] == "brief.borough_pdf"

    # the back button steps back through the changes
    page.go_back()
    wait_view(page)
    assert "borough" not in query(page.url) and page.locator("#f-borough").input_value() == ""
    assert not page.locator("#brief-borough").is_visible()  # London has no borough briefing
    assert table_wards(page) == quarter_rows
    page.go_back()
    wait_view(page)
    assert table_wards(page) == london_rows and page.locator("#f-period").input_value() != quarter


def test_worst_rule_top_decile_and_threshold(page, live_server):
    open_map(page, live_server)
    page.select_option("#f-rule", "top_decile")
    wait_view(page)
    assert query(page.url)["rule"] == "top_decile"
    n_decile = len(table_wards(page))
    assert 60 <= n_decile <= 75  # a tenth of ~680 ranked wards
    page.select_option("#f-rule", "threshold")
    page.fill("#f-threshold", "60")
    page.locator("#f-threshold").dispatch_event("change")
    wait_view(page)
    assert query(page.url)["threshold"] == "60"
    scores = [float(s) for s in page.locator("#worst-rows td.score").all_inner_texts()]
    assert scores and min(scores) >= 60 and len(scores) < n_decile


def test_layer_switcher_colours_by_one_indicator_and_hotspots_hatch(page, live_server):
    open_map(page, live_server)
    page.select_option("#f-layer", "drug_trafficking")
    wait_view(page)
    assert query(page.url)["layer"] == "drug_trafficking"
    legend = page.locator("#hm-legend").inner_text()
    assert legend.startswith("Drug trafficking offences") and "per 1,000" in legend
    page.check("#f-hotspots")
    wait_view(page)
    assert query(page.url)["hotspots"] == "1"
    assert int(page.locator("#map-container .folium-map").get_attribute("data-hotspots-drawn")) > 0
    assert page.locator(".hm-hot-legend").inner_text().startswith("Hot and cold spots")
    assert page.locator(".leaflet-pane path[fill^='url(#hm-hatch-']").count() > 0


# --- the ward panel -------------------------------------------------------------------------------------

@pytest.mark.signed_in_as("analyst")  # the panel's briefing and API links, and exact figures
def test_clicking_a_ward_opens_its_panel(page, live_server, results_dir):
    open_map(page, live_server, f"/?borough={LAMBETH}")
    wait_map_idle(page)
    x, y, text = hover_a_ward(page)
    name = text.splitlines()[0]
    page.mouse.click(x, y)
    page.wait_for_selector("#hm-panel-score", timeout=10_000)
    panel = page.locator("#hm-panel")
    assert panel.locator("h2").inner_text() == name
    code = query(page.url)["ward"]
    ward = get_json(live_server, f"/map/ward/{code}.json?period={query(page.url)['period']}", "analyst")
    assert panel.locator("#hm-panel-score").inner_text() == f"{ward['score']:.1f}"
    assert f"#{ward['rank_london']} of {ward['n_london']} in London" in panel.inner_text()
    assert f"{ward['borough_name']} · {code} · {ward['population']:,} residents" in panel.inner_text()
    figures = next(i for i in ward["indicators"] if i["indicator"] == "drug_trafficking")
    trafficking = panel.locator("li[data-indicator='drug_trafficking']").inner_text()  # the default period: a FY
    assert "per 1,000 residents" in trafficking and f"#{figures['rank_london']} of" in trafficking
    change = re.search(r"vs previous financial year: (.*)", trafficking).group(1)
    if figures["prev_trend"] in ("up", "down"):
        assert re.fullmatch(rf"{figures['prev_trend']} \d+% \(p [=<] [\d.]+\)", change)
    else:
        assert change == ("no significant change" if figures["prev_trend"] == "no_change" else "not tested")
    pas = panel.locator("li[data-indicator='pas_drug_problem']").inner_text()
    assert "95% interval" in pas and "respondents" in pas
    assert panel.locator("table.hm-bars tbody tr").count() >= 3  # why it ranks where it does
    assert panel.locator("svg.hm-chart path.line").count() == 1  # the trend chart
    assert "by month" in panel.locator("svg.hm-chart").get_attribute("aria-label")
    assert panel.locator("#hm-link-briefing").get_attribute("href") == ward["links"]["briefing"]
    assert panel.locator("#hm-link-api").get_attribute("href") == ward["links"]["api"]
    # both links lead somewhere real: the ward's A4 briefing PDF and its OGC API feature
    brief = page.request.get(live_server + ward["links"]["briefing"])
    assert brief.status == 200 and brief.headers["content-type"] == "application/pdf"
    assert brief.body().startswith(b"%PDF")
    record = page.request.get(live_server + ward["links"]["api"])
    assert record.status == 200 and record.json()["id"] == ward["ward_code"]
    page.screenshot(path=str(results_dir / "tasking-ward-panel.png"))
    # Escape closes it, and the URL forgets the ward
    page.keyboard.press("Escape")
    expect_hidden(page, "#hm-panel")
    assert "ward" not in query(page.url)


def expect_hidden(page, selector: str) -> None:
    page.wait_for_selector(selector, state="hidden", timeout=5_000)


def test_the_city_of_london_says_why_it_has_no_score(page, live_server):
    city = get_json(live_server, "/map/search?q=Bishopsgate")["results"][0]["ward_code"]
    open_map(page, live_server, f"/?ward={city}")
    page.wait_for_function(PANEL_READY, arg=city, timeout=10_000)
    assert "City of London Police" in page.locator("#hm-panel").inner_text()
    assert page.locator("#hm-panel-score").count() == 0


def test_a_link_with_state_opens_the_same_view(browser, live_server, ctx):
    meta = get_json(live_server, "/map/meta.json")
    quarter = next(p["period"] for p in reversed(meta["periods"]) if p["kind"] == "quarter")
    worst = get_json(live_server, f"/map/worst.json?period={quarter}&borough={LAMBETH}&rule=top_decile")
    ward = worst["rows"][0]["ward_code"]
    path = (f"/?period={quarter.replace('/', '%2F')}&layer=drug_trafficking&borough={LAMBETH}&rule=top_decile"
            f"&ward={ward}&hotspots=1")
    page = new_page(ctx)
    open_map(page, live_server, path)
    page.wait_for_function(PANEL_READY, arg=ward, timeout=10_000)
    assert query(page.url) == {"period": quarter, "layer": "drug_trafficking", "borough": LAMBETH,
                               "rule": "top_decile", "ward": ward, "hotspots": "1"}
    assert page.locator("#f-period").input_value() == quarter
    assert page.locator("#f-layer").input_value() == "drug_trafficking"
    assert page.locator("#f-borough").input_value() == LAMBETH
    assert page.locator("#f-rule").input_value() == "top_decile"
    assert page.locator("#f-hotspots").is_checked()
    assert page.locator("#hm-panel h2").inner_text() == worst["rows"][0]["ward_name"]
    assert page.locator("#worst-title").inner_text() == "Worst 10% of wards in Lambeth"
    assert table_wards(page) == [r["ward_code"] for r in worst["rows"]]
    assert page.locator("#worst-rows tr[aria-current='true']").get_attribute("data-ward") == ward
    assert page.locator("#hm-legend").inner_text().startswith("Drug trafficking offences")
    # the linked view's figures came in the page: only the shapes and the ward panel were fetched
    fetched = {urlsplit(u).path for u in ctx.requests}
    assert not fetched & {"/map/meta.json", "/map/values.json", "/map/worst.json"}, fetched
    # a hand-written link with a borough name and a stale ward still opens, and says what it left out
    page.goto(live_server + "/?borough=lambeth&ward=E05999999")
    wait_view(page)
    assert query(page.url)["borough"] == LAMBETH and "ward" not in query(page.url)
    assert "E05999999" in page.locator("#hm-status").inner_text()


def test_search_by_name_and_by_code_opens_the_ward(page, live_server):
    open_map(page, live_server)
    search = page.locator("#f-search")
    search.fill("gipsy")
    page.wait_for_selector("#f-search-list li[data-ward]", timeout=5_000)
    assert search.get_attribute("aria-expanded") == "true"
    assert "Gipsy Hill" in page.locator("#f-search-list").inner_text()
    search.press("Enter")
    page.wait_for_function(PANEL_READY, arg=GIPSY_HILL, timeout=10_000)
    assert query(page.url)["ward"] == GIPSY_HILL
    assert page.locator("#hm-panel h2").inner_text() == "Gipsy Hill"
    assert page.evaluate("document.activeElement.id") == "hm-panel-title"  # focus follows to the panel
    wait_map_idle(page)
    assert map_zoom(page) >= 12
    page.keyboard.press("Escape")
    expect_hidden(page, "#hm-panel")
    assert page.evaluate("document.activeElement.id") == "f-search"  # and comes back
    # a code, typed and entered at once
    search.fill("")
    search.type("E05013655")
    search.press("Enter")
    page.wait_for_function(PANEL_READY, arg="E05013655", timeout=10_000)
    # arrow keys pick among several matches
    search.fill("brixton")
    page.wait_for_selector("#f-search-list li[data-ward]:has-text('Brixton')", timeout=5_000)
    assert page.locator("#f-search-list li[data-ward]").count() >= 2
    search.press("ArrowDown")
    search.press("ArrowDown")
    second = page.locator("#f-search-list li[aria-selected='true']").get_attribute("data-ward")
    assert search.get_attribute("aria-activedescendant") == "f-search-opt-1"
    search.press("Enter")
    page.wait_for_function(PANEL_READY, arg=second, timeout=10_000)


def test_table_rows_work_with_the_keyboard_and_follow_the_map(page, live_server):
    open_map(page, live_server)
    first = page.locator("#worst-rows tr[data-ward]").first
    code = first.get_attribute("data-ward")
    first.focus()
    # focusing (or hovering) a row outlines its ward on the map
    assert page.locator(".leaflet-overlay-pane path[stroke='#0096ff']").count() == 1
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.ward") == table_wards(page)[1]
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_function(PANEL_READY, arg=code, timeout=10_000)
    assert page.evaluate("document.activeElement.id") == "hm-panel-title"
    assert page.locator(".leaflet-overlay-pane path[stroke='#0b3d91']").count() == 1  # the selected ward
    page.keyboard.press("Escape")
    expect_hidden(page, "#hm-panel")
    assert page.evaluate("document.activeElement.dataset.ward") == code
    # a click on a row flies the map there
    page.locator("#worst-rows tr[data-ward]").nth(2).click()
    third = table_wards(page)[2]
    page.wait_for_function(PANEL_READY, arg=third, timeout=10_000)
    wait_map_idle(page)
    assert map_zoom(page) >= 12
    # focus order starts at the skip link, then the filters
    page.goto(live_server + "/")
    wait_view(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["f-search", "hm-signout", "f-period", "f-layer", "f-borough", "f-rule", "f-n"]


@pytest.mark.signed_in_as("analyst")  # the CSV is an export
def test_worst_wards_download_as_csv_with_the_marking(page, live_server):
    open_map(page, live_server, f"/?borough={LAMBETH}")
    page.select_option("#f-rule", "top_decile")
    wait_view(page)
    href = page.locator("#worst-csv").get_attribute("href")
    assert query(href) == {"period": query(page.url)["period"], "borough": LAMBETH, "rule": "top_decile"}
    with page.expect_download() as info:
        page.locator("#worst-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["rank", "ward_code", "ward_name"] and header[-1] == "protective_marking"
    assert body and all(r[-1] == "OFFICIAL-SENSITIVE" for r in body)
    assert [r[1] for r in body] == table_wards(page)


# --- sizes ----------------------------------------------------------------------------------------------

def test_tablet_touch_layout_keeps_map_table_and_panel_usable(browser, live_server, demo_index, results_dir):
    context = open_context(browser, live_server, "analyst", viewport={"width": 1024, "height": 768},  # the CSV
                           has_touch=True, is_mobile=False)
    try:
        page = new_page(context)
        open_map(page, live_server, f"/?borough={LAMBETH}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # nothing sideways
        page.locator("#worst-rows tr[data-ward]").first.tap()
        page.wait_for_selector("#hm-panel-score", timeout=10_000)
        # the panel lies over the list, so most of the map still shows, legend and all
        map_box = page.locator("#map-container").bounding_box()
        panel_box = page.locator("#hm-panel").bounding_box()
        assert panel_box["x"] == 0 and panel_box["width"] <= 360
        assert map_box["x"] + map_box["width"] - (panel_box["x"] + panel_box["width"]) >= 600
        assert page.locator("#hm-legend").bounding_box()["x"] >= panel_box["x"] + panel_box["width"]
        assert page.locator(".leaflet-control-zoom").bounding_box()["x"] >= panel_box["x"] + panel_box["width"]
        for sel in ("#f-period", "#f-layer", "#f-borough", "#f-rule", "#f-search", "#worst-csv"):
            assert page.locator(sel).is_visible(), sel
        page.screenshot(path=str(results_dir / "tasking-tablet.png"))
        page.locator("#hm-panel-close").tap()
        expect_hidden(page, "#hm-panel")
        # the list can be put away for a wider map
        page.locator("#worst-toggle").tap()
        assert not page.locator("#worst").is_visible()
        assert page.locator("#map-container").bounding_box()["width"] >= 1000
        assert context.problems == [] and context.foreign == []
    finally:
        context.close()
