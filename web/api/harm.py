"""HarmMap's own questions, as JSON (rankings also as CSV):

- ``GET /api/harm/worst``: the worst wards of a period, London-wide or in a borough, with the index, its
  components, decile, hotspot class and trend (``harmmap.published``, the same rule as the map and
  ``harmmap index show``), ranked by need, with each ward's police response beside it (never in its rank);
- ``GET /api/harm/diagnostic``: why did confidence move here? (web/api/diagnostic.py);
- ``GET /api/harm/wards/{code}``: one ward's full summary and time series (``harmmap.published``);
- ``GET /api/wards/at``: a point (lon/lat, or easting/northing) to its ward in every vintage and the 2022
  ward's summary; ``POST /api/wards/at``: up to 10,000 points at once;
- ``GET /api/wards/near`` (a radius round a point) and ``POST /api/wards/within`` (a posted polygon): the
  wards touched, with counts shared out by area.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from flask import Response, request

from harmmap import db, published
from harmmap.indicators import BY_SLUG, FAMILIES, INDICATORS
from harmmap.published import Snapshot, WorstRule, number
from web import answer, disclosure, services
from web.api import bp
from web.api.common import CRS84, CRSS, EPSG27700, TooLarge, crs_uri
from web.params import arg, check_params, float_arg, int_arg
from web.errors import NotFound, Problem

MAX_POINTS = 10_000
MAX_VERTICES = 10_000
MAX_AREA_KM2 = 2_000.0          # London is about 1,572 km²
MAX_RADIUS_M = 10_000.0
#: Where EPSG:27700 is defined (its area of use), in lon/lat degrees and in its own metres.
GB_LONLAT = (-9.0, 49.75, 2.0, 61.0)
GB_METRES = (0.0, 0.0, 700_000.0, 1_300_000.0)
#: Indicators shared out by area: counts and pounds (a survey percentage cannot be split by area).
APPORTIONED = tuple(i.slug for i in INDICATORS if i.kind in ("count", "value"))
#: How the worst list is ordered, and what the response beside each ward is.
ORDER_NOTE = ("Ranked by the harm index (need, unless response_note says police activity is weighted in). Each "
              "ward's response is police activity per 100 recorded trafficking offences, beside it and not in its "
              "rank: a diagnostic, not a target.")
APPORTION_NOTE = ("Counts are shared out by area: a ward's count times the share of the ward's area inside the "
                  "query area. That assumes events are spread evenly over the ward; treat the figures as estimates.")


class UnknownWard(NotFound):
    title = "Unknown ward"


class UnsupportedMediaType(Problem):
    status, title = 415, "Unsupported media type"


class NoWardHere(NotFound):
    title = "No ward here"


# --- parameters ----------------------------------------------------------------------------------

def period_of(snap: Snapshot, label: str | None) -> published.Period:
    """The requested (or default) published period, or a 400 naming what is published (503: none is)."""
    return snap.period(label)


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
    return {"score": number(r.get("score")), "rank_london": r.get("rank_london"),
            "decile_london": r.get("decile_london"), "hotspot": r.get("hotspot")}


# --- ranking -------------------------------------------------------------------------------------

def response_entry(figure: published.ResponseFigure | None, text: str) -> dict[str, Any] | None:
    """Police activity against need as the API gives it beside a ward (None: not computed for the period).
    The read model has hidden what the reader may not see (``hidden``: the counts, with the rate and its
    interval that would give them back); ``suppressed`` then says so in the reader's words."""
    if figure is None:
        return None
    return {"per_100": figure.per_100, "interval": [figure.per_100_lo, figure.per_100_hi],
            "activity": figure.activity, "trafficking": figure.trafficking, "vs_london": figure.vs_london,
            "quadrant": figure.quadrant, "hidden": list(figure.hidden), "suppressed": text if figure.hidden else None}


def weight_families(weights: dict[str, float]) -> list[str]:
    """The families a set of index weights draws on, in the strategy's order (need only, by default)."""
    drawn = {BY_SLUG[k].family for k, w in weights.items() if w > 0 and k in BY_SLUG}
    return [f for f in FAMILIES if f in drawn]


def _trend(current: float | None, before: float | None) -> dict[str, Any]:
    change = None if current is None or before is None else round(current - before, 3)
    word = None if change is None else ("up" if change > 0 else "down" if change < 0 else "no_change")
    return {"score": before, "change": change, "direction": word}


