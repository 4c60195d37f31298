"""Pages for tasking officers: the London ward map, and the ward geometry it loads.

The map page is folium/Leaflet with every asset served from this app (folium's CDN defaults are
replaced). Ward shapes are not embedded in the page: the browser fetches them from
``/map/wards.geojson``, which PostGIS builds from the stored coverage-simplified copy that fits the zoom
level (see harmmap.domain.tolerance_for_zoom), cached per worker and by ETag.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import MacroElement
from flask import Blueprint, Response, render_template, request, url_for
from jinja2 import Template
from werkzeug.datastructures import MultiDict

from harmmap import db
from harmmap.domain import CURRENT_VINTAGE, SIMPLIFY_TOLERANCES_M, VINTAGES, tolerance_for_zoom
from harmmap.published import HARM_INDEX, WorstRule
from web import answer, disclosure, services, tasking_data
from web.db import connection
from web.errors import NoIndex, NotFound, Problem
from web.params import choice_arg, int_arg

bp = Blueprint("map", __name__)

LONDON_CENTRE = (51.4893, -0.1441)
LONDON_BOUNDS = ((51.2868, -0.5104), (51.6919, 0.3340))


# --- reference data status ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReferenceStatus:
    batch_id: int
    #: SHA-256 of the loaded reference files: with batch_id, identifies the published data.
    fingerprint: str
    loaded_at: str
    vintages: dict[int, dict[str, Any]]


def reference_status() -> ReferenceStatus:
    svc = services()
    with connection() as conn:
        row = conn.execute(db.query("reference_status")).fetchone()
    if not row:
        raise NotFound("No reference geography is loaded yet: run `harmmap geo load` (make demo does it).")
    vintages = {v["vintage"]: v for v in row["vintages"] or []}
    return ReferenceStatus(row["batch_id"], row["file_sha256"], f"{row['finished_utc']:%d %b %Y %H:%M} UTC", vintages)


# --- ward geometry --------------------------------------------------------------------------------

@bp.get("/map/wards.geojson")
def wards_geojson() -> Response:
    """All wards of a vintage, simplified for ``zoom`` (or an explicit ``tolerance`` in metres)."""
    vintage = choice_arg("vintage", CURRENT_VINTAGE, VINTAGES)
    zoom = int_arg("zoom", 10, 0, 22)
    tolerance = choice_arg("tolerance", tolerance_for_zoom(zoom), SIMPLIFY_TOLERANCES_M)
    borough = request.args.get("borough") or None
    if borough is not None and not (len(borough) == 9 and borough.startswith("E09") and borough[3:].isdigit()):
        raise Problem(f"borough must be a borough GSS code like E09000022, not {borough[:20]!r}")
    status = reference_status()
    if vintage not in status.vintages:
        raise NotFound(f"ward vintage {vintage} is not loaded")

    # The key names the published data exactly (batch, file fingerprint, the vintage's metadata),
    # so a reload, a new database or an edited flag never serves a stale body.
    meta = json.dumps(status.vintages[vintage], sort_keys=True, default=str)
    key = ("wards", status.batch_id, status.fingerprint, meta, vintage, tolerance, borough)

    def build() -> tuple[str, bytes]:
        with connection() as conn:
            body = conn.execute(db.query("ward_geojson"),
                                {"vintage": vintage, "tolerance": tolerance, "borough": borough}).fetchone()["body"]
        raw = body.encode()
        return hashlib.sha256(repr(key).encode() + raw).hexdigest()[:32], raw

    etag, raw = answer.cached(key, build)
    # Boundaries are public reference data (ONS, OGL) that change only with a reload: a browser may keep
    # them for five minutes. web/compress.py gzips the body once per ETag and keeps it.
    resp = Response(raw, mimetype="application/geo+json")
    resp.set_etag(etag)
    answer.headers(resp, synthetic=False, cache="private, max-age=300")
    resp.keep_compressed = True  # type: ignore[attr-defined]
    resp.vary.add("Accept-Encoding")
    if request.if_none_match.contains_weak(etag):
        return answer.finish(Response(status=304), None, etag, cache="private, max-age=300")
    return resp


# --- the page -------------------------------------------------------------------------------------

class TaskingPage(MacroElement):
    """Hands the folium map to static/harmmap/tasking.js, which loads the wards, the figures and the table."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        HarmMap.tasking({{ this._parent.get_name() }}, {{ this.options | tojson }});
        {% endmacro %}
    """)

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._name = "TaskingPage"
        self.options = options


#: The page's own scripts, in load order (plain ES2017, no build step).
SCRIPTS = ("util.js", "wardmap.js", "panel.js", "diagnostic.js", "quadrant.js", "tasking.js")
#: folium's map header pins the zoom level (maximum-scale=1, user-scalable=no), which stops people zooming the
#: page on a tablet; base.html already has an ordinary viewport tag.
_FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*/>\s*')


def build_map(options: dict[str, Any]) -> folium.Map:
    settings = services().settings
    (south, west), (north, east) = LONDON_BOUNDS
    m = folium.Map(location=LONDON_CENTRE, zoom_start=10, tiles=None, control_scale=True, prefer_canvas=False,
                   max_bounds=True, min_lat=south - 0.25, max_lat=north + 0.25, min_lon=west - 0.5,
                   max_lon=east + 0.5, zoom_snap=0.25, minZoom=9, maxZoom=17)
    # Replace folium's CDN assets (jsdelivr, cdnjs, bootstrapcdn...) with our vendored Leaflet.
    m.default_js = [("leaflet", url_for("static", filename="vendor/leaflet/leaflet.js"))] + [
        (f"harmmap_{name}", url_for("static", filename=f"harmmap/{name}")) for name in SCRIPTS]
    m.default_css = [("leaflet_css", url_for("static", filename="vendor/leaflet/leaflet.css")),
                     ("harmmap_css", url_for("static", filename="harmmap/harmmap.css"))]
    if settings.basemap_url:
        folium.TileLayer(settings.basemap_url, attr=settings.basemap_attribution or "Basemap", name="Basemap",
                         max_zoom=19).add_to(m)
    # No fit_bounds here: tasking.js fits London (or the borough or ward in the URL) once the page around the
    # map has its final size, and a second, animated fit from folium would only get in its way.
    TaskingPage(**options).add_to(m)
    return m


# --- the first view's figures, in the page ----------------------------------------------------------

def initial_view(meta: dict[str, Any], args: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The arguments of values.json and worst.json for the view the page's URL names, corrected as
    tasking.js corrects it (``HarmMap.viewFromQuery``, static/harmmap/tasking.js): an unknown period,
    layer, borough or rule falls back to the default, an n or threshold outside the rule's limits to its
    default. tests/url_state_cases.json holds the cases both are tested against."""
    by_period = {p["period"]: p for p in meta["periods"]}
    period = args.get("period") or meta["default_period"]
    if period not in by_period:
        period = meta["default_period"]
    have = by_period[period].get("layers") or [layer["id"] for layer in meta["layers"]]
    layer = args.get("layer") or HARM_INDEX
    if layer not in {x["id"] for x in meta["layers"]}:
        layer = HARM_INDEX
    if layer not in have:
        layer = HARM_INDEX if HARM_INDEX in have else (have[0] if have else layer)
    text = (args.get("borough") or "").strip()
    borough = next((b["code"] for b in meta["boroughs"]
                    if text and (b["code"] == text.upper() or b["name"].lower() == text.lower())), "")
    rule = args.get("rule") or "top_n"
    rule = rule if rule in WorstRule.MODES else "top_n"
    n = _number(args.get("n"), WHOLE, WorstRule.DEFAULT_N, *WorstRule.N_RANGE)
    threshold = _number(args.get("threshold"), DECIMAL, WorstRule.DEFAULT_THRESHOLD, *WorstRule.THRESHOLD_RANGE)
    worst = {"period": period, "borough": borough, "rule": rule}
    if rule == "top_n":
        worst["n"] = str(n)
    if rule == "threshold":
        worst["threshold"] = repr(threshold)
    return {"period": period, "layer": layer, "borough": borough}, worst


