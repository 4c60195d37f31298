"""``/healthz``: is the app up, can it reach the database, is reference data loaded."""

from __future__ import annotations

import psycopg
from flask import Blueprint, Response, jsonify

from harmmap import db
from web import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    svc = services()
    body: dict[str, object] = {"status": "ok", "app": "harmmap"}
    try:
        with svc.pool.connection(timeout=svc.settings.db_timeout_s) as conn:
            row = conn.execute(db.query("health")).fetchone()
        body["database"] = "ok"
        body["postgis"] = row["postgis"]
        body["wards"] = row["wards"] or {}
        body["reference_batch"] = row["geo_batch"]
        if not row["wards"]:
            body["status"] = "degraded"
            body["detail"] = "no reference geography loaded (run harmmap geo load)"
        resp = jsonify(body)
        resp.status_code = 200 if body["status"] == "ok" else 503
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction):
        body.update(status="unavailable", database="reachable", schema="missing",
                    detail="database not set up: run harmmap db init")
        resp = jsonify(body)
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
    except Exception as e:  # noqa: BLE001 - health reports, never raises
        body.update(status="unavailable", database="unavailable", detail=type(e).__name__)
        resp = jsonify(body)
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
    resp.headers["Cache-Control"] = "no-store"
    return resp
