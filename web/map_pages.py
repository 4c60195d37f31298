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
from jinja2 import Template

from harmmap import db
from harmmap.domain import CURRENT_VINTAGE, SIMPLIFY_TOLERANCES_M, VINTAGES, tolerance_for_zoom
from web import services
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
    with svc.pool.connection() as conn:
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
        with svc.pool.connection() as conn:
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
    }
    fig = build_map(options).get_root()
    fig.render()
    # Fetched while the scripts load, not after (the first geometry is the one for the opening zoom, 10).
    preload = [f"{options['wards_url']}&tolerance={tolerance_for_zoom(10)}", options["meta_url"]]
    return render_template(
        "map.html",
        preload=preload,
        map_header=_FOLIUM_VIEWPORT.sub("", fig.header.render()),
        map_html=fig.html.render(),
        map_script=fig.script.render(),
        vintage=info,
        status=status,
    )
