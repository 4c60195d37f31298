"""Staying up (docs/security.md): production guards, request ids and JSON logs, and rate limits.

- In production Flask's debug mode is off whatever FLASK_DEBUG says (``Settings.from_env`` refuses to
  start with it set), and ``app.run(debug=True)`` raises.
- Every request gets an id (the ``X-Request-ID`` it came with, if sane, else a new one), echoed in the
  response and in every log line written while serving it (harmmap/logs.py).
- Rate limits (Flask-Limiter): ``HARMMAP_RATE_LIMIT`` per signed-in user or API key, per remote address
  for anyone else; counts in ``HARMMAP_RATE_LIMIT_STORAGE`` (memory:// per worker, or Redis, shared by
  all workers and hosts). Over the limit: a 429 problem with ``Retry-After``. /healthz and static files
  are not limited (load balancers poll them). If Redis cannot be reached, requests are let through and
  the failure is logged: losing the limiter must not take the service down.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter, RateLimitExceeded

from harmmap import logs
from harmmap.config import Settings
from web.errors import problem

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
NOT_LIMITED = frozenset({"static", "health.healthz"})


def init_app(app: Flask, settings: Settings) -> None:
    if settings.is_production:
        _no_debug(app)
    if logs.wants_json(settings.log_format, settings.is_production) and not logging.getLogger().handlers:
        logs.configure(settings.log_format, settings.is_production)  # not under gunicorn: it configures logs
    app.before_request(_request_id)
    app.after_request(_echo_request_id)


def init_limits(app: Flask, settings: Settings) -> None:
    """After the access gate, whose ``g.principal`` is the key. A request the gate refuses (401, sign-in
    redirect) is not counted here; sign-in attempts have their own throttle (harmmap.accounts)."""
    if settings.rate_limit.strip():
        _limits(app, settings)


def _no_debug(app: Flask) -> None:
    app.config["DEBUG"] = False
    run = app.run

    def run_without_debug(*args: Any, debug: bool | None = None, **kwargs: Any) -> None:
        if debug:
            raise RuntimeError("Flask debug mode is never turned on in production (HARMMAP_ENVIRONMENT=production)")
        kwargs.pop("use_debugger", None)
        run(*args, debug=False, use_debugger=False, **kwargs)

    app.run = run_without_debug  # type: ignore[method-assign]


def _request_id() -> None:
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex


def _echo_request_id(resp: Response) -> Response:
    if request_id := g.get("request_id"):
        resp.headers["X-Request-ID"] = request_id
    return resp


# --- rate limits ------------------------------------------------------------------------------------------

def rate_limit_key() -> str:
    """Whose requests are counted together: the principal part A's gate put in ``g``, else the address."""
    principal = getattr(g, "principal", None)
    if principal is not None:
        return f"user:{principal.name}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _limits(app: Flask, settings: Settings) -> None:
    limiter = Limiter(
        key_func=rate_limit_key,
        app=app,
        default_limits=[settings.rate_limit],
        storage_uri=settings.rate_limit_storage,
        strategy="moving-window",
        headers_enabled=True,
        swallow_errors=True,  # storage down: log it and let the request through
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1}
        if settings.rate_limit_storage.startswith("redis") else {},
    )
    limiter.request_filter(lambda: request.endpoint in NOT_LIMITED)
    app.extensions["harmmap_limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(e: RateLimitExceeded) -> Response:
        retry = _retry_after(limiter)
        return problem(429, "Too many requests",
                       f"More than {e.limit.limit} requests; try again in {retry} s.",
                       **{"Retry-After": str(retry)})


def _retry_after(limiter: Limiter) -> int:
    window = limiter.current_limit
    if window is None:
        return 1
    return max(1, math.ceil(window.reset_at - time.time()))
