"""Data for the tasking map: what was published, one layer for every ward, the worst wards, one ward in
full, and ward search (JSON; the worst wards also as CSV).

Every response reads one REPEATABLE READ snapshot, so its body and its ETag come from the same publish
version; the ETag names that version, the reference data, the marking and the request's query, and a
matching ``If-None-Match`` is answered 304 before any figure is read. Only the published aggregates are
read (``harm.current_*``, ``harm.publish``, ``geo.*``): no record, premises, address or network reference.
Every body carries the protective marking and whether synthetic data is in it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import numpy as np
import psycopg
from flask import Blueprint, Response, g, request

from harmmap import db, periods, reports, scoring
from harmmap.indicators import BY_SLUG, INDICATORS
from web import ATTRIBUTION, connection, disclosure, services
from web.errors import NoIndex, NotFound, Problem, report_problems

bp = Blueprint("tasking_data", __name__)

#: Part of every ETag: change it when a response's shape changes, so no client keeps an old body.
FORMAT = "tasking-data-1"

HARM_INDEX = "harm_index"

#: ColorBrewer YlOrRd, 5 classes, worst first (colour-blind safe, prints in greyscale in order).
YLORRD = ("#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2")
#: The class of wards whose count is shown as "fewer than 5" (harmmap/disclosure.py): a light purple, off the
#: YlOrRd ramp, because its rate is not known to the reader and may sit in any class.
SUPPRESSED_COLOR = "#cbc9e2"
#: The harm index legend: decile groups in words a tasking officer reads, worst first.
DECILE_GROUPS = (("Worst 10%", (1,)), ("10–20%", (2,)), ("20–40%", (3, 4)), ("40–70%", (5, 6, 7)),
                 ("Least harm 30%", (8, 9, 10)))
_GROUP_OF_DECILE = {d: k for k, (_, ds) in enumerate(DECILE_GROUPS) for d in ds}

CITY_NOTE = ("The City of London has its own police force (City of London Police): its wards are not "
             "covered by MPS data, so they have no harm score.")
CSV_COLUMNS = ("rank", "ward_code", "ward_name", "borough_name", "score", "decile", "rank_london", "hotspot",
               "lisa", "top_indicators", "synthetic", "protective_marking")
MAX_QUERY = 100


class UnknownWard(NotFound):
    title = "Unknown ward"


@bp.before_request
def _problems_as_json() -> None:
    g.problem_json = True  # web/errors.py: a bad .csv or /search request gets a problem document too


# --- the snapshot and its validator -------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    """What ``harm.current`` names (all None while nothing is published) and the reference batch."""

    version: int | None
    published_at: datetime | None
    synthetic: bool | None
    weights: dict[str, float] | None
    indicators: dict[str, dict] | None
    geo_batch: int | None


@contextmanager
def snapshot(*, need_index: bool = True) -> Iterator[tuple[psycopg.Connection, Published]]:
    with connection(snapshot=True) as conn:
        pub = Published(**conn.execute(db.query("map_current")).fetchone())
        if need_index and pub.version is None:
            raise NoIndex(reports.NO_INDEX)
        yield conn, pub


def etag_for(pub: Published) -> str:
    args = sorted((k, v) for k, values in request.args.lists() for v in values)
    key = [FORMAT, pub.version, pub.published_at.isoformat() if pub.published_at else None, pub.geo_batch,
           services().settings.protective_marking, disclosure.current().key, request.path, args]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]


def _headers(resp: Response, etag: str) -> Response:
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, max-age=0, must-revalidate"  # marked data: no shared caches
    resp.headers["X-Protective-Marking"] = services().settings.protective_marking
    return resp


def not_modified(etag: str) -> Response | None:
    if request.if_none_match.contains_weak(etag):  # RFC 9110: If-None-Match compares weakly
        return _headers(Response(status=304), etag)
    return None


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


def as_json(body: dict[str, Any], etag: str) -> Response:
    text = json.dumps(plain(body), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _headers(Response(text, mimetype="application/json"), etag)


# --- parameters ---------------------------------------------------------------------------------

_num, _int = reports.number, reports.whole


def _month(d: date | str | None) -> str | None:
    if d is None:
        return None
    return str(d)[:7]


def period_row(conn: psycopg.Connection, pub: Published, args: Mapping[str, str] | None = None) -> dict:
    """The requested (or default) published period, or a 400 that says what is published."""
    label = ((request.args if args is None else args).get("period") or "").strip()
    if not label:
        row = conn.execute(db.query("map_default_period"), {"version": pub.version}).fetchone()
        if row is None:
            raise NoIndex(reports.NO_INDEX)
        label = row["period"]
    with report_problems():
        return reports.published_period(conn, label[:40])


def borough_arg(conn: psycopg.Connection, args: Mapping[str, str]) -> tuple[str, str] | None:
    text = (args.get("borough") or "").strip()
    if not text:
        return None
    try:
        return reports.resolve_borough(conn, text[:60])
    except reports.ReportError as e:
        raise Problem(f"borough: {e}") from None


def layer_arg(args: Mapping[str, str]) -> str:
    layer = (args.get("layer") or HARM_INDEX).strip()
    if layer != HARM_INDEX and layer not in BY_SLUG:
        raise Problem(f"layer {layer[:40]!r} is not a map layer: one of {HARM_INDEX}, {', '.join(BY_SLUG)}")
    return layer


def rule_args(args: Mapping[str, str]) -> tuple[str, int, float | None]:
    rule = (args.get("rule") or "top_n").strip()
    if rule not in reports.WORST_RULES:
        raise Problem(f"rule {rule[:40]!r} is not a rule: one of {', '.join(reports.WORST_RULES)}")
    raw_n = args.get("n")
    n = 20
    if raw_n not in (None, ""):
        try:
            n = int(raw_n)
        except ValueError:
            raise Problem(f"n must be a whole number of wards, not {raw_n[:20]!r}") from None
        if not 1 <= n <= 1000:
            raise Problem(f"n must be between 1 and 1000, not {n}")
    raw_t = args.get("threshold")
    threshold = None
    if raw_t not in (None, ""):
        try:
            threshold = float(raw_t)
        except ValueError:
            raise Problem(f"threshold must be a score from 0 to 100, not {raw_t[:20]!r}") from None
        if not math.isfinite(threshold):
            raise Problem(f"threshold must be a score from 0 to 100, not {raw_t[:20]!r}")
    if rule == "threshold" and threshold is None:
        raise Problem("rule=threshold needs threshold, a score from 0 to 100 (e.g. threshold=60)")
    return rule, n, threshold


def _label(slug: str) -> str:
    ind = BY_SLUG.get(slug)
    return ind.label if ind else slug


# --- classes ------------------------------------------------------------------------------------

def _ramp(n: int) -> list[str]:
    """n colours of the 5-class YlOrRd ramp, worst first, as far apart as the classes allow."""
    if n <= 1:
        return [YLORRD[2]] * n
    return [YLORRD[round(j * (len(YLORRD) - 1) / (n - 1))] for j in range(n)]


def _format_range(lo: float, hi: float, kind: str, places: int) -> str:
    def one(x: float) -> str:
        text = f"{x:,.{places}f}"
        return f"£{text}" if kind == "value" else text

    body = one(lo) if one(lo) == one(hi) else f"{one(lo)}–{one(hi)}"
    return f"{body}%" if kind == "survey" else f"{body} per 1,000"


def quantile_classes(values: Sequence[float] | np.ndarray, *, kind: str,
                     higher_is_worse: bool = True) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Up to 5 quantile classes of ``values`` (NaN ignored), worst first, and each value's class (-1: none).

    Breaks are the 20/40/60/80% quantiles. When zeros fill the lowest break (sparse counts: most wards
    had no closure), zero becomes a class of its own, labelled "0", and the wards above zero are split at
    their own quartiles. Breaks that coincide are merged, so fewer than 5 classes can come back; an empty
    class is never returned. Labels give each class's actual range in the layer's unit.
    """
    x = np.asarray(values, dtype=float)
    valid = np.isfinite(x)
    group = np.full(x.shape, -1)
    if not valid.any():
        return [], group
    v = x[valid]
    if (v == 0).any() and np.quantile(v, 0.2) <= 0:
        positive = v[v > 0]
        edges = np.unique(np.quantile(positive, [0.25, 0.5, 0.75])) if positive.size else np.array([])
        g_valid = np.where(v > 0, np.searchsorted(edges, v, side="left") + 1, 0)
        zero_class = True
    else:
        edges = np.unique(np.quantile(v, [0.2, 0.4, 0.6, 0.8]))
        g_valid = np.searchsorted(edges, v, side="left")
        zero_class = False
    used = np.unique(g_valid)                       # ascending, non-empty groups only
    renumber = {old: new for new, old in enumerate(used)}
    g_valid = np.array([renumber[k] for k in g_valid])
    bounds = [(float(v[g_valid == k].min()), float(v[g_valid == k].max()), int((g_valid == k).sum()))
              for k in range(len(used))]
    places = 0 if max(abs(b[1]) for b in bounds) >= 100 else 1
    while True:
        labels = ["0" if zero_class and k == 0 else _format_range(lo, hi, kind, places)
                  for k, (lo, hi, _) in enumerate(bounds)]
        if len(set(labels)) == len(labels) or places >= 3:
            break
        places += 1
    order = list(range(len(used)))[::-1] if higher_is_worse else list(range(len(used)))  # worst first
    colours = _ramp(len(order))
    classes = [{"label": labels[a], "color": colours[j], "min": bounds[a][0], "max": bounds[a][1],
                "count": bounds[a][2]} for j, a in enumerate(order)]
    position = {a: j for j, a in enumerate(order)}
    group[valid] = [position[k] for k in g_valid]
    return classes, group


