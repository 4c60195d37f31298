"""OGC API – Features – Part 1: Core and Part 2: Coordinate Reference Systems by Reference.

Resources (under ``/api``): the landing page ``/``, ``/conformance``, ``/openapi`` (the OpenAPI 3.0
document; ``f=html`` for its docs page), ``/collections``, ``/collections/{id}``,
``/collections/{id}/items`` and ``/collections/{id}/items/{featureId}``. GeoJSON by default, HTML and
(for features) CSV with ``f=`` or an Accept header.
"""

from __future__ import annotations

import csv
import io
import json
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, render_template, request, url_for

from harmmap import published
from harmmap.indicators import FAMILY_LABELS
from harmmap.published import Snapshot
from web import answer, services
from web.api import bp
from web.api.collections import COLLECTIONS, LONDON_BBOX_CRS84, Collection, Query, count_sql, extent_sql, \
    geometry_sql, page_sql, parse_filter
from web.api.common import CRS84, CRSS, EPSG27700, crs_uri, now_stamp, parse_bbox, parse_datetime
from web.api.harm import weight_families
from web.params import bool_arg, check_params, int_arg
from web.errors import NotFound, Problem

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 10, 10_000, 10_000_000
ITEMS_PARAMS = ("f", "limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime", "count")
_MIMES = {"json": "application/json", "html": "text/html", "csv": "text/csv"}


class UnknownCollection(NotFound):
    title = "Unknown collection"


class UnknownFeature(NotFound):
    title = "Unknown feature"


def url(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, _external=True, **values)


def with_args(base: str, **args: Any) -> str:
    query = {k: v for k, v in args.items() if v is not None}
    return f"{base}?{urlencode(query)}" if query else base


def self_links(title: str, formats: tuple[str, ...], current: str, **extra: Any) -> list[dict[str, str]]:
    """``self`` for the format served and ``alternate`` for the others (OGC /req/core/...-links)."""
    base = request.base_url
    args = {k: v for k, v in request.args.items() if k != "f"}
    links = []
    for fmt in formats:
        mime = GEOJSON if fmt == "json" and extra.get("geojson") else _MIMES[fmt]
        links.append({"href": with_args(base, **args, f=fmt), "rel": "self" if fmt == current else "alternate",
                      "type": mime, "title": f"{title} as {fmt.upper() if fmt != 'json' else 'JSON'}"})
    return links


def html_page(snap: Snapshot, etag: str, *, title: str, view: str, data: dict[str, Any],
              synthetic: bool = False) -> Response:
    body = render_template("api.html", title=title, view=view, data=data, synthetic=synthetic,
                           meta=answer.metadata(synthetic))
    return answer.finish(Response(body, mimetype="text/html"), snap, etag, synthetic=synthetic)


def _collection_or_404(cid: str) -> Collection:
    c = COLLECTIONS.get(cid)
    if c is None:
        raise UnknownCollection(f"no collection {cid[:60]!r}; the collections are {', '.join(COLLECTIONS)}")
    return c


# --- landing page, conformance, collections ------------------------------------------------------

