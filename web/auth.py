"""Access control for every request: who is asking, whether their role may, CSRF, audit, security headers.

- ``g.principal`` is set before every request: a ``harmmap.access.Principal`` (a signed-in person,
  ``kind="session"``, or an API key, ``kind="key"``) or None when anonymous. Rate limits and disclosure
  control read it.
- ``ROUTE_ROLES`` is the one table of which role each endpoint needs. It is default-deny: an endpoint that
  is not in it is refused to everyone, and tests/test_access.py fails naming it.
- Every request except static files, /healthz and the sign-in page is written to ``audit.event`` after its
  response is made. If that INSERT fails, the response is replaced by a 503: nothing is shown that was not
  recorded (docs/security.md).
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from flask import (Blueprint, Flask, Response, g, redirect, render_template, request, session, url_for)
from markupsafe import Markup
from psycopg_pool import PoolTimeout

from harmmap import accounts
from harmmap.access import Principal, allows
from harmmap.db import DatabaseUnavailable
from web import services
from web.db import connection
from web.errors import _wants_json, problem

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: Anyone, signed in or not.
PUBLIC = None
#: Which role each endpoint needs: an endpoint's own entry, else its blueprint's ("name.*").
#: Roles include those below them: viewer < sergeant < analyst < admin (harmmap/access.py).
ROUTE_ROLES: dict[str, str | None] = {
    "static": PUBLIC,              # scripts and styles, also for the sign-in page; no data
    "health.healthz": PUBLIC,      # load balancers and monitoring: up or down, ward counts, no figures
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,         # POST with the CSRF token; signing out needs no role
    "map.*": "viewer",             # the tasking map page and its ward shapes
    "tasking_data.*": "viewer",    # the map's figures: what the page shows
    "tasking_data.worst_csv": "analyst",  # an export: a file that leaves HarmMap (docs/security.md)
    "brief.*": "sergeant",         # A4 briefing PDFs
    "api.*": "analyst",            # the spatial API, its documents and vector tiles
}

#: Endpoints not written to the audit log: no data, and requested on every page.
NOT_AUDITED = frozenset({"static", "health.healthz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DB_ERRORS = (DatabaseUnavailable, PoolTimeout, psycopg.OperationalError, psycopg.errors.UndefinedTable)
THROTTLE = accounts.Throttle()


class Unlisted(LookupError):
    """An endpoint missing from ROUTE_ROLES."""


def required_role(endpoint: str) -> str | None:
    """The role ``endpoint`` needs (None: public). Raises Unlisted for an endpoint not in the table."""
    if endpoint in ROUTE_ROLES:
        return ROUTE_ROLES[endpoint]
    blueprint = endpoint.rpartition(".")[0]
    if blueprint and f"{blueprint}.*" in ROUTE_ROLES:
        return ROUTE_ROLES[f"{blueprint}.*"]
    raise Unlisted(endpoint)


WWW_AUTHENTICATE = 'Bearer realm="HarmMap"'


# --- who is asking --------------------------------------------------------------------------------------

def _presented_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("X-API-Key") or None


def _principal() -> Principal | None:
    """From an API key if one is sent (a bad one is a 401 however good the session), else the session."""
    key = _presented_key()
    token = session.get("sid")
    if key is None and not token:
        return None
    with connection(autocommit=True) as conn:  # one statement each: no BEGIN/COMMIT round trips
        if key is not None:
            principal = accounts.key_principal(conn, key)
            if principal is None:
                g.bad_key = True
            return principal
        principal = accounts.session_principal(conn, token)
    if principal is None:
        session.pop("sid", None)  # ended, expired or disabled: the cookie is forgotten too
    return principal


def current_principal() -> Principal | None:
    return g.get("principal")


def may(endpoint: str) -> bool:
    """Whether this request's principal may use ``endpoint`` (a Jinja global: pages offer only such links)."""
    principal = current_principal()
    try:
        return allows(principal.role if principal else None, required_role(endpoint))
    except Unlisted:
        return False