def decile_classes(scores: Sequence[float | None],
                   deciles: Sequence[int | None]) -> tuple[list[dict], list[int | None]]:
    """The harm index legend: 5 decile groups (worst first) with the score range each holds, and each
    ward's group (None when it has no decile in scope)."""
    k = [None if d is None else _GROUP_OF_DECILE.get(int(d)) for d in deciles]
    classes = []
    for j, (label, ds) in enumerate(DECILE_GROUPS):
        members = [s for s, kk in zip(scores, k) if kk == j and s is not None]
        classes.append({"label": label, "color": YLORRD[j], "min": min(members) if members else None,
                        "max": max(members) if members else None, "count": len(members), "deciles": list(ds)})
    return classes, k


# --- /map/meta.json -----------------------------------------------------------------------------

def _layers(pub: Published) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": HARM_INDEX, "label": "Harm index", "unit": "score 0-100", "kind": "index",
                                  "higher_is_worse": True, "synthetic": bool(pub.synthetic)}]
    published = pub.indicators or {}
    for ind in INDICATORS:
        meta = published.get(ind.slug)
        out.append({"id": ind.slug, "label": ind.label, "unit": reports.UNITS[ind.kind], "kind": ind.kind,
                    "higher_is_worse": ind.harm_direction > 0, "synthetic": bool(meta and meta.get("synthetic")),
                    "loaded": meta is not None})
    return out


