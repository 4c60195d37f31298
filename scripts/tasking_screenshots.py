"""Screenshots of the tasking map for docs/screenshots/, from a running app (headless Debian chromium).

    .venv/bin/harmmap users add shots --role viewer --password-stdin      # once, on the demo database
    .venv/bin/harmmap serve --port 5056 &
    HARMMAP_SCREENSHOT_PASSWORD=... .venv/bin/python scripts/tasking_screenshots.py --base http://127.0.0.1:5056 --user shots

Signs in through the sign-in form as ``--user`` (a viewer shows what a tasking officer sees: counts from 1 to 4
as "fewer than 5"), then writes, at 1366x768 unless said:

- tasking-london.png, tasking-borough.png, tasking-ward-panel.png, and tasking-tablet-ward.png (1024x768, touch);
- tasking-need-response.png: the need x response layer for London, the worst list with each ward's response;
- tasking-quadrant-chart.png: the quadrant chart for Lambeth (1366x900);
- tasking-diagnostic-ward.png and tasking-diagnostic-borough.png: "Why did confidence move?" for a Lambeth
  ward and for Lambeth (1366x1400, so the tables show whole).

Each is taken once the view in the URL is drawn and the map has stopped moving; the script fails on a console
error or a request that leaves the app. ``--only NAME`` takes the shots whose file name contains NAME.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
LAMBETH = "E09000022"
VIEW_READY = "document.getElementById('map-container').dataset.view === location.search.slice(1)"
LAPTOP, TABLET = (1366, 768), (1024, 768)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:5056")
    parser.add_argument("--user", default="viewer", help="who signs in (password: HARMMAP_SCREENSHOT_PASSWORD, "
                                                         "else asked for)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs/screenshots")
    parser.add_argument("--only", default="", help="only the shots whose file name contains this")
    args = parser.parse_args()
    base = args.base.rstrip("/")
    password = os.environ.get("HARMMAP_SCREENSHOT_PASSWORD") or getpass.getpass(f"password for {args.user}: ")
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
        signed_in = browser.new_context()
        page = signed_in.new_page()
        page.goto(base + "/login")
        page.fill("#login-name", args.user)
        page.fill("#login-password", password)
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        cookies = signed_in.cookies()
        if not any(c["name"] in ("harmmap_session", "__Host-harmmap") for c in cookies):
            print(f"could not sign in as {args.user}", file=sys.stderr)
            return 2

        def data(path: str) -> dict:
            return json.loads(page.request.get(base + path).text())

        period = data("/map/meta.json")["default_period"]
        ward = data(f"/map/worst.json?period={quote(period)}&borough={LAMBETH}&n=1")["rows"][0]["ward_code"]
        signed_in.close()
        # (file, path, viewport, what to wait for)
        shots = [
            ("tasking-london.png", "/", LAPTOP, None),
            ("tasking-borough.png", f"/?borough={LAMBETH}", LAPTOP, None),
            ("tasking-ward-panel.png", f"/?borough={LAMBETH}&ward={ward}&hotspots=1", LAPTOP, "#hm-panel-score"),
            ("tasking-tablet-ward.png", f"/?borough={LAMBETH}&ward={ward}", TABLET, "#hm-panel-score"),
            ("tasking-need-response.png", "/?layer=need_response&response=1", LAPTOP, None),
            ("tasking-quadrant-chart.png", f"/?borough={LAMBETH}&layer=need_response&chart=1", (1366, 900),
             "#hm-chart[open] #hm-quadrant-svg"),
            ("tasking-diagnostic-ward.png", f"/?borough={LAMBETH}&ward={ward}&why=1", (1366, 1400),
             "#map-container[data-diagnostic]"),
            ("tasking-diagnostic-borough.png", f"/?borough={LAMBETH}&why=1", (1366, 1400),
             "#map-container[data-diagnostic]"),
        ]
        for name, path, (w, h), ready in shots:
            if args.only not in name:
                continue
            context = browser.new_context(viewport={"width": w, "height": h}, has_touch=w < 1100)
            context.add_cookies([{**c, "url": base} if not c.get("domain") else c for c in cookies])
            context.route("**/*", guard)
            page = context.new_page()
            page.on("console", lambda m, name=name: problems.append(f"{name}: console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e, name=name: problems.append(f"{name}: {e}"))
            page.goto(base + path)
            page.wait_for_function(VIEW_READY, timeout=30_000)
            if ready:
                page.wait_for_selector(ready, timeout=15_000)
            page.wait_for_timeout(300)
            page.wait_for_selector(".folium-map:not([data-moving])", timeout=10_000)
            page.wait_for_selector("#hm-status[hidden]", state="attached", timeout=10_000)
            page.mouse.move(1, 1)
            page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no focus ring
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