@bp.get("/harm/worst")
def worst() -> Response:
    """The worst-affected wards: ``rule`` top_n (``n``), top_decile or threshold (``threshold``)."""
    check_params(("f", "period", "borough", "rule", "n", "threshold"))
    fmt = answer.output_format(("json", "csv"))
    try:
        rule = WorstRule.parse(request.args)
    except ValueError as e:
        raise Problem(str(e)) from None
    with answer.snapshot() as snap:
        period = period_of(snap, arg("period"))
        etag = answer.validate(snap, fmt, synthetic=bool(period.synthetic))
        borough = snap.borough(arg("borough")) if arg("borough") else None
        shown = disclosure.current()
        result = snap.worst(period, rule, borough=borough, contributors=len(INDICATORS), disclosure=shown)
        p = period.parsed
        before = snap.score_history([r.ward_code for r in result.rows], [p.previous.label, p.year_before.label])
        response = snap.ward_responses(period, shown)
    rows = []
    for i, r in enumerate(result.rows, start=1):
        rows.append({
            "position": i, "ward_code": r.ward_code, "ward_name": r.ward_name,
            "borough_code": r.borough_code, "borough_name": r.borough_name,
            "score": r.score, "rank_london": r.rank_london,
            "decile_london": r.decile_london, "rank_borough": r.rank_borough,
            "decile_borough": r.decile_borough, "hotspot": r.hotspot,
            "lisa_cluster": r.lisa_cluster, "synthetic": r.synthetic,
            "components": [{"indicator": s, "label": published.indicator_label(s), "points": round(pts, 3)}
                           for s, pts in r.top_contributions],
            "response": response_entry(response.get(r.ward_code), shown.text),
            "trend": {"previous_period": {"period": p.previous.label,
                                          **_trend(r.score, before.get((r.ward_code, p.previous.label)))},
                      "year_before": {"period": p.year_before.label,
                                      **_trend(r.score, before.get((r.ward_code, p.year_before.label)))}},
            "links": [{"href": f"{request.host_url}api/harm/wards/{r.ward_code}?period={period.label}",
                       "rel": "describedby", "type": "application/json", "title": "The ward in full"}],
        })
    if fmt == "csv":
        return _worst_csv(rows, snap, etag, result.synthetic)
    body = {
        **answer.metadata(result.synthetic), "version": result.version, "period": period.label, "title": p.title,
        "rule": rule.mode, "n": rule.n, "threshold": rule.threshold,
        "borough": {"code": borough.code, "name": borough.name} if borough else None,
        "n_ranked": result.n_ranked, "note": result.note, "weights": result.weights, "dropped": result.dropped,
        "weight_families": weight_families(result.weights), "response_note": published.response_note(result.weights),
        "order": ORDER_NOTE, "synthetic_indicators": result.synthetic_indicators, "wards": rows,
    }
    return answer.json(body, snap, etag, synthetic=result.synthetic)


def _worst_csv(rows: list[dict], snap: Snapshot, etag: str, synthetic: bool) -> Response:
    marking = services().settings.protective_marking
    return answer.csv(
        ["position", "ward_code", "ward_name", "borough_name", "score", "rank_london", "decile_london", "hotspot",
         "lisa_cluster", "components", "score_change_previous", "score_change_year", "response_per_100",
         "response_per_100_lo", "response_per_100_hi", "response_vs_london", "response_quadrant", "synthetic",
         "protective_marking"],
        [(r["position"], r["ward_code"], r["ward_name"], r["borough_name"], r["score"], r["rank_london"],
          r["decile_london"], r["hotspot"], r["lisa_cluster"],
          "; ".join(f"{c['indicator']} {c['points']:.1f}" for c in r["components"]),
          r["trend"]["previous_period"]["change"], r["trend"]["year_before"]["change"],
          *_response_cells(r["response"]), r["synthetic"], marking)
         for r in rows],
        snap, etag, synthetic=synthetic, lineterminator="\n")


def _response_cells(entry: dict[str, Any] | None) -> tuple[Any, ...]:
    if entry is None:
        return (None,) * 5
    hidden = entry["suppressed"]
    lo, hi = entry["interval"]
    return (hidden or entry["per_100"], None if hidden else lo, None if hidden else hi, entry["vs_london"],
            entry["quadrant"])


# --- one ward ------------------------------------------------------------------------------------

@bp.get("/harm/wards/<code>")
def ward(code: str) -> Response:
    """One 2022 ward in one period: ranks, every indicator with uncertainty and trend, its month series."""
    check_params(("period",))
    code = code.strip().upper()
    with answer.snapshot() as snap:
        period = period_of(snap, arg("period"))
        etag = answer.validate(snap, synthetic=period.synthetic)
        summary = snap.ward_summary(period, code[:12])
    if summary is None:
        raise UnknownWard(f"{code[:12]!r} is not a 2022 London ward code (E05...)")
    body = {**answer.metadata(period.synthetic), **disclosure.current().ward_summary(summary)}
    body["synthetic"] = bool(period.synthetic)
    return answer.json(body, snap, etag, synthetic=period.synthetic)


# --- point in ward -------------------------------------------------------------------------------

def locate(snap: Snapshot, xs: list[float], ys: list[float], srid: int, period: str | None) -> list[dict]:
    return snap.conn.execute(db.query("api_points"), {"xs": xs, "ys": ys, "srid": srid, "version": snap.version,
                                                     "period": period}).fetchall()


