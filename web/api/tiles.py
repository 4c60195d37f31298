"""Vector tiles of the 2022 wards with their harm index, for web maps and QGIS.

``GET /api/tiles/{z}/{x}/{y}.mvt?period=FY2025/26`` is a Mapbox Vector Tile (layer ``wards``) made by
PostGIS ``ST_AsMVT`` from the coverage-simplified ward copies (the tolerance that suits the zoom, as the
map page uses), so neighbouring wards share their edges exactly. ``GET /api/tiles.json`` is its TileJSON
3.0 document (QGIS "Vector Tiles" connections and MapLibre read it). The marking and the synthetic label
are in the response headers of every tile and in the TileJSON.
"""

from __future__ import annotations

from flask import Response, request, url_for

from harmmap import db
from harmmap.domain import tolerance_for_zoom
from harmmap.published import Period, Snapshot
from web import answer
from web.api import bp
from web.api.collections import LONDON_BBOX_CRS84
from web.params import check_params
from web.api.harm import period_of
from web.errors import Problem

MVT = "application/vnd.mapbox-vector-tile"
MIN_ZOOM, MAX_ZOOM = 0, 18
FIELDS = {
    "ward_code": "ONS GSS code of the 2022 ward", "ward_name": "ward name", "borough_code": "borough GSS code",
    "borough_name": "borough", "city_of_london": "City of London Police area (no harm score)",
    "population": "Census 2021 usual residents", "period": "period of the harm figures",
    "score": "harm index 0-100", "rank_london": "1 = most harm", "decile_london": "1 = worst 10%",
    "rank_borough": "rank in the borough", "decile_borough": "decile in the borough",
    "hotspot": "Getis-Ord Gi* class", "lisa_cluster": "Local Moran class", "synthetic": "synthetic data went in",
}


def _period(snap: Snapshot) -> tuple[Period | None, bool]:
    """The requested or default period and whether synthetic data is in it; none before any publish."""
    if snap.version is None and not request.args.get("period"):
        return None, False
    period = period_of(snap, request.args.get("period"))
    return period, bool(period.synthetic)


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.mvt")
def tile(z: int, x: int, y: int) -> Response:
    check_params(("period",))
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        raise Problem(f"zoom {z} is outside {MIN_ZOOM}-{MAX_ZOOM}")
    if not (x < 2**z and y < 2**z):
        raise Problem(f"tile {z}/{x}/{y} does not exist: x and y run from 0 to {2**z - 1} at zoom {z}")
    with answer.snapshot() as snap:
        period, synthetic = _period(snap)
        etag = answer.validate(snap, synthetic=synthetic)
        row = snap.conn.execute(db.query("api_tile"), {
            "z": z, "x": x, "y": y, "tolerance": tolerance_for_zoom(z), "version": snap.version,
            "period": period.label if period else None}).fetchone()
    resp = answer.finish(Response(bytes(row["mvt"] or b""), mimetype=MVT), snap, etag, synthetic=synthetic)
    resp.headers["X-Period"] = period.label if period else ""
    return resp


@bp.get("/tiles.json")
def tilejson() -> Response:
    check_params(("period",))
    with answer.snapshot() as snap:
        period, synthetic = _period(snap)
        etag = answer.validate(snap, synthetic=synthetic)
    template = url_for("api.tile", z=0, x=0, y=0, _external=True).replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    if period:
        template += "?period=" + period.label
    meta = answer.metadata(synthetic)
    minx, miny, maxx, maxy = LONDON_BBOX_CRS84
    body = {
        **meta,
        "tilejson": "3.0.0", "name": "HarmMap wards", "scheme": "xyz", "tiles": [template],
        "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM, "bounds": [minx, miny, maxx, maxy],
        "center": [round((minx + maxx) / 2, 4), round((miny + maxy) / 2, 4), 10],
        "description": (f"{meta['marking']}. London's 2022 wards with the harm index for "
                        f"{period.label if period else 'no period (no index published)'}."
                        + (" SYNTHETIC data went into these figures." if synthetic else "")),
        "attribution": f"{meta['marking']} · {meta['attribution']}",
        "vector_layers": [{"id": "wards", "description": "2022 wards", "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM,
                           "fields": FIELDS}],
        "period": period.label if period else None,
    }
    return answer.json(body, snap, etag, synthetic=synthetic)
