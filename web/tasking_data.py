"""Data for the tasking map: what was published, one layer for every ward, the worst wards, one ward in
full, why confidence moved in an area, and ward search (JSON; the worst wards also as CSV).

Each route asks the read model (harmmap/published.py) inside one snapshot and answers through
web/answer.py (ETag and 304 before any figure is read, the marking and synthetic headers). The body
builders (``meta_body``, ``values_body``, ``worst_body``) are also what the map page embeds as its first
view (web/map_pages.py), so the page and the JSON cannot differ. Every body carries the protective
marking and whether synthetic data is in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, request

from harmmap import periods, published
from harmmap.disclosure import Disclosure
from harmmap.indicators import FAMILIES, FAMILY_LABELS, INDICATORS
from harmmap.published import HARM_INDEX, NEED_RESPONSE, ResponseFigure, Snapshot, WorstRule
from web import ATTRIBUTION, answer, disclosure, services
from web.errors import Problem

bp = Blueprint("tasking_data", __name__)

CITY_NOTE = published.CITY_NOTE
CSV_COLUMNS = ("rank", "ward_code", "ward_name", "borough_name", "score", "decile", "rank_london", "hotspot",
               "lisa", "top_indicators", "response_per_100", "response_lo", "response_hi", "response_vs_london",
               "need_response", "synthetic", "protective_marking")
MAX_QUERY = 100
#: What the need x response layer is, wherever it is named (meta.json, values.json, the legend).
NEED_RESPONSE_CAVEAT = ("A diagnostic, not a harm score: where police activity goes against need. Activity counts "
                        "actions, not their quality, and recorded trafficking is itself partly found by police.")
#: What PAS "problem" says where it appears as need (it is also one of the strategy's two outcomes).
ALSO_NOTE = {"confidence": "Also read as an outcome: one of the strategy's two PAS targets."}


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
    if layer not in (HARM_INDEX, NEED_RESPONSE) and layer not in published.BY_SLUG:
        raise Problem(f"layer {layer[:40]!r} is not a map layer: one of {HARM_INDEX}, "
                      f"{', '.join(published.BY_SLUG)}, {NEED_RESPONSE}")
    return layer


def rule_arg(args: Mapping[str, str]) -> WorstRule:
    try:
        return WorstRule.parse(args)
    except ValueError as e:
        raise Problem(str(e)) from None


# --- /map/meta.json -----------------------------------------------------------------------------

def _layers(snap: Snapshot) -> list[dict[str, Any]]:
    """The map's layers, each with its family (need, response, confidence: harmmap.indicators), the family's
    label and the caution that goes with it: the index, every indicator, then need x response."""
    out: list[dict[str, Any]] = [{"id": HARM_INDEX, "label": "Harm index", "unit": "score 0-100", "kind": "index",
                                  "higher_is_worse": True, "synthetic": bool(snap.synthetic),
                                  "family": "need", "family_label": FAMILY_LABELS["need"], "caveat": "",
                                  "also": "", "also_note": ""}]
    loaded = snap.indicators or {}
    for ind in INDICATORS:
        meta = loaded.get(ind.slug)
        out.append({"id": ind.slug, "label": ind.label, "unit": published.UNITS[ind.kind], "kind": ind.kind,
                    "higher_is_worse": ind.harm_direction > 0, "synthetic": bool(meta and meta.get("synthetic")),
                    "loaded": meta is not None, "family": ind.family, "family_label": FAMILY_LABELS[ind.family],
                    "caveat": ind.caveat, "also": ind.also, "also_note": ALSO_NOTE.get(ind.also, "")})
    activity = [i.slug for i in INDICATORS if i.family == "response" and i.kind == "count"]
    out.append({"id": NEED_RESPONSE, "label": published.NEED_RESPONSE_LABEL, "unit": published.NEED_RESPONSE_UNIT,
                "kind": "quadrant", "higher_is_worse": None,
                "synthetic": any(bool(loaded.get(s, {}).get("synthetic")) for s in activity),
                "loaded": any(s in loaded for s in activity), "family": "response",
                "family_label": FAMILY_LABELS["response"], "caveat": NEED_RESPONSE_CAVEAT, "also": "",
                "also_note": ""})
    return out


@bp.get("/meta.json")
def meta_json() -> Response:
    """What is published: periods, layers, boroughs, when the data were updated."""
    return answer.json_view(meta_body)


def meta_body(snap: Snapshot) -> dict[str, Any]:
    loaded = snap.indicators or {}
    with_response = snap.response_periods()
    return {
        "marking": services().settings.protective_marking,
        "version": snap.version,
        "published_at": snap.published_at,
        "synthetic": snap.synthetic,
        "attribution": ATTRIBUTION,
        "periods": [{"period": p.label, "kind": p.kind, "title": periods.parse(p.label).title,
                     "first_month": published.month(p.first_month), "last_month": published.month(p.last_month),
                     "synthetic": p.synthetic, "weights": {k: round(w, 4) for k, w in p.weights.items()},
                     "dropped": p.dropped, "wards_ranked": p.wards_ranked,
                     "layers": p.layers + ([NEED_RESPONSE] if p.label in with_response else []),
                     "response_note": published.response_note(p.weights)}
                    for p in snap.periods()],
        "default_period": snap.default_period(),
        "layers": _layers(snap),
        "families": [{"id": f, "label": FAMILY_LABELS[f]} for f in FAMILIES],
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
    return answer.json_view(lambda snap: values_body(snap, request.args))


def values_body(snap: Snapshot, args: Mapping[str, str]) -> dict[str, Any]:
    """values.json for ``args`` (period, layer, borough), read in the caller's snapshot."""
    layer = layer_arg(args)
    period = period_arg(snap, args)
    borough = borough_arg(snap, args)
    disc = disclosure.current()
    if layer == NEED_RESPONSE:
        return need_response_body(snap, period, borough, disc)
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


