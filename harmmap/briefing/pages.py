"""The two kinds of briefing page: one ward, and a borough's overview.

Each builder measures its tables first, gives the map what room is left, picks the map's scale from
that room, and only then asks ``fetch`` for the wards the frame shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from reportlab.lib.units import mm
import shapely
from reportlab.pdfgen.canvas import Canvas
from shapely.geometry.base import BaseGeometry

from harmmap.briefing import layout as L
from harmmap.briefing.data import Area, MapWard
from harmmap.disclosure import Disclosure
from harmmap.indicators import BY_SLUG

#: (frame in metres, simplification tolerance in metres) -> (the wards it touches, their boroughs' outlines)
Fetch = Callable[[tuple[float, float, float, float], float], tuple[Sequence[MapWard], Sequence[Area]]]

CITY_NOTE = ("The City of London has its own police force (City of London Police): its wards are not covered "
             "by MPS data, so they have no harm score.")

HOTSPOT_WORDS = {"hot_99": "Hot 99%", "hot_95": "Hot 95%", "hot_90": "Hot 90%", "cold_99": "Cold 99%",
                 "cold_95": "Cold 95%", "cold_90": "Cold 90%", "island": "No neighbours"}
SHORT = {"drug_trafficking": "trafficking", "drug_possession": "possession", "crack_house_closures": "crack houses",
         "cannabis_factory_closures": "cannabis factories", "network_disruptions": "network disruptions",
         "pas_drug_problem": "PAS: drugs a problem", "pas_tackle_dealing": "PAS: confidence",
         "asset_seizures": "asset seizures", "asset_seizure_value_gbp": "asset value",
         "drug_searches": "drug searches"}
TARGETS = {
    "pas_drug_problem": ("PAS: drug use or dealing is a problem", "3 points lower in 3 years", "pct"),
    "pas_tackle_dealing": ("PAS: police tackle dealing well", "3 points higher in 3 years", "pct"),
    "networks_disrupted": ("Networks disrupted (earlier plan, diagnostic)", "more than the year before", "count"),
    "asset_recoveries": ("Asset recoveries (earlier plan, diagnostic)", "up 50% in 3 years", "count"),
}
STATUS_WORDS = {"on_track": "On track", "off_track": "Off track", "uncertain": "Uncertain",
                "no_data": "No data", "no_baseline": "No baseline"}
DAGGER = " †"


# --- figures in words ---------------------------------------------------------------------------

def _money(x: float) -> str:
    return f"£{x:,.0f}"


def _this_period(f: dict[str, Any]) -> str:
    if not f["available"]:
        return "no data"
    if f["kind"] == "survey":
        if f["eb_pct"] is None:
            return "no respondents"
        text = f"<b>{f['eb_pct']:.1f}%</b> ({f['eb_lo']:.1f}–{f['eb_hi']:.1f})"
        if f["respondents"]:
            text += f" raw {f['pct']:.1f}% of {f['respondents']}"
        return text
    value, rate = f["value"], f["rate_per_1000"]
    if f.get("suppressed"):
        return f"<b>{escape(f['suppressed'])}</b>"
    if f["kind"] == "value":
        head = _money(value) if value is not None else "–"
        return f"<b>{head}</b>" + (f" · {_money(rate)} per 1,000" if rate is not None else "")
    head = f"{value:,.0f}" if value is not None else "–"
    return f"<b>{head}</b>" + (f" · {rate:.2f} per 1,000" if rate is not None else "")


def _change(f: dict[str, Any]) -> str:
    prev, change = f["prev_value"], f["prev_change"]
    if f["available"] and (f.get("suppressed") or f.get("prev_suppressed")):
        before = f.get("prev_suppressed") or (f"{prev:,.0f}" if prev is not None else "–")
        return f"from {escape(before)}: {_significance(f['prev_trend'], None)}"
    if not f["available"] or prev is None:
        return "–"
    if f["kind"] == "survey":
        text = f"{change:+.1f} points from {prev:.1f}%" if change is not None else "–"
    else:
        before = _money(prev) if f["kind"] == "value" else f"{prev:,.0f}"
        if change is None:
            text = "none in either" if (f["value"] or 0) == 0 and prev == 0 else f"from {before}"
        else:
            text = f"{change * 100:+.0f}% from {before}"
    return f"{text}: {_significance(f['prev_trend'], f['prev_p'])}"


def _significance(trend: str | None, p: float | None) -> str:
    pv = "" if p is None else (" (p<0.001)" if p < 0.001 else f" (p={p:.2f})" if p >= 0.01 else f" (p={p:.3f})")
    if trend == "up":
        return f"<b>significant rise</b>{pv}"
    if trend == "down":
        return f"<b>significant fall</b>{pv}"
    if trend == "no_change":
        return f"not significant{pv}"
    return "not tested"


def why_it_ranks(s: dict[str, Any]) -> str:
    """One line: the ward's place and the indicators that put it there (paragraph markup)."""
    if s["rank_london"] is None:
        return CITY_NOTE if s["city_of_london"] else "Not ranked for this period: no residents and no survey."
    parts = [f"{escape(c['label'].lower() if not c['label'].startswith('PAS') else c['label'])} "
             f"({c['points']:.1f} points)" for c in s["contributions"][:3] if c["points"] and c["points"] > 0]
    text = (f"<b>Why it ranks #{s['rank_london']}</b> of {s['n_london']} in London "
            f"(#{s['rank_borough']} of {s['n_borough']} in {escape(s['borough_name'])}, London decile "
            f"{s['decile_london']}): score <b>{s['score']:.1f}</b> of 100, mostly from "
            f"{', '.join(parts) or 'no single indicator'}.")
    if s["hotspot"].startswith("hot_"):
        text += f" Part of a statistical hotspot (Getis-Ord Gi*, {s['hotspot'][4:]}% confidence)."
    return text


