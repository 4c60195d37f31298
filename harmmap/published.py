"""The published data, read one way: the read model behind the map, the briefings, the API and the CLI.

A reader opens one :class:`Snapshot` (one publish version, the reference geography it is drawn on, and
whether synthetic data is in it) inside a REPEATABLE READ transaction, and asks it questions; every
answer is a typed result drawn from that one snapshot. Ranking, classing and disclosure decisions are
made here, once, so the map's JSON and first view, the PDFs, the API and ``harmmap index show`` cannot
drift apart; the front ends only shape the results into JSON, CSV, HTML or PDF.

Only published aggregates are read (``harm.current_*``, ``harm.publish``, ``geo.*``): never an
``etl.*`` record, premises, address or network reference. The SQL is in ``harmmap/db/queries``.
Errors are :class:`ReadError`s whose messages are safe to show a user.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from harmmap import classes, db, diagnostics, periods, scoring
from harmmap.disclosure import Disclosure
from harmmap.indicators import BY_SLUG, FAMILY_LABELS, INDICATORS, response_weighted
from harmmap.scoring import WorstRule

__all__ = ["HARM_INDEX", "NO_INDEX", "UNITS", "CITY_OF_LONDON", "ReadError", "NoIndexPublished", "UnknownPeriod",
           "UnknownBorough", "UnknownWard", "BadRequest", "Snapshot", "Period", "PeriodEntry", "Borough",
           "LayerValues", "Worst", "WorstWard", "WorstRule", "ResponseFigure", "BoroughResponse", "SearchOutcome",
           "begin", "number", "whole"]

#: The map layer that is the index itself (every other layer is an indicator slug).
HARM_INDEX = "harm_index"
NO_INDEX = "no harm index published yet: run harmmap index publish"
#: What each kind of indicator's rate is (the figure that ranks).
UNITS = {"count": "per 1,000 residents", "survey": "% agreeing (EB estimate)", "value": "£ per 1,000 residents"}
#: The City of London Police area: its wards are shown, never scored.
CITY_OF_LONDON = "E09000001"
CITY_NOTE = ("The City of London has its own police force (City of London Police): its wards are not "
             "covered by MPS data, so they have no harm score.")

_ORDER = {ind.slug: i for i, ind in enumerate(INDICATORS)}


# --- errors --------------------------------------------------------------------------------------

class ReadError(ValueError):
    """A question the published data cannot answer; the message is safe to show a user."""


class NoIndexPublished(ReadError):
    """``harm.current`` is empty."""


class UnknownPeriod(ReadError):
    """The period is well formed but not published."""


class UnknownBorough(ReadError):
    """Not a London borough name or E09 code."""


class UnknownWard(ReadError):
    """Not a 2022 London ward code."""


class BadRequest(ReadError):
    """A rule, layer or other argument out of range."""


# --- values ----------------------------------------------------------------------------------------

def number(value: Any) -> float | None:
    """A finite float, or None (NULL, NaN and infinities alike): safe for JSON and for printing."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def whole(value: Any) -> int | None:
    x = number(value)
    return None if x is None else int(round(x))


def month(d: date | str | None) -> str | None:
    """``2025-06`` for a date in that month (None stays None)."""
    return None if d is None else str(d)[:7]


def indicator_label(slug: str) -> str:
    ind = BY_SLUG.get(slug)
    return ind.label if ind else slug


def _by_weight(weights: dict[str, float]) -> dict[str, float]:
    """Largest weight first, then by name: the order every surface lists weights in."""
    return dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))


