"""Data for the tasking map: what was published, one layer for every ward, the worst wards, one ward in
full, and ward search (JSON; the worst wards also as CSV).

Each route asks the read model (harmmap/published.py) inside one snapshot and answers through
web/answer.py (ETag and 304 before any figure is read, the marking and synthetic headers). The body
builders (``meta_body``, ``values_body``, ``worst_body``) are also what the map page embeds as its first
view (web/map_pages.py), so the page and the JSON cannot differ. Every body carries the protective
marking and whether synthetic data is in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, request

from harmmap import periods, published
from harmmap.indicators import INDICATORS
from harmmap.published import HARM_INDEX, Snapshot, WorstRule
from web import ATTRIBUTION, answer, disclosure, services
from web.errors import Problem

bp = Blueprint("tasking_data", __name__)

CITY_NOTE = published.CITY_NOTE
CSV_COLUMNS = ("rank", "ward_code", "ward_name", "borough_name", "score", "decile", "rank_london", "hotspot",
               "lisa", "top_indicators", "synthetic", "protective_marking")
MAX_QUERY = 100


@bp.before_request
def _problems_as_json() -> None:
    g.problem_json = True  # web/errors.py: a bad .csv or /search request gets a problem document too


# --- parameters ---------------------------------------------------------------------------------

def period_arg(snap: Snapshot, args: Mapping[str, str]) -> published.Period:
    return snap.period((args.get("period") or "").strip()[:40])


def borough_arg(snap: Snapshot, args: Mapping[str, str]) -> published.Borough | None:
    text = (args.get("borough") or "").strip()
    if not text:
        return None
    try:
        return snap.borough(text[:60])
    except published.UnknownBorough as e:
        raise Problem(f"borough: {e}") from None


def layer_arg(args: Mapping[str, str]) -> str:
    layer = (args.get("layer") or HARM_INDEX).strip()
    if layer != HARM_INDEX and layer not in published.BY_SLUG:
        raise Problem(f"layer {layer[:40]!r} is not a map layer: one of {HARM_INDEX}, "
                      f"{', '.join(published.BY_SLUG)}")
    return layer


def rule_arg(args: Mapping[str, str]) -> WorstRule:
    try:
        return WorstRule.parse(args)
    except ValueError as e:
        raise Problem(str(e)) from None


# --- /map/meta.json -----------------------------------------------------------------------------

def _layers(snap: Snapshot) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": HARM_INDEX, "label": "Harm index", "unit": "score 0-100", "kind": "index",
                                  "higher_is_worse": True, "synthetic": bool(snap.synthetic)}]
    loaded = snap.indicators or {}
    for ind in INDICATORS:
        meta = loaded.get(ind.slug)
        out.append({"id": ind.slug, "label": ind.label, "unit": published.UNITS[ind.kind], "kind": ind.kind,
                    "higher_is_worse": ind.harm_direction > 0, "synthetic": bool(meta and meta.get("synthetic")),
                    "loaded": meta is not None})
    return out


@bp.get("/meta.json")
def meta_json() -> Response:
    """What is published: periods, layers, boroughs, when the data were updated."""
    with answer.snapshot(need_index=True) as snap:
        etag = answer.validate(snap, synthetic=bool(snap.synthetic))
        body = meta_body(snap)
    return answer.json(body, snap, etag, synthetic=bool(snap.synthetic))


def meta_body(snap: Snapshot) -> dict[str, Any]:
    loaded = snap.indicators or {}
    return {
        "marking": services().settings.protective_marking,
        "version": snap.version,
        "published_at": snap.published_at,
        "synthetic": snap.synthetic,
        "attribution": ATTRIBUTION,
        "periods": [{"period": p.label, "kind": p.kind, "title": periods.parse(p.label).title,
                     "first_month": published.month(p.first_month), "last_month": published.month(p.last_month),
                     "synthetic": p.synthetic, "weights": {k: round(w, 4) for k, w in p.weights.items()},
                     "dropped": p.dropped, "wards_ranked": p.wards_ranked, "layers": p.layers}
                    for p in snap.periods()],
        "default_period": snap.default_period(),
        "layers": _layers(snap),
        "boroughs": snap.boroughs(),
        "data_updated": {
            "published_at": snap.published_at,
            "indicators": {ind.slug: {"first": published.month(loaded[ind.slug].get("first")),
                                      "last": published.month(loaded[ind.slug].get("last")),
                                      "synthetic": bool(loaded[ind.slug].get("synthetic"))}
                           for ind in INDICATORS if ind.slug in loaded},
        },
        "weights": snap.weights,
    }


# --- /map/values.json ---------------------------------------------------------------------------

@bp.get("/values.json")
def values_json() -> Response:
    """One layer (the harm index or one indicator) of one period, for every 2022 ward, with its legend."""
    layer_arg(request.args)  # a bad layer is a 400 before anything is read
    with answer.snapshot(need_index=True) as snap:
        etag = answer.validate(snap, synthetic=bool(snap.synthetic))
        body = values_body(snap, request.args)
    return answer.json(body, snap, etag, synthetic=body["synthetic"])


def values_body(snap: Snapshot, args: Mapping[str, str]) -> dict[str, Any]:
    """values.json for ``args`` (period, layer, borough), read in the caller's snapshot."""
    layer = layer_arg(args)
    period = period_arg(snap, args)
    borough = borough_arg(snap, args)
    disc = disclosure.current()
    values = snap.layer(period, layer, borough, disc)
    wards: dict[str, dict[str, Any]] = {}
    for w in values.wards:
        wards[w.ward_code] = {"v": w.value, "k": w.group, "rank": w.rank, "decile": w.decile,
                              "hotspot": w.hotspot, "lisa": w.lisa}
        if w.suppressed:
            wards[w.ward_code]["suppressed"] = disc.text
    body = {
        "marking": services().settings.protective_marking,
        "version": snap.version,
        # anything in the body: the layer's figures, and the hotspot classes, which come from the index
        "synthetic": bool(period.synthetic) or values.synthetic,
        "layer_synthetic": values.synthetic,
        "period": period.label,
        "title": period.title,
        "layer": layer,
        "label": values.label,
        "unit": values.unit,
        "kind": values.kind,
        "higher_is_worse": values.higher_is_worse,
        "borough": {"code": borough.code, "name": borough.name} if borough else None,
        "rank_scope": "borough" if borough else "london",
        "n_ranked": values.n_ranked,
        "classes": values.classes,
        "layers_available": values.available,
        "disclosure": disc.describe(),
        "wards": wards,
    }
    if borough and borough.city_of_london:
        body["note"] = CITY_NOTE
    return body


