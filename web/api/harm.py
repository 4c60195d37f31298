"""HarmMap's own questions, as JSON (rankings also as CSV):

- ``GET /api/harm/worst``: the worst wards of a period, London-wide or in a borough, with the index, its
  components, decile, hotspot class and trend (``harmmap.reports.worst``, the same rule as the map and
  ``harmmap index show``);
- ``GET /api/harm/wards/{code}``: one ward's full summary and time series (``harmmap.reports.ward_summary``);
- ``GET /api/wards/at``: a point (lon/lat, or easting/northing) to its ward in every vintage and the 2022
  ward's summary; ``POST /api/wards/at``: up to 10,000 points at once;
- ``GET /api/wards/near`` (a radius round a point) and ``POST /api/wards/within`` (a posted polygon): the
  wards touched, with counts shared out by area.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import shapely
from flask import Response, request

from harmmap import db, periods, reports
from harmmap.indicators import BY_SLUG, INDICATORS
from web import disclosure, services
from web.api import bp
from web.api.common import CRS84, CRSS, EPSG27700, Snapshot, TooLarge, arg, check_params, crs_uri, \
    validate, csv_cell, dumps, finish, float_arg, int_arg, json_response, metadata, output_format, snapshot
from web.errors import NoIndex, NotFound, Problem, report_problems

MAX_POINTS = 10_000
MAX_VERTICES = 10_000
MAX_AREA_KM2 = 2_000.0          # London is about 1,572 km²
MAX_RADIUS_M = 10_000.0
#: Where EPSG:27700 is defined (its area of use), in lon/lat degrees and in its own metres.
GB_LONLAT = (-9.0, 49.75, 2.0, 61.0)
GB_METRES = (0.0, 0.0, 700_000.0, 1_300_000.0)
#: Indicators shared out by area: counts and pounds (a survey percentage cannot be split by area).
APPORTIONED = tuple(i.slug for i in INDICATORS if i.kind in ("count", "value"))
APPORTION_NOTE = ("Counts are shared out by area: a ward's count times the share of the ward's area inside the "
                  "query area. That assumes events are spread evenly over the ward; treat the figures as estimates.")


class UnknownWard(NotFound):
    title = "Unknown ward"


class UnsupportedMediaType(Problem):
    status, title = 415, "Unsupported media type"


class NoWardHere(NotFound):
    title = "No ward here"


# --- parameters ----------------------------------------------------------------------------------

def period_of(snap: Snapshot, label: str | None) -> dict:
    """The requested (or default) published period, or a 400 naming what is published."""
    version = snap.require_index()
    label = (label or "").strip()
    if not label:
        row = snap.conn.execute(db.query("map_default_period"), {"version": version}).fetchone()
        if row is None:
            raise NoIndex(reports.NO_INDEX)
        label = row["period"]
    with report_problems():
        return reports.published_period(snap.conn, label[:40])


def point_args() -> tuple[float, float, int, str]:
    """``lon``+``lat`` (WGS84) or ``x``+``y`` (British National Grid easting/northing, metres)."""
    lon, lat, x, y = (float_arg(n) for n in ("lon", "lat", "x", "y"))
    if lon is not None or lat is not None:
        if x is not None or y is not None:
            raise Problem("give lon and lat, or x and y (easting and northing), not both")
        if lon is None or lat is None:
            raise Problem("lon and lat go together: give both")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise Problem(f"lon {lon} / lat {lat} are not WGS84 degrees (easting/northing go in x and y)")
        return lon, lat, 4326, CRS84
    if x is None or y is None:
        raise Problem("give a point: lon and lat (WGS84 degrees), or x and y (EPSG:27700 easting and northing)")
    if not (-1e6 <= x <= 2e6 and -1e6 <= y <= 2e6):
        raise Problem(f"x {x} / y {y} are not British National Grid metres (lon/lat go in lon and lat)")
    return x, y, 27700, EPSG27700


def _ward_place(r: dict) -> dict[str, Any]:
    return {"score": reports.number(r.get("score")), "rank_london": r.get("rank_london"),
            "decile_london": r.get("decile_london"), "hotspot": r.get("hotspot")}


# --- ranking -------------------------------------------------------------------------------------

def _trend(current: float | None, before: float | None) -> dict[str, Any]:
    change = None if current is None or before is None else round(current - before, 3)
    word = None if change is None else ("up" if change > 0 else "down" if change < 0 else "no_change")
    return {"score": before, "change": change, "direction": word}


@bp.get("/harm/worst")
def worst() -> Response:
    """The worst-affected wards: ``rule`` top_n (``n``), top_decile or threshold (``threshold``)."""
    check_params(("f", "period", "borough", "rule", "n", "threshold"))
    fmt = output_format(("json", "csv"))
    rule = arg("rule") or "top_n"
    if rule not in reports.WORST_RULES:
        raise Problem(f"rule must be one of {', '.join(reports.WORST_RULES)}, not {rule[:30]!r}")
    n = int_arg("n", 20, 1, 1000)
    threshold = float_arg("threshold")
    if rule == "threshold" and threshold is None:
        raise Problem("rule=threshold needs threshold, a score from 0 to 100")
    if threshold is not None and not 0 <= threshold <= 100:
        raise Problem(f"threshold must be a score from 0 to 100, not {threshold}")
    with snapshot() as snap:
        period = period_of(snap, arg("period"))
        etag = validate(snap, fmt, synthetic=bool(period["synthetic"]))
        with report_problems():
            result = reports.worst(snap.conn, period["period"], mode=rule, n=n, threshold=threshold,
                                   borough=(arg("borough") or None) and arg("borough")[:60],
                                   contributors=len(INDICATORS), disclosure=disclosure.current())
        p = periods.parse(result.period)
        wards = result.rows["ward_code"].tolist()
        history = snap.conn.execute(db.query("api_score_history"), {
            "version": snap.version, "wards": wards,
            "periods": [p.previous.label, p.year_before.label]}).fetchall()
    before = {(h["ward_code"], h["period"]): reports.number(h["score"]) for h in history}
    rows = []
    for i, r in enumerate(result.rows.to_dict("records"), start=1):
        score = reports.number(r["score"])
        rows.append({
            "position": i, "ward_code": r["ward_code"], "ward_name": r["ward_name"],
            "borough_code": r["borough_code"], "borough_name": r["borough_name"],
            "score": score, "rank_london": reports.whole(r["rank_london"]),
            "decile_london": reports.whole(r["decile_london"]), "rank_borough": reports.whole(r["rank_borough"]),
            "decile_borough": reports.whole(r["decile_borough"]), "hotspot": r["hotspot"],
            "lisa_cluster": r["lisa_cluster"], "synthetic": bool(r["synthetic"]),
            "components": [{"indicator": s, "label": BY_SLUG[s].label if s in BY_SLUG else s, "points": round(pts, 3)}
                           for s, pts in r["top_contributions"]],
            "trend": {"previous_period": {"period": p.previous.label,
                                          **_trend(score, before.get((r["ward_code"], p.previous.label)))},
                      "year_before": {"period": p.year_before.label,
                                      **_trend(score, before.get((r["ward_code"], p.year_before.label)))}},
            "links": [{"href": f"{request.host_url}api/harm/wards/{r['ward_code']}?period={result.period}",
                       "rel": "describedby", "type": "application/json", "title": "The ward in full"}],
        })
    if fmt == "csv":
        return _worst_csv(rows, snap, etag, result.synthetic)
    body = {
        **metadata(result.synthetic), "version": result.version, "period": result.period, "title": p.title,
        "rule": result.rule, "n": n if rule == "top_n" else None, "threshold": threshold,
        "borough": {"code": result.borough_code, "name": result.borough_name} if result.borough_code else None,
        "n_ranked": result.n_ranked, "note": result.note, "weights": result.weights, "dropped": result.dropped,
        "synthetic_indicators": result.synthetic_indicators, "wards": rows,
    }
    return json_response(body, snap, etag, synthetic=result.synthetic)


def _worst_csv(rows: list[dict], snap: Snapshot, etag: str, synthetic: bool) -> Response:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["position", "ward_code", "ward_name", "borough_name", "score", "rank_london", "decile_london",
                "hotspot", "lisa_cluster", "components", "score_change_previous", "score_change_year",
                "synthetic", "protective_marking"])
    marking = services().settings.protective_marking
    for r in rows:
        w.writerow([csv_cell(v) for v in (
            r["position"], r["ward_code"], r["ward_name"], r["borough_name"], r["score"], r["rank_london"],
            r["decile_london"], r["hotspot"], r["lisa_cluster"],
            "; ".join(f"{c['indicator']} {c['points']:.1f}" for c in r["components"]),
            r["trend"]["previous_period"]["change"], r["trend"]["year_before"]["change"],
            "true" if r["synthetic"] else "false", marking)])
    return finish(Response(out.getvalue(), mimetype="text/csv"), snap, etag, synthetic=synthetic)


# --- one ward ------------------------------------------------------------------------------------

@bp.get("/harm/wards/<code>")
def ward(code: str) -> Response:
    """One 2022 ward in one period: ranks, every indicator with uncertainty and trend, its month series."""
    check_params(("period",))
    code = code.strip().upper()
    with snapshot() as snap:
        period = period_of(snap, arg("period"))
        etag = validate(snap, synthetic=bool(period["synthetic"]))
        summary = reports.ward_summary(snap.conn, period, code[:12], snap.version)
    if summary is None:
        raise UnknownWard(f"{code[:12]!r} is not a 2022 London ward code (E05...)")
    body = {**metadata(bool(period["synthetic"])), **disclosure.current().ward_summary(summary)}
    body["synthetic"] = bool(period["synthetic"])
    return json_response(body, snap, etag, synthetic=bool(period["synthetic"]))


# --- point in ward -------------------------------------------------------------------------------

def locate(snap: Snapshot, xs: list[float], ys: list[float], srid: int, period: str | None) -> list[dict]:
    return snap.conn.execute(db.query("api_points"), {"xs": xs, "ys": ys, "srid": srid, "version": snap.version,
                                                     "period": period}).fetchall()


@bp.get("/wards/at")
def ward_at() -> Response:
    """The ward at a point in every vintage, and the 2022 ward's summary for the period."""
    check_params(("lon", "lat", "x", "y", "period"))
    x, y, srid, crs = point_args()
    with snapshot() as snap:
        period = period_of(snap, arg("period")) if snap.version is not None else None
        synthetic = bool(period and period["synthetic"])
        etag = validate(snap, synthetic=synthetic)
        r = locate(snap, [x], [y], srid, period and period["period"])[0]
        if r["ward_code"] is None and r["ward_code_2018"] is None and r["ward_code_2014"] is None:
            raise NoWardHere(f"the point ({x}, {y}) in {crs} is in no London ward")
        summary = reports.ward_summary(snap.conn, period, r["ward_code"], snap.version) \
            if period and r["ward_code"] else None
        summary = summary and disclosure.current().ward_summary(summary)
    body = {
        **metadata(synthetic),
        "point": {"x": x, "y": y, "crs": crs, "easting": r["easting"], "northing": r["northing"]},
        "wards": {
            "2022": _ward_entry(r["ward_code"], r["ward_name"], r.get("borough_code"), r.get("borough_name")),
            "2018": _ward_entry(r["ward_code_2018"], r["ward_name_2018"]),
            "2014": _ward_entry(r["ward_code_2014"], r["ward_name_2014"]),
        },
        "period": period["period"] if period else None,
        "summary": summary,
    }
    return json_response(body, snap, etag, synthetic=synthetic)


