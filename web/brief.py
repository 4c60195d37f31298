"""Blueprint ``brief`` under ``/brief``: the SNT briefing PDFs (harmmap.briefing) over HTTP.

    GET /brief/ward/<E05 code>.pdf[?period=FY2025/26]        one A4 page
    GET /brief/borough/<E09 code or name>.pdf[?period=...]   overview, the diagnostic page, then one page per ward

Without ``period`` the map's default period is used. Unknown wards and boroughs are 404 and bad or
unpublished periods 400, as problem JSON. Each PDF is drawn from one snapshot of the published index;
it carries the protective marking, so it is never stored by a shared cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, g, redirect, request, url_for

from harmmap import briefing, published
from harmmap.briefing import Context
from harmmap.published import Snapshot
from web import answer, disclosure, services
from web.answer import UnknownBorough, UnknownWard

bp = Blueprint("brief", __name__)

WARD_CODE = re.compile(r"^E05\d{6}$")


@bp.before_request
def _problems_as_json() -> None:
    g.problem_json = True  # web/errors.py: a PDF route's errors are problem documents, not HTML


@contextmanager
def _snapshot() -> Iterator[tuple[Snapshot, Context]]:
    period = (request.args.get("period") or "").strip()[:40] or None
    with answer.snapshot() as snap:
        yield snap, briefing.open_context(snap, services().settings, period, disclosure=disclosure.current())


def _pdf(body: bytes, filename: str, ctx: Context) -> Response:
    resp = Response(body, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    resp.headers["X-Harm-Index-Version"] = str(ctx.version)
    # marked data, drawn with the time it was produced: never kept
    return answer.headers(resp, synthetic=ctx.synthetic, cache=answer.NO_STORE)


def _stem(name: str, ctx: Context) -> str:
    return f"{briefing.slug(name)}_{ctx.label.replace('/', '-')}"


@bp.get("/ward/<code>.pdf")
def ward_pdf(code: str) -> Response:
    """One ward's A4 briefing page."""
    code = code.strip().upper()
    if not WARD_CODE.match(code):
        raise UnknownWard(f"{code[:20]!r} is not a ward code: a 2022 London ward's GSS code looks like E05014095")
    with _snapshot() as (snap, ctx):
        try:
            body = briefing.ward_pdf(snap, ctx, code)
        except briefing.UnknownWard as e:
            raise UnknownWard(str(e)) from None
    return _pdf(body, f"{code}_{ctx.label.replace('/', '-')}.pdf", ctx)


@bp.get("/ward/<code>")
def ward_page(code: str) -> Response:
    """The older link form: the PDF, with the same query."""
    return redirect(url_for("brief.ward_pdf", code=code, **request.args), code=308)


@bp.get("/borough/<borough>.pdf")
def borough_pdf(borough: str) -> Response:
    """A borough's overview page, its diagnostic page (why did confidence move?), then one page per ward in
    rank order (borough by E09 code or name)."""
    with _snapshot() as (snap, ctx):
        try:
            where = snap.borough(borough[:60])
            body = briefing.borough_pdf(snap, ctx, where.code)
        except published.UnknownBorough as e:
            raise UnknownBorough(str(e)) from None
        name = where.name
    return _pdf(body, f"{_stem(name, ctx)}.pdf", ctx)
