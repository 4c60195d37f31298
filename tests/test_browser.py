"""The map in real headless Chromium (Debian's chromium, driven by Playwright)."""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.db, pytest.mark.browser]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.problems = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    yield pg
    context.close()


def test_london_map_draws_every_ward_from_the_app_alone(page, live_server, results_dir):
    page.goto(live_server + "/")
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    assert page.locator("path.leaflet-interactive").count() == 704
    assert page.locator("#hm-legend").inner_text().startswith("Residents per km²")
    page.screenshot(path=str(results_dir / "london.png"))
    app_host = urlsplit(live_server).netloc
    foreign = [u for u in page.requests if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != app_host]
    assert foreign == []
    assert page.problems == []


def test_hovering_a_ward_names_it_and_its_borough(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    box = page.locator("#map-container").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.5)
    tip = page.locator(".leaflet-tooltip")
    tip.wait_for(timeout=5_000)
    text = tip.inner_text()
    assert "E05" in text and "residents" in text.lower()
    assert page.problems == []


def test_zooming_in_fetches_finer_geometry(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
    with page.expect_response(lambda r: "tolerance=25" in r.url, timeout=10_000):
        page.evaluate("""() => { const m = Object.values(window).find(v => v && v._container && v.setZoom);
                                 m.setZoom(12); }""")
    assert page.problems == []