def _ward_entry(code: str | None, name: str | None, borough_code: str | None = None,
                borough_name: str | None = None) -> dict[str, Any] | None:
    if code is None:
        return None
    out = {"ward_code": code, "ward_name": name}
    if borough_code:
        out.update(borough_code=borough_code, borough_name=borough_name)
    return out


def _json_body(members: tuple[str, ...]) -> tuple[dict[str, Any], str | None]:
    """The posted JSON object, checked to hold only ``members``, and its ``period`` (a string or None)."""
    check_params(())
    if not request.is_json:
        raise UnsupportedMediaType(f"the request body must be JSON, sent as Content-Type: application/json "
                                   f"(not {request.mimetype or 'none'!r})"[:160])
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        raise Problem("the request body is nested too deeply to be a point list or a polygon") from None
    if not isinstance(body, dict):
        raise Problem("the request body must be a JSON object (Content-Type: application/json)")
    unknown = set(body) - set(members)
    if unknown:
        raise Problem(f"unknown member(s) {', '.join(sorted(map(str, unknown)))[:80]}; the body takes "
                      f"{', '.join(members)}")
    label = body.get("period")
    if label is not None and not isinstance(label, str):
        raise Problem("period must be a string such as FY2025/26")
    return body, label


def _body_crs(body: dict[str, Any]) -> str:
    value = body.get("crs")
    return crs_uri(value if value is None or isinstance(value, str) else "?", "crs")


