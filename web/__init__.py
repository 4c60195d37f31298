"""The HarmMap web app: ``create_app()`` builds it; nothing happens at import time."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from psycopg_pool import ConnectionPool

from harmmap.db import make_pool
from harmmap.config import Settings
from harmmap.domain import ATTRIBUTION  # noqa: F401  (its home is harmmap/, shared with the briefing PDFs)


@dataclass
class Services:
    """What one app (one gunicorn worker) holds: settings, its pool, and its response cache."""

    settings: Settings
    pool: ConnectionPool
    #: Rendered responses keyed on the published data they came from (web/answer.py ``cached``).
    cache: dict[tuple, Any] = field(default_factory=dict)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)


def services() -> Services:
    return current_app.extensions["harmmap"]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or None,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # The pool connects in the background: the app starts even while the database is down and
    # answers 503 until it is back (see web/errors.py), instead of failing to boot.
    pool = make_pool(settings, open_wait=False)
    app.extensions["harmmap"] = Services(settings, pool)

    from web import answer, api, auth, brief, compress, db as web_db, errors, health, map_pages, ops, tasking_data

    web_db.init_app(app)  # the request's own pooled connection, given back when the request ends

    ops.init_app(app, settings)  # no debug in production, JSON logs, request ids
    errors.init_app(app)
    answer.init_app(app)  # a 304 raised as Unchanged anywhere is answered as it is
    compress.init_app(app)
    auth.init_app(app)  # g.principal, the route x role table, CSRF, sign-in, audit, security headers
    ops.init_limits(app, settings)  # after auth: limits are counted per g.principal
    app.register_blueprint(health.bp)
    app.register_blueprint(map_pages.bp)
    app.register_blueprint(tasking_data.bp, url_prefix="/map")  # the tasking map's JSON/CSV data
    app.register_blueprint(brief.bp, url_prefix="/brief")        # A4 briefing PDFs for SNT sergeants
    app.register_blueprint(api.bp, url_prefix="/api")          # OGC API - Features, harm queries, tiles

    @app.context_processor
    def page_globals() -> dict[str, object]:
        return {"marking": settings.protective_marking, "attribution": ATTRIBUTION}

    if not app.debug:
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return app