def response_entry(figure: ResponseFigure | None, disc: Disclosure) -> dict[str, Any] | None:
    """A response figure (harmmap.published.ResponseFigure) as JSON: activity per 100 trafficking offences with
    its 95% interval, how it compares with London's rate in words, and the counts; what the reader may not
    see is null, with ``suppressed`` saying why."""
    if figure is None:
        return None
    return {"activity": figure.activity, "trafficking": figure.trafficking, "per_100": figure.per_100,
            "per_100_lo": figure.per_100_lo, "per_100_hi": figure.per_100_hi, "vs_london": figure.vs_london,
            "vs_london_text": published.VS_LONDON.get(figure.vs_london, figure.vs_london),
            "quadrant": figure.quadrant, "quadrant_label": published.quadrant_label(figure.quadrant) or None,
            "quadrant_color": published.quadrant_color(figure.quadrant),
            "synthetic": figure.synthetic, "suppressed": disc.text if figure.hidden else None}


def need_response_body(snap: Snapshot, period: published.Period, borough: published.Borough | None,
                       disc: Disclosure) -> dict[str, Any]:
    """values.json for the need x response layer: each ward's quadrant (the read model classes them) with its
    activity per 100 trafficking offences and interval, its need (harm index score), and London's rate."""
    nr = snap.need_response(period, borough, disc)
    wards: dict[str, dict[str, Any]] = {}
    for w in nr.wards:
        entry: dict[str, Any] = {"v": None, "k": w.group, "need": None if w.score is None else round(w.score, 2),
                                 "decile": w.decile_london, "hotspot": w.hotspot, "lisa": w.lisa}
        f = w.response
        if f is not None:
            entry.update(v=f.per_100, lo=f.per_100_lo, hi=f.per_100_hi, vs=f.vs_london, q=f.quadrant,
                         act=f.activity, traf=f.trafficking)
            if f.hidden:
                entry["suppressed"] = disc.text
        wards[w.ward_code] = entry
    body = {
        "marking": services().settings.protective_marking,
        "version": snap.version,
        "synthetic": bool(period.synthetic) or nr.synthetic,
        "layer_synthetic": nr.synthetic,
        "period": period.label,
        "title": period.title,
        "layer": NEED_RESPONSE,
        "label": published.NEED_RESPONSE_LABEL,
        "unit": published.NEED_RESPONSE_UNIT,
        "kind": "quadrant",
        "family": "response",
        "family_label": FAMILY_LABELS["response"],
        "caveat": NEED_RESPONSE_CAVEAT,
        "higher_is_worse": None,
        "borough": {"code": borough.code, "name": borough.name} if borough else None,
        "rank_scope": "london",          # the classes are London's: need deciles and London's rate
        "n_ranked": sum(c["count"] for c in nr.classes),
        "classes": nr.classes,
        "layers_available": snap.layers_for(period) + [NEED_RESPONSE],
        "counted": [{"indicator": s, "label": published.indicator_label(s)} for s in nr.counted],
        "london": response_entry(nr.london, disc),
        "area": response_entry(nr.area, disc),
        "need_levels": published.NEED_LEVELS,
        "high_need_from": nr.high_need_from,
        "low_need_to": nr.low_need_to,
        "response_note": nr.note,
        "vs_london_text": published.VS_LONDON,
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


def _worst_rows(result: published.Worst, responses: Mapping[str, ResponseFigure]) -> list[dict[str, Any]]:
    """The worst wards as JSON rows; each with its police response beside it (ordered by need alone)."""
    disc = disclosure.current()
    return [{
        "rank": r.rank, "ward_code": r.ward_code, "ward_name": r.ward_name,
        "borough_code": r.borough_code, "borough_name": r.borough_name, "score": r.score,
        "decile": r.decile, "rank_london": r.rank_london, "decile_london": r.decile_london,
        "hotspot": r.hotspot, "lisa": r.lisa_cluster, "tied_at_cutoff": r.tied_at_cutoff, "synthetic": r.synthetic,
        "top_indicators": [{"indicator": slug, "label": published.indicator_label(slug), "points": round(points, 2)}
                           for slug, points in r.top_contributions],
        "top_indicators_text": r.top_indicators,
        "response": response_entry(responses.get(r.ward_code), disc),
    } for r in result.rows]


@bp.get("/worst.json")
def worst_json() -> Response:
    """The worst-affected wards by one stated rule (harmmap.published, as `harmmap index show`)."""
    rule_arg(request.args)  # a bad rule, n or threshold is a 400 before anything is read
    return answer.json_view(lambda snap: worst_body(snap, request.args))


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
        "response_note": published.response_note(result.period.weights),
        "london_response": response_entry(_london_response(snap, result.period), disclosure.current()),
        "disclosure": disclosure.current().describe(),
        "rows": _worst_rows(result, snap.ward_responses(result.period, disclosure.current())),
    }
    if result.borough and result.borough.city_of_london:
        body["note"] = CITY_NOTE
    return body


