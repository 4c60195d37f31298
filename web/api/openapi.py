"""The OpenAPI 3.0 definition of ``/api`` (OGC API Features /req/oas30), built from the same collection
declarations the routes use, so every collection's filter parameters are declared; ``f=html`` renders it
as the human documentation page (server-side, no script, works offline)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from harmmap.indicators import FAMILIES, FAMILY_LABELS, by_family
from web import answer
from web.api import bp
from web.api.collections import COLLECTIONS, Collection
from web.api.diagnostic import AGAINST, NOTE as DIAGNOSTIC_NOTE, UNITS as CHANGE_UNITS
from web.api.common import CRS84, CRSS
from web.params import check_params
from web.api.features import DEFAULT_LIMIT, GEOJSON, MAX_LIMIT, MAX_OFFSET, OPENAPI_JSON, html_page
from web.api.harm import MAX_POINTS, MAX_RADIUS_M
from web.api.tiles import MAX_ZOOM, MVT

_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
          "boolean": {"type": "boolean"}}
_ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_LINK = {"type": "object", "required": ["href", "rel"],
         "properties": {"href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
                        "title": {"type": "string"}}}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_MARKED = {"marking": {"type": "string", "description": "the protective marking"},
           "synthetic": {"type": "boolean", "description": "true when synthetic data went into the figures"}}

SCHEMAS: dict[str, Any] = {
    "link": _LINK,
    "problem": {"type": "object", "required": ["title", "status", "detail"],
                "description": "RFC 9457 problem details",
                "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                               "status": {"type": "integer"}, "detail": {"type": "string"}}},
    "landingPage": {"type": "object", "required": ["links"],
                    "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                                   "links": _LINKS, **_MARKED}},
    "confClasses": {"type": "object", "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}},
    "collection": {"type": "object", "required": ["id", "links"],
                   "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                                  "description": {"type": "string"}, "links": _LINKS,
                                  "extent": _ANY_OBJECT, "itemType": {"type": "string"},
                                  "crs": {"type": "array", "items": {"type": "string"}},
                                  "storageCrs": {"type": "string"}}},
    "collections": {"type": "object", "required": ["links", "collections"],
                    "properties": {"links": _LINKS, "crs": {"type": "array", "items": {"type": "string"}},
                                   "collections": {"type": "array",
                                                   "items": {"$ref": "#/components/schemas/collection"}}}},
    "geometry": {"type": "object", "nullable": True, "required": ["type", "coordinates"],
                 "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                                "coordinates": {"type": "array", "items": {}}}},
    "feature": {"type": "object", "required": ["type", "geometry", "properties"],
                "properties": {"type": {"type": "string", "enum": ["Feature"]},
                               "id": {"type": "string"},
                               "geometry": {"$ref": "#/components/schemas/geometry"},
                               "properties": {"type": "object", "nullable": True},
                               "links": _LINKS}},
    "featureCollection": {"type": "object", "required": ["type", "features"],
                          "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                         "features": {"type": "array", "items": {"$ref": "#/components/schemas/feature"}},
                                         "links": _LINKS, "timeStamp": {"type": "string", "format": "date-time"},
                                         "numberMatched": {"type": "integer", "minimum": 0},
                                         "numberReturned": {"type": "integer", "minimum": 0}, **_MARKED}},
    "marked": {"type": "object", "required": ["marking", "synthetic"], "properties": _MARKED},
}

#: The strategy's three families, as the document and every collection name them.
FAMILIES_TEXT = " ".join(
    f"{FAMILY_LABELS[f]}: {', '.join(i.slug for i in by_family(f))}." for f in FAMILIES)
_N = {"type": "number", "nullable": True}
_CHANGE = {
    "type": "object",
    "description": "One indicator's change over the window. " + " ".join(
        f"{kind}: {unit}." for kind, unit in CHANGE_UNITS.items()) + " A count this reader may not see exactly "
        "has suppressed set (\"fewer than 5\"), the hidden side null (before_suppressed / after_suppressed), and "
        "no change, interval or p-value.",
    "required": ["indicator", "label", "family", "kind", "before", "after", "change", "lo", "hi", "p",
                 "significant", "direction", "suppressed"],
    "properties": {
        "indicator": {"type": "string"}, "label": {"type": "string"},
        "family": {"$ref": "#/components/schemas/family"}, "family_label": {"type": "string", "nullable": True},
        "also": {"type": "string", "description": "the other family this indicator is read in (empty: none)"},
        "caveat": {"type": "string", "description": "read the figures with this caution"},
        "kind": {"type": "string", "enum": ["count", "value", "survey"]},
        "unit": {"type": "string", "nullable": True},
        "before": {**_N, "description": "PAS: % agreeing; counts: the earlier period's total"},
        "after": {**_N, "description": "PAS: % agreeing; counts: this period's total"},
        "change": _N, "lo": {**_N, "description": "95% interval, low"}, "hi": {**_N, "description": "95% interval, high"},
        "p": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1},
        "tested": {"type": "boolean", "nullable": True},
        "significant": {"type": "boolean", "nullable": True, "description": "p below alpha (null: not tested)"},
        "direction": {"type": "string", "enum": ["up", "down", "same", "unknown"]},
        "suppressed": {"type": "string", "nullable": True,
                       "description": "set (\"fewer than 5\") when a count of this row is hidden from this reader"},
        "before_suppressed": {"type": "string"}, "after_suppressed": {"type": "string"},
        "respondents_before": {"type": "integer", "nullable": True,
                               "description": "PAS respondents (the test uses respondents / design_effect)"},
        "respondents_after": {"type": "integer", "nullable": True},
    },
}
_MONTH = {"type": "string", "nullable": True, "pattern": "^\\d{4}-\\d{2}$"}
SCHEMAS.update({
    "family": {"type": "string", "enum": list(FAMILIES), "description": FAMILIES_TEXT},
    "change": _CHANGE,
    "diagnostic": {
        "type": "object",
        "description": DIAGNOSTIC_NOTE,
        "required": ["marking", "synthetic", "attribution", "version", "area", "window", "design_effect", "summary",
                     "note", "changes", "london", "disclosure"],
        "properties": {
            **_MARKED, "synthetic_note": {"type": "string"}, "attribution": {"type": "string"},
            "version": {"type": "integer"},
            "area": {"type": "object", "required": ["level", "code", "name"],
                     "properties": {"level": {"type": "string", "enum": ["london", "borough", "ward"]},
                                    "code": {"type": "string", "description": "london, an E09 or an E05 code"},
                                    "name": {"type": "string"}}},
            "window": {"type": "object", "required": ["period", "against", "against_period"],
                       "properties": {"period": {"type": "string"}, "first_month": _MONTH, "last_month": _MONTH,
                                      "against": {"type": "string", "enum": list(AGAINST)},
                                      "against_period": {"type": "string", "nullable": True,
                                                         "description": "null: not published, nothing compared"},
                                      "against_first_month": _MONTH, "against_last_month": _MONTH}},
            "design_effect": {"type": "number", "description": "PAS design effect: the effective sample size "
                                                               "is respondents divided by it"},
            "alpha": {"type": "number"},
            "summary": {"type": "string", "description": "what moved together, in words; never a cause"},
            "note": {"type": "string"},
            "changes": {"type": "array", "items": {"$ref": "#/components/schemas/change"}},
            "london": {"type": "array", "items": {"$ref": "#/components/schemas/change"},
                       "description": "London's need changes over the same window, for comparison"},
            "disclosure": _ANY_OBJECT,
        },
    },
})


def _param(name: str, description: str, schema: dict[str, Any], *, where: str = "query",
           required: bool = False, **extra: Any) -> dict[str, Any]:
    out = {"name": name, "in": where, "description": description, "required": required, "schema": schema}
    out.update(extra)
    return out


PARAMETERS: dict[str, Any] = {
    "f": _param("f", "Output format (else the Accept header decides).", {"type": "string", "enum": ["json", "html"]}),
    "f-features": _param("f", "Output format: GeoJSON (json), html or csv (else the Accept header decides).",
                         {"type": "string", "enum": ["json", "html", "csv"]}),
    "limit": _param("limit", f"Features per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    style="form", explode=False),
    "offset": _param("offset", "Features to skip (prefer the next link, which pages by key).",
                     {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
    "after": _param("after", "Continue after this feature id (what next links use; faster than offset).",
                    {"type": "string"}),
    "bbox": _param("bbox", "Only features that intersect the box: min x, min y, max x, max y (bbox-crs axis "
                           "order; CRS84 longitude/latitude by default).",
                   {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                   style="form", explode=False),
    "bbox-crs": _param("bbox-crs", "The CRS of bbox (OGC API Features Part 2).",
                       {"type": "string", "format": "uri", "enum": list(CRSS), "default": CRS84},
                       style="form", explode=False),
    "crs": _param("crs", "The CRS of the response geometry (OGC API Features Part 2); EPSG:4326 is latitude first.",
                  {"type": "string", "format": "uri", "enum": list(CRSS), "default": CRS84},
                  style="form", explode=False),
    "datetime": _param("datetime", "Only features whose time intersects this RFC 3339 instant or interval "
                                   "(start/end, '..' for open). Wards: the years their boundaries were in use; "
                                   "harm collections: the period. Boroughs have no time.",
                       {"type": "string"}, style="form", explode=False),
    "count": _param("count", "Count every matching feature (numberMatched); off by default, since it costs a scan.",
                    {"type": "boolean", "default": False}),
    "period": _param("period", "Published period: 2025-03, 2025-Q1, FY2025/26 or R12-2026-03 (default: the "
                               "latest financial year).", {"type": "string", "maxLength": 40}),
    "lon": _param("lon", "Longitude, WGS84 degrees (with lat).", {"type": "number", "minimum": -180, "maximum": 180}),
    "lat": _param("lat", "Latitude, WGS84 degrees (with lon).", {"type": "number", "minimum": -90, "maximum": 90}),
    "x": _param("x", "Easting, EPSG:27700 metres (with y).", {"type": "number"}),
    "y": _param("y", "Northing, EPSG:27700 metres (with x).", {"type": "number"}),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _responses(ok: dict[str, Any], *, conditional: bool = True) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/problem"}}}
    out = {"200": ok}
    if conditional:
        out["304"] = {"description": "Not modified: your copy (ETag / Last-Modified) is current."}
    out.update({code: {"description": text, "content": problem} for code, text in (
        ("400", "A bad parameter; the detail says which and why."), ("404", "No such resource."),
        ("406", "No representation matches the Accept header."),
        ("413", "Too many points, too large a polygon, or too large a body."),
        ("415", "A request body that is not Content-Type: application/json."),
        ("500", "An error on our side (logged; no internals are shown)."),
        ("503", "The database is unavailable or no index is published yet."))})
    return out


def _json(schema: str, description: str, mime: str = "application/json", *, html: bool = True) -> dict[str, Any]:
    content = {mime: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}


def _filter_params(c: Collection) -> list[dict[str, Any]]:
    return [_param(p.name, f"Only features whose {p.name} equals this. {p.description}".strip(), _TYPES[p.type])
            for p in c.props if p.filterable]


def _collection_paths(c: Collection) -> dict[str, Any]:
    tag = ["Features"]
    features = {"description": f"Features of {c.id}",
                "headers": {"Content-Crs": {"description": "The CRS of the geometry, as <URI>", "schema": {"type": "string"}}},
                "content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/featureCollection"}},
                            "text/html": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}
    one = {"description": f"One feature of {c.id}",
           "headers": features["headers"],
           "content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/feature"}},
                       "text/html": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}
    return {
        f"/collections/{c.id}": {"get": {
            "tags": tag, "summary": c.title, "description": c.description, "operationId": f"describe-{c.id}",
            "parameters": [_ref("f")], "responses": _responses(_json("collection", "The collection"))}},
        f"/collections/{c.id}/items": {"get": {
            "tags": tag, "summary": f"{c.title}: features", "operationId": f"items-{c.id}",
            "parameters": [_ref(n) for n in ("f-features", "limit", "offset", "after", "bbox", "bbox-crs", "crs",
                                             "datetime", "count")] + _filter_params(c),
            "responses": _responses(features)}},
        f"/collections/{c.id}/items/{{featureId}}": {"get": {
            "tags": tag, "summary": f"{c.title}: one feature", "operationId": f"item-{c.id}",
            "parameters": [_param("featureId", "The feature id (see the collection description).",
                                  {"type": "string"}, where="path", required=True), _ref("f-features"), _ref("crs")],
            "responses": _responses(one)}},
    }


def document(server: str) -> dict[str, Any]:
    marked = _json("marked", "JSON with the marking and the synthetic label", html=False)
    paths: dict[str, Any] = {
        "/": {"get": {"tags": ["Capabilities"], "summary": "Landing page", "operationId": "landing",
                      "parameters": [_ref("f")], "responses": _responses(_json("landingPage", "The landing page"))}},
        "/conformance": {"get": {"tags": ["Capabilities"], "summary": "Conformance classes",
                                 "operationId": "conformance", "parameters": [_ref("f")],
                                 "responses": _responses(_json("confClasses", "The conformance classes"))}},
        "/openapi": {"get": {"tags": ["Capabilities"], "summary": "This API definition (json) or its documentation "
                                                                  "(html)", "operationId": "openapi",
                             "parameters": [_ref("f")],
                             "responses": _responses({"description": "The OpenAPI document", "content": {
                                 "application/vnd.oai.openapi+json;version=3.0": {"schema": _ANY_OBJECT},
                                 "text/html": {"schema": {"type": "string"}}}})}},
        "/collections": {"get": {"tags": ["Capabilities"], "summary": "The feature collections",
                                 "operationId": "collections", "parameters": [_ref("f")],
                                 "responses": _responses(_json("collections", "The collections"))}},
    }
    for c in COLLECTIONS.values():
        paths.update(_collection_paths(c))
    harm = ["Harm queries"]
    paths.update({
        "/harm/worst": {"get": {
            "tags": harm, "summary": "The worst-affected wards of a period (London or a borough)",
            "description": ("Ranked by the harm index, which the default weights build from need only "
                            "(weight_families; response_note says so when police activity is weighted in). Each "
                            "ward carries its police response beside it, not in its rank: activity per 100 "
                            "recorded trafficking offences with its exact 95% interval, compared with London "
                            "(vs_london), and its need x response quadrant; a diagnostic, not a target."),
            "operationId": "worst",
            "parameters": [_param("f", "json or csv", {"type": "string", "enum": ["json", "csv"]}), _ref("period"),
                           _param("borough", "Borough name or E09 code", {"type": "string", "maxLength": 60}),
                           _param("rule", "top_n, top_decile or threshold",
                                  {"type": "string", "enum": ["top_n", "top_decile", "threshold"]}),
                           _param("n", "Wards for top_n", {"type": "integer", "minimum": 1, "maximum": 1000}),
                           _param("threshold", "Score for rule=threshold", {"type": "number", "minimum": 0,
                                                                            "maximum": 100})],
            "responses": _responses({"description": "Ranked wards", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/marked"}},
                "text/csv": {"schema": {"type": "string"}}}})}},
        "/harm/diagnostic": {"get": {
            "tags": harm, "summary": "Why did confidence move here? The diagnostic view (diagnostic, not a target)",
            "description": ("For London, a borough or a 2022 ward: the change in each PAS measure (points, 95% "
                            "interval, significance at the survey's effective sample size) beside the change in "
                            "each police response and need indicator over the same months (exact tests), "
                            "London's need changes, and a summary of what moved together. This is a diagnostic, "
                            "not a target: police activity helps explain a change in confidence and is never "
                            "counted as harm; the summary never claims a cause. The window is the period against "
                            "the one before it (previous), or 12 months against the strategy's baseline year "
                            "(baseline; a month or a quarter cannot be set against a year: 400)."),
            "operationId": "diagnostic",
            "parameters": [_param("area", "london (default), a borough name or E09 code, or a 2022 ward E05 code; "
                                          "an unknown one is a 404", {"type": "string", "maxLength": 60}),
                           _ref("period"),
                           _param("against", "previous (default): the period before, of the same length; baseline: "
                                             "the strategy's baseline financial year",
                                  {"type": "string", "enum": list(AGAINST), "default": "previous"})],
            "responses": _responses(_json("diagnostic", "The diagnostic, with the marking and the synthetic label",
                                          html=False))}},
        "/harm/wards/{code}": {"get": {
            "tags": harm, "summary": "One ward's full summary and month series", "operationId": "ward",
            "parameters": [_param("code", "2022 ward GSS code (E05...)", {"type": "string"}, where="path",
                                  required=True), _ref("period")],
            "responses": _responses(marked)}},
        "/wards/at": {
            "get": {"tags": harm, "summary": "The ward at a point, in every vintage, with the 2022 ward's summary",
                    "operationId": "ward-at",
                    "parameters": [_ref("lon"), _ref("lat"), _ref("x"), _ref("y"), _ref("period")],
                    "responses": _responses(marked)},
            "post": {"tags": harm, "summary": f"Batch point in ward (up to {MAX_POINTS:,} points)",
                     "operationId": "wards-at",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["points"],
                         "properties": {"points": {"type": "array", "minItems": 1, "maxItems": MAX_POINTS,
                                                   "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                             "items": {"type": "number"}}},
                                        "crs": {"type": "string", "enum": list(CRSS)},
                                        "period": {"type": "string"}}}}}},
                     "responses": _responses(marked, conditional=False)}},
        "/wards/near": {"get": {
            "tags": harm, "summary": "Wards within a radius of a point, counts shared out by area",
            "operationId": "wards-near",
            "parameters": [_ref("lon"), _ref("lat"), _ref("x"), _ref("y"),
                           _param("radius_m", "Radius in metres", {"type": "number", "minimum": 1,
                                                                   "maximum": MAX_RADIUS_M}, required=True),
                           _ref("period")],
            "responses": _responses(marked)}},
        "/wards/within": {"post": {
            "tags": harm, "summary": "Wards a posted polygon overlaps, counts shared out by area",
            "operationId": "wards-within",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["geometry"],
                "properties": {"geometry": {"type": "object"}, "crs": {"type": "string", "enum": list(CRSS)},
                               "period": {"type": "string"}}}}}},
            "responses": _responses(marked, conditional=False)}},
        "/tiles/{z}/{x}/{y}.mvt": {"get": {
            "tags": ["Tiles"], "summary": "Vector tile of the 2022 wards with their harm index (layer wards)",
            "operationId": "tile",
            "parameters": [_param(n, d, {"type": "integer", "minimum": 0, **({"maximum": MAX_ZOOM} if n == "z" else {})},
                                  where="path", required=True)
                           for n, d in (("z", "zoom"), ("x", "column"), ("y", "row"))] + [_ref("period")],
            "responses": _responses({"description": "A Mapbox vector tile",
                                     "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}})}},
        "/tiles.json": {"get": {
            "tags": ["Tiles"], "summary": "TileJSON 3.0 for the ward tiles", "operationId": "tilejson",
            "parameters": [_ref("period")], "responses": _responses(marked)}},
    })
    return {
        "openapi": "3.0.3",
        "info": {"title": "HarmMap spatial API", "version": "1.0.0",
                 "description": ("OGC API - Features (Part 1 Core, Part 2 CRS) over London's wards, boroughs, the "
                                 "harm index and each indicator per ward and period, plus HarmMap's own queries and "
                                 "vector tiles. Every response carries the protective marking; data marked synthetic "
                                 "is synthetic. Errors are RFC 9457 problem details.\n\n"
                                 "Indicators come in the force strategy's three families, and every indicator "
                                 "collection says which (family, in its description, document and features). "
                                 + FAMILIES_TEXT + " The default harm index is built from need only; police "
                                 "response is a diagnostic, not a target: it is shown against need (the need-response "
                                 "collection, and beside each ward in /harm/worst) and beside changes in confidence "
                                 "(/harm/diagnostic), and enters the index only by explicit weights, which the "
                                 "harm-index collection then states (weight_families, response_note). Drug possession "
                                 "offences carry a caveat: they are sensitive to proactive policing. The PAS measure "
                                 "'drug use or dealing is a problem' is need and also read as confidence."),
                 "license": {"name": "Open Government Licence v3.0",
                             "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"}},
        "servers": [{"url": server}],
        "tags": [{"name": "Capabilities"}, {"name": "Features"},
                 {"name": "Harm queries", "description": "Rankings by need with the response beside them, one ward in "
                                                         "full, the diagnostic view, point in ward, radius and polygon"},
                 {"name": "Tiles"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "parameters": PARAMETERS},
    }


@bp.get("/openapi")
def openapi() -> Response:
    check_params(("f",))
    fmt = answer.output_format()
    with answer.snapshot() as snap:
        etag = answer.validate(snap, fmt)
    doc = document(request.host_url + "api")
    if fmt == "html":
        return html_page(snap, etag, title="HarmMap API documentation", view="openapi",
                         data={"description": doc["info"]["description"], "doc": doc})
    resp = Response(answer.dumps({**doc, "x-marking": answer.metadata(False)["marking"]}), content_type=OPENAPI_JSON)
    return answer.finish(resp, snap, etag)
