"""The map's ward geometry in real headless Chromium (Debian's chromium, driven by Playwright).

The tasking features (filters, table, panel, search, CSV) are in test_tasking_browser.py. These tests ask
for ``demo_index`` too: the page reads the published index, and without one it would say so in red.
"""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.db, pytest.mark.browser]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(as_role="viewer", viewport={"width": 1366, "height": 768})
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.problems = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    yield pg
    context.close()


def test_london_map_draws_every_ward_from_the_app_alone(page, live_server, results_dir, demo_index):
    page.goto(live_server + "/")
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    page.wait_for_selector("#hm-legend h2", timeout=20_000)
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 704
    assert page.locator("#hm-legend").inner_text().startswith("Harm index")
    page.screenshot(path=str(results_dir / "london.png"))
    app_host = urlsplit(live_server).netloc
    foreign = [u for u in page.requests if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != app_host]
    assert foreign == []
    assert page.problems == []


def test_hovering_a_ward_names_it_and_its_borough(page, live_server, demo_index):
    page.goto(live_server + "/")
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    page.wait_for_selector("#hm-legend h2", timeout=20_000)
    box = page.locator("#map-container").bounding_box()
    tip = page.locator(".leaflet-tooltip")
    for fx, fy in ((0.45, 0.4), (0.55, 0.6), (0.4, 0.6)):  # the Thames has no tooltip: try a few points
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        if tip.is_visible() or page.wait_for_timeout(1_500) or tip.is_visible():
            break
    text = tip.inner_text()
    assert "E05" in text and ("Harm index" in text or "City of London" in text)
    assert page.problems == []


def test_zooming_in_fetches_finer_geometry(page, live_server, demo_index):
    page.goto(live_server + "/")
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    with page.expect_response(lambda r: "tolerance=25" in r.url, timeout=10_000):
        page.evaluate("""() => { const m = Object.values(window).find(v => v && v._container && v.setZoom);
                                 m.setZoom(12); }""")
    assert page.problems == []