# --- the snapshot --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """What one request or job reads: the publish version readers see (None while nothing is published),
    what went into it, and the reference geography (the 2022 wards' load batch). Every read below runs on
    ``conn`` inside the caller's REPEATABLE READ transaction, so all of them see this one state."""

    conn: psycopg.Connection
    version: int | None
    published_at: datetime | None
    synthetic: bool | None
    weights: dict[str, float] | None
    indicators: dict[str, dict] | None
    parameters: dict[str, Any] | None
    geo_batch: int | None
    geo_loaded_at: datetime | None

    @classmethod
    def read(cls, conn: psycopg.Connection) -> Snapshot:
        """The snapshot ``conn``'s transaction sees (the caller has begun it REPEATABLE READ)."""
        return cls(conn, **conn.execute(db.query("published_current")).fetchone())

    @property
    def last_modified(self) -> datetime | None:
        times = [t for t in (self.published_at, self.geo_loaded_at) if t is not None]
        return max(times) if times else None

    def require_index(self) -> int:
        if self.version is None:
            raise NoIndexPublished(NO_INDEX)
        return self.version

    def layer_synthetic(self, slug: str) -> bool:
        """Whether an indicator's published figures came from synthetic files."""
        return bool((self.indicators or {}).get(slug, {}).get("synthetic"))

    # --- periods -----------------------------------------------------------------------------

    def default_period(self) -> str:
        """The period a view opens on: the latest financial year, else rolling 12 months, else the latest."""
        row = self.conn.execute(db.query("map_default_period"), {"version": self.require_index()}).fetchone()
        if row is None:
            raise NoIndexPublished(NO_INDEX)
        return row["period"]

    def period(self, label: str | None) -> Period:
        """The named published period (the default one for an empty label), or a ReadError that lists the
        published periods of the same kind. A malformed label raises ``periods.PeriodError``."""
        label = (label or "").strip()[:40] or self.default_period()
        p = periods.parse(label)
        row = self.conn.execute(db.query("published_period"), {"period": p.label}).fetchone()
        if row is None:
            have = [r["period"] for r in self.conn.execute(db.query("published_period_labels"))]
            if not have:
                raise NoIndexPublished(NO_INDEX)
            raise UnknownPeriod(f"no index for {p.label}; published periods of that kind: "
                                f"{', '.join(x for x in have if periods.parse(x).kind == p.kind) or 'none'}")
        return Period(**row)

    def periods(self) -> list[PeriodEntry]:
        """Every published period, months first, then quarters, financial years and rolling 12 months."""
        out = []
        for r in self.conn.execute(db.query("map_periods"), {"version": self.require_index()}):
            available = sorted((s for s in r["indicators"] if s in _ORDER), key=_ORDER.__getitem__)
            out.append(PeriodEntry(label=r["period"], kind=r["kind"], first_month=r["first_month"],
                                   last_month=r["last_month"], synthetic=r["synthetic"], weights=r["weights"],
                                   dropped=list(r["dropped"]), wards_ranked=r["wards_ranked"],
                                   layers=([HARM_INDEX] if r["weights"] else []) + available))
        return out

    def layers_for(self, period: Period) -> list[str]:
        """The map layers with figures for ``period``: the index (when it has weights), then indicators."""
        have = {r["indicator"] for r in self.conn.execute(db.query("map_available"),
                                                           {"version": self.version, "period": period.label})}
        return ([HARM_INDEX] if period.weights else []) + [i.slug for i in INDICATORS if i.slug in have]

    # --- places ------------------------------------------------------------------------------

    def borough(self, text: str) -> Borough:
        """A borough given by E09 code or name, any case."""
        row = self.conn.execute(db.query("borough_by_code_or_name"), {"t": text.strip()[:60]}).fetchone()
        if row is None:
            raise UnknownBorough(f"{text.strip()[:60]!r} is not a London borough name or E09 code")
        return Borough(row["borough_code"], row["borough_name"])

    def search_wards(self, text: str, limit_chars: int = 100) -> list[dict[str, Any]]:
        """2022 wards whose name or code matches ``text`` (at least 2 characters), best first, up to 10."""
        q = " ".join(text.split())[:limit_chars]
        if len(q) < 2:
            return []
        esc = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(db.query("map_search"), {"text": q, "prefix": esc + "%", "word": "% " + esc + "%",
                                                           "contains": "%" + esc + "%"})
        return [{"ward_code": r["ward_code"], "ward_name": r["ward_name"], "borough_code": r["borough_code"],
                 "borough_name": r["borough_name"], "city_of_london": bool(r["city_of_london"])} for r in rows]

    def boroughs(self) -> list[dict[str, Any]]:
        return [{"code": b["code"], "name": b["name"], "city_of_london": bool(b["city_of_london"])}
                for b in self.conn.execute(db.query("map_boroughs"))]

    # --- questions ---------------------------------------------------------------------------

    def layer(self, period: Period, layer: str, borough: Borough | None, disclosure: Disclosure) -> LayerValues:
        """One map layer (the index or an indicator) of ``period`` for every 2022 ward, ranked and classed
        London-wide or within ``borough``, with what ``disclosure`` hides hidden."""
        return _layer(self, period, layer, borough, disclosure)

    def worst(self, period: Period, rule: WorstRule | None, *, borough: Borough | None = None,
              contributors: int = 3, disclosure: Disclosure | None = None) -> Worst:
        """The worst-affected wards by ``rule`` (None: every ranked ward), with what put them there."""
        return _worst(self, period, rule, borough, contributors, disclosure)

    def ward_summary(self, period: Period, ward_code: str) -> dict[str, Any] | None:
        """One 2022 ward in full (None for an unknown code): see :func:`_ward_summary`."""
        return _ward_summary(self, period, ward_code)

    def response_wards(self, period: Period) -> dict[str, dict[str, Any]]:
        """Police activity against need for every ward of ``period`` (empty when not computed for it)."""
        rows = self.conn.execute(db.query("response_wards"), {"version": self.version, "period": period.label})
        return {r["ward_code"]: dict(r) for r in rows}

    def response(self, period: Period, level: str, code: str) -> dict[str, Any] | None:
        """Police activity against need for one ward, borough or London (``code`` "london")."""
        row = self.conn.execute(db.query("response_area"), {"version": self.version, "period": period.label,
                                                             "level": level, "code": code}).fetchone()
        return dict(row) if row else None

    def borough_response(self, period: Period, borough: Borough, *,
                         disclosure: Disclosure | None = None) -> BoroughResponse:
        """The borough's police activity against need beside London's, and its wards on need x response:
        the tasking candidates and the possible over-attention. See :func:`_borough_response`."""
        return _borough_response(self, period, borough, disclosure)

    def area(self, text: str) -> Area:
        """London, a borough (E09 code or name) or a 2022 ward (E05 code), for the diagnostic view."""
        t = (text or "london").strip()[:60]
        if t.lower() == "london":
            return Area("london", "london", "London")
        if t.upper().startswith("E05"):
            row = self.conn.execute(db.query("ward_by_code"), {"code": t.upper()}).fetchone()
            if row is None:
                raise UnknownWard(f"{t!r} is not a 2022 London ward code (E05...)")
            return Area("ward", row["ward_code"], f"{row['ward_name']} ({row['borough_name']})")
        b = self.borough(t)
        return Area("borough", b.code, b.name)

    def baseline_label(self) -> str | None:
        """The first financial year of the strategy's three-year targets, as this publish used it."""
        return (self.parameters or {}).get("target_baseline")

    def diagnostic(self, period: Period, area: Area, against: str = "previous", *,
                   disclosure: Disclosure | None = None) -> Diagnostic:
        """Why did confidence move here? See :func:`_diagnostic`."""
        return _diagnostic(self, period, area, against, disclosure)

    def score_history(self, wards: Sequence[str], labels: Sequence[str]) -> dict[tuple[str, str], float | None]:
        """(ward, period) -> harm score, for comparing a ward's score with earlier periods."""
        rows = self.conn.execute(db.query("api_score_history"),
                                 {"version": self.version, "wards": list(wards), "periods": list(labels)})
        return {(h["ward_code"], h["period"]): number(h["score"]) for h in rows}

    # --- need x response (the tasking map) ---------------------------------------------------------

    def response_periods(self) -> set[str]:
        """The periods with police activity against need (the need x response layer's periods)."""
        return {r["period"] for r in self.conn.execute(db.query("response_periods"), {"version": self.version})}

    def need_response(self, period: Period, borough: Borough | None,
                      disclosure: Disclosure | None = None) -> NeedResponse:
        """Every 2022 ward on need x response, classed by its quadrant: see :func:`_need_response`."""
        return _need_response(self, period, borough, disclosure)

    def response_figure(self, period: Period, level: str, code: str, name: str,
                        disclosure: Disclosure | None = None) -> ResponseFigure | None:
        """``response`` for one ward, borough or London as ``disclosure`` lets it out (None: not computed); the
        total of police actions also hides when it would give back one of its parts
        (:func:`_activity_gives_back`)."""
        row = self.response(period, level, code)
        if not row:
            return None
        figure = _response_figure(row, code, name, disclosure)
        return _hide_activity(figure) if _total_hidden(self, period, level, code, disclosure) else figure

    def ward_responses(self, period: Period, disclosure: Disclosure | None = None) -> dict[str, ResponseFigure]:
        """ward code -> its police activity against need in ``period``, as ``disclosure`` lets it out (the
        total hidden too where it would give back one of its parts)."""
        rows = self.conn.execute(db.query("response_wards"), {"version": self.version, "period": period.label})
        hide = _totals_hidden(self, period, disclosure)
        out = {}
        for r in rows:
            figure = _response_figure(r, r["ward_code"], r["ward_code"], disclosure)
            out[r["ward_code"]] = _hide_activity(figure) if r["ward_code"] in hide else figure
        return out


    def search_outcomes(self, period: Period | str, level: str, code: str, *,
                        disclosure: Disclosure | None = None) -> SearchOutcome | None:
        """Drug searches in a borough or London (``code`` "london") in ``period``: how many, the find rate
        with its interval and the searches by self-defined ethnic group, as ``disclosure`` lets them out;
        None where none were published. See :func:`_search_outcome`."""
        return _search_outcome(self, period, level, code, disclosure)

def begin(conn: psycopg.Connection, snapshot_id: str | None = None) -> Snapshot:
    """Begin a read-only REPEATABLE READ transaction on ``conn`` and read its snapshot; with
    ``snapshot_id`` (``pg_export_snapshot``) a worker process reads exactly what its parent read."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if snapshot_id:
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
    return Snapshot.read(conn)


@contextmanager
def opened(conn: psycopg.Connection) -> Iterator[Snapshot]:
    """``begin`` for a command: the snapshot in one transaction on ``conn``, ended when the block ends."""
    with conn.transaction():
        yield begin(conn)


# --- typed results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """One published period of the current index, with the weights and indicators that went into it."""

    version: int
    label: str
    kind: str
    first_month: date
    last_month: date
    weights: dict[str, float]
    synthetic: bool
    dropped: list[str]
    indicators: dict[str, dict]          # the publish's indicator flags (first, last, synthetic)

    @property
    def title(self) -> str:
        return periods.parse(self.label).title

    @property
    def parsed(self) -> periods.Period:
        return periods.parse(self.label)

    def weights_by_size(self) -> dict[str, float]:
        return _by_weight(self.weights)

    def synthetic_indicators(self) -> list[str]:
        """Weighted indicators loaded from synthetic files, largest weight first."""
        return [k for k in self.weights_by_size() if (self.indicators or {}).get(k, {}).get("synthetic")]


@dataclass(frozen=True)
class PeriodEntry:
    """A period as a period picker lists it."""

    label: str
    kind: str
    first_month: date
    last_month: date
    synthetic: bool
    weights: dict[str, float]
    dropped: list[str]
    wards_ranked: int | None
    layers: list[str]


@dataclass(frozen=True)
class Area:
    """Where a diagnostic is asked about: London, a borough or a ward."""

    level: str       # london, borough, ward
    code: str        # "london", an E09 or an E05 code
    name: str


@dataclass(frozen=True)
class Diagnostic:
    """An area's confidence beside its police response and its need, over one window."""

    area: Area
    period: Period
    against: str                   # previous or baseline
    against_period: str | None     # the earlier period of the window (None: not published)
    changes: list[diagnostics.Change]
    london: dict[str, diagnostics.Change]
    design_effect: float
    summary: str
    hidden: set[str]               # indicators whose counts this reader may not see exactly


@dataclass(frozen=True)
class ResponseFigure:
    """Police activity against need for one area (a ward, the borough or London), as the reader may see it:
    ``activity`` police actions counted (harm.period.activity), ``trafficking`` recorded trafficking
    offences, ``per_100`` activity per 100 of them with its exact 95% interval (harmmap.harm.response_rate).
    A count this reader may not see exactly is None and named in ``hidden`` (with the rate and its
    interval, which would give it back)."""

    code: str
    name: str
    activity: float | None
    trafficking: float | None
    per_100: float | None
    per_100_lo: float | None
    per_100_hi: float | None
    vs_london: str                     # higher, lower, similar, too_few
    synthetic: bool
    hidden: tuple[str, ...] = ()       # "activity", "trafficking"
    rank_borough: int | None = None    # wards: place on need within the borough (harm index)
    decile_london: int | None = None
    quadrant: str | None = None        # wards: harm.quadrant


@dataclass(frozen=True)
class BoroughResponse:
    """A borough's response against need (harm.response) for one period."""

    period: Period
    borough: Borough
    counted: list[str]                        # the activity indicators counted
    area: ResponseFigure | None               # the borough (None: not computed for the period)
    london: ResponseFigure | None
    tasking_candidates: list[ResponseFigure]  # high need, response below London's rate; most need first
    over_attention: list[ResponseFigure]      # low need, response above London's rate; most activity first


@dataclass(frozen=True)
class Borough:
    code: str
    name: str

    @property
    def city_of_london(self) -> bool:
        return self.code == CITY_OF_LONDON


@dataclass(frozen=True)
class WardValue:
    """One ward on one layer, as the reader may see it."""

    ward_code: str
    value: float | None          # the score, rate or EB percentage; None when hidden or missing
    group: int | None            # its legend class (index into LayerValues.classes)
    rank: int | None             # within the scope
    decile: int | None
    hotspot: str
    lisa: str
    suppressed: bool = False     # its count is below what this reader may see exactly


@dataclass(frozen=True)
class LayerValues:
    period: Period
    layer: str
    label: str
    unit: str
    kind: str
    higher_is_worse: bool
    borough: Borough | None
    n_ranked: int
    classes: list[dict[str, Any]]
    available: list[str]
    synthetic: bool              # the layer's own figures
    wards: list[WardValue]


@dataclass(frozen=True)
class WorstWard:
    rank: int | None                  # within the scope (London or the borough)
    decile: int | None
    ward_code: str
    ward_name: str
    borough_code: str
    borough_name: str
    score: float | None
    rank_london: int | None
    decile_london: int | None
    rank_borough: int | None
    decile_borough: int | None
    hotspot: str
    lisa_cluster: str
    tied_at_cutoff: bool
    synthetic: bool
    top_contributions: list[tuple[str, float]]

    @property
    def top_indicators(self) -> str:
        """``drug_trafficking 31.2; pas_drug_problem 12.0``: the contributions in one line."""
        return "; ".join(f"{i} {p:.1f}" for i, p in self.top_contributions)


@dataclass
class Worst:
    period: Period
    rule: WorstRule | None
    rows: list[WorstWard]        # worst first
    note: str = ""
    n_ranked: int = 0            # wards ranked in the scope (London or the borough)
    borough: Borough | None = None

    @property
    def version(self) -> int:
        return self.period.version

    @property
    def synthetic(self) -> bool:
        return self.period.synthetic

    @property
    def weights(self) -> dict[str, float]:
        return self.period.weights_by_size()

    @property
    def dropped(self) -> list[str]:
        return list(self.period.dropped)

    @property
    def synthetic_indicators(self) -> list[str]:
        return self.period.synthetic_indicators()


# --- one layer ---------------------------------------------------------------------------------------

def _layer(snap: Snapshot, period: Period, layer: str, borough: Borough | None,
           disclosure: Disclosure) -> LayerValues:
    if layer != HARM_INDEX and layer not in BY_SLUG:
        raise BadRequest(f"layer {layer[:40]!r} is not a map layer: one of {HARM_INDEX}, {', '.join(BY_SLUG)}")
    available = snap.layers_for(period)
    if layer not in available:
        raise BadRequest(f"layer {layer} has no figures for {period.label}; layers available for "
                         f"{period.label}: {', '.join(available) or 'none'}")
    rows = snap.conn.execute(db.query("map_values"),
                             {"version": snap.version, "period": period.label, "indicator": layer}).fetchall()
    in_scope = [borough is None or r["borough_code"] == borough.code for r in rows]
    small = np.zeros(len(rows), dtype=bool)
    if layer == HARM_INDEX:
        label, unit, kind, higher_is_worse = "Harm index", "score 0-100", "index", True
        v = [number(r["score"]) for r in rows]
        if borough is None:
            rank = [r["rank_london"] for r in rows]
            dec = [r["decile_london"] for r in rows]
        else:
            rank = [r["rank_borough"] if s else None for r, s in zip(rows, in_scope)]
            dec = [r["decile_borough"] if s else None for r, s in zip(rows, in_scope)]
        legend, k = classes.decile_classes(v, dec)
        n_ranked = sum(x is not None for x in rank)
        layer_synthetic = bool(period.synthetic)
    else:
        ind = BY_SLUG[layer]
        label, unit, kind, higher_is_worse = ind.label, UNITS[ind.kind], ind.kind, ind.harm_direction > 0
        column = "eb_pct" if ind.kind == "survey" else "rate_per_1000"
        x = np.array([np.nan if r[column] is None else float(r[column]) for r in rows])
        # Wards whose count is suppressed have no rate, rank or class of their own for this reader: the
        # ranks and classes are those of the wards shown exactly (harmmap/disclosure.py).
        small = np.array([disclosure.small_count(layer, r["value"]) for r in rows], dtype=bool)
        x = np.where(small, np.nan, x)
        v = [number(a) for a in x]
        # As for the index: London-wide, or within the borough (ranks, classes; the rest keep v only).
        scoped = np.where(in_scope, x, np.nan)
        r_scope = scoring.rank_desc(scoped)                # 1 = highest; NaN unranked
        n_ranked = int(np.isfinite(r_scope).sum())
        d_scope = scoring.decile(r_scope, n_ranked) if n_ranked else np.full(x.shape, np.nan)
        rank = [whole(a) for a in r_scope]
        dec = [whole(a) for a in d_scope]
        legend, groups = classes.quantile_classes(scoped, kind=ind.kind, higher_is_worse=higher_is_worse)
        k = [int(gk) if gk >= 0 else None for gk in groups]
        hidden = small & np.asarray(in_scope, dtype=bool)
        if hidden.any():
            legend.append({"label": disclosure.text, "color": classes.SUPPRESSED_COLOR, "min": None, "max": None,
                           "count": int(hidden.sum()), "suppressed": True})
            for i in np.flatnonzero(hidden):
                k[i] = len(legend) - 1
        layer_synthetic = snap.layer_synthetic(layer)
    wards = [WardValue(ward_code=r["ward_code"], value=None if v[i] is None else round(v[i], 4), group=k[i],
                       rank=whole(rank[i]), decile=whole(dec[i]), hotspot=r["hotspot"], lisa=r["lisa"],
                       suppressed=bool(small[i]))
             for i, r in enumerate(rows)]
    return LayerValues(period=period, layer=layer, label=label, unit=unit, kind=kind,
                       higher_is_worse=higher_is_worse, borough=borough, n_ranked=n_ranked, classes=legend,
                       available=available, synthetic=layer_synthetic, wards=wards)


# --- the worst wards -----------------------------------------------------------------------------------

def _worst(snap: Snapshot, period: Period, rule: WorstRule | None, borough: Borough | None, contributors: int,
           disclosure: Disclosure | None) -> Worst:
    """Ranks and deciles in the rows are within the scope (London, or the borough); ``rank_london`` stays
    the London rank. With a ``disclosure`` that suppresses, an indicator whose count is suppressed for a
    ward is not among that ward's top indicators (its points would rank it)."""
    cur = snap.conn.execute(db.query("index_period"), {"period": period.label})
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    try:
        chosen = scoring.worst_affected(frame, rule, borough=borough.code if borough else None,
                                        score_col="score", borough_col="borough_code")
    except ValueError as e:  # a borough with no ranked wards in this period
        raise BadRequest(str(e)) from None
    contrib = snap.conn.execute(db.query("index_contributions"),
                                {"period": period.label, "wards": chosen["ward_code"].tolist()}).fetchall()
    # largest first; equal points (two indicators both at their full weight) in the indicators' order,
    # so the same data always gives the same answer
    contrib.sort(key=lambda r: (r["ward_code"], -r["contribution"], _ORDER.get(r["indicator"], len(_ORDER))))
    tops: dict[str, list[tuple[str, float]]] = {}
    for r in contrib:
        if disclosure is not None and disclosure.small_count(r["indicator"], r["value"]):
            continue
        if len(tops.setdefault(r["ward_code"], [])) < contributors and r["contribution"] > 0:
            tops[r["ward_code"]].append((r["indicator"], float(r["contribution"])))
    rows = [WorstWard(rank=whole(r["rank"]), decile=whole(r["decile"]), ward_code=r["ward_code"],
                      ward_name=r["ward_name"], borough_code=r["borough_code"], borough_name=r["borough_name"],
                      score=number(r["score"]), rank_london=whole(r["rank_london"]),
                      decile_london=whole(r["decile_london"]), rank_borough=whole(r["rank_borough"]),
                      decile_borough=whole(r["decile_borough"]), hotspot=r["hotspot"],
                      lisa_cluster=r["lisa_cluster"], tied_at_cutoff=bool(r["tied_at_cutoff"]),
                      synthetic=bool(r["synthetic"]), top_contributions=tops.get(r["ward_code"], []))
            for r in chosen.to_dict("records")]
    note = str(chosen.attrs.get("note", ""))
    if borough is not None:
        note = note.replace(borough.code, borough.name)
    return Worst(period=period, rule=rule, rows=rows, note=note, n_ranked=int(chosen.attrs.get("n_ranked", 0)),
                 borough=borough)


# --- the diagnostic view -------------------------------------------------------------------------------

def _window(snap: Snapshot, period: Period, against: str) -> str | None:
    if against == "previous":
        return period.parsed.previous.label
    if against == "baseline":
        base = snap.baseline_label()
        # counts are compared as totals over equal lengths of time, so only 12 months after the baseline
        # year can be set against it (a month against a year would read as a fall of 90%)
        if base is not None and not (len(period.parsed.months) == len(periods.parse(base).months)
                                     and periods.parse(base).last < period.first_month):
            raise BadRequest(f"against baseline compares 12 months with the baseline year {base}: choose a "
                             f"financial year or rolling 12 months after it, not {period.label}")
        return base
    raise BadRequest(f"against must be previous or baseline, not {against[:20]!r}")


def _changes(snap: Snapshot, level: str, code: str, now: str, before: str, deff: float) -> list[diagnostics.Change]:
    rows = snap.conn.execute(db.query("diagnostic_area"), {"version": snap.version, "level": level, "code": code,
                                                           "periods": [now, before]}).fetchall()
    by = {(r["period"], r["indicator"]): r for r in rows}
    out = []
    for ind in INDICATORS:
        a, b = by.get((now, ind.slug)), by.get((before, ind.slug))
        if a is None or b is None:
            continue
        if ind.kind == "survey":
            out.append(diagnostics.pas_change(ind.slug, float(b["value"] or 0), float(b["respondents"] or 0),
                                              float(a["value"] or 0), float(a["respondents"] or 0),
                                              design_effect=deff))
        else:
            out.append(diagnostics.count_change(ind.slug, float(b["value"] or 0), float(a["value"] or 0)))
    return out


def _diagnostic(snap: Snapshot, period: Period, area: Area, against: str,
                disclosure: Disclosure | None) -> Diagnostic:
    """The change in each PAS measure (points, interval, significance at the survey's sample size with the
    publish's design effect), beside the change in each response and need indicator over the same months
    (exact tests), London's need changes for comparison, and the plain-language summary. With a
    ``disclosure`` that suppresses, a count from 1 to 4 reads as its text in the summary and is hidden in
    ``hidden``."""
    before = _window(snap, period, against)
    deff = float((snap.parameters or {}).get("pas_design_effect", 1.0))
    have = {r["period"] for r in snap.conn.execute(db.query("published_period_labels"))}
    if before is None or before not in have:
        return Diagnostic(area, period, against, None, [], {}, deff,
                          f"In {area.name}, there is no published {before or 'baseline'} to compare "
                          f"{period.label} with.", set())
    changes = _changes(snap, area.level, area.code, period.label, before, deff)
    london = {c.indicator: c for c in _changes(snap, "london", "london", period.label, before, deff)}
    hidden: set[str] = set()
    show = lambda x: f"{x:,.0f}"  # noqa: E731
    if disclosure is not None and not disclosure.suppresses_nothing:
        for c in changes:
            if c.kind == "count" and (disclosure.small_count(c.indicator, c.before)
                                      or disclosure.small_count(c.indicator, c.after)):
                hidden.add(c.indicator)
        show = lambda x: disclosure.text if disclosure.small(x) else f"{x:,.0f}"  # noqa: E731
    window = f"{period.label} against {before}"
    summary = diagnostics.summarise(area.name, window, changes, london if area.level != "london" else None,
                                    show=show)
    return Diagnostic(area, period, against, before, changes, london, deff, summary, hidden)


def _response_figure(r: dict[str, Any], code: str, name: str, disclosure: Disclosure | None) -> ResponseFigure:
    """One row of harm.response as ``disclosure`` lets it out: activity is a count of police actions and
    trafficking a count of offences; either from 1 to 4 hides itself and the rate that gives it back."""
    hidden = tuple(k for k in ("activity", "trafficking")
                   if disclosure is not None and disclosure.small(r[k]))
    return ResponseFigure(
        code=code, name=name,
        activity=None if "activity" in hidden else number(r["activity"]),
        trafficking=None if "trafficking" in hidden else number(r["trafficking"]),
        per_100=None if hidden else number(r["per_100"]), per_100_lo=None if hidden else number(r["per_100_lo"]),
        per_100_hi=None if hidden else number(r["per_100_hi"]), vs_london=r["vs_london"],
        synthetic=bool(r["synthetic"]), hidden=hidden, rank_borough=whole(r.get("rank_borough")),
        decile_london=whole(r.get("decile_london")), quadrant=r.get("quadrant"))


def _borough_response(snap: Snapshot, period: Period, borough: Borough,
                      disclosure: Disclosure | None) -> BoroughResponse:
    """The quadrants are decided at publish (harm.quadrant: never claimed on noise); this only picks the
    borough's wards in the two that tasking acts on, and hides what ``disclosure`` hides, including a total
    of police actions (a ward's or the borough's) that would give back a part shown as "fewer than 5"
    (:func:`_activity_gives_back`: the borough's parts are on the same page, in its diagnostic)."""
    params = {"version": snap.version, "period": period.label, "borough": borough.code}
    counted_row = snap.conn.execute(db.query("response_counted"), params).fetchone()
    counted = list((counted_row or {}).get("activity") or [])
    area = snap.response(period, "borough", borough.code)
    london = snap.response(period, "london", "london")
    hide = _totals_hidden(snap, period, disclosure)
    wards = [_response_figure(r, r["ward_code"], r["ward_name"], disclosure)
             for r in snap.conn.execute(db.query("response_borough_wards"), params)]
    wards = [_hide_activity(w) if w.code in hide else w for w in wards]
    over = [w for w in wards if w.quadrant == "possible_over_attention"]
    over.sort(key=lambda w: (w.per_100 is None, -(w.per_100 or 0.0), w.name))
    area_figure = _response_figure(area, borough.code, borough.name, disclosure) if area else None
    if area_figure is not None:
        parts = [float(r["value"] or 0) for r in snap.conn.execute(
                     db.query("diagnostic_area"), {"version": snap.version, "level": "borough", "code": borough.code,
                                                   "periods": [period.label]})
                 if r["indicator"] in counted]
        if _activity_gives_back(parts, disclosure):
            area_figure = _hide_activity(area_figure)
    return BoroughResponse(
        period=period, borough=borough, counted=counted, area=area_figure,
        london=_response_figure(london, "london", "London", disclosure) if london else None,
        tasking_candidates=[w for w in wards if w.quadrant == "tasking_candidate"], over_attention=over)


def family_label(slug: str) -> str:
    """Need (harm), Police response (diagnostic) or Confidence, as every surface names it."""
    ind = BY_SLUG.get(slug)
    return FAMILY_LABELS[ind.family] if ind else ""


def response_note(weights: dict[str, float]) -> str | None:
    """What every surface says when police activity was weighted into the index (it is not by default)."""
    weighted = response_weighted(weights)
    if not weighted:
        return None
    return ("This index includes police activity (" + ", ".join(indicator_label(s) for s in weighted) +
            ") by explicit weights: wards rank higher where the police already act.")


# --- one ward in full ------------------------------------------------------------------------------

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


def _ward_summary(snap: Snapshot, period: Period, ward_code: str) -> dict[str, Any] | None:
    """One 2022 ward in one published period, as plain JSON-safe values, or None for an unknown code.

    Gives the ward's ranks, every indicator with its uncertainty and trend, the contributions that
    explain its rank (largest first), and its month-by-month history over every published month. A City
    of London ward comes back with no score (it is not ranked). Pass it through the reader's
    ``Disclosure.ward_summary`` before showing it.
    """
    params = {"version": period.version, "period": period.label, "ward": ward_code}
    ward = snap.conn.execute(db.query("map_ward"), params).fetchone()
    if ward is None:
        return None
    figures = {r["indicator"]: r for r in snap.conn.execute(db.query("map_ward_indicators"), params)}
    trend_rows = snap.conn.execute(db.query("map_ward_trend"), params).fetchall()
    p = period.parsed
    monthly = [i.slug for i in INDICATORS if i.kind != "survey"]
    contributions = sorted(((slug, number(r["contribution"])) for slug, r in figures.items()
                            if number(r["contribution"]) is not None),
                           key=lambda kv: (-kv[1], _ORDER.get(kv[0], len(_ORDER))))
    return {
        "version": period.version,
        "synthetic": bool(period.synthetic),
        "period": period.label,
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
        "weights": {k: round(w, 4) for k, w in period.weights.items()},
        "dropped": list(period.dropped),
        "indicators": [_indicator_entry(i.slug, figures.get(i.slug)) for i in INDICATORS],
        "contributions": [{"indicator": slug, "label": indicator_label(slug), "points": points}
                          for slug, points in contributions],
        "trend": {
            "months": [t["month"] for t in trend_rows],
            "score": [number(t["score"]) for t in trend_rows],
            "series": {slug: [number((t["figures"] or {}).get(slug)) for t in trend_rows] for slug in monthly},
            "units": {slug: ("£" if BY_SLUG[slug].kind == "value" else "count") for slug in monthly},
        },
    }



# --- need x response: the tasking map's layer and chart --------------------------------------------------

#: The map layer of need x response (harm.response's quadrants): a diagnostic, never a harm score.
NEED_RESPONSE = "need_response"
NEED_RESPONSE_LABEL = "Need x response"
NEED_RESPONSE_UNIT = "police activity per 100 trafficking offences"


@dataclass(frozen=True)
class Quadrant:
    """One class of the need x response layer: ``slug`` as harm.response.quadrant names it."""

    slug: str
    label: str
    color: str


#: The need x response classes, in legend order. Categorical: purples for high need, teals for low need
#: (ColorBrewer PRGn and BrBG ends, safe for the common colour-vision deficiencies), and five steps apart in
#: greyscale (CIE L* 13, 38, 62, 77, 97), so a printed or greyscale map still tells them apart. Never the
#: harm colours (YlOrRd): police activity is not harm.
QUADRANTS: tuple[Quadrant, ...] = (
    Quadrant("tasking_candidate", "High need, response below London's rate — candidate for tasking", "#40004b"),
    Quadrant("possible_over_attention", "Low need, response above London's rate — possible over-attention",
             "#01665e"),
    Quadrant("need_and_response_high", "High need and high response", "#998ec3"),
    Quadrant("low_need_low_response", "Low need and low response", "#80cdc1"),
    Quadrant("no_signal", "No clear difference, or too few events to tell", "#f7f7f7"),
)
_QUADRANT_INDEX = {q.slug: i for i, q in enumerate(QUADRANTS)}
#: How a ward's or borough's rate compares with London's (harmmap.harm.response_rate), in words.
VS_LONDON = {"higher": "above London's rate", "lower": "below London's rate",
             "similar": "no clear difference from London's rate", "too_few": "too few events to tell"}
#: Where need is high or low on the need x response layer (harmmap.harm.need_level).
NEED_LEVELS = "High need: London deciles 1-3 of the harm index; low need: deciles 8-10."


def quadrant_label(slug: str | None) -> str:
    return QUADRANTS[_QUADRANT_INDEX[slug]].label if slug in _QUADRANT_INDEX else ""


def quadrant_color(slug: str | None) -> str | None:
    return QUADRANTS[_QUADRANT_INDEX[slug]].color if slug in _QUADRANT_INDEX else None


@dataclass(frozen=True)
class NeedResponseWard:
    """One ward on need x response: its need (harm index, London decile) and its response figure."""

    ward_code: str
    borough_code: str
    score: float | None              # need: the harm index (None: not scored, e.g. the City of London)
    decile_london: int | None
    need_level: str | None           # high, middle, low, unranked (None: no response figures)
    hotspot: str
    lisa: str
    group: int | None                # its class: an index into QUADRANTS (None: no response figures)
    response: ResponseFigure | None


@dataclass(frozen=True)
class NeedResponse:
    """The need x response layer of one period, London-wide or with ``borough`` in focus. The classes are
    London's (need deciles and London's rate), whatever the focus; ``classes`` counts the wards in scope."""

    period: Period
    borough: Borough | None
    counted: list[str]                      # the activity indicators counted (harm.period.activity)
    london: ResponseFigure | None
    area: ResponseFigure | None             # the borough in focus
    classes: list[dict[str, Any]]           # slug, label, color, count
    wards: list[NeedResponseWard]
    high_need_from: float | None            # the lowest score among high-need wards (deciles 1-3)
    low_need_to: float | None               # the highest score among low-need wards (deciles 8-10)
    synthetic: bool                         # any counted activity (or the trafficking counts) synthetic
    note: str | None                        # response_note of the period's weights


def _need_response(snap: Snapshot, period: Period, borough: Borough | None,
                   disclosure: Disclosure | None) -> NeedResponse:
    """The quadrants are decided at publish (harm.quadrant: never claimed on noise); this classes each ward
    by them, counts the classes in scope and hides what ``disclosure`` hides (``_response_figure``: the
    counts and the rate that would give them back; the class, like the index's, stays)."""
    params = {"version": snap.require_index(), "period": period.label}
    rows = snap.conn.execute(db.query("need_response_wards"), params).fetchall()
    if not any(r["quadrant"] for r in rows):
        have = sorted(snap.response_periods())
        raise BadRequest(f"no need x response figures for {period.label} (it needs trafficking offences and "
                         f"police activity for every month of it); periods that have them: "
                         f"{', '.join(have[-6:]) or 'none'}")
    counted = list((snap.conn.execute(db.query("response_counted"), params).fetchone() or {}).get("activity") or [])
    hide = _totals_hidden(snap, period, disclosure)
    wards: list[NeedResponseWard] = []
    counts = [0] * len(QUADRANTS)
    for r in rows:
        group = _QUADRANT_INDEX.get(r["quadrant"])
        figure = _response_figure(r, r["ward_code"], r["ward_name"], disclosure) if r["quadrant"] else None
        if figure is not None and r["ward_code"] in hide:
            figure = _hide_activity(figure)
        wards.append(NeedResponseWard(
            ward_code=r["ward_code"], borough_code=r["borough_code"], score=number(r["score"]),
            decile_london=whole(r["decile_london"]), need_level=r["need_level"], hotspot=r["hotspot"],
            lisa=r["lisa"], group=group, response=figure))
        if group is not None and (borough is None or r["borough_code"] == borough.code):
            counts[group] += 1
    high = [w.score for w in wards if w.need_level == "high" and w.score is not None]
    low = [w.score for w in wards if w.need_level == "low" and w.score is not None]
    london = snap.response_figure(period, "london", "london", "London", disclosure)
    area = snap.response_figure(period, "borough", borough.code, borough.name, disclosure) if borough else None
    return NeedResponse(
        period=period, borough=borough, counted=counted, london=london, area=area,
        classes=[{"slug": q.slug, "label": q.label, "color": q.color, "count": n} for q, n in zip(QUADRANTS, counts)],
        wards=wards, high_need_from=min(high) if high else None, low_need_to=max(low) if low else None,
        synthetic=bool(london and london.synthetic), note=response_note(period.weights))


def _activity_gives_back(parts: Sequence[float], disclosure: Disclosure | None) -> bool:
    """Whether a ward's total of police actions would give back a part this reader sees as "fewer than 5".

    The total, less the parts shown exactly, is the sum of the hidden parts (each 1 to 4). That sum gives a
    hidden count back when it is itself small (one hidden part, or several adding to fewer than 5), or when
    it leaves each hidden part one possible value (k parts adding to k, or to 4k): secondary suppression, as
    statistical offices hide a cell from which a suppressed one could be worked out by subtraction."""
    if disclosure is None or disclosure.suppresses_nothing:
        return False
    hidden = [float(x) for x in parts if disclosure.small(x)]
    total = sum(hidden)
    return bool(hidden) and (total < disclosure.min_count
                             or total in (len(hidden), len(hidden) * (disclosure.min_count - 1)))


def _totals_hidden(snap: Snapshot, period: Period, disclosure: Disclosure | None) -> set[str]:
    """The wards whose activity total (and so its rate per 100) this reader may not see although the total
    and the trafficking count are not small themselves: :func:`_activity_gives_back` of its parts."""
    if disclosure is None or disclosure.suppresses_nothing:
        return set()
    params = {"version": snap.version, "period": period.label}
    counted = list((snap.conn.execute(db.query("response_counted"), params).fetchone() or {}).get("activity") or [])
    parts: dict[str, list[float]] = {}
    for r in snap.conn.execute(db.query("response_components"), {**params, "indicators": counted}):
        parts.setdefault(r["ward_code"], []).append(float(r["value"] or 0))
    return {code for code, xs in parts.items() if _activity_gives_back(xs, disclosure)}


def _total_hidden(snap: Snapshot, period: Period, level: str, code: str, disclosure: Disclosure | None) -> bool:
    """:func:`_activity_gives_back` for one ward, borough or London: the parts of a borough's or London's total
    are shown beside it too (the diagnostic view's table)."""
    if disclosure is None or disclosure.suppresses_nothing:
        return False
    if level == "ward":
        return code in _totals_hidden(snap, period, disclosure)
    params = {"version": snap.version, "period": period.label}
    counted = set((snap.conn.execute(db.query("response_counted"), params).fetchone() or {}).get("activity") or [])
    parts = [float(r["value"] or 0) for r in snap.conn.execute(
        db.query("diagnostic_area"), {**params, "level": level, "code": code, "periods": [period.label]})
             if r["indicator"] in counted]
    return _activity_gives_back(parts, disclosure)


def _hide_activity(figure: ResponseFigure) -> ResponseFigure:
    """``figure`` with its activity, and the rate and interval that give it back, hidden."""
    if "activity" in figure.hidden:
        return figure
    return replace(figure, activity=None, per_100=None, per_100_lo=None, per_100_hi=None,
                   hidden=(*figure.hidden, "activity"))


def change_shown(change: diagnostics.Change, diagnostic: Diagnostic,
                 disclosure: Disclosure | None) -> dict[str, Any]:
    """One row of a diagnostic's table as a reader may see it. For an indicator in ``diagnostic.hidden`` a
    count from 1 to 4 reads as the disclosure text, and the change, its interval and the p-value (a ratio
    to the other, shown count would give it back) are withheld; the words (direction, significant or not)
    stay, as the summary says them. PAS figures are percentages and pounds are not counts: shown as they are."""
    c = change
    out: dict[str, Any] = {
        "indicator": c.indicator, "label": c.label, "family": c.family, "family_label": family_label(c.indicator),
        "also": BY_SLUG[c.indicator].also if c.indicator in BY_SLUG else "", "kind": c.kind,
        "before": number(c.before), "after": number(c.after), "change": number(c.change), "lo": number(c.lo),
        "hi": number(c.hi), "p": number(c.p), "tested": c.tested, "significant": c.significant,
        "direction": c.direction, "suppressed": None,
        "respondents_before": whole(c.respondents_before), "respondents_after": whole(c.respondents_after)}
    if disclosure is not None and c.indicator in diagnostic.hidden:
        for side in ("before", "after"):
            if disclosure.small(getattr(c, side)):
                out[side] = None
                out[f"{side}_suppressed"] = disclosure.text
        out.update(change=None, lo=None, hi=None, p=None, suppressed=disclosure.text)
    return out


# --- stop and search: the find rate and the groups ---------------------------------------------------

#: Why the groups are counts only (docs/data-contracts.md, "Stop and search and proportionality").
PROPORTIONALITY_NOTE = ("Searches per 1,000 residents by ethnic group, and the ratio to the White rate, need the "
                        "Census 2021 ethnic group populations (ONS table TS021), which are not loaded: counts only.")


@dataclass(frozen=True)
class SearchOutcome:
    """Drug searches in one area and period (harm.search_outcome, harm.search_group), as the reader may see
    them. ``searches`` (London's include ``unlocated``, the searches with no location), ``found`` of the
    ``recorded`` (police.uk's "Outcome linked to object of search" True, of True or False) and ``find_pct``
    with its Wilson 95% interval; ``groups`` the searches by self-defined ethnic group. A count from 1 to 4
    that the reader may not see is None and named in ``hidden``, with whatever gives it back."""

    period: str
    level: str
    code: str
    searches: int | None
    unlocated: int | None
    recorded: int | None
    found: int | None
    find_pct: float | None
    find_lo: float | None
    find_hi: float | None
    groups: dict[str, int | None]
    synthetic: bool
    hidden: tuple[str, ...] = ()
    note: str = PROPORTIONALITY_NOTE


def _search_outcome(snap: Snapshot, period: Period | str, level: str, code: str,
                    disclosure: Disclosure | None) -> SearchOutcome | None:
    """Disclosure: a small ``found`` or ``recorded`` hides the rate and its interval too (rate x recorded is
    found); a small ``unlocated`` hides London's total (the total less the boroughs' is it); a small group
    hides the next smallest non-zero group too, so no single hidden group can be had from the total."""
    if level not in ("borough", "london"):
        raise BadRequest(f"level must be borough or london, not {level[:20]!r}")
    label = period.label if isinstance(period, Period) else periods.parse(period).label
    params = {"version": snap.require_index(), "period": label, "level": level, "code": code}
    row = snap.conn.execute(db.query("search_outcome"), params).fetchone()
    if row is None:
        return None
    groups: dict[str, int | None] = {r["ethnic_group"]: int(r["searches"])
                                     for r in snap.conn.execute(db.query("search_groups"), params)}
    small = (lambda x: disclosure.small(x)) if disclosure is not None else (lambda _x: False)  # noqa: E731
    hidden = [k for k in ("searches", "unlocated", "recorded", "found") if small(row[k])]
    if "unlocated" in hidden and "searches" not in hidden:
        hidden.append("searches")
    if "found" in hidden or "recorded" in hidden:
        hidden.append("find_pct")
    small_groups = [g for g, n in groups.items() if small(n)]
    if len(small_groups) == 1:
        others = sorted((n, g) for g, n in groups.items() if n and g not in small_groups)
        small_groups += [g for _, g in others[:1]]
    for g in small_groups:
        groups[g] = None
    hidden += [f"group:{g}" for g in small_groups]
    gone = set(hidden)

    def shown(key: str) -> Any:
        return None if key in gone else row[key]

    rate_gone = "find_pct" in gone
    return SearchOutcome(
        period=label, level=level, code=code, searches=shown("searches"), unlocated=shown("unlocated"),
        recorded=shown("recorded"), found=shown("found"),
        find_pct=None if rate_gone else number(row["find_pct"]), find_lo=None if rate_gone else number(row["find_lo"]),
        find_hi=None if rate_gone else number(row["find_hi"]), groups=groups, synthetic=bool(row["synthetic"]),
        hidden=tuple(hidden))
