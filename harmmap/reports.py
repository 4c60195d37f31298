"""Reports on the published harm index that more than one front end gives: the worst-affected wards.

``harmmap index show`` (etl/index.py) and the tasking map's ``/map/worst.json`` and ``/map/worst.csv``
(web/tasking_data.py) call the same function, so the command line and the map always pick the same
wards by the same stated rule. Only ``harm.current_*``, ``harm.publish`` and ``geo.*`` are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import psycopg

from harmmap import db, periods, scoring
from harmmap.indicators import INDICATORS

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
          threshold: float | None = None, borough: str | None = None, contributors: int = 3) -> Worst:
    """The worst-affected wards of a published period, with the indicators that put them there.

    ``n`` is used only by ``top_n`` and ``threshold`` only by ``threshold``, so a caller may pass its
    defaults whatever the rule. Ranks and deciles in ``rows`` are within the scope (London, or the
    borough); ``rank_london`` stays the London rank.
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
