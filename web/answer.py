"""How the web app answers a request for published data: one way, for the map's data, the map page, the
briefings and the API.

A response reads one snapshot (``snapshot()``: one REPEATABLE READ, READ ONLY transaction on the request's
connection, and the publish version it sees), so its body, its ETag and its Last-Modified come from the
same publish and reference load. ``validate()`` makes the ETag and answers 304 (``Unchanged``) before any
figure is read when the client's copy is current (If-None-Match, weak comparison as RFC 9110 says; else
If-Modified-Since). ``finish()`` puts on the headers every answer carries: the validators, Cache-Control
(marked data is never for shared caches), the protective marking and whether synthetic data is in it.
``json()`` and ``csv()`` are the two body forms; errors are problem documents (web/errors.py), and a
question the published data cannot answer (``harmmap.published.ReadError``, a malformed period) becomes
one inside ``snapshot()``.
"""

from __future__ import annotations

import csv as csv_module
import hashlib
import io
import json as json_module
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

import numpy as np
from flask import Flask, Response, request

from harmmap import periods, published
from harmmap.published import Snapshot
from web import ATTRIBUTION, disclosure, services
from web.db import connection
from web.errors import NoIndex, NotFound, Problem

#: Part of every ETag: change it when a response's shape changes, so no client keeps an old body.
FORMAT = "answer-2"

#: Cache-Control for marked data: a browser keeps it but asks each time; no shared cache stores it.
REVALIDATE = "private, max-age=0, must-revalidate"
#: For what is drawn with the time it was produced (PDFs) or answers a POST.
NO_STORE = "private, no-store"

SYNTHETIC_NOTE = ("SYNTHETIC: closures, disruptions, PAS results and asset seizures in this demo are synthetic "
                  "(docs/synthetic-data.md); drug offence counts are real MPS open data.")

T = TypeVar("T")


class NotAcceptable(Problem):
    status, title = 406, "Not acceptable"


class Unchanged(Exception):
    """The client's copy is current: answered with ``response`` (a 304)."""

    def __init__(self, response: Response) -> None:
        super().__init__("not modified")
        self.response = response


def init_app(app: Flask) -> None:
    app.register_error_handler(Unchanged, lambda e: e.response)


# --- the snapshot ----------------------------------------------------------------------------------

@contextmanager
def snapshot(*, need_index: bool = False) -> Iterator[Snapshot]:
    """The published state this response reads, on the request's connection; with ``need_index`` a 503
    while nothing is published. Inside the block a ``ReadError`` or a malformed period is a problem
    document that says what is wrong (a 400; a 404 for an unknown ward; a 503 when nothing is published)."""
    with problems(), connection(services().settings.db_timeout_s, snapshot=True) as conn:
        snap = Snapshot.read(conn)
        if need_index:
            snap.require_index()
        yield snap


class UnknownWard(NotFound):
    title = "Unknown ward"


class UnknownBorough(NotFound):
    title = "Unknown borough"


@contextmanager
def problems() -> Iterator[None]:
    """A question the published data cannot answer, as the problem a person can act on."""
    try:
        yield
    except periods.PeriodError as e:
        raise Problem(f"period: {e}") from None
    except published.NoIndexPublished as e:
        raise NoIndex(str(e)) from None
    except published.ReadError as e:
        raise Problem(str(e)) from None


# --- validators and headers ----------------------------------------------------------------------------

def etag_for(snap: Snapshot, *extra: Any) -> str:
    """Names exactly what a body was drawn from: the publish, the reference load, the marking, the reader's
    disclosure level, the path and every query argument (and ``extra``: the negotiated format)."""
    args = sorted((k, v) for k, values in request.args.lists() for v in values)
    key = [FORMAT, snap.version, snap.published_at.isoformat() if snap.published_at else None, snap.geo_batch,
           services().settings.protective_marking, disclosure.current().key, request.path, args,
           [str(x) for x in extra]]
    return hashlib.sha256(json_module.dumps(key).encode()).hexdigest()[:32]


def validate(snap: Snapshot, *extra: Any, synthetic: bool = False) -> str:
    """This request's ETag; raises ``Unchanged`` (a 304) when the client already has the body."""
    etag = etag_for(snap, *extra)
    if request.if_none_match:
        hit = request.if_none_match.contains_weak(etag)
    else:
        since, changed = request.if_modified_since, snap.last_modified
        hit = since is not None and changed is not None and changed.replace(microsecond=0) <= since
    if hit:
        raise Unchanged(finish(Response(status=304), snap, etag, synthetic=synthetic))
    return etag


