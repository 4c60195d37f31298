"""Tasking map load: HarmMap's page at ``/`` against the naive folium map, in headless Chromium.

Both are served in the same run by the same threaded werkzeug server on a loopback port: the HarmMap app
(``web.create_app``) with one extra path, ``/bench/naive.html``, answered by a thin WSGI wrapper around it
(the app itself is not changed). The naive map is what a first folium attempt looks like: the 684 populated
2022 wards at full resolution (``geo.ward`` transformed to EPSG:4326 in PostGIS, no simplification) as one
GeoJson layer embedded in one HTML file, filled by the published harm index of the default period in the
same colour classes, with tooltips; folium's defaults, except that its CDN assets are replaced by the
Leaflet the app serves (as web/map_pages.py does; folium's jQuery, Bootstrap and Font Awesome are not
vendored and the map needs none of them) and no basemap tiles (HarmMap has none on a closed network).

Each run is a fresh Chromium profile (a new ``--user-data-dir``, so nothing is cached) with the test suite's
flags, the two pages alternating, after one discarded warm-up of each (it fills the server's response
caches, as any earlier visitor would). Measured per run:

* bytes: the sum of CDP ``Network.loadingFinished.encodedDataLength`` over every request the page made until
  the network was idle (bytes on the wire: compressed bodies plus response headers, as Chromium counts them);
* time to map: ``performance.now()`` (milliseconds since navigation start) in the first animation frame in
  which the London map is drawn and interactive, checked every frame by a script injected before the page's
  own. HarmMap: the view is drawn (``data-view`` equals the URL state), all 704 ward paths are loaded, every
  scored ward's path is interactive and filled with a class colour, and the worst-wards table has rows. Naive:
  its 684 interactive GeoJSON paths are in the DOM (folium draws them in its one inline script).

Any request to a host other than 127.0.0.1 is aborted and counted.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from bench._keys import run_key
from harmmap import db
from harmmap.config import Settings

CHROMIUM = "/usr/bin/chromium"
#: The test suite's Chromium flags (tests/conftest.py BROWSER_ARGS); the profile directory is added per run.
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic"]
VIEWPORT = {"width": 1366, "height": 768}
NAIVE_PATH = "/bench/naive.html"
#: Two floors, served by the same server: what any page, and any Leaflet map, costs in this browser.
BLANK_PATH, EMPTY_MAP_PATH = "/bench/blank.html", "/bench/empty-map.html"
BLANK_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>blank</title></head>
<body><p>blank</p><script>window.__pageScriptRan = true;</script></body></html>"""
EMPTY_MAP_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>empty map</title>
<link rel="stylesheet" href="%(css)s"><script src="%(js)s"></script>
<style>html, body, #map { height: 100%%; margin: 0; }</style></head>
<body><div id="map"></div><script>
L.map("map").fitBounds([[51.2868, -0.5104], [51.6919, 0.3340]]); window.__pageScriptRan = true;
</script></body></html>"""
FLOOR_READY = "() => window.__pageScriptRan === true"
WARDS = 704
GOAL_BYTES, GOAL_TIME = 5.0, 3.0
NO_SCORE_FILL = "#cccccc"

NAIVE_SQL = """
SELECT w.ward_code, w.ward_name, w.borough_name, w.city_of_london, i.score, i.decile_london, i.rank_london,
       ST_AsGeoJSON(ST_Transform(w.geom, 4326))::json AS geometry