# --- CSRF -----------------------------------------------------------------------------------------------

def csrf_token() -> str:
    """The session's CSRF token, made on first use (the sign-in page makes it before anyone signs in)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


# --- the gate -------------------------------------------------------------------------------------------

def _gate() -> Response | None:
    g.principal = None
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no such URL or method: the routing error (404/405) answers, and is audited
    try:
        needed = required_role(endpoint)
    except Unlisted:
        log.error("endpoint %s is not in web.auth.ROUTE_ROLES: refused", endpoint)
        return problem(403, "Forbidden", "This address has no access rule yet, so it is refused to everyone.")
    try:
        g.principal = _principal()
    except DB_ERRORS:
        if needed is not PUBLIC:
            raise
        g.principal = None  # public pages still work while the database is down
    if request.method == "OPTIONS":
        return None  # CORS preflights carry no credentials and get no data
    if request.method not in SAFE_METHODS and (endpoint in FORM_ENDPOINTS or
                                               (g.principal is not None and g.principal.kind == "session")):
        if not _csrf_ok():  # a key is sent by a program, never by a browser on its own: no CSRF risk
            return problem(400, "Bad request", "The form had expired or did not come from HarmMap. Reload the page "
                           "and try again.")
    if needed is PUBLIC:
        return None
    principal = g.principal
    if principal is None:
        if g.get("bad_key"):
            return _unauthorized("The API key is not valid: unknown, expired or revoked.")
        if request.method == "GET" and not _wants_json():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return _unauthorized("Sign in, or send an API key: Authorization: Bearer hm_...")
    if not allows(principal.role, needed):
        return problem(403, "Forbidden", f"This needs the {needed} role or above; {principal.name} has {principal.role}.")
    return None


def _unauthorized(detail: str) -> Response:
    return problem(401, "Unauthorized", detail, **{"WWW-Authenticate": WWW_AUTHENTICATE})


#: POST forms checked for CSRF even when nobody is signed in yet.
FORM_ENDPOINTS = frozenset({"auth.login", "auth.logout"})


# --- sign in, sign out ----------------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //): an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("map.index")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else url_for("map.index")


def _login_page(error: str | None = None, status: int = 200, **headers: str) -> Response:
    resp = Response(render_template("login.html", error=error, next=_safe_next(request.values.get("next")),
                                    name=request.form.get("name", "")), status=status, mimetype="text/html")
    resp.headers.update(headers)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if request.method == "GET":
        if g.principal is not None and g.principal.kind == "session":
            return redirect(_safe_next(request.args.get("next")))
        return _login_page()
    name = request.form.get("name", "").strip().lower()[:64]
    password = request.form.get("password", "")
    address = request.remote_addr or "unknown"
    settings = services().settings
    with connection() as conn:
        wait = THROTTLE.retry_after_s(conn, name, address)
        if wait:
            g.audit_user = name
            return _login_page(f"Too many failed sign-ins. Try again in {wait // 60 + 1} minutes.", 429,
                               **{"Retry-After": str(wait)})
        principal = accounts.sign_in(conn, name, password) if name and password else None
        if principal is None:
            THROTTLE.failed(conn, name, address)
            g.audit_user = name
            return _login_page("Wrong name or password, or the account is disabled.", 401,
                               **{"WWW-Authenticate": WWW_AUTHENTICATE})
        THROTTLE.succeeded(conn, name)
        token = accounts.start_session(conn, principal, settings.session_hours, address)
    session.clear()  # a new session and CSRF token after sign-in: no fixation
    session.permanent = True
    session["sid"] = token
    session["csrf"] = secrets.token_urlsafe(32)
    g.principal = principal
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.post("/logout")
def logout() -> Response:
    token = session.get("sid")
    if token:
        with connection() as conn:
            accounts.end_session(conn, token)
    session.clear()
    return redirect(url_for("auth.login"), 303)


# --- audit ----------------------------------------------------------------------------------------------

def _audit(resp: Response) -> Response:
    endpoint = request.endpoint
    if endpoint in NOT_AUDITED or request.method == "OPTIONS" or (endpoint == "auth.login" and request.method == "GET"):
        return resp
    principal: Principal | None = g.get("principal")
    view = request.view_args or {}
    args = request.args
    event: dict[str, Any] = {
        "principal": principal.name if principal else g.get("audit_user") or None,
        "principal_kind": principal.kind if principal else None,
        "role": principal.role if principal else None,
        "key_id": principal.key_id if principal else None,
        "method": request.method,
        "route": endpoint or "unknown",
        "path": request.full_path.rstrip("?"),
        "status": resp.status_code,
        "ward": view.get("ward_code") or view.get("code") or args.get("ward") or None,
        "borough": view.get("borough") or args.get("borough") or None,
        "period": args.get("period") or None,
        "remote_addr": request.remote_addr,
        "user_agent": request.user_agent.string or None,
    }
    try:
        with connection(autocommit=True) as conn:  # the INSERT commits (durably) by itself
            accounts.audit(conn, event)
    except Exception:
        log.exception("audit write failed for %s %s", request.method, request.path)
        if resp.status_code >= 400 or 300 <= resp.status_code < 304:
            return resp  # an error or a redirect shows no data: let it through
        # Fail closed: data that cannot be recorded is not shown (docs/security.md).
        return problem(503, "Service unavailable", "This request could not be recorded in the audit log, so its "
                       "answer is withheld. Try again shortly.", **{"Retry-After": "5"})
    return resp


# --- security headers -----------------------------------------------------------------------------------

def csp_nonce() -> str:
    """This response's nonce for inline scripts (a Jinja global): only scripts the templates mark run."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)")


