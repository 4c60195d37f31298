"""What every API response shares: one read-only snapshot, validators from the publish version, the
marking and synthetic label, content negotiation, and parameter checks that answer 400 problems.

A response reads one REPEATABLE READ snapshot, so its body, its ETag and its Last-Modified come from the
same publish version and reference load. ``If-None-Match`` (weak comparison, RFC 9110) or
``If-Modified-Since`` is answered 304 before any figure is read.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import psycopg
from flask import Response, request

from harmmap import db, reports
from web import ATTRIBUTION, connection, disclosure, services
from web.errors import NoIndex, Problem
from web.tasking_data import plain

#: Part of every ETag: change it when a response's shape changes, so no client keeps an old body.
FORMAT = "api-1"

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG27700 = "http://www.opengis.net/def/crs/EPSG/0/27700"
#: Each CRS the API serves: (SRID, axes swapped against x/y, decimals). EPSG:4326 is latitude first.
CRSS = {CRS84: (4326, False, 7), EPSG4326: (4326, True, 7), EPSG27700: (27700, False, 2)}
_CRS_ALIASES = {"crs84": CRS84, "ogc:crs84": CRS84, "[ogc:crs84]": CRS84, "epsg:4326": EPSG4326,
                "[epsg:4326]": EPSG4326, "epsg:27700": EPSG27700, "[epsg:27700]": EPSG27700}

SYNTHETIC_NOTE = ("SYNTHETIC: closures, disruptions, PAS results and asset seizures in this demo are synthetic "
                  "(docs/synthetic-data.md); drug offence counts are real MPS open data.")


class NotAcceptable(Problem):
    status, title = 406, "Not acceptable"


class TooLarge(Problem):
    status, title = 413, "Content too large"


@dataclass(frozen=True)
class Snapshot:
    """What a response is drawn from: the publish version (None while nothing is published), whether
    synthetic data is in it, and the reference load."""

    conn: psycopg.Connection
    version: int | None
    published_at: datetime | None
    synthetic: bool | None
    geo_batch: int | None
    geo_loaded_at: datetime | None

    @property
    def last_modified(self) -> datetime | None:
        times = [t for t in (self.published_at, self.geo_loaded_at) if t is not None]
        return max(times) if times else None

    def require_index(self) -> int:
        if self.version is None:
            raise NoIndex(reports.NO_INDEX)
        return self.version


@contextmanager
def snapshot() -> Iterator[Snapshot]:
    """One read-only REPEATABLE READ transaction (``web.connection``), on the request's connection."""
    with connection(services().settings.db_timeout_s, snapshot=True) as conn:
        row = conn.execute(db.query("api_current")).fetchone()
        yield Snapshot(conn, **row)


# --- validators and headers ----------------------------------------------------------------------

def etag_for(snap: Snapshot, *extra: Any) -> str:
    args = sorted((k, v) for k, values in request.args.lists() for v in values)
    key = [FORMAT, snap.version, snap.published_at.isoformat() if snap.published_at else None, snap.geo_batch,
           services().settings.protective_marking, disclosure.current().key, request.path, args,
           [str(x) for x in extra]]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]


def finish(resp: Response, snap: Snapshot, etag: str | None, *, synthetic: bool = False) -> Response:
    """The headers every API response carries; ``etag`` None for an answer to a POST (no validator: the
    same URL answers different bodies)."""
    if etag is not None:
        resp.set_etag(etag)
        if snap.last_modified is not None:
            resp.last_modified = snap.last_modified
    else:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Protective-Marking"] = services().settings.protective_marking
        resp.headers["X-Synthetic-Data"] = "true" if synthetic else "false"
        return resp
    resp.headers["Cache-Control"] = "private, max-age=0, must-revalidate"  # marked data: no shared caches
    resp.headers["X-Protective-Marking"] = services().settings.protective_marking
    resp.headers["X-Synthetic-Data"] = "true" if synthetic else "false"
    resp.vary.add("Accept")
    return resp