FROM geo.ward w
LEFT JOIN harm.current_ward_index i ON i.period = %(period)s AND i.ward_code = w.ward_code
WHERE w.vintage = 2022 AND w.population > 0
ORDER BY w.ward_code
"""

#: Checked in every animation frame from before the page's own scripts run; ``{fills}``/``{wards}`` filled in.
HARMMAP_READY = """() => {
  const host = document.getElementById('map-container');
  if (!host || host.dataset.view === undefined || host.dataset.view !== location.search.slice(1)) return false;
  if (!document.querySelector("[data-wards-loaded='%(wards)d']")) return false;
  if (document.querySelectorAll('#worst-rows tr[data-ward]').length === 0) return false;
  const fills = new Set(%(fills)s);
  let filled = 0;
  for (const p of document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive')) {
    if (fills.has((p.getAttribute('fill') || '').toLowerCase())) filled++;
  }
  return filled >= %(scored)d;
}"""
NAIVE_READY = """() => document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length >= %(wards)d"""
PROBE = """(() => {
  const ready = %s;
  function tick() {
    let ok = false;
    try { ok = ready(); } catch (e) { ok = false; }
    if (ok) { window.__mapReadyAt = performance.now(); return; }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})();"""


# --- the naive peer ---------------------------------------------------------------------------------

def naive_html(settings: Settings, leaflet_js: str, leaflet_css: str) -> tuple[str, int, str]:
    """The naive folium map as one HTML string, the number of wards in it, and the period it shows."""
    import folium

    from web.tasking_data import DECILE_GROUPS, YLORRD

    colour_of = {d: YLORRD[k] for k, (_, deciles) in enumerate(DECILE_GROUPS) for d in deciles}
    with db.connect(settings.database_url) as conn:
        version = conn.execute("SELECT version FROM harm.current").fetchone()
        if version is None:
            raise LookupError("no harm index is published: run `harmmap index publish` (make demo does it)")
        period = conn.execute(db.query("map_default_period"), {"version": version["version"]}).fetchone()["period"]
        rows = conn.execute(NAIVE_SQL, {"period": period}).fetchall()
    features = [{"type": "Feature", "id": r["ward_code"], "geometry": r["geometry"],
                 "properties": {"ward_code": r["ward_code"], "ward_name": r["ward_name"],
                                "borough_name": r["borough_name"],
                                "score": None if r["score"] is None else round(r["score"], 1),
                                "rank_london": r["rank_london"], "decile": r["decile_london"]}}
                for r in rows]
    (south, west), (north, east) = (51.2868, -0.5104), (51.6919, 0.3340)
    m = folium.Map(location=(51.4893, -0.1441), zoom_start=10, tiles=None)
    m.default_js = [("leaflet", leaflet_js)]
    m.default_css = [("leaflet_css", leaflet_css)]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Harm index " + period,
        style_function=lambda f: {"fillColor": colour_of.get(f["properties"]["decile"], NO_SCORE_FILL),
                                  "fillOpacity": 0.85, "color": "#5a5a5a", "weight": 0.5},
        tooltip=folium.GeoJsonTooltip(fields=["ward_name", "borough_name", "score", "rank_london"],
                                      aliases=["Ward", "Borough", "Harm index", "Rank in London"]),
    ).add_to(m)
    m.fit_bounds([(south, west), (north, east)])
    return m.get_root().render(), len(features), period


# --- the server ---------------------------------------------------------------------------------------

class _WithNaive:
    """The HarmMap WSGI app, plus the paths of the naive map's HTML and the two floors."""

    def __init__(self, app, pages: dict[str, bytes]) -> None:
        self.app, self.pages = app, pages

    def __call__(self, environ, start_response):
        body = self.pages.get(environ.get("PATH_INFO", ""))
        if body is not None:
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- one page load ------------------------------------------------------------------------------------

def measure(pw, url: str, ready_js: str, token: str) -> dict:
    """Load ``url`` once in a fresh profile; bytes, requests, time to map and what took it."""
    foreign: list[str] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="map-load-profile-") as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=BROWSER_ARGS,
                                                    headless=True, viewport=VIEWPORT)
        try:
            def off_app(u: str) -> bool:
                parts = urlsplit(u)
                return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1"

            def block(route) -> None:
                foreign.append(route.request.url)
                route.abort()

            ctx.route(off_app, block)
            # signed in as a tasking officer would be (a viewer's key; every page gets the same header)
            ctx.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            ctx.add_init_script(PROBE % ready_js)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            cdp = ctx.new_cdp_session(page)
            urls: dict[str, str] = {}
            done: dict[str, int] = {}
            failed: list[str] = []
            encoded: dict[str, bool] = {}
            cdp.on("Network.responseReceived", lambda e: encoded.__setitem__(e["requestId"], any(
                k.lower() == "content-encoding" for k in e["response"].get("headers", {}))))
            cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
            cdp.on("Network.loadingFinished", lambda e: done.__setitem__(e["requestId"], e["encodedDataLength"]))
            cdp.on("Network.loadingFailed", lambda e: failed.append(e["requestId"]))
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            page.goto(url, wait_until="commit")
            page.wait_for_function("() => window.__mapReadyAt !== undefined", timeout=120_000, polling=100)
            page.wait_for_load_state("networkidle", timeout=60_000)
            page.wait_for_timeout(300)  # let the last CDP events arrive
            timing = page.evaluate("""() => {
              const nav = performance.getEntriesByType('navigation')[0];
              return {ready: window.__mapReadyAt, html_end: nav.responseEnd, dcl: nav.domContentLoadedEventEnd,
                      load: nav.loadEventEnd,
                      resources: performance.getEntriesByType('resource').map(r => ({
                        url: r.name, start: r.startTime, end: r.responseEnd}))};
            }""")
        finally:
            ctx.close()
    by_url = [(urls.get(rid, "?"), n) for rid, n in done.items()]
    plain = sum(n for rid, n in done.items() if not encoded.get(rid, False))
    return {"bytes": sum(done.values()), "requests": len(urls), "finished": len(done),
            "failed": [urls.get(r, "?") for r in failed], "foreign": foreign, "errors": errors,
            "ready_ms": timing["ready"], "html_end_ms": timing["html_end"], "dcl_ms": timing["dcl"],
            "load_ms": timing["load"], "resources": timing["resources"], "by_url": by_url, "uncompressed_bytes": plain}


