"""Reports on the published harm index that more than one front end gives: the worst-affected wards,
and one ward in full.

``harmmap index show`` (etl/index.py) and the tasking map's ``/map/worst.json`` and ``/map/worst.csv``
(web/tasking_data.py) call the same ``worst``, so the command line and the map always pick the same
wards by the same stated rule; the map's ward panel, the briefing PDFs and the API read a ward through
the same ``ward_summary``. Only ``harm.current_*``, ``harm.publish`` and ``geo.*`` are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg

from harmmap import db, periods, scoring
from harmmap.disclosure import Disclosure
from harmmap.indicators import BY_SLUG, INDICATORS

#: The rules ``worst`` accepts (harmmap.scoring.worst_affected).
WORST_RULES = ("top_n", "top_decile", "threshold")


class ReportError(ValueError):
    """A request the published index cannot answer; the message is safe to show a user."""


class NoIndexPublished(ReportError):
    """``harm.current`` is empty."""


class UnknownPeriod(ReportError):
    """The period is well formed but not published."""


class UnknownBorough(ReportError):
    """Not a London borough name or E09 code."""


NO_INDEX = "no harm index published yet: run harmmap index publish"

#: What each kind of indicator's rate is (the figure that ranks).
UNITS = {"count": "per 1,000 residents", "survey": "% agreeing (EB estimate)", "value": "£ per 1,000 residents"}


@dataclass
class Worst:
    period: str
    version: int
    weights: dict[str, float]
    synthetic: bool
    rows: pd.DataFrame       # worst first; columns of index_period.sql plus "top_indicators", "top_contributions"
    note: str = ""
    dropped: list[str] = field(default_factory=list)              # weighted, but no data for the period
    synthetic_indicators: list[str] = field(default_factory=list)  # used, and loaded from synthetic files
    rule: str = "top_n"
    borough_code: str | None = None
    borough_name: str | None = None
    n_ranked: int = 0        # wards ranked in the scope (London or the borough)


def resolve_borough(conn: psycopg.Connection, text: str) -> tuple[str, str]:
    """(code, name) of a borough given by E09 code or name, any case."""
    row = conn.execute("""SELECT borough_code, borough_name FROM geo.borough
                          WHERE borough_code = upper(%(t)s) OR lower(borough_name) = lower(%(t)s)""",
                       {"t": text.strip()}).fetchone()
    if row is None:
        raise UnknownBorough(f"{text!r} is not a London borough name or E09 code")
    return row["borough_code"], row["borough_name"]


def published_period(conn: psycopg.Connection, label: str) -> dict:
    """The current version's row for a period (with the publish's indicator flags), or a ReportError
    that lists the published periods of the same kind. A malformed label raises periods.PeriodError."""
    p = periods.parse(label)
    meta = conn.execute("""SELECT p.version, p.period, p.kind, p.first_month, p.last_month, p.weights,
                                  p.synthetic, p.dropped, u.indicators
                           FROM harm.current_period p JOIN harm.publish u USING (version)
                           WHERE p.period = %s""", (p.label,)).fetchone()
    if meta is None:
        have = [r["period"] for r in conn.execute(
            "SELECT period FROM harm.current_period ORDER BY kind, first_month").fetchall()]
        if not have:
            raise NoIndexPublished(NO_INDEX)
        raise UnknownPeriod(f"no index for {p.label}; published periods of that kind: "
                            f"{', '.join(x for x in have if periods.parse(x).kind == p.kind) or 'none'}")
    return meta


def worst(conn: psycopg.Connection, period: str, *, mode: str = "top_n", n: int | None = 20,
          threshold: float | None = None, borough: str | None = None, contributors: int = 3,
          disclosure: Disclosure | None = None) -> Worst:
    """The worst-affected wards of a published period, with the indicators that put them there.

    ``n`` is used only by ``top_n`` and ``threshold`` only by ``threshold``, so a caller may pass its
    defaults whatever the rule. Ranks and deciles in ``rows`` are within the scope (London, or the
    borough); ``rank_london`` stays the London rank. With a ``disclosure`` that suppresses, an indicator
    whose count is suppressed for a ward is not among that ward's top indicators (its points would rank it).
    """
    if mode not in WORST_RULES:
        raise ReportError(f"rule must be one of {', '.join(WORST_RULES)}, not {mode!r}")
    if mode == "top_n" and (n is None or n < 1):
        raise ReportError(f"top_n needs n, a whole number of 1 or more, not {n!r}")
    if mode == "threshold" and threshold is None:
        raise ReportError("the threshold rule needs a threshold score (0-100)")
    meta = published_period(conn, period)
    label = meta["period"]
    cur = conn.execute(db.query("index_period"), {"period": label})
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    borough_code = borough_name = None
    if borough:
        borough_code, borough_name = resolve_borough(conn, borough)
    try:
        chosen = scoring.worst_affected(frame, mode=mode, n=n if mode == "top_n" else None,
                                        threshold=threshold if mode == "threshold" else None,
                                        borough=borough_code, score_col="score", borough_col="borough_code")
    except ValueError as e:  # a rule's argument out of range (e.g. a threshold that is not finite)
        raise ReportError(str(e)) from None
    contrib = conn.execute(db.query("index_contributions"),
                           {"period": label, "wards": chosen["ward_code"].tolist()}).fetchall()
    # largest first; equal points (two indicators both at their full weight) in the indicators' order,
    # so the same data always gives the same answer
    order = {ind.slug: i for i, ind in enumerate(INDICATORS)}
    contrib.sort(key=lambda r: (r["ward_code"], -r["contribution"], order.get(r["indicator"], len(order))))
    tops: dict[str, list[tuple[str, float]]] = {}
    for r in contrib:
        if disclosure is not None and disclosure.small_count(r["indicator"], r["value"]):
            continue
        if len(tops.setdefault(r["ward_code"], [])) < contributors and r["contribution"] > 0:
            tops[r["ward_code"]].append((r["indicator"], float(r["contribution"])))
    chosen = chosen.assign(
        top_contributions=chosen["ward_code"].map(lambda c: tops.get(c, [])),
        top_indicators=chosen["ward_code"].map(lambda c: "; ".join(f"{i} {p:.1f}" for i, p in tops.get(c, []))))
    note = str(chosen.attrs.get("note", ""))
    n_ranked = int(chosen.attrs.get("n_ranked", 0))
    if borough_code:
        note = note.replace(borough_code, borough_name or borough_code)
    weights = dict(sorted(meta["weights"].items(), key=lambda kv: (-kv[1], kv[0])))
    fake = [k for k in weights if meta["indicators"].get(k, {}).get("synthetic")]
    return Worst(period=label, version=meta["version"], weights=weights, synthetic=meta["synthetic"],
                 rows=chosen, note=note, dropped=list(meta["dropped"]), synthetic_indicators=fake,
                 rule=mode, borough_code=borough_code, borough_name=borough_name, n_ranked=n_ranked)


# --- one ward in full ----------------------------------------------------------------------------

def number(value: Any) -> float | None:
    """A finite float, or None (NULL, NaN and infinities alike): safe for JSON and for printing."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def whole(value: Any) -> int | None:
    x = number(value)
    return None if x is None else int(round(x))


