"""Access control: the role table is complete, sign-in, CSRF, throttling, keys, audit, headers.

Every route x every role is tests/test_routes.py. These go through Flask's test client with real users and
real keys in the test database (conftest ``make_accounts``); two sign in with real Chromium.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace

import psycopg
import pytest

from harmmap import access, accounts, db
from web.auth import PUBLIC, ROUTE_ROLES, Unlisted, required_role

pytestmark = pytest.mark.db

LAMBETH = "E09000022"
GIPSY_HILL = "E05014103"
PERIOD = "FY2025/26"


# --- the role table (each route x each role, for real: tests/test_routes.py) ---------------------------

def test_every_route_has_an_access_rule(app):
    missing = []
    for rule in app.url_map.iter_rules():
        try:
            required_role(rule.endpoint)
        except Unlisted:
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert missing == [], "add these to web.auth.ROUTE_ROLES"
    assert set(ROUTE_ROLES.values()) <= {PUBLIC, *access.ROLES}


def test_an_endpoint_missing_from_the_table_is_refused_to_everyone(app, monkeypatch):
    monkeypatch.delitem(ROUTE_ROLES, "health.healthz")
    r = app.test_client(as_role="admin").get("/healthz")
    assert r.status_code == 403 and "no access rule" in r.get_json()["detail"]


def test_a_browser_that_is_not_signed_in_is_sent_to_sign_in_and_back(app):
    c = app.test_client()
    r = c.get("/?period=FY2025/26&ward=E05014103", headers={"Accept": "text/html"})
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=/?period%3DFY2025/26%26ward%3DE05014103"
    page = c.get(r.headers["Location"])
    assert page.status_code == 200 and 'name="next" value="/?period=FY2025/26&amp;ward=E05014103"' in page.get_data(
        as_text=True)


def test_wrong_role_gets_a_plain_page_in_a_browser_and_problem_json_elsewhere(app, monkeypatch):
    c = app.test_client().sign_in("viewer")
    monkeypatch.setitem(ROUTE_ROLES, "map.index", "analyst")  # no HTML page needs more than viewer today
    html = c.get("/", headers={"Accept": "text/html"})
    assert html.status_code == 403 and html.mimetype == "text/html" and "analyst role" in html.get_data(as_text=True)
    js = c.get("/brief/ward/E05014103.pdf", headers={"Accept": "application/json"})
    assert js.status_code == 403 and js.get_json()["detail"].startswith("This needs the sergeant role")


# --- sign in, sessions, CSRF -----------------------------------------------------------------------------

def login_form(c, name: str, password: str, csrf: str | None = "from-page", **kw):
    page = c.get("/login", **kw).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"name": name, "password": password, "next": "/map/meta.json"}
    if csrf is not None:
        data["csrf_token"] = token if csrf == "from-page" else csrf
    return c.post("/login", data=data, **kw)


def session_cookie(resp) -> str:
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(("harmmap_session=", "__Host-harmmap=")))


def test_sign_in_sets_a_locked_down_cookie_and_sign_out_ends_the_session_on_the_server(app, accounts, demo_index):
    c = app.test_client()
    r = login_form(c, "sergeant", accounts.password)
    assert r.status_code == 303 and r.headers["Location"] == "/map/meta.json"
    cookie = session_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # test mode: http://
    assert "Expires=" in cookie
    assert c.get("/map/meta.json").status_code == 200
    assert c.get("/api/").status_code == 403  # a sergeant
    stolen = c.get_cookie("harmmap_session").value
    page = c.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Signed in as <strong>sergeant</strong>" in page and "Sign out" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/logout", data={}).status_code == 400  # no CSRF token: refused
    out = c.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["Location"] == "/login"
    assert c.get("/map/meta.json").status_code == 401
    # the cookie from before signing out is dead on the server, not only forgotten by the browser
    replay = app.test_client()
    replay.set_cookie("harmmap_session", stolen)
    assert replay.get("/map/meta.json").status_code == 401


def test_secure_cookie_in_production_settings(settings, accounts):
    from web import create_app

    prod = create_app(replace(settings, cookie_secure="true", secret_key="x" * 32))
    try:
        r = login_form(prod.test_client(), "viewer", accounts.password,
                       base_url="https://harmmap.example")
        cookie = session_cookie(r)
        assert cookie.startswith("__Host-harmmap=") and "Secure" in cookie and "HttpOnly" in cookie
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        prod.extensions["harmmap"].pool.close()


def test_login_without_or_with_a_wrong_csrf_token_is_refused(app, accounts):
    c = app.test_client()
    for token in (None, "forged"):
        r = login_form(c, "viewer", accounts.password, csrf=token)
        assert r.status_code == 400 and "did not come from HarmMap" in r.get_data(as_text=True)
        assert c.get("/map/meta.json").status_code == 401


def test_a_signed_in_browser_needs_the_csrf_token_to_post_to_the_api(app, accounts):
    c = app.test_client()
    login_form(c, "analyst", accounts.password)
    body = {"points": [[-0.1276, 51.5072]]}
    assert c.post("/api/wards/at", json=body).status_code == 400
    page = c.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/api/wards/at", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    # a program with a key needs no token
    assert app.test_client(as_role="analyst").post("/api/wards/at", json=body).status_code == 200


def test_wrong_password_and_unknown_name_look_the_same(app, accounts):
    c = app.test_client(environ_base={"REMOTE_ADDR": "198.51.100.1"})
    a = login_form(c, "viewer", "wrong password 123")
    b = login_form(c, "nobody-here", "wrong password 123")
    assert a.status_code == b.status_code == 401
    assert "Wrong name or password" in a.get_data(as_text=True) and "Wrong name or password" in b.get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_the_site(app, accounts, target):
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post("/login", data={"csrf_token": token, "name": "viewer", "password": accounts.password, "next": target})
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_five_failures_lock_the_account_for_fifteen_minutes_with_retry_after(app, settings):
    with db.connect(settings.database_url) as conn:
        accounts.add_user(conn, "throttled", "viewer", "right password 123")
    c = app.test_client(environ_base={"REMOTE_ADDR": "198.51.100.7"})
    for _ in range(5):
        assert login_form(c, "throttled", "wrong password 123").status_code == 401
    r = login_form(c, "throttled", "right password 123")  # even the right password, now
    assert r.status_code == 429 and 14 * 60 <= int(r.headers["Retry-After"]) <= 15 * 60 + 1
    other_place = app.test_client(environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert login_form(other_place, "throttled", "right password 123").status_code == 429  # per account
    with db.connect(settings.database_url) as conn:  # fifteen minutes later
        conn.execute("UPDATE auth.login_failure SET at = at - interval '15 minutes' WHERE account = 'throttled'")
    assert login_form(c, "throttled", "right password 123").status_code == 303


def test_twenty_failures_from_one_address_lock_that_address(app, accounts):
    c = app.test_client(environ_base={"REMOTE_ADDR": "203.0.113.9"})
    for i in range(20):
        assert login_form(c, f"guess{i}", "wrong password 123").status_code == 401
    assert login_form(c, "viewer", accounts.password).status_code == 429
    elsewhere = app.test_client(environ_base={"REMOTE_ADDR": "203.0.113.10"})
    assert login_form(elsewhere, "viewer", accounts.password).status_code == 303


# --- API keys --------------------------------------------------------------------------------------------

def harmmap(*args: str, settings, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {"HARMMAP_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin", "HARMMAP_ENVIRONMENT": "test"}
    return subprocess.run([sys.executable, "-m", "harmmap", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60)


def test_key_lifecycle_with_the_command_line(app, settings):
    added = harmmap("users", "add", "ana.lyst", "--role", "analyst", "--password-stdin", settings=settings,
                    stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    made = harmmap("keys", "create", "--user", "ana.lyst", "--role", "analyst", "--days", "7", settings=settings)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert re.fullmatch(r"hm_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", token) and "shown only now" in made.stderr
    key_id = token[3:11]
    c = app.test_client()
    assert c.get("/api/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert c.get("/api/", headers={"X-API-Key": token}).status_code == 200
    assert c.get("/api/", headers={"Authorization": f"Bearer {token[:-1]}x"}).status_code == 401  # wrong secret
    with db.connect(settings.database_url) as conn:
        row = conn.execute("SELECT secret_sha256, last_used_at, expires_at - created_at AS life FROM auth.api_key "
                           "WHERE key_id = %s", (key_id,)).fetchone()
    assert bytes(row["secret_sha256"]) == access.secret_hash(token[12:]) and token not in str(row)
    assert row["last_used_at"] is not None and row["life"].days == 7
    listed = harmmap("keys", "list", "--user", "ana.lyst", settings=settings).stdout
    assert key_id in listed and "active" in listed and token[12:] not in listed
    assert harmmap("keys", "revoke", key_id, settings=settings).returncode == 0
    assert c.get("/api/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "revoked" in harmmap("keys", "list", "--user", "ana.lyst", settings=settings).stdout
    log = harmmap("audit", "--csv", settings=settings).stdout
    for action in ("users add,harmmap users add ana.lyst --role analyst", f"keys create,harmmap keys create {key_id} ",
                   f"keys revoke,harmmap keys revoke {key_id}"):
        assert re.search(rf",cli,,,CLI,{re.escape(action)}", log), action


def test_a_key_scope_cannot_exceed_its_owner_and_limits_the_owner(app, settings, demo_index):
    assert "wider role" in harmmap("keys", "create", "--user", "viewer", "--role", "analyst",
                                   settings=settings).stderr
    with db.connect(settings.database_url) as conn:
        _, key = accounts.create_key(conn, "admin", "viewer", 1)
    c = app.test_client()
    assert c.get("/map/meta.json", headers={"Authorization": f"Bearer {key.token}"}).status_code == 200
    assert c.get("/api/", headers={"Authorization": f"Bearer {key.token}"}).status_code == 403


def test_disabling_a_user_stops_their_session_and_their_keys(app, settings, demo_index):
    with db.connect(settings.database_url) as conn:
        accounts.add_user(conn, "leaver", "analyst", "leaver password 1")
        _, key = accounts.create_key(conn, "leaver", "analyst", 5)
    c = app.test_client()
    assert login_form(c, "leaver", "leaver password 1").status_code == 303
    assert c.get("/map/meta.json").status_code == 200
    out = harmmap("users", "disable", "leaver", settings=settings)
    assert out.returncode == 0, out.stderr
    assert c.get("/map/meta.json").status_code == 401
    assert c.get("/api/", headers={"Authorization": f"Bearer {key.token}"}).status_code == 401
    assert login_form(app.test_client(), "leaver", "leaver password 1").status_code == 401
    listed = harmmap("users", "list", settings=settings).stdout
    assert re.search(r"^leaver\s+analyst\s+disabled", listed, re.M)


def test_users_add_refuses_bad_input_in_one_line(settings):
    for args, message in ((["users", "add", "Bad Name", "--role", "viewer", "--password-stdin"], "user name"),
                          (["users", "add", "shorty", "--role", "viewer", "--password-stdin"], "at least 12"),
                          (["users", "add", "viewer", "--role", "viewer", "--password-stdin"], "already exists")):
        out = harmmap(*args, settings=settings, stdin="short\n" if "shorty" in args else "long enough pass\n")
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


# --- audit -----------------------------------------------------------------------------------------------

def test_each_request_is_audited_with_who_what_where(app, settings, sql, accounts):
    c = app.test_client(as_role="sergeant", environ_base={"REMOTE_ADDR": "192.0.2.44"})
    r = c.get(f"/map/ward/{GIPSY_HILL}.json?period={PERIOD}", headers={"User-Agent": "audit-test/1.0 " + "x" * 400})
    assert r.status_code == 200
    assert c.get("/api/harm/worst?borough=Lambeth").status_code == 403
    rows = sql("SELECT * FROM audit.event WHERE remote_addr = '192.0.2.44' ORDER BY event_id")
    assert [(e["route"], e["status"]) for e in rows] == [("tasking_data.ward_json", 200), ("api.worst", 403)]
    first = rows[0]
    assert (first["principal"], first["principal_kind"], first["role"], first["ward"], first["period"]) == (
        "sergeant", "key", "sergeant", GIPSY_HILL, PERIOD)
    assert first["key_id"] == accounts.keys["sergeant"][3:11]
    assert first["user_agent"].startswith("audit-test/1.0") and len(first["user_agent"]) == 200
    assert rows[1]["borough"] == "Lambeth"
    out = harmmap("audit", "--user", "sergeant", "--csv", settings=settings)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("event_id,at,principal") and "192.0.2.44" in out.stdout
    table = harmmap("audit", "--since", "2020-01-01", "--limit", "5", settings=settings).stdout
    assert table.startswith("at (UTC)") and len(table.strip().splitlines()) == 6


def test_failed_sign_ins_are_audited_with_the_name_tried(app, sql):
    c = app.test_client(environ_base={"REMOTE_ADDR": "192.0.2.45"})
    login_form(c, "viewer", "not the password 1")
    rows = sql("SELECT principal, route, status FROM audit.event WHERE remote_addr = '192.0.2.45'")
    assert rows == [{"principal": "viewer", "route": "auth.login", "status": 401}]


def test_the_audit_log_is_append_only(settings, sql):
    with db.connect(settings.database_url) as conn:
        accounts.audit(conn, {"method": "GET", "route": "test", "path": "/", "status": 200})
    for statement in ("UPDATE audit.event SET principal = 'someone else'", "DELETE FROM audit.event",
                      "TRUNCATE audit.event"):
        with db.connect(settings.database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege,
                                                                      match="append-only"):
            conn.execute(statement)
    assert sql("SELECT count(*) AS n FROM audit.event")[0]["n"] >= 1


def test_data_is_withheld_when_its_audit_row_cannot_be_written(app, settings, demo_index):
    """Fail closed: a real failure of the INSERT (a trigger that refuses rows from one user agent)."""
    with db.connect(settings.database_url) as conn:
        conn.execute("""CREATE FUNCTION audit.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN IF NEW.user_agent = 'refuse-me' THEN RAISE EXCEPTION 'disk full'; END IF;
                        RETURN NEW; END $$""")
        conn.execute("CREATE TRIGGER test_refuse BEFORE INSERT ON audit.event FOR EACH ROW "
                     "EXECUTE FUNCTION audit.test_refuse()")
    try:
        c = app.test_client().sign_in("viewer")
        r = c.get("/map/meta.json", headers={"User-Agent": "refuse-me"})
        assert r.status_code == 503 and "audit log" in r.get_json()["detail"] and "Retry-After" in r.headers
        assert b"periods" not in r.data
        assert c.get("/map/nothing-here", headers={"User-Agent": "refuse-me"}).status_code == 404
        assert c.get("/map/meta.json").status_code == 200
    finally:
        with db.connect(settings.database_url) as conn:
            conn.execute("DROP TRIGGER test_refuse ON audit.event")
            conn.execute("DROP FUNCTION audit.test_refuse()")


# --- security headers ------------------------------------------------------------------------------------

def test_security_headers_on_every_kind_of_response(app):
    signed_in, anonymous = app.test_client().sign_in("analyst"), app.test_client()  # analyst: "/api/" too
    for url in ("/", "/login", "/map/meta.json", "/api/", "/healthz", "/static/harmmap/harmmap.css", "/nope"):
        c = anonymous if url == "/login" else signed_in  # signed in, /login sends you back to the map
        h = c.get(url, headers={"Accept": "text/html"}).headers
        csp = h["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src, url
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, url
        assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY", url
        assert h["Referrer-Policy"] == "same-origin", url


def test_every_inline_script_of_the_map_page_carries_this_responses_nonce(app, demo_index):
    c = app.test_client().sign_in("viewer")
    r = c.get("/", headers={"Accept": "text/html"})
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    html = r.get_data(as_text=True)
    inline = [t for t in re.findall(r"<script\b[^>]*>", html) if "src=" not in t and "application/json" not in t]
    assert len(inline) >= 2 and all(f'nonce="{nonce}"' in t for t in inline)
    again = c.get("/", headers={"Accept": "text/html"})
    assert nonce not in again.headers["Content-Security-Policy"]  # a new one per response


def test_the_basemap_host_is_allowed_for_images_only_when_configured(settings):
    from web import create_app

    other = create_app(replace(settings, basemap_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"))
    try:
        csp = other.test_client().get("/healthz").headers["Content-Security-Policy"]
        assert re.search(r"img-src 'self' data: https://\*\.tiles\.example\.org;", csp)
    finally:
        other.extensions["harmmap"].pool.close()


# --- the demo accounts -----------------------------------------------------------------------------------

def test_demo_accounts_are_made_once_and_follow_the_environment(settings):
    """On a database of its own (the test database already has users named after the roles)."""
    from urllib.parse import urlsplit, urlunsplit
    from uuid import uuid4

    url = urlunsplit(urlsplit(settings.database_url)._replace(path=f"/harmmap_test_demo_{uuid4().hex[:6]}"))
    db.ensure_database(url)
    try:
        with db.connect(url) as conn:
            db.migrate(conn)
        demo = replace(settings, database_url=url)
        first = harmmap("demo-accounts", settings=demo)
        assert first.returncode == 0, first.stderr
        password = re.search(r"password (\w{20})", first.stdout).group(1)
        key = re.search(r"(hm_\S+)", first.stdout).group(1)
        second = harmmap("demo-accounts", settings=demo)
        assert "exist" in second.stdout and "hm_" not in second.stdout
        with db.connect(url) as conn:
            assert [u.name for u in accounts.list_users(conn)] == ["admin", "analyst", "sergeant", "viewer"]
            assert all(accounts.password_matches(conn, r, password) for r in access.ROLES)
            assert accounts.key_principal(conn, key).role == "analyst"
        chosen = access.new_api_key().token
        env_run = subprocess.run([sys.executable, "-m", "harmmap", "demo-accounts"], capture_output=True, text=True,
                                 timeout=60, env={"HARMMAP_DATABASE_URL": url, "PATH": "/usr/bin:/bin",
                                                  "HARMMAP_DEMO_PASSWORD": "chosen demo password",
                                                  "HARMMAP_DEMO_API_KEY": chosen})
        assert env_run.returncode == 0, env_run.stderr
        with db.connect(url) as conn:
            assert accounts.password_matches(conn, "viewer", "chosen demo password")
            assert accounts.key_principal(conn, chosen).name == "analyst"
    finally:
        db.drop_database(url)


# --- in a real browser -----------------------------------------------------------------------------------

@pytest.mark.browser
def test_sign_in_page_and_map_in_chromium_with_no_csp_violation(browser, live_server, demo_index, accounts,
                                                                  results_dir):
    context = browser._browser.new_context(viewport={"width": 1366, "height": 768})  # no session cookie
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(live_server + f"/?period={PERIOD}")
        assert page.url.startswith(live_server + "/login?next=")
        page.screenshot(path=str(results_dir / "login.png"))
        page.fill("#login-name", "viewer")
        page.fill("#login-password", "not the password")
        page.click("button[type=submit]")
        assert "Wrong name or password" in page.inner_text("#login-error")
        assert [p for p in problems if "401" not in p] == []  # the wrong password's 401 is the one error
        problems.clear()
        page.fill("#login-password", accounts.password)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
        assert page.url == live_server + f"/?period={PERIOD.replace('/', '%2F')}" or page.url.endswith(PERIOD)
        assert "Signed in as viewer (viewer)" in " ".join(page.inner_text("header.topbar .who").split())
        page.screenshot(path=str(results_dir / "map-signed-in.png"))
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["harmmap_session"]["httpOnly"] and cookies["harmmap_session"]["sameSite"] == "Lax"
        page.click("header.topbar .who button")
        page.wait_for_url(live_server + "/login")
        page.goto(live_server + "/")
        assert page.url.startswith(live_server + "/login")
        assert problems == []
    finally:
        context.close()


@pytest.mark.browser
def test_api_html_pages_run_under_the_content_security_policy(browser, live_server, demo_index):
    """Policy enforced (no bypass): the OGC HTML pages and the OpenAPI page, and the map's ward panel."""
    from conftest import live_session

    context = browser._browser.new_context(viewport={"width": 1366, "height": 768})
    context.add_cookies([live_session(live_server, "analyst")])  # the API's HTML pages: an analyst
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        for path in ("/api/?f=html", "/api/collections?f=html", "/api/collections/wards?f=html",
                     "/api/collections/wards/items?f=html&limit=5", f"/api/collections/wards/items/{GIPSY_HILL}?f=html",
                     "/api/conformance?f=html", "/api/openapi?f=html"):
            r = page.goto(live_server + path)
            assert r.status == 200 and "content-security-policy" in r.headers, path
        page.goto(live_server + f"/?period={PERIOD}&ward={GIPSY_HILL}")
        page.wait_for_selector("[data-wards-loaded='704']", timeout=20_000)
        page.wait_for_selector("#worst-rows tr[data-ward]", timeout=20_000)
        page.locator("#worst-rows tr[data-ward]").first.click()
        page.wait_for_selector("#hm-link-briefing", timeout=20_000)
        assert problems == []
    finally:
        context.close()


def test_the_map_offers_only_the_links_the_role_may_follow(app):
    def body_class(role: str) -> str:
        html = app.test_client().sign_in(role).get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
        return re.search(r'<body class="([^"]*)"', html).group(1).split()

    assert body_class("viewer") == ["map-page", "hm-no-export", "hm-no-brief", "hm-no-api"]
    assert body_class("sergeant") == ["map-page", "hm-no-export", "hm-no-api"]
    assert body_class("analyst") == ["map-page"]