@bp.get("/meta.json")
def meta_json() -> Response:
    """What is published: periods, layers, boroughs, when the data were updated."""
    with snapshot() as (conn, pub):
        etag = etag_for(pub)
        if hit := not_modified(etag):
            return hit
        body = meta_body(conn, pub)
    return as_json(body, etag)


def meta_body(conn: psycopg.Connection, pub: Published) -> dict[str, Any]:
    rows = conn.execute(db.query("map_periods"), {"version": pub.version}).fetchall()
    default = conn.execute(db.query("map_default_period"), {"version": pub.version}).fetchone()
    boroughs = conn.execute(db.query("map_boroughs")).fetchall()
    order = {ind.slug: i for i, ind in enumerate(INDICATORS)}
    period_list = []
    for r in rows:
        available = sorted((s for s in r["indicators"] if s in order), key=order.__getitem__)
        period_list.append({
            "period": r["period"], "kind": r["kind"], "title": periods.parse(r["period"]).title,
            "first_month": _month(r["first_month"]), "last_month": _month(r["last_month"]),
            "synthetic": r["synthetic"], "weights": {k: round(w, 4) for k, w in r["weights"].items()},
            "dropped": list(r["dropped"]), "wards_ranked": r["wards_ranked"],
            "layers": ([HARM_INDEX] if r["weights"] else []) + available})
    published = pub.indicators or {}
    body = {
        "marking": services().settings.protective_marking,
        "version": pub.version,
        "published_at": pub.published_at,
        "synthetic": pub.synthetic,
        "attribution": ATTRIBUTION,
        "periods": period_list,
        "default_period": default["period"] if default else None,
        "layers": _layers(pub),
        "boroughs": [{"code": b["code"], "name": b["name"], "city_of_london": bool(b["city_of_london"])}
                     for b in boroughs],
        "data_updated": {
            "published_at": pub.published_at,
            "indicators": {ind.slug: {"first": _month(published[ind.slug].get("first")),
                                      "last": _month(published[ind.slug].get("last")),
                                      "synthetic": bool(published[ind.slug].get("synthetic"))}
                           for ind in INDICATORS if ind.slug in published},
        },
        "weights": pub.weights,
    }
    return body