def figures_table(s: dict[str, Any], width: float, size: float = 6.6) -> tuple[Any, bool]:
    """Each indicator: this period's figure (PAS: the empirical-Bayes % with its 95% interval, and the raw
    % of those asked), London rank, change on the previous period with its test, points of the index."""
    style = L.cell_style(size)
    data: list[list[Any]] = [["Indicator", f"{s['period']}: count · rate (PAS: % and 95% interval)",
                              "London rank", f"Change on {s['previous_period']}", "Index points"]]
    any_fake = False
    for f in s["indicators"]:
        any_fake |= f["synthetic"]
        weight = s["weights"].get(f["indicator"], 0)
        rank = f"{f['rank_london']} of {f['n_london']}" if f["rank_london"] is not None else "–"
        points = (f"{f['contribution']:.1f} of {weight * 100:.0f}" if f["contribution"] is not None
                  else ("no weight" if not weight else "withheld" if f.get("suppressed") else "–"))
        cells = [escape(f["label"]) + (DAGGER if f["synthetic"] else ""), _this_period(f), rank, _change(f), points]
        data.append([L.P(text, style) for text in cells])
    return L.table(data, L.scaled((26, 28, 12, 34, 11), width), size=size), any_fake


def targets_table(rows: Sequence[dict[str, Any]], borough_name: str, width: float,
                  size: float = 6.6, disclosure: Disclosure | None = None) -> tuple[Any, bool]:
    """The borough's strategy targets: where it started, where the straight line to the target says it
    should be now, where it is, and whether that is on track given the uncertainty. A count (networks
    disrupted) from 1 to 4 reads "fewer than 5" unless ``disclosure`` is exact."""
    style = L.cell_style(size)
    data: list[list[Any]] = [[f"{borough_name} targets", "Baseline", "Target", "Expected now", "Now", "Status"]]
    fake = False
    for r in rows:
        label, aim, unit = TARGETS.get(r["target"], (r["target"], "", "count"))

        def fmt(x: float | None) -> str:
            if x is None or not math.isfinite(x):
                return "–"
            if unit == "count" and disclosure is not None and disclosure.small(x):
                return disclosure.text
            return f"{x:.1f}%" if unit == "pct" else (_money(x) if unit == "gbp" else f"{x:,.0f}")

        status = f"<b>{STATUS_WORDS.get(r['status'], escape(r['status']))}</b>"
        if r["prob_on_track"] is not None and r["status"] in ("on_track", "off_track", "uncertain"):
            status += f" ({r['prob_on_track'] * 100:.0f}% chance on track)"
        fake |= bool(r["synthetic"])
        cells = [f"{escape(label)}{DAGGER if r['synthetic'] else ''}: {escape(aim)}",
                 f"{fmt(r['baseline'])} {escape(r['baseline_period'])}", fmt(r["target_value"]), fmt(r["expected"]),
                 f"{fmt(r['current'])} {escape(r['current_period'])}", status]
        data.append([L.P(text, style) for text in cells])
    if len(data) == 1:
        data.append([L.P("No targets published for this borough.", style), "", "", "", "", ""])
    return L.table(data, L.scaled((35, 18, 11, 11, 18, 27), width), size=size), fake


