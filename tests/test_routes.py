"""Every route of the app x every role: who is let in and who is refused (docs/security.md, "Who may see what").

The table below is written by hand from docs/security.md, not read from ``web.auth.ROUTE_ROLES``, so a wrong
or missing entry there fails here; and a route added to the app without a row here fails
``test_every_route_of_the_app_has_a_row``. Each (route, caller) pair is one real request through Flask's test
client: a person signed in through the sign-in form for the pages, the map's data and the briefings; a
program with that role's API key for the API.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.db

CALLERS = ("anonymous", "viewer", "sergeant", "analyst", "admin")
GIPSY_HILL = "E05014103"      # a Lambeth ward (2022 code)
PERIOD = "FY2025/26"
PAGE, API = "signed in", "API key"
AT_CHARING_CROSS = {"points": [[-0.1276, 51.5072]]}
AROUND_WESTMINSTER = {"geometry": {"type": "Polygon", "coordinates": [
    [[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.51], [-0.13, 51.50]]]}}


@dataclass(frozen=True)
class Route:
    """One row: a route of ``app.url_map`` and what each caller gets from it.

    ``expect`` gives one outcome per caller, in the order of CALLERS: ``ok`` (let in: any status but 401
    and 403), ``401`` (not signed in) or ``403`` (signed in, but below the role the route needs).
    ``url`` is the one requested (default: the rule itself); ``status`` is what a caller who is let in
    gets (None: it depends on who asks, as for /login)."""

    expect: str
    via: str
    method: str
    rule: str
    url: str = ""
    status: int | None = 200
    json: dict | None = None

    @property
    def target(self) -> str:
        return self.url or self.rule


ROUTES = [
    #     anon viewer sergeant analyst admin   how   method  rule
    # anyone: signing in and out, scripts and styles, monitoring
    Route("ok   ok   ok   ok   ok", PAGE, "GET", "/login", status=None),
    Route("ok   ok   ok   ok   ok", PAGE, "POST", "/login", status=None),    # no CSRF token: 400
    Route("ok   ok   ok   ok   ok", PAGE, "POST", "/logout", status=None),   # no CSRF token: 400, still signed in
    Route("ok   ok   ok   ok   ok", PAGE, "GET", "/static/<path:filename>", "/static/harmmap/harmmap.css"),
    Route("ok   ok   ok   ok   ok", API, "GET", "/healthz"),
    # viewer: the tasking map and its data
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/", f"/?period={PERIOD}"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/wards.geojson", "/map/wards.geojson?borough=E09000022"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/meta.json"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/values.json", f"/map/values.json?period={PERIOD}"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/worst.json", f"/map/worst.json?period={PERIOD}"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/ward/<ward_code>.json", f"/map/ward/{GIPSY_HILL}.json"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/search", "/map/search?q=brixton"),
    Route("401  ok   ok   ok   ok", PAGE, "GET", "/map/diagnostic.json", "/map/diagnostic.json?area=Lambeth"),
    # sergeant: the A4 briefings (an unknown borough: access is decided before a 26-page PDF is drawn)
    Route("401  403  ok   ok   ok", PAGE, "GET", "/brief/ward/<code>.pdf", f"/brief/ward/{GIPSY_HILL}.pdf"),
    Route("401  403  ok   ok   ok", PAGE, "GET", "/brief/ward/<code>", f"/brief/ward/{GIPSY_HILL}", status=308),
    Route("401  403  ok   ok   ok", PAGE, "GET", "/brief/borough/<borough>.pdf", "/brief/borough/E09999999.pdf",
          status=404),
    # analyst: the export, the spatial API, its documents and its tiles
    Route("401  403  403  ok   ok", PAGE, "GET", "/map/worst.csv", f"/map/worst.csv?period={PERIOD}"),
    Route("401  403  403  ok   ok", API, "GET", "/api/"),
    Route("401  403  403  ok   ok", API, "GET", "/api/conformance"),
    Route("401  403  403  ok   ok", API, "GET", "/api/openapi"),
    Route("401  403  403  ok   ok", API, "GET", "/api/collections"),
    Route("401  403  403  ok   ok", API, "GET", "/api/collections/<cid>", "/api/collections/wards"),
    Route("401  403  403  ok   ok", API, "GET", "/api/collections/<cid>/items", "/api/collections/wards/items?limit=2"),
    Route("401  403  403  ok   ok", API, "GET", "/api/collections/<cid>/items/<path:fid>",
          f"/api/collections/wards/items/{GIPSY_HILL}"),
    Route("401  403  403  ok   ok", API, "GET", "/api/harm/worst"),
    Route("401  403  403  ok   ok", API, "GET", "/api/harm/wards/<code>", f"/api/harm/wards/{GIPSY_HILL}"),
    Route("401  403  403  ok   ok", API, "GET", "/api/harm/diagnostic", "/api/harm/diagnostic?area=Lambeth"),
    Route("401  403  403  ok   ok", API, "GET", "/api/wards/at", "/api/wards/at?x=531000&y=178000"),
    Route("401  403  403  ok   ok", API, "POST", "/api/wards/at", json=AT_CHARING_CROSS),
    Route("401  403  403  ok   ok", API, "GET", "/api/wards/near",
          "/api/wards/near?lon=-0.1337&lat=51.5085&radius_m=500"),
    Route("401  403  403  ok   ok", API, "POST", "/api/wards/within", json=AROUND_WESTMINSTER),
    Route("401  403  403  ok   ok", API, "GET", "/api/tiles.json"),
    Route("401  403  403  ok   ok", API, "GET", "/api/tiles/<int:z>/<int:x>/<int:y>.mvt", "/api/tiles/10/511/340.mvt"),
]


def outcome(status: int) -> str:
    return str(status) if status in (401, 403) else "ok"


def ask(app, route: Route, caller: str, key: str | None = None):
    """One request as ``caller``: a person signed in for a page, a program with its key for the API. Accept:
    JSON, so that nobody signed in gets the 401 itself rather than the browser's redirect to sign in."""
    if caller == "anonymous":
        client = app.test_client()
    elif route.via == PAGE:
        client = app.test_client().sign_in(caller)
    else:
        client = app.test_client(as_role=caller)
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return client.open(route.target, method=route.method, headers=headers, json=route.json)