def headers(resp: Response, *, synthetic: bool | None, cache: str = REVALIDATE) -> Response:
    """The marking and the synthetic label, and the cache policy: on every answer with figures in it."""
    resp.headers["Cache-Control"] = cache
    resp.headers["X-Protective-Marking"] = services().settings.protective_marking
    if synthetic is not None:
        resp.headers["X-Synthetic-Data"] = "true" if synthetic else "false"
    return resp


def finish(resp: Response, snap: Snapshot | None, etag: str | None, *, synthetic: bool = False,
           cache: str = REVALIDATE) -> Response:
    """Every answer's headers. ``etag`` None (a POST's answer: the same URL answers different bodies)
    means no validator and nothing kept. A body with a validator varies on Accept: the API negotiates its
    format, and an error is a problem document or a page by Accept everywhere."""
    if etag is None:
        return headers(resp, synthetic=synthetic, cache=NO_STORE if cache == REVALIDATE else cache)
    resp.set_etag(etag)
    if snap is not None and snap.last_modified is not None:
        resp.last_modified = snap.last_modified
    resp.vary.add("Accept")
    return headers(resp, synthetic=synthetic, cache=cache)


# --- bodies --------------------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars Python numbers, dates ISO strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def dumps(body: Any) -> str:
    return json_module.dumps(plain(body), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def metadata(synthetic: bool) -> dict[str, Any]:
    """The members every API body carries: the marking, the synthetic label and the attribution."""
    out: dict[str, Any] = {"marking": services().settings.protective_marking, "synthetic": bool(synthetic)}
    if synthetic:
        out["synthetic_note"] = SYNTHETIC_NOTE
    out["attribution"] = ATTRIBUTION
    return out


def json(body: Any, snap: Snapshot | None, etag: str | None, *, synthetic: bool = False,
         mimetype: str = "application/json", status: int = 200) -> Response:
    return finish(Response(dumps(body), status=status, mimetype=mimetype), snap, etag, synthetic=synthetic)


def json_view(build: Callable[[Snapshot], dict[str, Any]], *, need_index: bool = True) -> Response:
    """The whole answer of a JSON view over published data: its snapshot, its ETag (a 304 before ``build``
    reads anything), the body ``build`` makes from the snapshot, and the headers; the body's own
    ``synthetic`` member (if any) labels the response."""
    with snapshot(need_index=need_index) as snap:
        etag = validate(snap, synthetic=bool(snap.synthetic))
        body = build(snap)
    return json(body, snap, etag, synthetic=bool(body.get("synthetic", snap.synthetic)))


def csv_cell(value: Any) -> Any:
    """CSV cells: true/false for booleans; text a spreadsheet will not run as a formula (OWASP CSV injection)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv(columns: Iterable[str], rows: Iterable[Iterable[Any]], snap: Snapshot | None, etag: str | None, *,
        synthetic: bool = False, filename: str | None = None, lineterminator: str = "\r\n") -> Response:
    """A CSV body, every cell through ``csv_cell``; with ``filename`` a download (Content-Disposition)."""
    out = io.StringIO()
    writer = csv_module.writer(out, lineterminator=lineterminator)
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    resp = Response(out.getvalue(), mimetype="text/csv")
    if filename:
        resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        resp.charset = "utf-8"
    return finish(resp, snap, etag, synthetic=synthetic)


# --- content negotiation -------------------------------------------------------------------------------

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


# --- what a worker keeps ------------------------------------------------------------------------------

#: Entries a worker keeps before it starts again (each is one view of one publish: tens of kB).
CACHE_ENTRIES = 64


def cached(key: tuple, build: Callable[[], T]) -> T:
    """``build()``'s result kept per worker under ``key``, which must name the published data it came from
    (publish version, reference batch, marking, disclosure level, arguments): a publish or a reload then
    never serves a stale body, and only the first reader of a view waits for it."""
    svc = services()
    with svc.cache_lock:
        hit = svc.cache.get(key)
    if hit is not None:
        return hit
    value = build()
    with svc.cache_lock:
        if len(svc.cache) > CACHE_ENTRIES:
            svc.cache.clear()
        svc.cache[key] = value
    return value