# --- pages --------------------------------------------------------------------------------------

@dataclass
class Frame:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0


def orientation_for(bbox: tuple[float, float, float, float]) -> str:
    """Landscape for an area clearly wider than tall, else portrait."""
    w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
    return "landscape" if w > 1.15 * h else "portrait"


def _locator_box(view: L.MapView, focus: BaseGeometry | None) -> tuple[float, float, float]:
    """(x, y, side) of the London locator: the top-right corner of the map, or the bottom-right one when
    that hides less of the ward or borough the page is about."""
    side = min(34 * mm, view.w * 0.3, view.h * 0.3)
    x = view.x + view.w - side - 1.5 * mm
    corners = [view.y + view.h - side - 1.5 * mm, view.y + 1.5 * mm]
    if focus is None:
        return x, corners[0], side
    k = view.pt_per_metre

    def hidden(y: float) -> float:  # the focus area under the box, in square metres
        x0, y0 = view.cx + (x - view.x - view.w / 2) / k, view.cy + (y - view.y - view.h / 2) / k
        return focus.intersection(shapely.box(x0, y0, x0 + side / k, y0 + side / k)).area

    return x, min(corners, key=hidden), side


def furniture_boxes(view: L.MapView, focus: BaseGeometry | None) -> list[tuple[float, float, float, float]]:
    """Where the north arrow, scale bar and locator sit on the map (x0, y0, x1, y1): no ward name there."""
    x, y, side = _locator_box(view, focus)
    return [(view.x, view.y + view.h - 22 * mm, view.x + 14 * mm, view.y + view.h),
            (view.x, view.y, view.x + 4 * mm + 0.3 * view.w + 30, view.y + 6 * mm + 14),
            (x - 1.5 * mm, y - 1.5 * mm, x + side + 1.5 * mm, y + side + 1.5 * mm)]


def _map_furniture(c: Canvas, ctx: Any, view: L.MapView, *, borough: str | None, ward: BaseGeometry | None,
                   focus: BaseGeometry | None) -> None:
    L.draw_north_arrow(c, view.x + 7 * mm, view.y + view.h - 14 * mm)
    L.draw_scale_bar(c, view, view.x + 4 * mm, view.y + 6 * mm)
    x, y, side = _locator_box(view, focus)
    L.draw_locator(c, x, y, side, side, ctx.boroughs, borough=borough, extent=view.extent, ward=ward)


def _notes(fake: bool, extra: str = "") -> Any:
    text = (f"{DAGGER.strip()} synthetic data (made up for the demonstration). " if fake else "") + extra
    return L.P(text, L.STYLE_NOTE)