def with_nonce(html: str) -> Markup:
    """Give the inline ``<script>`` tags of server-made HTML (folium's header) this response's nonce.
    Only for HTML the server generated from its own templates, never for text that came from a request."""
    return Markup(_INLINE_SCRIPT.sub(f'<script nonce="{csp_nonce()}"', str(html)))


def _image_sources() -> str:
    sources = ["'self'", "data:"]
    basemap = services().settings.basemap_url
    if basemap:
        parts = urlsplit(basemap.replace("{s}", "*"))
        if parts.scheme and parts.netloc:
            sources.append(f"{parts.scheme}://{parts.netloc}")
    return " ".join(sources)


def _security_headers(resp: Response) -> Response:
    scripts = "'self'" + (f" 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "")
    resp.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src {_image_sources()}; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if request.is_secure:
        resp.headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.endpoint != "static" and g.get("principal") is not None:
        resp.headers.setdefault("Cache-Control", "private")  # signed-in answers are never for shared caches
        resp.vary.add("Cookie" if g.principal.kind == "session" else "Authorization")
    return resp


def init_app(app: Flask) -> None:
    """After errors and compress: the audit runs first on the way out, then the headers, then gzip."""
    settings = app.extensions["harmmap"].settings
    if not app.config.get("SECRET_KEY"):
        # Only outside production (Settings.check requires a key there). One process, one key: sessions end
        # with the process. `harmmap serve` makes one key for all its workers.
        log.warning("HARMMAP_SECRET_KEY is not set: sessions are signed with a random key for this process")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    secure = settings.secure_cookies
    app.config.update(
        SESSION_COOKIE_NAME="__Host-harmmap" if secure else "harmmap_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=False,  # the lifetime counts from sign-in (the server checks it too)
    )
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)
    app.before_request(_gate)
    app.after_request(_security_headers)
    app.after_request(_audit)  # registered last, so it runs first
    app.jinja_env.globals.update(csp_nonce=csp_nonce, csrf_token=csrf_token, current_principal=current_principal,
                                 may=may)
    app.jinja_env.filters["with_nonce"] = with_nonce
    app.register_blueprint(bp)