def check(route: Route, caller: str, r, want: str) -> list[str]:
    """What is wrong with the answer ``r`` to ``caller`` (nothing: an empty list)."""
    what = f"{caller:12} {route.method:4} {route.target}"
    got = outcome(r.status_code)
    if r.status_code >= 500:
        return [f"{what}: {r.status_code} {r.get_data(as_text=True)[:200]}"]
    if got != want:
        return [f"{what}: got {got} ({r.status_code}), expected {want}"]
    if got == "ok" and route.status is not None and r.status_code != route.status:
        return [f"{what}: let in, but answered {r.status_code}, not {route.status}"]
    if got == "401" and not r.headers.get("WWW-Authenticate", "").startswith("Bearer"):
        return [f"{what}: a 401 without WWW-Authenticate: Bearer"]
    if got in ("401", "403") and r.mimetype != "application/problem+json":
        return [f"{what}: a refusal as {r.mimetype}, not problem JSON"]
    return []


def test_every_route_of_the_app_has_a_row(app):
    """A new route cannot be added without saying here who may use it."""
    in_app = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    in_table = [(r.method, r.rule) for r in ROUTES]
    assert len(in_table) == len(set(in_table)), "a route has two rows"
    assert sorted(in_app - set(in_table)) == [], "routes of the app with no row in ROUTES: add them"
    assert sorted(set(in_table) - in_app) == [], "rows in ROUTES for routes the app no longer has"
    assert all(len(r.expect.split()) == len(CALLERS) for r in ROUTES)


def test_every_route_lets_in_or_refuses_each_role_as_the_table_says(app, accounts, demo_index):
    wrong, seen = [], []
    for route in ROUTES:
        got_row = []
        for caller, want in zip(CALLERS, route.expect.split()):
            r = ask(app, route, caller)
            got_row.append(f"{r.status_code}")
            wrong += check(route, caller, r, want)
        seen.append(f"{route.method:4} {route.target[:60]:60} " + "  ".join(f"{s:>4}" for s in got_row))
    print("\n".join(seen))
    assert not wrong, "\n" + "\n".join(wrong)


@pytest.mark.parametrize("which", ["expired", "revoked"])
def test_an_expired_or_revoked_key_is_refused_wherever_a_role_is_needed(app, accounts, demo_index, which):
    """A key that has ended is as good as none: 401 wherever a role is needed; public routes still answer."""
    key = accounts.expired_key if which == "expired" else accounts.revoked_key
    wrong = []
    for route in ROUTES:
        want = route.expect.split()[0]   # as for nobody signed in
        wrong += check(route, f"{which} key", ask(app, route, "anonymous", key=key), want)
    assert not wrong, "\n" + "\n".join(wrong)
