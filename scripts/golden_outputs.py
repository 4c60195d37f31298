"""Capture what users see from a loaded database, so a refactor can show that nothing moved.

    python scripts/golden_outputs.py --out DIR        # against HARMMAP_DATABASE_URL (make demo's database)
    diff -r BEFORE_DIR AFTER_DIR                       # byte-identical apart from what is stamped per request

It asks the app (in process, through Flask's test client) as each role, signed in with a key made for the
run and revoked after it: the map's data (meta, every layer, worst lists and CSV, ward panels, search),
the map page's embedded first view, the ward shapes, the OGC API (landing, collections, items pages as
JSON, CSV and HTML, single features), the harm endpoints, the TileJSON and a tile, the briefing PDFs (as
their text, from pdftotext) and `harmmap index show` on the command line. Every response is written as
its status, the headers that carry meaning (ETag, Cache-Control, marking, synthetic, content type) and
its body. What is stamped per request is blanked: the OGC ``timeStamp``, the page's CSP nonce and CSRF
token, the request id, and the PDFs' production time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from bench._keys import run_key  # noqa: E402
from harmmap.cli import main as harmmap_cli  # noqa: E402
from harmmap.config import Settings  # noqa: E402

HEADERS = ("Content-Type", "ETag", "Cache-Control", "X-Protective-Marking", "X-Synthetic-Data",
           "Content-Disposition", "Content-Crs", "X-Period", "Last-Modified", "Vary")
ROLES = ("viewer", "sergeant", "analyst", "admin")
WARDS = ("E05014095", "E05013800", "E05000001", "E05011095")   # a Lambeth ward, a Barnet one, City, Hackney
PERIODS = ("", "FY2024/25", "2025-Q3", "2025-06", "R12-2026-02")
LAYERS = ("harm_index", "drug_trafficking", "drug_possession", "crack_house_closures", "pas_drug_problem",
          "asset_seizure_value_gbp", "network_disruptions")

_BLANK = [
    (re.compile(rb'"timeStamp":"[^"]*"'), b'"timeStamp":"-"'),
    (re.compile(rb'nonce="[^"]*"'), b'nonce="-"'),
    (re.compile(rb'name="csrf_token" value="[^"]*"'), b'name="csrf_token" value="-"'),
    (re.compile(rb'<meta name="csrf-token" content="[^"]*"'), b'<meta name="csrf-token" content="-"'),
]


def map_requests() -> list[tuple[str, str]]:
    reqs = [("GET", "/map/meta.json"), ("GET", "/map/search?q=brix"), ("GET", "/map/search?q=E0501"),
            ("GET", "/map/wards.geojson?vintage=2022&zoom=10"), ("GET", "/map/wards.geojson?vintage=2018&zoom=12"),
            ("GET", "/"), ("GET", "/?period=FY2024/25&layer=drug_trafficking&borough=Lambeth&rule=top_decile"),
            ("GET", "/?rule=threshold&threshold=40&n=5"), ("GET", "/?rule=top_n&n=300&period=nonsense")]
    for period in PERIODS:
        p = f"period={period}&" if period else ""
        for layer in LAYERS:
            reqs.append(("GET", f"/map/values.json?{p}layer={layer}"))
        reqs.append(("GET", f"/map/values.json?{p}layer=drug_trafficking&borough=Lambeth"))
        reqs.append(("GET", f"/map/values.json?{p}borough=Westminster"))
        for rule in ("rule=top_n&n=20", "rule=top_decile", "rule=threshold&threshold=50", "rule=top_n&n=5&borough=Lambeth",
                     "rule=top_decile&borough=E09000001"):
            reqs.append(("GET", f"/map/worst.json?{p}{rule}"))
            reqs.append(("GET", f"/map/worst.csv?{p}{rule}"))
        for ward in WARDS:
            reqs.append(("GET", f"/map/ward/{ward}.json?{p}".rstrip("?&")))
    # errors are answers too
    reqs += [("GET", "/map/values.json?layer=nope"), ("GET", "/map/worst.json?rule=threshold"),
             ("GET", "/map/worst.json?n=0"), ("GET", "/map/worst.json?n=5000"), ("GET", "/map/worst.json?threshold=inf"),
             ("GET", "/map/ward/E05999999.json"), ("GET", "/map/values.json?period=FY1999/00"),
             ("GET", "/map/values.json?borough=Narnia")]
    return reqs


def api_requests() -> list[tuple[str, str]]:
    reqs = [("GET", "/api/"), ("GET", "/api/?f=html"), ("GET", "/api/conformance"), ("GET", "/api/collections"),
            ("GET", "/api/openapi"), ("GET", "/api/tiles.json"), ("GET", "/api/tiles.json?period=FY2024/25"),
            ("GET", "/api/tiles/12/2046/1362.mvt"), ("GET", "/api/tiles/10/511/340.mvt?period=2025-Q3")]
    for cid in ("wards", "wards-2018", "boroughs", "harm-index", "indicator-drug_trafficking",
                "indicator-pas_drug_problem"):
        reqs.append(("GET", f"/api/collections/{cid}"))
        reqs.append(("GET", f"/api/collections/{cid}/items?limit=100"))
        reqs.append(("GET", f"/api/collections/{cid}/items?limit=100&offset=600"))
        reqs.append(("GET", f"/api/collections/{cid}/items?limit=20&bbox=-0.15,51.45,-0.10,51.50"))
        reqs.append(("GET", f"/api/collections/{cid}/items?limit=20&f=csv"))
        reqs.append(("GET", f"/api/collections/{cid}/items?limit=5&f=html"))
    reqs += [("GET", "/api/collections/harm-index/items?period=FY2025/26&limit=50&crs=EPSG:27700"),
             ("GET", "/api/collections/harm-index/items?datetime=2025-06-01&limit=30"),
             ("GET", "/api/collections/wards/items/E05014095"),
             ("GET", "/api/collections/harm-index/items/E05014095_FY2025-26"),
             ("GET", "/api/collections/wards/items?limit=10&count=true"),
             ("GET", "/api/collections/nope/items")]
    for period in PERIODS:
        p = f"period={period}&" if period else ""
        for rule in ("rule=top_n&n=20", "rule=top_decile", "rule=threshold&threshold=50", "rule=top_n&n=5&borough=Lambeth"):
            reqs.append(("GET", f"/api/harm/worst?{p}{rule}"))
            reqs.append(("GET", f"/api/harm/worst?{p}{rule}&f=csv"))
        for ward in WARDS[:2]:
            reqs.append(("GET", f"/api/harm/wards/{ward}?{p}".rstrip("?&")))
    reqs += [("GET", "/api/harm/worst?n=1001"), ("GET", "/api/harm/worst?rule=threshold&threshold=101"),
             ("GET", "/api/wards/at?lon=-0.1146&lat=51.4613"), ("GET", "/api/wards/at?x=531000&y=175000&period=2025-Q3"),
             ("GET", "/api/wards/near?lon=-0.1146&lat=51.4613&radius_m=800")]
    return reqs


def brief_requests() -> list[tuple[str, str]]:
    return [("GET", "/brief/ward/E05014095.pdf"), ("GET", "/brief/ward/E05014095.pdf?period=2025-Q3"),
            ("GET", "/brief/borough/Lambeth.pdf?period=FY2024/25"), ("GET", "/brief/ward/E05999999.pdf")]


def _pdf_text(data: bytes) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        text = subprocess.run(["pdftotext", "-layout", f.name, "-"], check=True, capture_output=True).stdout
    # the production time printed on each page
    return re.sub(rb"\d{1,2} \w{3} \d{4},? \d{2}:\d{2}( UTC)?", b"<time>", text)


def record(resp, method: str, path: str) -> bytes:
    head = [f"{method} {path}", f"status {resp.status_code}"]
    for name in HEADERS:
        if name in resp.headers:
            head.append(f"{name}: {resp.headers[name]}")
    body = resp.get_data()
    kind = resp.mimetype or ""
    if kind == "application/pdf":
        body = _pdf_text(body)
    elif kind == "application/vnd.mapbox-vector-tile":
        body = f"sha256 {hashlib.sha256(body).hexdigest()} bytes {len(body)}".encode()
    for pattern, repl in _BLANK:
        body = pattern.sub(repl, body)
    return ("\n".join(head) + "\n\n").encode() + body + b"\n"


def cli_outputs(settings: Settings) -> list[tuple[str, bytes]]:
    env = {"HARMMAP_DATABASE_URL": settings.database_url}
    runs = [["index", "show"], ["index", "show", "--top-decile"], ["index", "show", "--threshold", "50"],
            ["index", "show", "--period", "FY2024/25", "--top", "10", "--borough", "Lambeth"],
            ["index", "show", "--period", "2025-Q3", "--csv"], ["index", "show", "--top", "0"]]
    out = []
    for args in runs:
        result = CliRunner().invoke(harmmap_cli, args, env=env)
        out.append((" ".join(args), f"exit {result.exit_code}\n".encode() + result.output.encode()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    env = dict(os.environ)
    env.setdefault("HARMMAP_ENVIRONMENT", "test")
    env["HARMMAP_RATE_LIMIT"] = ""
    settings = Settings.from_env(env)

    from web import create_app

    app = create_app(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    n = 0
    for role in ROLES:
        with run_key(settings, f"golden-{role}", "golden outputs", role=role) as token:
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
            reqs = map_requests() + (brief_requests() if role != "viewer" else brief_requests()[:1])
            reqs += api_requests() if role in ("analyst", "admin") else api_requests()[:2]
            for method, path in reqs:
                resp = client.open(path, method=method, headers=headers)
                name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")[:90]
                (args.out / f"{role}_{n:04d}_{name}.txt").write_bytes(record(resp, method, path))
                n += 1
    for i, (label, text) in enumerate(cli_outputs(settings)):
        (args.out / f"cli_{i:02d}_{re.sub(r'[^A-Za-z0-9]+', '_', label)}.txt").write_bytes(text)
    print(f"{n} responses and {i + 1} command outputs written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