def _kind(url: str) -> str:
    path = urlsplit(url).path
    if path in ("/", NAIVE_PATH, BLANK_PATH, EMPTY_MAP_PATH):
        return "HTML"
    if path.startswith("/static/vendor/"):
        return "Leaflet (JS + CSS)"
    if path.startswith("/static/"):
        return "HarmMap JS + CSS + icon"
    if path == "/map/wards.geojson":
        return "ward geometry (wards.geojson)"
    if path.startswith("/map/"):
        return "figures (meta, values, worst .json)"
    return "other " + path


# --- the benchmark ----------------------------------------------------------------------------------

FLOOR_BLANK, FLOOR_MAP = "floor: blank page", "floor: empty Leaflet map"


def run(settings: Settings, points: int) -> str:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from web import create_app
    from web.tasking_data import YLORRD

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log in the bench output

    if not Path(CHROMIUM).exists():
        raise LookupError(f"{CHROMIUM} is missing: install the Debian package chromium")
    runs = 5 if points >= 1_000_000 else 2
    load_start = os.getloadavg()
    with db.connect(settings.database_url) as conn:
        row = conn.execute("SELECT version FROM harm.current").fetchone()
        if row is None:
            raise LookupError("no harm index is published: run `harmmap index publish` (make demo does it)")
        period = conn.execute(db.query("map_default_period"), {"version": row["version"]}).fetchone()["period"]
        scored = conn.execute("SELECT count(*) AS n FROM harm.current_ward_index WHERE period = %(p)s "
                              "AND score IS NOT NULL", {"p": period}).fetchone()["n"]

    app = create_app(dataclasses.replace(settings, rate_limit=""))  # the limiter is not what is measured
    with app.test_request_context():
        from flask import url_for
        leaflet_js = url_for("static", filename="vendor/leaflet/leaflet.js")
        leaflet_css = url_for("static", filename="vendor/leaflet/leaflet.css")
    t = time.perf_counter()
    html, naive_wards, naive_period = naive_html(settings, leaflet_js, leaflet_css)
    build_s = time.perf_counter() - t
    naive_body = html.encode()
    port = _free_port()
    extra = {NAIVE_PATH: naive_body, BLANK_PATH: BLANK_HTML.encode(),
             EMPTY_MAP_PATH: (EMPTY_MAP_HTML % {"css": leaflet_css, "js": leaflet_js}).encode()}
    server = make_server("127.0.0.1", port, _WithNaive(app, extra), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    pages = {"HarmMap": (base + "/", HARMMAP_READY % {"wards": WARDS, "scored": scored,
                                                       "fills": json.dumps([c.lower() for c in YLORRD])}),
             "naive folium": (base + NAIVE_PATH, NAIVE_READY % {"wards": naive_wards}),
             FLOOR_BLANK: (base + BLANK_PATH, FLOOR_READY),
             FLOOR_MAP: (base + EMPTY_MAP_PATH, FLOOR_READY)}
    results: dict[str, list[dict]] = {name: [] for name in pages}
    warm: dict[str, dict] = {}
    try:
        with sync_playwright() as pw, run_key(settings, "bench-map", "bench/map_load.py run", "viewer") as token:
            for name, (url, ready) in pages.items():
                warm[name] = measure(pw, url, ready, token)
            for i in range(runs):
                order = list(pages) if i % 2 == 0 else list(pages)[::-1]
                for name in order:
                    results[name].append(measure(pw, *pages[name], token))
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["harmmap"].pool.close()
    load_end = os.getloadavg()

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    hm, nv = "HarmMap", "naive folium"
    html_size = {}
    for name in pages:
        sizes = [n for r in results[name] for u, n in r["by_url"] if _kind(u) == "HTML"]
        html_size[name] = statistics.median(sizes) if sizes else float("nan")
    bytes_ratio = med(nv, "bytes") / med(hm, "bytes")
    time_ratio = med(nv, "ready_ms") / med(hm, "ready_ms")
    foreign = {name: sum(len(r["foreign"]) for r in results[name] + [warm[name]]) for name in pages}
    errors = {name: sorted({e for r in results[name] + [warm[name]] for e in r["errors"]}) for name in pages}
    naive_gz = len(gzip.compress(naive_body, 6))

    def fmt_ms(v: float) -> str:
        return f"{v:,.0f}"

    lines = ["### Tasking map load: HarmMap against the naive folium map, headless Chromium", "",
             f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
             f"Chromium (Debian) headless; load average (1 min) {load_start[0]:.1f} at the start and "
             f"{load_end[0]:.1f} at the end of this run on {date.today():%Y-%m-%d}. Shared and noisy: compare "
             "the ratios, not the milliseconds.", "",
             "**Method.** Both pages are served in the same run by one threaded werkzeug server on a loopback "
             "port: the HarmMap app (`web.create_app`, the demo database) and, on one extra path, the naive map "
             f"built in this run ({build_s:.1f} s): folium {_folium_version()}, one `GeoJson` layer of the "
             f"{naive_wards} populated 2022 wards at full resolution (`geo.ward` to EPSG:4326 in PostGIS, no "
             f"simplification) embedded in one HTML file, filled by the published harm index for {naive_period} "
             "in the same YlOrRd classes, with tooltips; folium's defaults except its CDN assets, replaced by the "
             "app's vendored Leaflet (folium's jQuery/Bootstrap/Font Awesome are not vendored and unused), and no "
             "basemap (HarmMap has none on a closed network). The naive file is served as it is (uncompressed); "
             "HarmMap's responses are whatever the app sends (gzip since web/compress.py). "
             f"Each measurement is a fresh Chromium profile (new `--user-data-dir`, cache disabled, the test "
             f"suite's flags, viewport {VIEWPORT['width']}x{VIEWPORT['height']}); {runs} runs of each, "
             "alternating, after one discarded warm-up of each (it fills the server's response caches). "
             "**Bytes** = sum of CDP `Network.loadingFinished.encodedDataLength` (bytes on the wire: compressed "
             "bodies plus response headers) over every request until the network is idle. **Time to map** = "
             "`performance.now()` (from navigation start) in the first animation frame in which the London map "
             f"is drawn and interactive. HarmMap: the view matches the URL state, all {WARDS} ward paths are "
             f"loaded, the {scored} scored wards are interactive paths filled with a class colour, and the "
             f"worst-wards table has rows; naive: its {naive_wards} interactive paths are in the DOM. Requests to "
             "any host but 127.0.0.1 are aborted and counted. Every request carries a viewer's API key made for the run "
             "(the app checks it and writes an audit row per request, as for a signed-in tasking officer; rate "
             "limiting off for the run).", "",
             "| page | bytes transferred (median) | requests | HTML | DOMContentLoaded ms | time to map ms "
             "(median) | time to map, every run ms |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name in pages:
        lines.append(f"| {name} | {med(name, 'bytes'):,.0f} | {med(name, 'requests'):.0f} | "
                     f"{html_size[name]:,.0f} | {fmt_ms(med(name, 'dcl_ms'))} | **{fmt_ms(med(name, 'ready_ms'))}** | "
                     f"{', '.join(fmt_ms(r['ready_ms']) for r in results[name])} |")
    lines.append(f"| **naive / HarmMap** | **{bytes_ratio:.1f}x** | | {html_size[nv] / html_size[hm]:.0f}x | | "
                 f"**{time_ratio:.1f}x** | |")
    met_b, met_t = bytes_ratio >= GOAL_BYTES, time_ratio >= GOAL_TIME
    lines += ["", f"**Goals** (issue 6): at least {GOAL_BYTES:.0f}x fewer bytes: **{'met' if met_b else 'not met'}** "
              f"({bytes_ratio:.1f}x); at least {GOAL_TIME:.0f}x sooner: **{'met' if met_t else 'not met'}** "
              f"({time_ratio:.1f}x). Cold server caches (the warm-up runs): HarmMap {warm[hm]['bytes']:,} bytes, "
              f"{fmt_ms(warm[hm]['ready_ms'])} ms; naive {warm[nv]['bytes']:,} bytes, {fmt_ms(warm[nv]['ready_ms'])} ms.",
              "",
              f"Off-app requests blocked: HarmMap {foreign[hm]}, naive {foreign[nv]} (every run, warm-ups included). "
              f"Console errors: HarmMap {len(errors[hm])}, naive {len(errors[nv])}"
              + (f" ({'; '.join((errors[hm] + errors[nv])[:3])[:300]})" if errors[hm] or errors[nv] else "") + ".",
              "",
              f"**The floors.** In the same runs, a blank page (one paragraph and one inline script) reached its "
              f"first animation frame after {fmt_ms(med(FLOOR_BLANK, 'ready_ms'))} ms and an empty Leaflet map of "
              f"London (the app's Leaflet, no data) after {fmt_ms(med(FLOOR_MAP, 'ready_ms'))} ms. {GOAL_TIME:.0f}x "
              f"sooner than the naive map means {fmt_ms(med(nv, 'ready_ms') / GOAL_TIME)} ms: "
              + ("below what a blank page takes in this browser, so no page can meet that goal measured this way "
                 "here; " if med(FLOOR_BLANK, 'ready_ms') > med(nv, 'ready_ms') / GOAL_TIME else
                 "below what an empty Leaflet map takes, so no Leaflet page (the stack is folium/Leaflet) can meet "
                 "it measured this way here; " if med(FLOOR_MAP, 'ready_ms') > med(nv, 'ready_ms') / GOAL_TIME else
                 "above the empty Leaflet map; ")
              + f"HarmMap's time above the empty map is {fmt_ms(med(hm, 'ready_ms') - med(FLOOR_MAP, 'ready_ms'))} "
              f"ms, the naive map's {fmt_ms(med(nv, 'ready_ms') - med(FLOOR_MAP, 'ready_ms'))} ms.",
              "",
              f"If the naive HTML were gzipped by the server (level 6) it would be {naive_gz:,} bytes instead of "
              f"{len(naive_body):,}: with that, the bytes ratio would be about "
              f"{(med(nv, 'bytes') - len(naive_body) + naive_gz) / med(hm, 'bytes'):.1f}x.", ""]
    lines += _what_dominates(results[hm])
    return "\n".join(lines)


def _folium_version() -> str:
    import folium
    return folium.__version__


def _what_dominates(runs: list[dict]) -> list[str]:
    """HarmMap's bytes by kind, and the request timeline of the median run."""
    kinds: dict[str, list[int]] = {}
    for r in runs:
        per: dict[str, int] = {}
        for u, n in r["by_url"]:
            per[_kind(u)] = per.get(_kind(u), 0) + n
        for k, n in per.items():
            kinds.setdefault(k, []).append(n)
    total = sum(statistics.median(v) for v in kinds.values())
    parts = sorted(((statistics.median(v), k) for k, v in kinds.items()), reverse=True)
    byte_text = "; ".join(f"{k} {n:,.0f} ({n / total:.0%})" for n, k in parts)
    median_run = sorted(runs, key=lambda r: r["ready_ms"])[len(runs) // 2]
    steps: dict[str, tuple[float, float]] = {}
    for res in median_run["resources"]:
        parts = urlsplit(res["url"])
        k = "Leaflet" if parts.path.startswith("/static/vendor/") else (
            "own JS/CSS" if parts.path.startswith("/static/") else parts.path.rsplit("/", 1)[-1])
        a, b = steps.get(k, (res["start"], res["end"]))
        steps[k] = (min(a, res["start"]), max(b, res["end"]))
    timeline = "; ".join(f"{k} {a:,.0f}–{b:,.0f}" for k, (a, b) in sorted(steps.items(), key=lambda kv: kv[1][0]))
    plain = statistics.median(r["uncompressed_bytes"] for r in runs)
    plain_text = f" {plain:,.0f} of them ({plain / total:.0%}) come without Content-Encoding."
    chain = ""
    if {"wards.geojson", "meta.json", "values.json", "worst.json"} <= steps.keys():
        first = max(steps["wards.geojson"][1], steps["meta.json"][1])
        second = min(steps["values.json"][0], steps["worst.json"][0])
        last = max(steps["values.json"][1], steps["worst.json"][1])
        chain = (f" The page loads in a chain: HTML, then its scripts, then ward geometry and meta.json together, "
                 f"then (after {second - first:,.0f} ms of script work building the 704 ward paths and the "
                 f"controls) values.json and worst.json, which take {last - second:,.0f} ms to arrive, then "
                 f"{median_run['ready_ms'] - last:,.0f} ms to colour the wards and fill the table. The naive map "
                 "needs one HTML file and Leaflet, and draws in the one inline script.")
    elif "wards.geojson" in steps:
        last = max(r["end"] for r in median_run["resources"] if r["end"] <= median_run["ready_ms"])
        chain = (f" The first view's figures (meta, values, worst) come inside the HTML, so the ward geometry is "
                 f"the page's only request for data; it loads beside the scripts. From the last response "
                 f"({last:,.0f} ms) to the map drawn and interactive, {median_run['ready_ms'] - last:,.0f} ms are "
                 "the browser's work: running the scripts, building the 704 ward paths, the controls, legend and "
                 "table, and the first fit.")
    return [f"**What dominates HarmMap.** Bytes (medians): {byte_text};{plain_text} Timeline of the median run (ms from "
            f"navigation start, first request started to last response ended): HTML 0–"
            f"{median_run['html_end_ms']:,.0f}; {timeline}; DOMContentLoaded {median_run['dcl_ms']:,.0f}; map drawn "
            f"and interactive {median_run['ready_ms']:,.0f}.{chain}"]