# --- /map/worst.json and /map/worst.csv ---------------------------------------------------------

def _worst(snap: Snapshot, args: Mapping[str, str]) -> published.Worst:
    rule = rule_arg(args)
    period = period_arg(snap, args)
    borough = borough_arg(snap, args)
    return snap.worst(period, rule, borough=borough, disclosure=disclosure.current())


def _worst_rows(result: published.Worst) -> list[dict[str, Any]]:
    return [{
        "rank": r.rank, "ward_code": r.ward_code, "ward_name": r.ward_name,
        "borough_code": r.borough_code, "borough_name": r.borough_name, "score": r.score,
        "decile": r.decile, "rank_london": r.rank_london, "decile_london": r.decile_london,
        "hotspot": r.hotspot, "lisa": r.lisa_cluster, "tied_at_cutoff": r.tied_at_cutoff, "synthetic": r.synthetic,
        "top_indicators": [{"indicator": slug, "label": published.indicator_label(slug), "points": round(points, 2)}
                           for slug, points in r.top_contributions],
        "top_indicators_text": r.top_indicators,
    } for r in result.rows]


@bp.get("/worst.json")
def worst_json() -> Response:
    """The worst-affected wards by one stated rule (harmmap.published, as `harmmap index show`)."""
    rule_arg(request.args)  # a bad rule, n or threshold is a 400 before anything is read
    with answer.snapshot(need_index=True) as snap:
        etag = answer.validate(snap, synthetic=bool(snap.synthetic))
        body = worst_body(snap, request.args)
    return answer.json(body, snap, etag, synthetic=body["synthetic"])


