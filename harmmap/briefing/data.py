"""What a briefing page shows, read from the published index in one snapshot.

Only published aggregates are read (``harm.current_*``, ``harm.publish``, ``geo.*``): never an
``etl.*`` record, premises or address. Geometry stays in EPSG:27700 (metres), the CRS the page is
drawn in, so the printed scale is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from harmmap import db, published
from harmmap.disclosure import Disclosure
from harmmap.published import Snapshot

#: Tolerance of the locator inset's borough outlines (metres): invisible at its ~1:1,000,000.
LOCATOR_TOLERANCE_M = 150.0
#: Tolerance of the borough lines on a map (metres): 0.1 mm at 1:20,000, below what a printer shows.
OUTLINE_TOLERANCE_M = 2.0


class BriefingError(published.ReadError):
    """A briefing the published data cannot give (unknown ward, borough or period); safe to show."""


class UnknownWard(BriefingError):
    pass


@dataclass(frozen=True)
class Area:
    """One borough outline (EPSG:27700)."""

    code: str
    name: str
    city_of_london: bool
    geom: BaseGeometry


@dataclass
class Context:
    """What every page of one run shares: the period, the publish it comes from, the marking."""

    marking: str
    produced_at: datetime
    version: int
    published_at: datetime
    period: published.Period
    boundary_note: str
    boroughs: list[Area]               # simplified for the locator
    weights: dict[str, float] = field(default_factory=dict)
    synthetic_indicators: list[str] = field(default_factory=list)
    #: Borough outlines drawn on the maps (the union of their wards), read once per process and run.
    outlines: dict[str, Area] = field(default_factory=dict)
    #: Who the figures are for (harmmap/disclosure.py): small counts read "fewer than 5" unless exact.
    disclosure: Disclosure = field(default_factory=Disclosure)

    @property
    def label(self) -> str:
        return self.period.label

    @property
    def title(self) -> str:
        return self.period.title

    @property
    def synthetic(self) -> bool:
        return bool(self.period.synthetic)


@dataclass
class MapWard:
    code: str
    name: str
    borough_code: str
    borough_name: str
    city_of_london: bool
    score: float | None
    rank_london: int | None
    decile_london: int | None
    rank_borough: int | None
    hotspot: str
    geom: BaseGeometry


def load_context(snap: Snapshot, *, marking: str, period: str | None,
                 produced_at: datetime, disclosure: Disclosure | None = None) -> Context:
    """The requested published period (or the map's default one) and what every page needs with it.

    Raises ``published.NoIndexPublished``, ``published.UnknownPeriod`` or ``periods.PeriodError`` (a
    malformed label).
    """
    snap.require_index()
    meta = snap.period(period)
    vintage = snap.conn.execute(db.query("brief_vintage")).fetchone() or {}
    boroughs = [Area(r["borough_code"], r["borough_name"], bool(r["city_of_london"]), shapely.from_wkb(r["wkb"]))
                for r in snap.conn.execute(db.query("brief_boroughs"), {"tolerance_m": LOCATOR_TOLERANCE_M})]
    return Context(marking=marking, produced_at=produced_at, version=int(meta.version),
                   published_at=snap.published_at, period=meta,
                   boundary_note=vintage.get("boundary_note") or "", boroughs=boroughs,
                   weights=meta.weights_by_size(), synthetic_indicators=_synthetic_loaded(meta),
                   disclosure=disclosure or Disclosure())


def _synthetic_loaded(period: published.Period) -> list[str]:
    """Every indicator the publish loaded from synthetic files (weighted or not), as the footer lists them."""
    return [slug for slug, m in (period.indicators or {}).items() if (m or {}).get("synthetic")]


def extent(conn: psycopg.Connection, *, ward: str | None = None,
           borough: str | None = None) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) in metres of a 2022 ward or of a borough's wards; None if unknown."""
    row = conn.execute(db.query("brief_extent"), {"ward": ward, "borough": borough}).fetchone()
    if row is None or row["xmin"] is None:
        return None
    return (row["xmin"], row["ymin"], row["xmax"], row["ymax"])


def map_wards(conn: psycopg.Connection, ctx: Context, frame: tuple[float, float, float, float],
              tolerance_m: float) -> list[MapWard]:
    """Every 2022 ward touching ``frame`` (EPSG:27700), with its harm class for the context's period."""
    xmin, ymin, xmax, ymax = frame
    rows = conn.execute(db.query("brief_map_wards"),
                        {"version": ctx.version, "period": ctx.label, "tolerance_m": tolerance_m,
                         "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}).fetchall()
    return [MapWard(code=r["ward_code"], name=r["ward_name"], borough_code=r["borough_code"],
                    borough_name=r["borough_name"], city_of_london=bool(r["city_of_london"]),
                    score=published.number(r["score"]), rank_london=published.whole(r["rank_london"]),
                    decile_london=published.whole(r["decile_london"]),
                    rank_borough=published.whole(r["rank_borough"]),
                    hotspot=r["hotspot"], geom=shapely.from_wkb(r["wkb"])) for r in rows]


def borough_outlines(conn: psycopg.Connection, ctx: Context, codes: set[str]) -> list[Area]:
    """The outlines of these boroughs as the union of their wards (EPSG:27700), cached on ``ctx``."""
    missing = sorted(codes - ctx.outlines.keys())
    if missing:
        for r in conn.execute(db.query("brief_borough_outlines"),
                              {"boroughs": missing, "tolerance_m": OUTLINE_TOLERANCE_M}):
            ctx.outlines[r["borough_code"]] = Area(r["borough_code"], r["borough_name"], bool(r["city_of_london"]),
                                                   shapely.from_wkb(r["wkb"]))
    return [ctx.outlines[c] for c in sorted(codes) if c in ctx.outlines]


def ward_summary(snap: Snapshot, ctx: Context, ward_code: str) -> dict[str, Any]:
    """The ward's figures as the map's ward panel shows them (the read model's ward summary, with the
    reader's disclosure); UnknownWard if none."""
    code = ward_code.strip().upper()
    summary = snap.ward_summary(ctx.period, code)
    if summary is None:
        raise UnknownWard(f"{ward_code[:20]!r} is not a 2022 London ward code (E05...)")
    return ctx.disclosure.ward_summary(summary)


def targets(conn: psycopg.Connection, ctx: Context, borough_code: str, *,
            level: str = "borough") -> list[dict[str, Any]]:
    """The borough's (or, with ``level="london"`` and code ``"london"``, London's) strategy targets as
    published (harm.current_target): the two PAS targets, with the smallest change the survey could detect
    there (``mdc``, points), then the earlier plan's activity targets (``role`` earlier_plan_diagnostic)."""
    return conn.execute(db.query("brief_targets"),
                        {"version": ctx.version, "level": level, "area": borough_code}).fetchall()


#: The diagnostic page's two windows: the latest year against the one before, and against the strategy's
#: baseline year (published.Snapshot.diagnostic's ``against``).
WINDOWS = ("previous", "baseline")


@dataclass(frozen=True)
class BoroughDiagnostic:
    """What the borough briefing's diagnostic page shows: why did confidence move here?"""

    borough: published.Borough
    windows: list[published.Diagnostic]      # WINDOWS, in order
    response: published.BoroughResponse      # the wards on need x response


def borough_diagnostic(snap: Snapshot, ctx: Context, borough: published.Borough) -> BoroughDiagnostic:
    """Both windows of the read model's diagnostic for the borough, and its wards on need x response, with
    the reader's disclosure (small counts read "fewer than 5")."""
    area = published.Area("borough", borough.code, borough.name)
    windows = []
    for against in WINDOWS:
        try:
            windows.append(snap.diagnostic(ctx.period, area, against, disclosure=ctx.disclosure))
        except published.BadRequest as e:  # e.g. a quarter cannot be set against the baseline year: say why
            deff = float((snap.parameters or {}).get("pas_design_effect", 1.0))
            windows.append(published.Diagnostic(area, ctx.period, against, None, [], {}, deff,
                                                str(e)[:1].upper() + str(e)[1:] + ".", set()))
    return BoroughDiagnostic(borough, windows, snap.borough_response(ctx.period, borough, disclosure=ctx.disclosure))


def area_figures(conn: psycopg.Connection, ctx: Context, borough_code: str) -> dict[str, dict[str, Any]]:
    """The borough's figures per indicator for the period (borough-only records included)."""
    rows = conn.execute(db.query("brief_area_indicators"),
                        {"version": ctx.version, "period": ctx.label, "level": "borough", "area": borough_code})
    return {r["indicator"]: r for r in rows}


def borough_wards(snap: Snapshot, ctx: Context, borough: published.Borough) -> published.Worst:
    """Every ranked ward of the borough, worst first, with the indicators that put each there."""
    return snap.worst(ctx.period, None, borough=borough, disclosure=ctx.disclosure)