def not_modified(snap: Snapshot, etag: str, *, synthetic: bool = False) -> Response | None:
    """A 304 when the client's copy is current: If-None-Match first; If-Modified-Since only without it."""
    if request.if_none_match:
        hit = request.if_none_match.contains_weak(etag)
    else:
        since, changed = request.if_modified_since, snap.last_modified
        hit = since is not None and changed is not None and changed.replace(microsecond=0) <= since
    return finish(Response(status=304), snap, etag, synthetic=synthetic) if hit else None


class Unchanged(Exception):
    """The client's copy is current: answered with ``response`` (a 304) by the blueprint."""

    def __init__(self, response: Response) -> None:
        super().__init__("not modified")
        self.response = response


def validate(snap: Snapshot, *extra: Any, synthetic: bool = False) -> str:
    """This request's ETag; raises ``Unchanged`` (answered 304) when the client already has the body."""
    etag = etag_for(snap, *extra)
    if hit := not_modified(snap, etag, synthetic=synthetic):
        raise Unchanged(hit)
    return etag


def metadata(synthetic: bool) -> dict[str, Any]:
    """The members every JSON body carries: the marking, the synthetic label and the attribution."""
    out: dict[str, Any] = {"marking": services().settings.protective_marking, "synthetic": bool(synthetic)}
    if synthetic:
        out["synthetic_note"] = SYNTHETIC_NOTE
    out["attribution"] = ATTRIBUTION
    return out


