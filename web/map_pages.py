"""Pages for tasking officers: the London ward map, and the ward geometry it loads.

The map page is folium/Leaflet with every asset served from this app (folium's CDN defaults are
replaced). Ward shapes are not embedded in the page: the browser fetches them from
``/map/wards.geojson``, which PostGIS builds from the stored coverage-simplified copy that fits the zoom
level (see harmmap.domain.tolerance_for_zoom), cached per worker and by ETag.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import MacroElement
from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from jinja2 import Template

from harmmap import db
from harmmap.domain import CURRENT_VINTAGE, SIMPLIFY_TOLERANCES_M, VINTAGES, tolerance_for_zoom
from web import connection, disclosure, services, tasking_data
from web.errors import NotFound, Problem

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

def _int_arg(name: str, default: int, allowed: tuple[int, ...] | range) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(f"{name} must be a whole number, not {raw!r}") from None
    if value not in allowed:
        raise Problem(f"{name} must be one of {', '.join(map(str, allowed))}" if isinstance(allowed, tuple)
                      else f"{name} must be between {allowed.start} and {allowed.stop - 1}")
    return value


@bp.get("/map/wards.geojson")
def wards_geojson() -> Response:
    """All wards of a vintage, simplified for ``zoom`` (or an explicit ``tolerance`` in metres)."""
    vintage = _int_arg("vintage", CURRENT_VINTAGE, VINTAGES)
    zoom = _int_arg("zoom", 10, range(0, 23))
    tolerance = _int_arg("tolerance", tolerance_for_zoom(zoom), SIMPLIFY_TOLERANCES_M)
    borough = request.args.get("borough") or None
    if borough is not None and not (len(borough) == 9 and borough.startswith("E09") and borough[3:].isdigit()):
        raise Problem(f"borough must be a borough GSS code like E09000022, not {borough[:20]!r}")
    status = reference_status()
    if vintage not in status.vintages:
        raise NotFound(f"ward vintage {vintage} is not loaded")

    # The key names the published data exactly (batch, file fingerprint, the vintage's metadata),
    # so a reload, a new database or an edited flag never serves a stale body.
    svc = services()
    meta = json.dumps(status.vintages[vintage], sort_keys=True, default=str)
    key = ("wards", status.batch_id, status.fingerprint, meta, vintage, tolerance, borough)
    with svc.cache_lock:
        hit = svc.cache.get(key)
    if hit is None:
        with connection() as conn:
            body = conn.execute(db.query("ward_geojson"),
                                {"vintage": vintage, "tolerance": tolerance, "borough": borough}).fetchone()["body"]
        raw = body.encode()
        etag = hashlib.sha256(repr(key).encode() + raw).hexdigest()[:32]
        hit = (etag, raw, gzip.compress(raw, 6))
        with svc.cache_lock:
            if len(svc.cache) > 64:
                svc.cache.clear()
            svc.cache[key] = hit
    etag, raw, packed = hit
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    if gzipped:
        etag += "-gz"  # a different representation needs its own strong validator
    resp = Response(mimetype="application/geo+json")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, max-age=300"  # marked data: no shared caches
    resp.headers["Vary"] = "Accept-Encoding"
    resp.headers["X-Protective-Marking"] = svc.settings.protective_marking
    if request.if_none_match.contains(etag):
        resp.status_code = 304
        return resp
    if gzipped:
        resp.set_data(packed)
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp.set_data(raw)
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
SCRIPTS = ("util.js", "wardmap.js", "panel.js", "tasking.js")
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

RULES = ("top_n", "top_decile", "threshold")


def _number(text: str | None, parse: Any, default: Any, lo: float, hi: float) -> Any:
    try:
        value = parse(text) if text else default
    except ValueError:
        return default
    return value if lo <= value <= hi else default


def initial_view(meta: dict[str, Any], args: MultiDict) -> tuple[dict[str, str], dict[str, str]]:
    """The arguments of values.json and worst.json for the view the page's URL names, corrected as
    tasking.js corrects it (static/harmmap/tasking.js ``readURL``): an unknown period, layer, borough or
    rule falls back to the default. Should the two ever disagree, the page only fetches what it needs."""
    by_period = {p["period"]: p for p in meta["periods"]}
    period = args.get("period") or meta["default_period"]
    if period not in by_period:
        period = meta["default_period"]
    have = by_period[period].get("layers") or [layer["id"] for layer in meta["layers"]]
    layer = args.get("layer") or tasking_data.HARM_INDEX
    if layer not in have:
        layer = tasking_data.HARM_INDEX if tasking_data.HARM_INDEX in have else (have[0] if have else layer)
    text = (args.get("borough") or "").strip()
    borough = next((b["code"] for b in meta["boroughs"]
                    if text and (b["code"] == text.upper() or b["name"].lower() == text.lower())), "")
    rule = args.get("rule") or "top_n"
    rule = rule if rule in RULES else "top_n"
    n = _number(args.get("n"), int, 20, 1, 200)
    threshold = _number(args.get("threshold"), float, 50.0, 0, 100)
    worst = {"period": period, "borough": borough, "rule": rule}
    if rule == "top_n":
        worst["n"] = str(n)
    if rule == "threshold":
        worst["threshold"] = repr(threshold)
    return {"period": period, "layer": layer, "borough": borough}, worst


def first_view(args: MultiDict) -> dict[str, Any]:
    """What tasking.js would fetch first (meta.json, values.json, worst.json for the URL's view), read in
    one snapshot, so the page draws without waiting for them: the geometry is then its only request for
    data. Empty when nothing is published yet (the page then asks and shows why). Kept per worker for
    each publish and view, like the ward shapes, so only the first visitor to a view waits for it."""
    svc = services()
    try:
        with tasking_data.snapshot() as (conn, pub):
            key = ("first_view", pub.version, pub.published_at, pub.geo_batch, svc.settings.protective_marking,
                   disclosure.current().key, tuple(sorted(args.items(multi=True))))
            with svc.cache_lock:
                hit = svc.cache.get(key)
            if hit is not None:
                return hit
            meta = tasking_data.meta_body(conn, pub)
            boot: dict[str, Any] = {"meta": meta}
            if meta["default_period"] is not None:
                values_args, worst_args = initial_view(meta, args)
                for name, body, view_args in (("values", tasking_data.values_body, values_args),
                                              ("worst", tasking_data.worst_body, worst_args)):
                    try:
                        boot[name] = body(conn, pub, view_args)
                    except Problem:
                        pass  # tasking.js asks again and shows the message
    except tasking_data.NoIndex:
        return {}
    boot = tasking_data.plain(boot)
    with svc.cache_lock:
        if len(svc.cache) > 64:
            svc.cache.clear()
        svc.cache[key] = boot
    return boot


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
        "brief_borough_url": url_for("brief.borough_pdf", borough="__CODE__"),
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
    )