@bp.post("/wards/at")
def wards_at() -> Response:
    """Batch point in ward: ``{"points": [[x, y], ...], "crs": "EPSG:27700" | "CRS84", "period": "FY2025/26"}``."""
    body, label = _json_body(("points", "crs", "period"))
    crs = _body_crs(body)
    srid, swap, _ = CRSS[crs]
    points = body.get("points")
    if not isinstance(points, list) or not points:
        raise Problem("points must be a non-empty list of [x, y] pairs")
    if len(points) > MAX_POINTS:
        raise TooLarge(f"at most {MAX_POINTS:,} points in one request, not {len(points):,}")
    xs, ys = [], []
    for i, pt in enumerate(points):
        if (not isinstance(pt, list) or len(pt) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pt)):
            raise Problem(f"points[{i}] must be [x, y], two numbers")
        a, b = (float(pt[1]), float(pt[0])) if swap else (float(pt[0]), float(pt[1]))
        if srid == 4326 and not (-180 <= a <= 180 and -90 <= b <= 90):
            raise Problem(f"points[{i}] = {pt} is not lon/lat in degrees: for eastings and northings say "
                          "\"crs\": \"EPSG:27700\"")
        xs.append(a)
        ys.append(b)
    with snapshot() as snap:
        period = period_of(snap, label) if snap.version is not None else None
        rows = locate(snap, xs, ys, srid, period and period["period"])
    synthetic = bool(period and period["synthetic"])
    results = [{
        "index": r["n"] - 1, "ward_code": r["ward_code"], "ward_name": r["ward_name"],
        "borough_code": r["borough_code"], "borough_name": r["borough_name"],
        "ward_code_2018": r["ward_code_2018"], "ward_code_2014": r["ward_code_2014"],
        **_ward_place(r),
    } for r in rows]
    out = {**metadata(synthetic), "crs": crs, "period": period["period"] if period else None,
           "count": len(results), "located": sum(1 for r in results if r["ward_code"] is not None),
           "results": results}
    resp = Response(dumps(out), mimetype="application/json")
    return finish(resp, snap, None, synthetic=synthetic)