# --- /map/values.json ---------------------------------------------------------------------------

def _available_layers(conn: psycopg.Connection, pub: Published, period: dict) -> list[str]:
    have = {r["indicator"] for r in conn.execute(db.query("map_available"),
                                                  {"version": pub.version, "period": period["period"]})}
    return ([HARM_INDEX] if period["weights"] else []) + [i.slug for i in INDICATORS if i.slug in have]


@bp.get("/values.json")
def values_json() -> Response:
    """One layer (the harm index or one indicator) of one period, for every 2022 ward, with its legend."""
    layer_arg(request.args)  # a bad layer is a 400 before anything is read
    with snapshot() as (conn, pub):
        etag = etag_for(pub)
        if hit := not_modified(etag):
            return hit
        body = values_body(conn, pub, request.args)
    return as_json(body, etag)


def values_body(conn: psycopg.Connection, pub: Published, args: Mapping[str, str]) -> dict[str, Any]:
    """values.json for ``args`` (period, layer, borough), read in the caller's snapshot."""
    layer = layer_arg(args)
    period = period_row(conn, pub, args)
    borough = borough_arg(conn, args)
    available = _available_layers(conn, pub, period)
    if layer not in available:
        raise Problem(f"layer {layer} has no figures for {period['period']}; layers available for "
                      f"{period['period']}: {', '.join(available) or 'none'}")
    rows = conn.execute(db.query("map_values"),
                        {"version": pub.version, "period": period["period"], "indicator": layer}).fetchall()
    in_scope = [borough is None or r["borough_code"] == borough[0] for r in rows]
    disc = disclosure.current()
    small = np.zeros(len(rows), dtype=bool)
    wards: dict[str, dict[str, Any]] = {}
    if layer == HARM_INDEX:
        label, unit, kind, higher_is_worse = "Harm index", "score 0-100", "index", True
        v = [_num(r["score"]) for r in rows]
        if borough is None:
            rank = [r["rank_london"] for r in rows]
            dec = [r["decile_london"] for r in rows]
        else:
            rank = [r["rank_borough"] if s else None for r, s in zip(rows, in_scope)]
            dec = [r["decile_borough"] if s else None for r, s in zip(rows, in_scope)]
        classes, k = decile_classes(v, dec)
        n_ranked = sum(x is not None for x in rank)
    else:
        ind = BY_SLUG[layer]
        label, unit, kind, higher_is_worse = ind.label, reports.UNITS[ind.kind], ind.kind, ind.harm_direction > 0
        column = "eb_pct" if ind.kind == "survey" else "rate_per_1000"
        x = np.array([np.nan if r[column] is None else float(r[column]) for r in rows])
        # Wards whose count is suppressed have no rate, rank or class of their own for this reader: the
        # ranks and classes are those of the wards shown exactly (harmmap/disclosure.py).
        small = np.array([disc.small_count(layer, r["value"]) for r in rows], dtype=bool)
        x = np.where(small, np.nan, x)
        v = [_num(a) for a in x]
        # As for the index: London-wide, or within the borough (ranks, classes; the rest keep v only).
        scoped = np.where(in_scope, x, np.nan)
        r_scope = scoring.rank_desc(scoped)                # 1 = highest; NaN unranked
        n_ranked = int(np.isfinite(r_scope).sum())
        d_scope = scoring.decile(r_scope, n_ranked) if n_ranked else np.full(x.shape, np.nan)
        rank = [_int(a) for a in r_scope]
        dec = [_int(a) for a in d_scope]
        classes, groups = quantile_classes(scoped, kind=ind.kind, higher_is_worse=higher_is_worse)
        k = [int(gk) if gk >= 0 else None for gk in groups]
        hidden = small & np.asarray(in_scope, dtype=bool)
        if hidden.any():
            classes.append({"label": disc.text, "color": SUPPRESSED_COLOR, "min": None, "max": None,
                            "count": int(hidden.sum()), "suppressed": True})
            for i in np.flatnonzero(hidden):
                k[i] = len(classes) - 1
    layer_synthetic = bool(period["synthetic"]) if layer == HARM_INDEX \
        else bool((pub.indicators or {}).get(layer, {}).get("synthetic"))
    for i, r in enumerate(rows):
        wards[r["ward_code"]] = {"v": None if v[i] is None else round(v[i], 4), "k": k[i], "rank": _int(rank[i]),
                                 "decile": _int(dec[i]), "hotspot": r["hotspot"], "lisa": r["lisa"]}
        if small[i]:
            wards[r["ward_code"]]["suppressed"] = disc.text
    body = {
        "marking": services().settings.protective_marking,
        "version": pub.version,
        # anything in the body: the layer's figures, and the hotspot classes, which come from the index
        "synthetic": bool(period["synthetic"]) or layer_synthetic,
        "layer_synthetic": layer_synthetic,
        "period": period["period"],
        "title": periods.parse(period["period"]).title,
        "layer": layer,
        "label": label,
        "unit": unit,
        "kind": kind,
        "higher_is_worse": higher_is_worse,
        "borough": {"code": borough[0], "name": borough[1]} if borough else None,
        "rank_scope": "borough" if borough else "london",
        "n_ranked": n_ranked,
        "classes": classes,
        "layers_available": available,
        "disclosure": disc.describe(),
        "wards": wards,
    }
    if borough and borough[0] == "E09000001":
        body["note"] = CITY_NOTE
    return body