def _london_response(snap: Snapshot, period: published.Period) -> ResponseFigure | None:
    return snap.response_figure(period, "london", "london", "London", disclosure.current())


@bp.get("/worst.csv")
def worst_csv() -> Response:
    """The same rows as worst.json, as a CSV file to download (the marking is in every row)."""
    rule_arg(request.args)
    marking = services().settings.protective_marking
    with answer.snapshot(need_index=True) as snap:
        etag = answer.validate(snap, synthetic=bool(snap.synthetic))
        result = _worst(snap, request.args)
        rows = [(r["rank"], r["ward_code"], r["ward_name"], r["borough_name"],
                 "" if r["score"] is None else f"{r['score']:.1f}", r["decile"], r["rank_london"], r["hotspot"],
                 r["lisa"], r["top_indicators_text"], *_response_cells(r["response"]), r["synthetic"], marking)
                for r in _worst_rows(result, snap.ward_responses(result.period, disclosure.current()))]
    name = "harmmap-worst-" + result.period.label.replace("/", "-")
    if result.borough:
        name += "-" + result.borough.code
    return answer.csv(CSV_COLUMNS, rows, snap, etag, synthetic=result.synthetic, filename=f"{name}.csv")


def _response_cells(entry: dict[str, Any] | None) -> tuple[Any, ...]:
    """response_per_100, response_lo, response_hi, response_vs_london, need_response: the rate and its interval
    to one decimal (the disclosure text in their place when the reader may not see them)."""
    if entry is None:
        return "", "", "", "", ""
    rate = [entry["suppressed"]] * 3 if entry["suppressed"] else \
        ["" if entry[k] is None else f"{entry[k]:.1f}" for k in ("per_100", "per_100_lo", "per_100_hi")]
    return (*rate, entry["vs_london"], entry["quadrant"] or "")


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
        response = snap.response_figure(period, "ward", code, code, disclosure.current()) if summary else None
        london = _london_response(snap, period) if summary else None
    if summary is None:
        raise answer.UnknownWard(f"{ward_code[:20]!r} is not a 2022 London ward code (E05 followed by 6 digits; "
                                 "search by name at /map/search?q=...)")
    summary = disclosure.current().ward_summary(summary)
    label = summary["period"]
    body: dict[str, Any] = {"marking": services().settings.protective_marking, **summary}
    body["response"] = response_entry(response, disclosure.current())
    body["london_response"] = response_entry(london, disclosure.current())
    body["links"] = {"briefing": f"/brief/ward/{summary['ward_code']}.pdf?period={quote(label, safe='/')}",
                     "api": f"/api/collections/wards/items/{summary['ward_code']}"}
    if body["city_of_london"]:
        body["note"] = CITY_NOTE
    return answer.json(body, snap, etag, synthetic=bool(summary["synthetic"]))