def worst_body(snap: Snapshot, args: Mapping[str, str]) -> dict[str, Any]:
    """worst.json for ``args`` (period, borough, rule, n, threshold), read in the caller's snapshot."""
    result = _worst(snap, args)
    rule = result.rule
    body = {
        "marking": services().settings.protective_marking,
        "version": result.version,
        "synthetic": result.synthetic,
        "period": result.period.label,
        "title": result.period.title,
        "rule": rule.mode,
        "n": rule.n,
        "threshold": rule.threshold,
        "note": result.note,
        "borough": {"code": result.borough.code, "name": result.borough.name} if result.borough else None,
        "n_ranked": result.n_ranked,
        "weights": {k: round(w, 4) for k, w in result.weights.items()},
        "dropped": result.dropped,
        "synthetic_indicators": result.synthetic_indicators,
        "disclosure": disclosure.current().describe(),
        "rows": _worst_rows(result),
    }
    if result.borough and result.borough.city_of_london:
        body["note"] = CITY_NOTE
    return body


@bp.get("/worst.csv")
def worst_csv() -> Response:
    """The same rows as worst.json, as a CSV file to download (the marking is in every row)."""
    rule_arg(request.args)
    marking = services().settings.protective_marking
    with answer.snapshot(need_index=True) as snap:
        etag = answer.validate(snap, synthetic=bool(snap.synthetic))
        result = _worst(snap, request.args)
    rows = [(r["rank"], r["ward_code"], r["ward_name"], r["borough_name"],
             "" if r["score"] is None else f"{r['score']:.1f}", r["decile"], r["rank_london"], r["hotspot"], r["lisa"],
             r["top_indicators_text"], r["synthetic"], marking) for r in _worst_rows(result)]
    name = "harmmap-worst-" + result.period.label.replace("/", "-")
    if result.borough:
        name += "-" + result.borough.code
    return answer.csv(CSV_COLUMNS, rows, snap, etag, synthetic=result.synthetic, filename=f"{name}.csv")


# --- /map/ward/<code>.json ----------------------------------------------------------------------

@bp.get("/ward/<ward_code>.json")
def ward_json(ward_code: str) -> Response:
    """One ward in one period: ranks, every indicator with its uncertainty and trend, why it ranks where
    it does, and its month-by-month history (harmmap.published ward_summary)."""
    code = ward_code.strip().upper()
    with answer.snapshot(need_index=True) as snap:
        etag = answer.validate(snap, synthetic=bool(snap.synthetic))
        period = period_arg(snap, request.args)
        summary = snap.ward_summary(period, code)
    if summary is None:
        raise answer.UnknownWard(f"{ward_code[:20]!r} is not a 2022 London ward code (E05 followed by 6 digits; "
                                 "search by name at /map/search?q=...)")
    summary = disclosure.current().ward_summary(summary)
    label = summary["period"]
    body: dict[str, Any] = {"marking": services().settings.protective_marking, **summary}
    body["links"] = {"briefing": f"/brief/ward/{summary['ward_code']}.pdf?period={quote(label, safe='/')}",
                     "api": f"/api/collections/wards/items/{summary['ward_code']}"}
    if body["city_of_london"]:
        body["note"] = CITY_NOTE
    return answer.json(body, snap, etag, synthetic=bool(summary["synthetic"]))


# --- /map/search --------------------------------------------------------------------------------

@bp.get("/search")
def search() -> Response:
    """2022 wards whose name or code matches ``q`` (at least 2 characters), best matches first, up to 10."""
    q = " ".join((request.args.get("q") or "").split())
    if len(q) > MAX_QUERY:
        raise Problem(f"q is too long: at most {MAX_QUERY} characters")
    with answer.snapshot() as snap:
        etag = answer.validate(snap)
        results = snap.search_wards(q)
    body = {
        "marking": services().settings.protective_marking,
        "version": snap.version,
        "synthetic": False,             # names and codes from the ONS register, nothing from the index
        "q": q,
        "results": results,
    }
    return answer.json(body, snap, etag)