# --- /map/worst.json and /map/worst.csv ---------------------------------------------------------

def _worst_result(conn: psycopg.Connection, pub: Published, args: Mapping[str, str]) -> reports.Worst:
    rule, n, threshold = rule_args(args)
    period = period_row(conn, pub, args)
    borough = borough_arg(conn, args)
    try:
        return reports.worst(conn, period["period"], mode=rule, n=n, threshold=threshold,
                             borough=borough[0] if borough else None, disclosure=disclosure.current())
    except reports.ReportError as e:
        raise Problem(str(e)) from None


def _worst_rows(result: reports.Worst) -> list[dict[str, Any]]:
    rows = []
    for r in result.rows.to_dict("records"):
        rows.append({
            "rank": _int(r["rank"]), "ward_code": r["ward_code"], "ward_name": r["ward_name"],
            "borough_code": r["borough_code"], "borough_name": r["borough_name"], "score": _num(r["score"]),
            "decile": _int(r["decile"]), "rank_london": _int(r["rank_london"]),
            "decile_london": _int(r["decile_london"]), "hotspot": r["hotspot"], "lisa": r["lisa_cluster"],
            "tied_at_cutoff": bool(r["tied_at_cutoff"]), "synthetic": bool(r["synthetic"]),
            "top_indicators": [{"indicator": slug, "label": _label(slug), "points": round(points, 2)}
                               for slug, points in r["top_contributions"]],
            "top_indicators_text": r["top_indicators"],
        })
    return rows


@bp.get("/worst.json")
def worst_json() -> Response:
    """The worst-affected wards by one stated rule (harmmap.reports.worst, as `harmmap index show`)."""
    rule_args(request.args)  # a bad rule, n or threshold is a 400 before anything is read
    with snapshot() as (conn, pub):
        etag = etag_for(pub)
        if hit := not_modified(etag):
            return hit
        body = worst_body(conn, pub, request.args)
    return as_json(body, etag)