@bp.get("/wards/at")
def ward_at() -> Response:
    """The ward at a point in every vintage, and the 2022 ward's summary for the period."""
    check_params(("lon", "lat", "x", "y", "period"))
    x, y, srid, crs = point_args()
    with answer.snapshot() as snap:
        period = period_of(snap, arg("period")) if snap.version is not None else None
        synthetic = bool(period and period.synthetic)
        etag = answer.validate(snap, synthetic=synthetic)
        r = locate(snap, [x], [y], srid, period and period.label)[0]
        if r["ward_code"] is None and r["ward_code_2018"] is None and r["ward_code_2014"] is None:
            raise NoWardHere(f"the point ({x}, {y}) in {crs} is in no London ward")
        summary = snap.ward_summary(period, r["ward_code"]) if period and r["ward_code"] else None
        summary = summary and disclosure.current().ward_summary(summary)
    body = {
        **answer.metadata(synthetic),
        "point": {"x": x, "y": y, "crs": crs, "easting": r["easting"], "northing": r["northing"]},
        "wards": {
            "2022": _ward_entry(r["ward_code"], r["ward_name"], r.get("borough_code"), r.get("borough_name")),
            "2018": _ward_entry(r["ward_code_2018"], r["ward_name_2018"]),
            "2014": _ward_entry(r["ward_code_2014"], r["ward_name_2014"]),
        },
        "period": period.label if period else None,
        "summary": summary,
    }
    return answer.json(body, snap, etag, synthetic=synthetic)


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
    with answer.snapshot() as snap:
        period = period_of(snap, label) if snap.version is not None else None
        rows = locate(snap, xs, ys, srid, period and period.label)
    synthetic = bool(period and period.synthetic)
    results = [{
        "index": r["n"] - 1, "ward_code": r["ward_code"], "ward_name": r["ward_name"],
        "borough_code": r["borough_code"], "borough_name": r["borough_name"],
        "ward_code_2018": r["ward_code_2018"], "ward_code_2014": r["ward_code_2014"],
        **_ward_place(r),
    } for r in rows]
    out = {**answer.metadata(synthetic), "crs": crs, "period": period.label if period else None,
           "count": len(results), "located": sum(1 for r in results if r["ward_code"] is not None),
           "results": results}
    resp = Response(answer.dumps(out), mimetype="application/json")
    return answer.finish(resp, snap, None, synthetic=synthetic)


# --- radius and polygon --------------------------------------------------------------------------

def _area_response(snap: Snapshot, period: published.Period, params: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    rows = snap.conn.execute(db.query("api_area"), {**params, "version": snap.version, "period": period.label,
                                                   "indicators": list(APPORTIONED)}).fetchall()
    area_m2 = rows[0]["area_m2"] if rows else None
    totals = dict.fromkeys(APPORTIONED, 0.0)
    wards = []
    for r in rows:
        share = r["overlap_m2"] / r["ward_m2"] if r["ward_m2"] else 0.0
        figures = r["figures"] or {}
        apportioned = {}
        for slug in APPORTIONED:
            value = number(figures.get(slug))
            apportioned[slug] = None if value is None else round(value * share, 4)
            if value is not None:
                totals[slug] += value * share
        wards.append({
            "ward_code": r["ward_code"], "ward_name": r["ward_name"], "borough_code": r["borough_code"],
            "borough_name": r["borough_name"], "city_of_london": bool(r["city_of_london"]),
            "overlap_m2": round(r["overlap_m2"], 1), "ward_m2": round(r["ward_m2"], 1),
            "share_of_ward": round(share, 6), **_ward_place(r), "counts": figures and
            {k: number(v) for k, v in figures.items()}, "apportioned": apportioned,
        })
    return {**answer.metadata(period.synthetic), "period": period.label, "query": query,
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
    with answer.snapshot() as snap:
        period = period_of(snap, arg("period"))
        etag = answer.validate(snap, synthetic=period.synthetic)
        body = _area_response(snap, period, {"wkb": None, "srid": srid, "x": x, "y": y, "radius_m": radius},
                              {"point": {"x": x, "y": y, "crs": crs}, "radius_m": radius})
    return answer.json(body, snap, etag, synthetic=period.synthetic)


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
    with answer.snapshot() as snap:
        period = period_of(snap, label)
        area_km2 = snap.conn.execute(db.query("api_polygon_area"), {"w": wkb, "s": srid}).fetchone()["km2"]
        if not area_km2 <= MAX_AREA_KM2:  # NaN too
            raise TooLarge(f"the polygon covers {area_km2:,.0f} km²; at most {MAX_AREA_KM2:,.0f} km² (London is "
                           "about 1,572 km²)")
        out = _area_response(snap, period, {"wkb": wkb, "srid": srid, "x": None, "y": None, "radius_m": None},
                             {"crs": crs})
    return answer.finish(Response(answer.dumps(out), mimetype="application/json"), snap, None,
                  synthetic=period.synthetic)