# --- radius and polygon --------------------------------------------------------------------------

def _area_response(snap: Snapshot, period: dict, params: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    rows = snap.conn.execute(db.query("api_area"), {**params, "version": snap.version, "period": period["period"],
                                                   "indicators": list(APPORTIONED)}).fetchall()
    area_m2 = rows[0]["area_m2"] if rows else None
    totals = dict.fromkeys(APPORTIONED, 0.0)
    wards = []
    for r in rows:
        share = r["overlap_m2"] / r["ward_m2"] if r["ward_m2"] else 0.0
        figures = r["figures"] or {}
        apportioned = {}
        for slug in APPORTIONED:
            value = reports.number(figures.get(slug))
            apportioned[slug] = None if value is None else round(value * share, 4)
            if value is not None:
                totals[slug] += value * share
        wards.append({
            "ward_code": r["ward_code"], "ward_name": r["ward_name"], "borough_code": r["borough_code"],
            "borough_name": r["borough_name"], "city_of_london": bool(r["city_of_london"]),
            "overlap_m2": round(r["overlap_m2"], 1), "ward_m2": round(r["ward_m2"], 1),
            "share_of_ward": round(share, 6), **_ward_place(r), "counts": figures and
            {k: reports.number(v) for k, v in figures.items()}, "apportioned": apportioned,
        })
    return {**metadata(bool(period["synthetic"])), "period": period["period"], "query": query,
            "area_m2": None if area_m2 is None else round(area_m2, 1), "note": APPORTION_NOTE,
            "wards_touched": len(wards),
            "totals": {k: round(v, 3) for k, v in totals.items()}, "wards": wards}


@bp.get("/wards/near")
def wards_near() -> Response:
    """The 2022 wards within ``radius_m`` metres of a point, with counts shared out by area."""
    check_params(("lon", "lat", "x", "y", "radius_m", "period"))
    x, y, srid, crs = point_args()
    radius = float_arg("radius_m", required=True)
    if not 1 <= radius <= MAX_RADIUS_M:
        raise Problem(f"radius_m must be from 1 to {MAX_RADIUS_M:,.0f} metres, not {radius}")
    with snapshot() as snap:
        period = period_of(snap, arg("period"))
        etag = validate(snap, synthetic=bool(period["synthetic"]))
        body = _area_response(snap, period, {"wkb": None, "srid": srid, "x": x, "y": y, "radius_m": radius},
                              {"point": {"x": x, "y": y, "crs": crs}, "radius_m": radius})
    return json_response(body, snap, etag, synthetic=bool(period["synthetic"]))


def _polygon(body: dict[str, Any]) -> tuple[bytes, int, str]:
    geometry = body.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict):
        raise Problem("geometry must be a GeoJSON Polygon or MultiPolygon object (or a Feature holding one)")
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise Problem(f"geometry must be a Polygon or MultiPolygon, not {str(geometry.get('type'))[:30]!r}")
    crs = _body_crs(body)
    try:
        geom = shapely.from_geojson(json.dumps(geometry))
    except Exception:  # noqa: BLE001 -- GEOS says why in words not worth showing; ours is clearer
        raise Problem("geometry is not a valid GeoJSON polygon (each ring: a closed list of [x, y] positions, "
                      "at least 4)") from None
    n = shapely.get_num_coordinates(geom)
    if n > MAX_VERTICES:
        raise TooLarge(f"the polygon has {n:,} vertices; at most {MAX_VERTICES:,}")
    if geom.is_empty:
        raise Problem("geometry is empty")
    srid, swap, _ = CRSS[crs]
    if swap:
        geom = shapely.transform(geom, lambda c: c[:, ::-1])
    minx, miny, maxx, maxy = geom.bounds
    if srid == 4326 and not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise Problem("the polygon's coordinates are not lon/lat degrees: for eastings and northings say "
                      "\"crs\": \"EPSG:27700\"")
    # Outside the British National Grid's area the transform to EPSG:27700 degenerates (a whole-Earth
    # polygon has an area of 0 there), so the area limit below would not hold: refuse such polygons here.
    grid = GB_LONLAT if srid == 4326 else GB_METRES
    if not (grid[0] <= minx and grid[1] <= miny and maxx <= grid[2] and maxy <= grid[3]):
        raise Problem(f"the polygon reaches outside Great Britain ({grid[0]} to {grid[2]}, {grid[1]} to {grid[3]} "
                      f"in {crs}); HarmMap covers London")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        geom = shapely.union_all([g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")])
        if geom.is_empty:
            raise Problem("the polygon has no area once its self-intersections are repaired")
    return shapely.to_wkb(geom), srid, crs


@bp.post("/wards/within")
def wards_within() -> Response:
    """The 2022 wards a posted polygon overlaps: ``{"geometry": {...}, "crs": "CRS84", "period": "FY2025/26"}``."""
    body, label = _json_body(("geometry", "crs", "period"))
    wkb, srid, crs = _polygon(body)
    with snapshot() as snap:
        period = period_of(snap, label)
        area_km2 = snap.conn.execute("SELECT ST_Area(ST_Transform(ST_SetSRID(ST_GeomFromWKB(%(w)s), %(s)s), 27700)) "
                                     "/ 1e6 AS km2", {"w": wkb, "s": srid}).fetchone()["km2"]
        if not area_km2 <= MAX_AREA_KM2:  # NaN too
            raise TooLarge(f"the polygon covers {area_km2:,.0f} km²; at most {MAX_AREA_KM2:,.0f} km² (London is "
                           "about 1,572 km²)")
        out = _area_response(snap, period, {"wkb": wkb, "srid": srid, "x": None, "y": None, "radius_m": None},
                             {"crs": crs})
    return finish(Response(dumps(out), mimetype="application/json"), snap, None,
                  synthetic=bool(period["synthetic"]))