def ward_page(c: Canvas, ctx: Any, summary: dict[str, Any], targets: Sequence[dict[str, Any]],
              bbox: tuple[float, float, float, float], fetch: Fetch, *, page: int = 1, pages: int = 1) -> L.MapView:
    """One ward's briefing page; returns the map's view (its scale, for checking)."""
    orientation = orientation_for(bbox)
    title = summary["ward_name"]
    subtitle = (f"Ward {summary['ward_code']}, {summary['borough_name']} · {ctx.label} "
                f"({ctx.title}) · Safer Neighbourhood Team briefing")
    f = Frame(*L.draw_page_frame(c, ctx, L.PageHead(title, subtitle, page, pages), orientation))
    gap = 2.5 * mm
    if orientation == "portrait":
        side_x, side_w = f.x0, f.w
    else:
        side_w = f.w * 0.44
        side_x = f.x1 - side_w
    why = L.P(why_it_ranks(summary), L.STYLE_WHY)
    legend_h = L.legend_height(9, 3)
    # the map keeps at least this much height; the tables get smaller type until they fit beside or under it
    room = f.h - (legend_h + gap + 70 * mm if orientation == "portrait" else 0)
    for size in (6.6, 6.0, 5.4, 4.8):
        table, fake_f = figures_table(summary, side_w, size)
        ttable, fake_t = targets_table(targets, summary["borough_name"], side_w, size, ctx.disclosure)
        explain = _notes(fake_f or fake_t,
                         f"Change on {escape(summary['previous_period'])}: rate ratio for counts, points for PAS. "
                         "PAS is the empirical-Bayes estimate with its 95% interval (a ward's raw figure from few "
                         "interviews is noise). Targets are the borough's, over the latest rolling 12 months.")
        blocks = [why, table, ttable, explain]
        heights = [b.wrap(side_w, f.h)[1] for b in blocks]
        if sum(heights) + gap * len(blocks) <= room:
            break
    if orientation == "portrait":
        tables_h = sum(heights) + gap * len(blocks)
        map_h = max(70 * mm, f.h - tables_h - legend_h - gap)
        map_box = (f.x0, f.y1 - map_h, f.w, map_h)
        y = f.y1 - map_h - legend_h - gap
        legend_at, legend_w, legend_cols = (f.x0, f.y1 - map_h - gap), f.w, 3
    else:
        map_w = f.w - side_w - 4 * mm
        map_h = f.h - legend_h
        map_box = (f.x0, f.y0 + legend_h, map_w, map_h)
        y = f.y1
        legend_at, legend_w, legend_cols = (f.x0, f.y0 + legend_h - gap), map_w, 3
    view = L.fit_view(bbox, *map_box, pad=0.3, min_span_m=900)
    wards, outlines = fetch(view.extent, view.denominator * 1e-4)
    focus = next((w for w in wards if w.code == summary["ward_code"]), None)
    L.draw_map(c, view, wards, outlines, focus_ward=summary["ward_code"], focus_borough=summary["borough_code"],
               keep_clear=furniture_boxes(view, focus.geom if focus else None))
    _map_furniture(c, ctx, view, borough=summary["borough_code"], ward=focus.geom if focus else None,
                   focus=focus.geom if focus else None)
    L.draw_legend(c, legend_at[0], legend_at[1], legend_w, focus_label=f"{summary['ward_name']} (this ward)",
                  hotspot=any(w.hotspot.startswith("hot_") for w in wards), columns=legend_cols)
    for block, h in zip(blocks, heights):
        y -= h
        block.drawOn(c, side_x, y)
        y -= gap
    c.showPage()
    return view


