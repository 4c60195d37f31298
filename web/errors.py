"""Errors as RFC 9457 problem details (JSON) or a plain page; never a stack trace.

Pattern from pygeoapi's error module: each error carries its status and a user-safe message.
"""

from __future__ import annotations

import logging
import psycopg
from flask import Flask, Response, current_app, g, jsonify, render_template, request
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

from harmmap.db import DatabaseUnavailable, NotMigrated

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5


class Problem(Exception):
    status, title = 400, "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(Problem):
    status, title = 404, "Not found"


class NoIndex(Problem):
    status, title = 503, "Service unavailable"


def _wants_json() -> bool:
    if request.path.endswith((".geojson", ".json")) or request.path.startswith(("/api", "/healthz")):
        return True
    if g.get("problem_json"):  # set by data blueprints whose other paths (.csv, /search) are read by scripts
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def problem(status: int, title: str, detail: str, **headers: str) -> Response:
    marking = _marking()
    if _wants_json():
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if marking:
            body["marking"] = marking  # an RFC 9457 extension member: every response carries the marking
        resp = jsonify(body)
        resp.mimetype = "application/problem+json"
    else:
        resp = Response(render_template("error.html", status=status, title=title, detail=detail), mimetype="text/html")
    resp.status_code = status
    resp.headers.update(headers)
    if marking:
        resp.headers["X-Protective-Marking"] = marking
    return resp


def _marking() -> str | None:
    services = current_app.extensions.get("harmmap")
    return services.settings.protective_marking if services is not None else None


def init_app(app: Flask) -> None:
    @app.before_request
    def _no_nul() -> None:
        # PostgreSQL text cannot hold NUL (psycopg would raise DataError, a 500): refuse it before any query
        if "\x00" in request.path or any("\x00" in v for vs in request.args.listvalues() for v in vs):
            raise Problem("the request contains a NUL character (%00), which no path or parameter accepts")

    @app.errorhandler(Problem)
    def _problem(e: Problem) -> Response:
        return problem(e.status, e.title, e.detail)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        return problem(e.code or 500, e.name, e.description or e.name)

    @app.errorhandler(NotMigrated)
    @app.errorhandler(psycopg.errors.UndefinedTable)
    @app.errorhandler(psycopg.errors.UndefinedFunction)
    def _not_set_up(e: Exception) -> Response:
        log.error("database not set up: %s", e)
        return problem(503, "Service unavailable",
                       "The database has not been set up yet (run `harmmap db init` and `harmmap geo load`).",
                       **{"Retry-After": str(RETRY_AFTER_S)})

    @app.errorhandler(DatabaseUnavailable)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def _db_down(e: Exception) -> Response:
        log.warning("database unavailable: %s", e)
        return problem(503, "Service unavailable",
                       "The database is not reachable at the moment. Try again shortly.",
                       **{"Retry-After": str(RETRY_AFTER_S)})

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal error", "Something went wrong on our side; it has been logged.")