def worst_body(conn: psycopg.Connection, pub: Published, args: Mapping[str, str]) -> dict[str, Any]:
    """worst.json for ``args`` (period, borough, rule, n, threshold), read in the caller's snapshot."""
    result = _worst_result(conn, pub, args)
    body = {
        "marking": services().settings.protective_marking,
        "version": result.version,
        "synthetic": result.synthetic,
        "period": result.period,
        "title": periods.parse(result.period).title,
        "rule": result.rule,
        "n": _int(result.rows.attrs.get("n")),
        "threshold": _num(result.rows.attrs.get("threshold")),
        "note": result.note,
        "borough": {"code": result.borough_code, "name": result.borough_name} if result.borough_code else None,
        "n_ranked": result.n_ranked,
        "weights": {k: round(w, 4) for k, w in result.weights.items()},
        "dropped": result.dropped,
        "synthetic_indicators": result.synthetic_indicators,
        "disclosure": disclosure.current().describe(),
        "rows": _worst_rows(result),
    }
    if result.borough_code == "E09000001":
        body["note"] = CITY_NOTE
    return body


def _csv_cell(value: Any) -> str:
    """Text a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/worst.csv")
def worst_csv() -> Response:
    """The same rows as worst.json, as a CSV file to download (the marking is in every row)."""
    rule_args(request.args)
    marking = services().settings.protective_marking
    with snapshot() as (conn, pub):
        etag = etag_for(pub)
        if hit := not_modified(etag):
            return hit
        result = _worst_result(conn, pub, request.args)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in _worst_rows(result):
        writer.writerow([
            r["rank"], r["ward_code"], _csv_cell(r["ward_name"]), _csv_cell(r["borough_name"]),
            "" if r["score"] is None else f"{r['score']:.1f}", "" if r["decile"] is None else r["decile"],
            "" if r["rank_london"] is None else r["rank_london"], r["hotspot"], r["lisa"],
            _csv_cell(r["top_indicators_text"]), "true" if r["synthetic"] else "false", _csv_cell(marking)])
    name = "harmmap-worst-" + result.period.replace("/", "-")
    if result.borough_code:
        name += "-" + result.borough_code
    resp = Response(out.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    resp.charset = "utf-8"
    return _headers(resp, etag)


# --- /map/ward/<code>.json ----------------------------------------------------------------------

@bp.get("/ward/<ward_code>.json")
def ward_json(ward_code: str) -> Response:
    """One ward in one period: ranks, every indicator with its uncertainty and trend, why it ranks where
    it does, and its month-by-month history (harmmap.reports.ward_summary)."""
    code = ward_code.strip().upper()
    with snapshot() as (conn, pub):
        etag = etag_for(pub)
        if hit := not_modified(etag):
            return hit
        period = period_row(conn, pub)
        summary = reports.ward_summary(conn, period, code, pub.version)
    if summary is not None:
        summary = disclosure.current().ward_summary(summary)
    if summary is None:
        raise UnknownWard(f"{ward_code[:20]!r} is not a 2022 London ward code (E05 followed by 6 digits; "
                          "search by name at /map/search?q=...)")
    label = summary["period"]
    body: dict[str, Any] = {"marking": services().settings.protective_marking, **summary}
    body["links"] = {"briefing": f"/brief/ward/{summary['ward_code']}.pdf?period={quote(label, safe='/')}",
                     "api": f"/api/collections/wards/items/{summary['ward_code']}"}
    if body["city_of_london"]:
        body["note"] = CITY_NOTE
    return as_json(body, etag)


# --- /map/search --------------------------------------------------------------------------------

def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@bp.get("/search")
def search() -> Response:
    """2022 wards whose name or code matches ``q`` (at least 2 characters), best matches first, up to 10."""
    q = " ".join((request.args.get("q") or "").split())
    if len(q) > MAX_QUERY:
        raise Problem(f"q is too long: at most {MAX_QUERY} characters")
    with snapshot(need_index=False) as (conn, pub):
        etag = etag_for(pub)
        if hit := not_modified(etag):
            return hit
        rows = []
        if len(q) >= 2:
            esc = _like_escape(q)
            rows = conn.execute(db.query("map_search"), {"text": q, "prefix": esc + "%", "word": "% " + esc + "%",
                                                          "contains": "%" + esc + "%"}).fetchall()
    body = {
        "marking": services().settings.protective_marking,
        "version": pub.version,
        "synthetic": False,             # names and codes from the ONS register, nothing from the index
        "q": q,
        "results": [{"ward_code": r["ward_code"], "ward_name": r["ward_name"], "borough_code": r["borough_code"],
                     "borough_name": r["borough_name"], "city_of_london": bool(r["city_of_london"])} for r in rows],
    }
    return as_json(body, etag)