@bp.get("/")
def landing() -> Response:
    check_params(("f",))
    fmt = answer.output_format()
    with answer.snapshot() as snap:
        etag = answer.validate(snap, fmt)
    body = {
        "title": "HarmMap spatial API",
        "description": ("Ward-level drug harm in London for police tasking: wards, boroughs, the harm index and "
                        "each indicator per ward and period (OGC API - Features), rankings, ward summaries, "
                        "point in ward, radius and polygon queries, vector tiles."),
        **answer.metadata(bool(snap.synthetic)),
        "links": self_links("This document", ("json", "html"), fmt) + [
            {"href": url("api.openapi", f="json"), "rel": "service-desc", "type": OPENAPI_JSON,
             "title": "The API definition (OpenAPI 3.0)"},
            {"href": url("api.openapi", f="html"), "rel": "service-doc", "type": "text/html",
             "title": "The API documentation"},
            {"href": url("api.conformance"), "rel": "conformance", "type": "application/json",
             "title": "OGC API conformance classes implemented"},
            {"href": url("api.conformance"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance",
             "type": "application/json", "title": "OGC API conformance classes implemented"},
            {"href": url("api.collections"), "rel": "data", "type": "application/json",
             "title": "The feature collections"},
            {"href": url("api.collections"), "rel": "http://www.opengis.net/def/rel/ogc/1.0/data",
             "type": "application/json", "title": "The feature collections"},
            {"href": url("api.tilejson"), "rel": "tiles", "type": "application/json",
             "title": "Vector tiles of the wards with their harm index (TileJSON)"},
            {"href": url("api.worst"), "rel": "related", "type": "application/json",
             "title": "Ranking: the worst-affected wards"},
        ],
    }
    if fmt == "html":
        return html_page(snap, etag, title=body["title"], view="landing", data=body, synthetic=bool(snap.synthetic))
    return answer.json(body, snap, etag, synthetic=bool(snap.synthetic))


@bp.get("/conformance")
def conformance() -> Response:
    check_params(("f",))
    fmt = answer.output_format()
    with answer.snapshot() as snap:
        etag = answer.validate(snap, fmt)
    body = {"conformsTo": list(CONFORMANCE), **answer.metadata(False),
            "links": self_links("Conformance classes", ("json", "html"), fmt)}
    if fmt == "html":
        return html_page(snap, etag, title="Conformance classes", view="conformance", data=body)
    return answer.json(body, snap, etag)


def _extent(snap: Snapshot, c: Collection) -> list[float]:
    """The collection's bbox in CRS84, from its rows once per reference load (cached per app)."""
    cache = current_app.extensions.setdefault("harmmap_api", {})
    key = ("extent", snap.geo_batch, c.id)
    if key not in cache:
        if c.needs_index and snap.version is None:
            return list(LONDON_BBOX_CRS84)
        row = snap.conn.execute(extent_sql(c), dict(c.static, version=snap.version)).fetchone()
        cache[key] = [round(row[k], 6) for k in ("minx", "miny", "maxx", "maxy")] if row["minx"] is not None \
            else list(LONDON_BBOX_CRS84)
    return cache[key]


def _temporal(snap: Snapshot, c: Collection) -> list[str | None] | None:
    if c.interval is not None:
        return list(c.interval)
    if c.temporal is None or snap.version is None:
        return None
    cache = current_app.extensions.setdefault("harmmap_api", {})
    key = ("temporal", snap.version)
    if key not in cache:
        row = snap.conn.execute("""SELECT to_char(min(first_month), 'YYYY-MM-DD') AS lo,
                                          to_char(max(last_month) + interval '1 month', 'YYYY-MM-DD') AS hi
                                   FROM harm.current_period WHERE version = %(v)s""", {"v": snap.version}).fetchone()
        cache[key] = [f"{row['lo']}T00:00:00Z" if row["lo"] else None, f"{row['hi']}T00:00:00Z" if row["hi"] else None]
    return cache[key]


def collection_doc(snap: Snapshot, c: Collection) -> dict[str, Any]:
    items = url("api.items", cid=c.id)
    doc: dict[str, Any] = {
        "id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
        "links": [
            {"href": url("api.collection", cid=c.id, f="json"), "rel": "self", "type": "application/json",
             "title": c.title},
            {"href": url("api.collection", cid=c.id, f="html"), "rel": "alternate", "type": "text/html",
             "title": f"{c.title} as HTML"},
            {"href": with_args(items, f="json"), "rel": "items", "type": GEOJSON, "title": f"{c.title} (GeoJSON)"},
            {"href": with_args(items, f="html"), "rel": "items", "type": "text/html", "title": f"{c.title} (HTML)"},
            {"href": with_args(items, f="csv"), "rel": "items", "type": "text/csv", "title": f"{c.title} (CSV)"},
            {"href": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", "rel": "license",
             "type": "text/html", "title": "Open Government Licence v3.0"},
        ],
        "extent": {"spatial": {"bbox": [_extent(snap, c)], "crs": CRS84}},
        "crs": list(CRSS),
        "storageCrs": EPSG27700,
        "synthetic": bool(c.needs_index and snap.synthetic),
        "properties": {p.name: {"type": p.type, "description": p.description, "filter": p.filterable}
                       for p in c.props},
    }
    interval = _temporal(snap, c)
    if interval is not None:
        doc["extent"]["temporal"] = {"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    doc.update(families(snap, c))
    return doc


def families(snap: Snapshot, c: Collection) -> dict[str, Any]:
    """What a collection document says about the strategy's families: an indicator's family (its second
    family and caveat where it has them); for the harm index, the families its published weights draw on
    and, when police activity is weighted in, the response note (docs/methodology.md)."""
    ind = c.indicator
    if ind is not None:
        out: dict[str, Any] = {"family": ind.family, "family_label": FAMILY_LABELS[ind.family]}
        if ind.also:
            out.update(also_family=ind.also, also_family_label=FAMILY_LABELS[ind.also])
        if ind.caveat:
            out["caveat"] = ind.caveat
        return out
    if c.kind == "harm":
        weights = {k: w for k, w in (snap.weights or {}).items() if w > 0}
        return {"weights": {k: round(w, 4) for k, w in sorted(weights.items(), key=lambda kw: (-kw[1], kw[0]))},
                "weight_families": weight_families(weights), "response_note": published.response_note(weights)}
    if c.kind == "response":
        return {"families": ["need", "response"],
                "note": "A diagnostic, not a target: police activity set against need, never counted as harm."}
    return {}


@bp.get("/collections")
def collections() -> Response:
    check_params(("f",))
    fmt = answer.output_format()
    with answer.snapshot() as snap:
        etag = answer.validate(snap, fmt)
        docs = [collection_doc(snap, c) for c in COLLECTIONS.values() if not (c.needs_index and snap.version is None)]
    synthetic = bool(snap.synthetic)
    body = {"links": self_links("The feature collections", ("json", "html"), fmt), **answer.metadata(synthetic),
            "crs": list(CRSS), "collections": docs}
    if fmt == "html":
        return html_page(snap, etag, title="Collections", view="collections", data=body, synthetic=synthetic)
    return answer.json(body, snap, etag, synthetic=synthetic)


@bp.get("/collections/<cid>")
def collection(cid: str) -> Response:
    c = _collection_or_404(cid)
    check_params(("f",))
    fmt = answer.output_format()
    with answer.snapshot() as snap:
        if c.needs_index:
            snap.require_index()
        synthetic = bool(c.needs_index and snap.synthetic)
        etag = answer.validate(snap, fmt, synthetic=synthetic)
        body = collection_doc(snap, c)
    body.update(answer.metadata(synthetic))
    if fmt == "html":
        return html_page(snap, etag, title=c.title, view="collection", data=body, synthetic=synthetic)
    return answer.json(body, snap, etag, synthetic=synthetic)


# --- items ---------------------------------------------------------------------------------------

def parse_query(c: Collection, snap: Snapshot) -> Query:
    q = Query(c, snap.version, crs=crs_uri(request.args.get("crs"), "crs"))
    bbox_text = request.args.get("bbox")
    bbox_crs = crs_uri(request.args.get("bbox-crs"), "bbox-crs")
    if "bbox-crs" in request.args and bbox_text is None:
        raise Problem("bbox-crs is given without bbox")
    if bbox_text is not None:
        q.bbox = parse_bbox(bbox_text, bbox_crs)
        q.bbox_srid = CRSS[bbox_crs][0]
    dt = request.args.get("datetime")
    if dt is not None:
        q.start, q.end = parse_datetime(dt.strip())
    for name, prop in c.filters.items():
        text = request.args.get(name)
        if text is not None:
            q.equals[name] = parse_filter(c, name, text.strip())
    after = request.args.get("after")
    if after is not None:
        q.after = c.parse_id(after.strip())
        if q.after is None:
            raise Problem(f"after must be a feature id of {c.id} (the last one of the previous page), "
                          f"not {after[:40]!r}")
    return q


def _counted(snap: Snapshot, q: Query, unfiltered: bool) -> int:
    if not unfiltered:
        return snap.conn.execute(count_sql(q), q.params()).fetchone()["n"]
    cache = current_app.extensions.setdefault("harmmap_api", {})
    key = ("count", snap.version if q.collection.needs_index else None, snap.geo_batch, q.collection.id)
    if key not in cache:
        cache[key] = snap.conn.execute(count_sql(q), q.params()).fetchone()["n"]
    return cache[key]


@bp.get("/collections/<cid>/items")
def items(cid: str) -> Response:
    c = _collection_or_404(cid)
    check_params(ITEMS_PARAMS + tuple(c.filters))
    fmt = answer.output_format(("json", "html", "csv"))
    limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, MAX_OFFSET)
    want_count = bool_arg("count")
    with answer.snapshot() as snap:
        if c.needs_index:
            snap.require_index()
        q = parse_query(c, snap)
        if q.after is not None and offset:
            raise Problem("give offset or after, not both")
        synthetic = bool(c.needs_index and snap.synthetic)
        etag = answer.validate(snap, fmt, synthetic=synthetic)
        rows = snap.conn.execute(page_sql(q, wkt=fmt == "csv"),
                                 {**q.params(), "limit": limit + 1, "offset": offset}).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        features = [] if fmt == "csv" else encode(snap, q, rows)
        unfiltered = q.bbox is None and q.start is None and q.end is None and not q.equals and q.after is None
        matched = None
        if want_count or unfiltered:
            matched = _counted(snap, q, unfiltered)
        elif not more and q.after is None:
            matched = offset + len(rows)        # the last page of an offset walk: known without counting
    last_id = c.feature_id(tuple(rows[-1][f"k{i}"] for i in range(len(c.keys)))) if rows else None
    if fmt == "csv":
        return _items_csv(c, rows, snap, etag, q, synthetic)
    args = {k: v for k, v in request.args.items() if k not in ("offset", "after")}
    links = self_links(c.title, ("json", "html", "csv"), fmt, geojson=True)
    if more:
        for f in ("json", "html"):
            links.append({"href": with_args(request.base_url, **{**args, "after": last_id, "f": f}),
                          "rel": "next", "type": GEOJSON if f == "json" else "text/html", "title": "Next page"})
    links.append({"href": url("api.collection", cid=c.id), "rel": "collection", "type": "application/json",
                  "title": c.title})
    head = {"type": "FeatureCollection", "timeStamp": now_stamp(), "numberReturned": len(rows)}
    if matched is not None:
        head["numberMatched"] = matched
    head.update(answer.metadata(synthetic))
    head["links"] = links
    if fmt == "html":
        return _crs_header(html_page(snap, etag, title=c.title, view="items",
                                     data={**head, "features": [json.loads(f) for f in features], "collection": c.id},
                                     synthetic=synthetic), q)
    # The features are GeoJSON text from PostGIS: spliced in, never parsed and re-encoded here.
    text = answer.dumps(head)[:-1] + ',"features":[' + ",".join(features) + "]}"
    return _crs_header(answer.finish(Response(text, mimetype=GEOJSON), snap, etag, synthetic=synthetic), q)


#: Encoded geometries kept per worker, at most this many (all vintages' wards and the boroughs in three
#: CRSs are about 6,000).
GEOMETRY_CACHE_MAX = 20_000


def encode(snap: Snapshot, q: Query, rows: list[dict]) -> list[str]:
    """The rows as GeoJSON Feature text. Geometry is the reference data's, which changes only with a new
    reference load: it is encoded in PostGIS once per load, CRS and ward (one query for whatever this
    page lacks) and kept per worker, so the 76 periods of a ward in the harm collections, and every
    request after the first, reuse it. The properties come from this request's snapshot."""
    cache = current_app.extensions.setdefault("harmmap_api", {}).setdefault("geometry", {})
    group = q.collection.geom_group
    prefix = (snap.geo_batch, group, q.crs)
    missing = sorted({r["gid"] for r in rows if (*prefix, r["gid"]) not in cache})
    if missing:
        found = {g["gid"]: g["geometry"] for g in snap.conn.execute(geometry_sql(group, q.crs), {"gids": missing})}
        if len(cache) + len(found) > GEOMETRY_CACHE_MAX:
            cache.clear()
        for gid in missing:
            cache[(*prefix, gid)] = found.get(gid) or "null"
    # ids are text: encode_basestring_ascii is what json.dumps does with a str, without its per-call set-up
    return ['{"type":"Feature","id":' + encode_basestring_ascii(r["fid"]) + ',"geometry":' + cache[(*prefix, r["gid"])]
            + ',"properties":' + r["props"] + "}" for r in rows]


def _crs_header(resp: Response, q: Query) -> Response:
    resp.headers["Content-Crs"] = f"<{q.crs}>"
    return resp


def _items_csv(c: Collection, rows: list[dict], snap: Snapshot, etag: str, q: Query, synthetic: bool) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [p.name for p in c.props]
    writer.writerow(["id", *names, "wkt", "protective_marking"])
    marking = services().settings.protective_marking
    for r in rows:
        key = tuple(r[f"k{i}"] for i in range(len(c.keys)))
        writer.writerow([answer.csv_cell(v) for v in (c.feature_id(key), *(r["props_obj"].get(n) for n in names),
                                               r["wkt"], marking)])
    resp = answer.finish(Response(out.getvalue(), mimetype="text/csv"), snap, etag, synthetic=synthetic)
    resp.headers["Content-Disposition"] = f'inline; filename="{c.id}.csv"'
    return _crs_header(resp, q)


@bp.get("/collections/<cid>/items/<path:fid>")
def item(cid: str, fid: str) -> Response:
    c = _collection_or_404(cid)
    check_params(("f", "crs"))
    fmt = answer.output_format(("json", "html", "csv"))
    key = c.parse_id(fid)
    if key is None:
        raise UnknownFeature(f"{fid[:60]!r} is not a feature id of {c.id}")
    with answer.snapshot() as snap:
        if c.needs_index:
            snap.require_index()
        q = Query(c, snap.version, crs=crs_uri(request.args.get("crs"), "crs"), key=key)
        synthetic = bool(c.needs_index and snap.synthetic)
        etag = answer.validate(snap, fmt, synthetic=synthetic)
        row = snap.conn.execute(page_sql(q, paged=False, wkt=fmt == "csv"), q.params()).fetchone()
        if row is None:
            raise UnknownFeature(f"{c.id} has no feature {fid[:60]!r}")
        feature = None if fmt == "csv" else encode(snap, q, [row])[0]
    if fmt == "csv":
        return _items_csv(c, [row], snap, etag, q, synthetic)
    links = self_links(f"Feature {fid}", ("json", "html", "csv"), fmt, geojson=True) + [
        {"href": url("api.collection", cid=c.id), "rel": "collection", "type": "application/json", "title": c.title}]
    tail = {**answer.metadata(synthetic), "links": links}
    if fmt == "html":
        return _crs_header(html_page(snap, etag, title=f"{c.title}: {fid}", view="feature",
                                     data={**json.loads(feature), **tail, "collection": c.id}, synthetic=synthetic), q)
    text = feature[:-1] + "," + answer.dumps(tail)[1:]
    return _crs_header(answer.finish(Response(text, mimetype=GEOJSON), snap, etag, synthetic=synthetic), q)