def dumps(body: Any) -> str:
    return json.dumps(plain(body), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_response(body: Any, snap: Snapshot, etag: str, *, mimetype: str = "application/json",
                  synthetic: bool = False, status: int = 200) -> Response:
    return finish(Response(dumps(body), status=status, mimetype=mimetype), snap, etag, synthetic=synthetic)


def csv_cell(value: Any) -> Any:
    """CSV cells: true/false for booleans; text a spreadsheet will not run as a formula (OWASP CSV injection)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def now_stamp() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- content negotiation -------------------------------------------------------------------------

_F_ALIASES = {"json": "json", "geojson": "json", "application/json": "json", "application/geo+json": "json",
              "html": "html", "text/html": "html", "csv": "csv", "text/csv": "csv"}


def output_format(allowed: tuple[str, ...] = ("json", "html")) -> str:
    """``f=`` wins; otherwise the Accept header (a browser gets HTML, everything else JSON)."""
    f = request.args.get("f")
    if f is not None:
        fmt = _F_ALIASES.get(f.strip().lower())
        if fmt not in allowed:
            raise Problem(f"f must be one of {', '.join(allowed)}, not {f[:30]!r}")
        return fmt
    offered = {"json": ["application/geo+json", "application/json"], "html": ["text/html"], "csv": ["text/csv"]}
    mimes = [m for fmt in allowed for m in offered[fmt]]
    best = request.accept_mimetypes.best_match(mimes, default=None)
    if best is None:
        if not request.accept_mimetypes or request.accept_mimetypes.best in ("*/*", None) \
                or "*/*" in request.accept_mimetypes.values():
            return allowed[0]
        raise NotAcceptable(f"this resource is served as {', '.join(allowed)}; use f= or an Accept header for one")
    for fmt in allowed:
        if best in offered[fmt]:
            return fmt
    return allowed[0]


# --- parameters ----------------------------------------------------------------------------------

def check_params(allowed: Iterable[str]) -> None:
    """OGC API Features /req/core/query-param-unknown: an undeclared parameter is a 400, as is a repeat."""
    allowed = set(allowed)
    for name in request.args:
        if name not in allowed:
            raise Problem(f"unknown query parameter {name[:40]!r}; this resource takes "
                          f"{', '.join(sorted(allowed)) or 'none'}")
        if len(request.args.getlist(name)) > 1:
            raise Problem(f"query parameter {name[:40]!r} is given more than once")


def arg(name: str) -> str | None:
    value = request.args.get(name)
    return None if value is None else value.strip()


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    text = arg(name)
    if text in (None, ""):
        return default
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise Problem(f"{name} must be a whole number from {lo} to {hi}, not {text[:30]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise Problem(f"{name} must be from {lo} to {hi}, not {value}")
    return value


def float_arg(name: str, *, required: bool = False) -> float | None:
    text = arg(name)
    if text in (None, ""):
        if required:
            raise Problem(f"{name} is required")
        return None
    try:
        value = float(text)
    except ValueError:
        raise Problem(f"{name} must be a number, not {text[:30]!r}") from None
    if not math.isfinite(value):
        raise Problem(f"{name} must be a finite number, not {text[:30]!r}")
    return value


def bool_arg(name: str, default: bool = False) -> bool:
    text = arg(name)
    if text in (None, ""):
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise Problem(f"{name} must be true or false, not {text[:30]!r}")


def crs_uri(text: str | None, name: str) -> str:
    """A CRS this API serves, given as its OGC URI (or the short forms EPSG:27700, CRS84); else a 400."""
    if text in (None, ""):
        return CRS84
    uri = text if text in CRSS else _CRS_ALIASES.get(text.lower())
    if uri is None:
        raise Problem(f"{name} {text[:80]!r} is not supported: use one of {', '.join(CRSS)}")
    return uri


def parse_bbox(text: str, crs: str) -> tuple[float, float, float, float]:
    """``bbox`` as (min x, min y, max x, max y) with x = longitude or easting, whatever the CRS axis order.

    Four or six numbers (a 3D box's heights are ignored); in ``bbox-crs`` axis order, so for EPSG:4326
    latitude comes first (OGC API Features Part 2).
    """
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise Problem(f"bbox must be 4 numbers (min x, min y, max x, max y) or 6, not {len(parts)}")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise Problem(f"bbox must be numbers separated by commas, not {text[:80]!r}") from None
    if not all(math.isfinite(n) for n in nums):
        raise Problem("bbox numbers must be finite")
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    a, b, c, d = nums
    if CRSS[crs][1]:
        a, b, c, d = b, a, d, c
    if a > c or b > d:
        raise Problem("bbox must be min x, min y, max x, max y with min <= max (a box across the "
                      "antimeridian is not supported here)")
    if CRSS[crs][0] == 4326 and not (-180 <= a <= 180 and -180 <= c <= 180 and -90 <= b <= 90 and -90 <= d <= 90):
        raise Problem("bbox is outside longitude -180..180 / latitude -90..90: is it in another CRS? "
                      "Say so with bbox-crs")
    return a, b, c, d


_DATE = r"\d{4}-\d{2}-\d{2}"
_DATETIME = _DATE + r"[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"


def _instant(text: str, *, end: bool) -> datetime:
    try:
        if re.fullmatch(_DATE, text):
            d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return d + timedelta(days=1) - timedelta(microseconds=1) if end else d
        if re.fullmatch(_DATETIME, text):
            return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        pass
    raise Problem(f"datetime {text[:40]!r} is not an RFC 3339 date or date-time (e.g. 2025-04-01 or "
                  "2025-04-01T00:00:00Z)")


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """OGC ``datetime``: an instant, or an interval ``start/end`` with ``..`` (or nothing) for an open end.

    Returns the closed interval (start, end), None for an open end; a date covers its whole day (UTC).
    """
    if "/" not in text:
        return _instant(text, end=False), _instant(text, end=True)
    parts = text.split("/")
    if len(parts) != 2:
        raise Problem(f"datetime {text[:60]!r} must be one instant or start/end")
    lo_text, hi_text = (p.strip() for p in parts)
    lo = None if lo_text in ("", "..") else _instant(lo_text, end=False)
    hi = None if hi_text in ("", "..") else _instant(hi_text, end=True)
    if lo is None and hi is None:
        raise Problem("datetime ../.. has no start and no end: leave datetime out instead")
    if lo is not None and hi is not None and lo > hi:
        raise Problem(f"datetime {text[:60]!r} ends before it starts")
    return lo, hi
