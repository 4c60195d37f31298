"""Screenshots of the tasking map for docs/screenshots/, from a running app (headless Debian chromium).

    .venv/bin/harmmap serve --dev --port 5056 &
    .venv/bin/python scripts/tasking_screenshots.py --base http://127.0.0.1:5056

Writes tasking-london.png, tasking-borough.png and tasking-ward-panel.png at 1366x768, and
tasking-tablet-ward.png at 1024x768 (touch). Each is taken once the view in the URL is drawn and the map
has stopped moving; the script fails on a console error or a request that leaves the app.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit
from urllib.request import urlopen

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
LAMBETH = "E09000022"
VIEW_READY = "document.getElementById('map-container').dataset.view === location.search.slice(1)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:5056")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs/screenshots")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    with urlopen(f"{base}/map/meta.json") as r:
        period = json.load(r)["default_period"]
    with urlopen(f"{base}/map/worst.json?period={quote(period)}&borough={LAMBETH}&n=1") as r:
        ward = json.load(r)["rows"][0]["ward_code"]
    shots = [
        ("tasking-london.png", "/", (1366, 768)),
        ("tasking-borough.png", f"/?borough={LAMBETH}", (1366, 768)),
        ("tasking-ward-panel.png", f"/?borough={LAMBETH}&ward={ward}&hotspots=1", (1366, 768)),
        ("tasking-tablet-ward.png", f"/?borough={LAMBETH}&ward={ward}", (1024, 768)),
    ]
    problems: list[str] = []
    host = urlsplit(base).netloc
    args.out.mkdir(parents=True, exist_ok=True)

    def guard(route) -> None:
        if urlsplit(route.request.url).netloc != host:
            problems.append(f"request off the app: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name, path, (w, h) in shots:
            context = browser.new_context(viewport={"width": w, "height": h}, has_touch=w < 1100)
            context.route("**/*", guard)
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"{name}: console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"{name}: {e}"))
            page.goto(base + path)
            page.wait_for_function(VIEW_READY, timeout=30_000)
            if "ward=" in path:
                page.wait_for_selector("#hm-panel-score", timeout=10_000)
            page.wait_for_timeout(300)
            page.wait_for_selector(".folium-map:not([data-moving])", timeout=10_000)
            page.wait_for_selector("#hm-status[hidden]", state="attached", timeout=10_000)
            page.mouse.move(1, 1)
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.out / name))
            print(args.out / name)
            context.close()
        browser.close()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