#: What a URL's n and threshold must look like to be read at all (the same patterns as tasking.js).
WHOLE = re.compile(r"\s*[+-]?\d+\s*")
DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _number(text: str | None, pattern: re.Pattern, default: Any, lo: float, hi: float) -> Any:
    """``text`` as a number if it is written as one and lies in [lo, hi], else ``default``."""
    if not text or not pattern.fullmatch(text):
        return default
    value = int(text) if pattern is WHOLE else float(text)
    return value if lo <= value <= hi else default


def first_view(args: MultiDict) -> dict[str, Any]:
    """What tasking.js would fetch first (meta.json, values.json, worst.json for the URL's view), built by
    the same functions as those endpoints in one snapshot, so the page draws without waiting for them:
    the geometry is then its only request for data. Empty when nothing is published yet (the page then
    asks and shows why). Kept per worker for each publish and view (``answer.cached``)."""
    try:
        with answer.snapshot(need_index=True) as snap:
            key = ("first_view", snap.version, snap.published_at, snap.geo_batch,
                   services().settings.protective_marking, disclosure.current().key,
                   tuple(sorted(args.items(multi=True))))

            def build() -> dict[str, Any]:
                meta = tasking_data.meta_body(snap)
                boot: dict[str, Any] = {"meta": meta}
                values_args, worst_args = initial_view(meta, args)
                for name, body, view_args in (("values", tasking_data.values_body, values_args),
                                              ("worst", tasking_data.worst_body, worst_args)):
                    try:
                        with answer.problems():
                            boot[name] = body(snap, view_args)
                    except Problem:
                        pass  # tasking.js asks again and shows the message
                return answer.plain(boot)

            return answer.cached(key, build)
    except NoIndex:
        return {}