def _indicator_entry(slug: str, r: dict | None) -> dict[str, Any]:
    ind = BY_SLUG[slug]
    r = r or {}
    return {
        "indicator": ind.slug, "label": ind.label, "kind": ind.kind, "unit": UNITS[ind.kind],
        "available": bool(r), "synthetic": bool(r.get("synthetic")),
        "value": number(r.get("value")), "rate_per_1000": number(r.get("rate_per_1000")),
        "rank_london": whole(r.get("rank_london")), "n_london": whole(r.get("n_london")),
        "respondents": whole(r.get("respondents")),
        "pct": number(r.get("pct")), "pct_lo": number(r.get("pct_lo")), "pct_hi": number(r.get("pct_hi")),
        "eb_pct": number(r.get("eb_pct")), "eb_lo": number(r.get("eb_lo")), "eb_hi": number(r.get("eb_hi")),
        "contribution": number(r.get("contribution")),
        "prev_value": number(r.get("prev_value")), "prev_change": number(r.get("prev_change")),
        "prev_p": number(r.get("prev_p")), "prev_trend": r.get("prev_trend"),
        "yoy_value": number(r.get("yoy_value")), "yoy_change": number(r.get("yoy_change")),
        "yoy_p": number(r.get("yoy_p")), "yoy_trend": r.get("yoy_trend"),
    }