def _wards_table(code: str, rows: Sequence[dict[str, Any]], width: float, *, size: float, reasons: int) -> Any:
    style = L.cell_style(size)
    data: list[list[Any]] = [["#", "Ward", "Score", "London rank", "Decile", "Hotspot", "Main indicators (points)"]]
    for r in rows:
        tops = "; ".join(f"{SHORT.get(s, s)} {p:.0f}" for s, p in r["top_contributions"][:reasons])
        data.append([str(r["rank"]), L.P(escape(r["ward_name"]), style), f"{r['score']:.1f}", str(r["rank_london"]),
                     str(r["decile_london"]), HOTSPOT_WORDS.get(r["hotspot"], "–"), L.P(escape(tops), style)])
    if len(data) == 1:
        data.append(["", L.P(CITY_NOTE if code == "E09000001" else "No ranked wards.", style), "", "", "", "", ""])
    fixed = [5 * mm, 0, 10 * mm, 12.5 * mm, 10.5 * mm, 12.5 * mm, 0]
    rest = width - sum(fixed)
    fixed[1], fixed[6] = rest * 0.48, rest * 0.52
    return L.table(data, fixed, size=size)


def borough_page(c: Canvas, ctx: Any, borough: tuple[str, str], rows: Sequence[dict[str, Any]],
                 targets: Sequence[dict[str, Any]], bbox: tuple[float, float, float, float], fetch: Fetch,
                 *, page: int = 1, pages: int = 1) -> L.MapView:
    """A borough's overview: its wards by harm class, numbered by rank, and the table of them."""
    code, name = borough
    orientation = orientation_for(bbox)
    subtitle = f"Borough {code} · {ctx.label} ({ctx.title}) · overview, then one page per ward in rank order"
    f = Frame(*L.draw_page_frame(c, ctx, L.PageHead(f"{name}: borough overview", subtitle, page, pages),
                                 orientation))
    gap = 2.5 * mm
    side_w = f.w * (0.5 if orientation == "portrait" else 0.42)
    side_x = f.x1 - side_w
    ttable, fake = targets_table(targets, name, f.w, disclosure=ctx.disclosure)
    note = _notes(fake or ctx.synthetic,
                  f"# is the rank within {escape(name)} (1 = most harm); the map shows it in each ward. Decile and "
                  "map classes are London-wide. Score: harm index 0–100 (see the weights on each ward page).")
    th = ttable.wrap(f.w, f.h)[1]
    nh = note.wrap(f.w, f.h)[1]
    bottom = f.y0 + th + nh + 2 * gap
    # the wards table beside the map: smaller type, then fewer reasons per ward, until it fits
    for size, reasons in ((6.6, 2), (6.0, 2), (6.0, 1), (5.4, 1), (4.8, 1)):
        wtable = _wards_table(code, rows, side_w, size=size, reasons=reasons)
        wh = wtable.wrap(side_w, f.h)[1]
        if wh <= f.y1 - bottom:
            break
    legend_h = L.legend_height(8, 2)
    map_w = f.w - side_w - 4 * mm
    map_box = (f.x0, bottom + legend_h, map_w, f.y1 - bottom - legend_h)
    view = L.fit_view(bbox, *map_box, pad=0.03)
    wards, outlines = fetch(view.extent, view.denominator * 1e-4)
    ranks = {r["ward_code"]: r["rank"] for r in rows}
    L.draw_map(c, view, wards, outlines, focus_borough=code, label_wards=lambda w: False,
               dim_outside=True)
    area = next((b.geom for b in outlines if b.code == code), None)
    clear = furniture_boxes(view, area)
    for w in wards:  # the borough rank in each of its wards
        if w.code in ranks:
            at = L.label_point(w.geom)
            if at is not None:
                (px, py), = view.to_page(np.array([at]))
                if not any(x0 - 4 < px < x1 + 4 and y0 - 4 < py < y1 + 4 for x0, y0, x1, y1 in clear):
                    L.label(c, px, py, [str(ranks[w.code])], size=6.5, bold=True)
    _map_furniture(c, ctx, view, borough=code, ward=None, focus=area)
    L.draw_legend(c, f.x0, bottom + legend_h - gap, map_w, focus_label=None,
                  hotspot=any(w.hotspot.startswith("hot_") for w in wards), columns=2)
    wtable.drawOn(c, side_x, f.y1 - wh)
    ttable.drawOn(c, f.x0, f.y0 + nh + gap)
    note.drawOn(c, f.x0, f.y0)
    c.showPage()
    return view