@bp.get("/")
def index() -> str:
    """The tasking map. Everything it shows comes from JSON endpoints (web/tasking_data.py) and the ward
    geometry above; the page itself carries only the frame, so it stays a few kilobytes."""
    status = reference_status()
    vintage = CURRENT_VINTAGE
    info = status.vintages.get(vintage)
    if info is None:
        raise NotFound(f"ward vintage {vintage} is not loaded")
    data = "tasking_data."  # web/tasking_data.py
    options = {
        "wards_url": url_for("map.wards_geojson", vintage=vintage),
        "tolerances": {str(z): tolerance_for_zoom(z) for z in range(0, 23)},
        "meta_url": url_for(data + "meta_json"),
        "values_url": url_for(data + "values_json"),
        "worst_url": url_for(data + "worst_json"),
        "worst_csv_url": url_for(data + "worst_csv"),
        "ward_url": url_for(data + "ward_json", ward_code="__CODE__"),
        "search_url": url_for(data + "search"),
        "diagnostic_url": url_for(data + "diagnostic_json"),
        "brief_borough_url": url_for("brief.borough_pdf", borough="__CODE__"),
        "rules": WorstRule.limits(),
    }
    fig = build_map(options).get_root()
    fig.render()
    # The first view's figures come in the page; the geometry is fetched while the scripts load, not after
    # (the first geometry is the one for the opening zoom, 10).
    boot = first_view(request.args)
    preload = [f"{options['wards_url']}&tolerance={tolerance_for_zoom(10)}"]
    if "meta" not in boot:
        preload.append(options["meta_url"])
    return render_template(
        "map.html",
        preload=preload,
        boot=boot,
        map_header=_FOLIUM_VIEWPORT.sub("", fig.header.render()),
        map_html=fig.html.render(),
        map_script=fig.script.render(),
        vintage=info,
        status=status,
        rules=WorstRule.limits(),
    )