# --- /map/diagnostic.json -----------------------------------------------------------------------

#: The two windows of the diagnostic view: the period before, and the strategy's baseline year.
AGAINST = {"previous": "the period before", "baseline": "the baseline year"}
WARD_CODE = re.compile(r"E05\d{6}")
BOROUGH_CODE = re.compile(r"E09\d{6}")
#: PAS measures first, confidence before "problem" (the order the strategy names its two targets).
_PAS_ORDER = {"pas_tackle_dealing": 0, "pas_drug_problem": 1}
NOT_A_CAUSE = "These figures show what moved in the same months; they do not say why."


def against_arg(args: Mapping[str, str]) -> str:
    against = (args.get("against") or "previous").strip()
    if against not in AGAINST:
        raise Problem(f"against must be previous or baseline, not {against[:20]!r}")
    return against


def area_arg(snap: Snapshot, args: Mapping[str, str]) -> published.Area:
    """london, a borough (E09 code or name) or a 2022 ward (E05 code). A well-formed code that names no
    area is a 404; anything else that is not one is a 400 that says what is."""
    text = " ".join((args.get("area") or "london").split())[:60]
    try:
        return snap.area(text)
    except published.UnknownWard as e:
        if WARD_CODE.fullmatch(text.upper()):
            raise answer.UnknownWard(f"area: {e}") from None
        raise Problem(f"area: {e}") from None
    except published.UnknownBorough as e:
        if BOROUGH_CODE.fullmatch(text.upper()):
            raise answer.UnknownBorough(f"area: {e}") from None
        raise Problem(f"area: {e}; use london, a borough's E09 code or name, or a ward's E05 code") from None


@bp.get("/diagnostic.json")
def diagnostic_json() -> Response:
    """Why did confidence move here? For London, a borough or a ward over one window (``against``: the
    period before, or the baseline year): each PAS measure's change with its interval and significance at
    the survey's sample size, beside each response and need indicator's change, and a summary that never
    claims a cause (harmmap.published Snapshot.diagnostic)."""
    against_arg(request.args)  # a bad window is a 400 before anything is read
    return answer.json_view(lambda snap: diagnostic_body(snap, request.args))


def diagnostic_body(snap: Snapshot, args: Mapping[str, str]) -> dict[str, Any]:
    """diagnostic.json for ``args`` (area, period, against), read in the caller's snapshot."""
    against = against_arg(args)
    period = period_arg(snap, args)
    area = area_arg(snap, args)
    disc = disclosure.current()
    d = snap.diagnostic(period, area, against, disclosure=disc)
    london = {k: published.change_shown(c, d, None) for k, c in d.london.items()} if area.level != "london" else {}
    rows = []
    for c in d.changes:
        row = published.change_shown(c, d, disc)
        if c.indicator in london:
            ld = london[c.indicator]
            row["london"] = {k: ld[k] for k in ("change", "lo", "hi", "direction", "significant", "tested")}
        rows.append(row)
    indicators = (snap.indicators or {})
    return {
        "marking": services().settings.protective_marking,
        "version": snap.version,
        "synthetic": bool(period.synthetic) or any(bool(indicators.get(r["indicator"], {}).get("synthetic"))
                                                   for r in rows),
        "period": period.label,
        "title": period.title,
        "against": against,
        "against_label": AGAINST[against],
        "against_period": d.against_period,
        "area": {"level": area.level, "code": area.code, "name": area.name},
        "design_effect": d.design_effect,
        "summary": d.summary,
        "note": NOT_A_CAUSE,
        "pas": sorted((r for r in rows if r["kind"] == "survey"), key=lambda r: _PAS_ORDER.get(r["indicator"], 9)),
        "response": [r for r in rows if r["family"] == "response"],
        "need": [r for r in rows if r["family"] == "need" and r["kind"] != "survey"],
        "hidden": sorted(d.hidden),
        "disclosure": disc.describe(),
    }


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
