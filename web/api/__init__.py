"""The analyst spatial API, ``/api``: OGC API – Features (Part 1 Core, Part 2 CRS), HarmMap's own harm
queries (ranking, ward summary, the diagnostic view, point in ward, radius and polygon), and vector tiles of
the wards.

Only published aggregates are read (``harm.current_*``, ``harm.publish``, ``geo.*``). Every response
carries the protective marking and the synthetic label; every error is an RFC 9457 problem document.
See docs/api.md.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from web import services

bp = Blueprint("api", __name__)


@bp.before_request
def _problems_as_json() -> None:
    g.problem_json = True  # web/errors.py: every API error is a problem document, whatever the Accept header


@bp.after_request
def _cors(resp: Response) -> Response:
    """CORS as configuration (HARMMAP_API_CORS_ORIGINS): none by default, "*" or a list of origins."""
    allowed = [o.strip() for o in services().settings.api_cors_origins.split(",") if o.strip()]
    origin = request.headers.get("Origin")
    if not allowed or not origin:
        return resp
    if "*" in allowed:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.vary.add("Origin")
    else:
        return resp
    resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = ("Authorization, X-API-Key, Content-Type, If-None-Match, "
                                                    "If-Modified-Since")  # keys: docs/security.md
    resp.headers["Access-Control-Expose-Headers"] = ("ETag, Last-Modified, Content-Crs, X-Protective-Marking, "
                                                     "X-Synthetic-Data, X-Period")
    resp.headers["Access-Control-Max-Age"] = "600"
    return resp


from web.api import diagnostic, features, harm, openapi, tiles  # noqa: E402,F401  (routes register on bp)