def ward_summary(conn: psycopg.Connection, period: dict, ward_code: str, version: int) -> dict[str, Any] | None:
    """One 2022 ward in one published period, as plain JSON-safe values, or None for an unknown code.

    ``period`` is a row of ``published_period``; read it and this in one snapshot (REPEATABLE READ) so
    both come from publish ``version``. Gives the ward's ranks, every indicator with its uncertainty and
    trend, the contributions that explain its rank (largest first), and its month-by-month history over
    every published month. A City of London ward comes back with no score (it is not ranked).
    """
    params = {"version": version, "period": period["period"], "ward": ward_code}
    ward = conn.execute(db.query("map_ward"), params).fetchone()
    if ward is None:
        return None
    figures = {r["indicator"]: r for r in conn.execute(db.query("map_ward_indicators"), params)}
    trend_rows = conn.execute(db.query("map_ward_trend"), params).fetchall()
    label = period["period"]
    p = periods.parse(label)
    monthly = [i.slug for i in INDICATORS if i.kind != "survey"]
    order = {ind.slug: i for i, ind in enumerate(INDICATORS)}
    contributions = sorted(((slug, number(r["contribution"])) for slug, r in figures.items()
                            if number(r["contribution"]) is not None),
                           key=lambda kv: (-kv[1], order.get(kv[0], len(order))))
    return {
        "version": version,
        "synthetic": bool(period["synthetic"]),
        "period": label,
        "title": p.title,
        "previous_period": p.previous.label,     # what prev_* compare with
        "year_before": p.year_before.label,      # what yoy_* compare with
        "ward_code": ward["ward_code"],
        "ward_name": ward["ward_name"],
        "borough_code": ward["borough_code"],
        "borough_name": ward["borough_name"],
        "population": ward["population"],
        "city_of_london": bool(ward["city_of_london"]),
        "score": number(ward["score"]),
        "rank_london": whole(ward["rank_london"]),
        "decile_london": whole(ward["decile_london"]),
        "rank_borough": whole(ward["rank_borough"]),
        "decile_borough": whole(ward["decile_borough"]),
        "n_london": whole(ward["n_london"]),
        "n_borough": whole(ward["n_borough"]),
        "hotspot": ward["hotspot"],
        "lisa": ward["lisa"],
        "coverage": number(ward["coverage"]),
        "weights": {k: round(w, 4) for k, w in period["weights"].items()},
        "dropped": list(period["dropped"]),
        "indicators": [_indicator_entry(i.slug, figures.get(i.slug)) for i in INDICATORS],
        "contributions": [{"indicator": slug, "label": BY_SLUG[slug].label if slug in BY_SLUG else slug,
                           "points": points} for slug, points in contributions],
        "trend": {
            "months": [t["month"] for t in trend_rows],
            "score": [number(t["score"]) for t in trend_rows],
            "series": {slug: [number((t["figures"] or {}).get(slug)) for t in trend_rows] for slug in monthly},
            "units": {slug: ("£" if BY_SLUG[slug].kind == "value" else "count") for slug in monthly},
        },
    }
