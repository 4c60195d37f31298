"""The kinds of briefing page: one ward; a borough's overview; and the borough's diagnostic page, "why did
confidence move here?".

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
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
import shapely
from reportlab.pdfgen.canvas import Canvas
from shapely.geometry.base import BaseGeometry

from harmmap.briefing import layout as L
from harmmap.briefing.data import Area, BoroughDiagnostic, MapWard
from harmmap.diagnostics import Change
from harmmap.disclosure import Disclosure
from harmmap.indicators import BY_SLUG, FAMILIES, FAMILY_LABELS, POLICE_SENSITIVE, response_weighted
from harmmap.published import Diagnostic, ResponseFigure, change_shown, response_note

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
    "networks_disrupted": ("Networks disrupted", "more than the year before", "count"),
    "asset_recoveries": ("Asset recoveries (counted, not £)", "up 50% in 3 years", "count"),
}
#: How a target row names its role (harm.target.role): the strategy's two PAS targets, or the earlier plan's
#: activity targets, shown only as labelled diagnostics.
ROLE_WORDS = {"target": "confidence target", "earlier_plan_diagnostic": "earlier plan: a diagnostic, not a target"}
EARLIER_PLAN = ("networks_disrupted", "asset_recoveries")
#: The mark beside an indicator with a caution (possession: sensitive to proactive policing).
CAVEAT = " ‡"
#: What each family is, in a few words, beside its heading in a table.
FAMILY_HINTS = {"need": "what the harm index is built from",
                "response": "police activity: a diagnostic, not counted as harm",
                "confidence": "the strategy's targets (public confidence, PAS)"}
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


def family_heading(family: str, style: Any, weights: dict[str, float] | None = None) -> Any:
    """A table row's heading for one family: its name and, in a few words, what it is (police activity
    weighted into the index is said to be)."""
    hint = FAMILY_HINTS[family]
    if family == "response" and weights and response_weighted(weights):
        hint = "police activity: a diagnostic, and weighted into this index by explicit weights"
    return L.P(f"<b>{escape(FAMILY_LABELS[family])}</b>: {escape(hint)}", style)


def indicator_name(slug: str, label: str, *, synthetic: bool) -> str:
    """An indicator's name in a table (paragraph markup): † when synthetic, ‡ when it carries a caution (the
    note under the table says which), and PAS "problem" said to be a confidence target as well."""
    ind = BY_SLUG.get(slug)
    text = escape(label) + (DAGGER if synthetic else "") + (CAVEAT if ind and ind.caveat else "")
    if ind and ind.also:
        text += f" <i>(also read as {escape(ind.also)}: a target)</i>"
    return text


def caveat_note() -> str:
    return f"{CAVEAT.strip()} {escape(POLICE_SENSITIVE)}"


def figures_table(s: dict[str, Any], width: float, size: float = 6.6) -> tuple[Any, bool]:
    """Each indicator under its family (need, police response, confidence): this period's figure (PAS: the
    empirical-Bayes % with its 95% interval, and the raw % of those asked), London rank, change on the
    previous period with its test, points of the index."""
    style = L.cell_style(size)
    data: list[list[Any]] = [["Indicator", f"{s['period']}: count · rate (PAS: % and 95% interval)",
                              "London rank", f"Change on {s['previous_period']}", "Index points"]]
    any_fake = False
    headings: list[int] = []
    for family in FAMILIES:
        entries = [f for f in s["indicators"] if f["indicator"] in BY_SLUG and BY_SLUG[f["indicator"]].family == family]
        if not entries:
            continue
        headings.append(len(data))
        data.append([family_heading(family, style, s["weights"]), "", "", "", ""])
        for f in entries:
            any_fake |= f["synthetic"]
            weight = s["weights"].get(f["indicator"], 0)
            rank = f"{f['rank_london']} of {f['n_london']}" if f["rank_london"] is not None else "–"
            points = (f"{f['contribution']:.1f} of {weight * 100:.0f}" if f["contribution"] is not None
                      else ("not in the index" if not weight else "withheld" if f.get("suppressed") else "–"))
            cells = [indicator_name(f["indicator"], f["label"], synthetic=f["synthetic"]), _this_period(f), rank,
                     _change(f), points]
            data.append([L.P(text, style) for text in cells])
    return L.group_rows(L.table(data, L.scaled((26, 28, 12, 34, 11), width), size=size), headings), any_fake


def _finite(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def target_role(r: dict[str, Any]) -> str:
    """The row's role as published (harm.target.role), or by its name for rows from before the column."""
    return r.get("role") or ("earlier_plan_diagnostic" if r["target"] in EARLIER_PLAN else "target")


def targets_table(rows: Sequence[dict[str, Any]], borough_name: str, width: float,
                  size: float = 6.6, disclosure: Disclosure | None = None,
                  london: Sequence[dict[str, Any]] = ()) -> tuple[Any, bool]:
    """The strategy's targets, the two PAS measures (London's first when given: its interval is narrow
    enough to judge +3 points), then the earlier plan's activity targets, labelled as diagnostics: where
    the area started, where the straight line to the target says it should be now, where it is, the gap to
    that line with its 95% interval, the smallest change the survey could detect there, and whether that
    is on track given the uncertainty. A count (networks disrupted, asset recoveries) from 1 to 4 reads
    "fewer than 5" unless ``disclosure`` is exact, and the gap that would give it back is withheld."""
    style = L.cell_style(size)
    data: list[list[Any]] = [[f"{borough_name} targets", "Baseline", "Target", "Expected now", "Now",
                              "Gap to the line (95% interval)", "Smallest detectable change", "Status"]]
    fake = False
    shown = [("London", r) for r in london if target_role(r) == "target"] + [(None, r) for r in rows]
    shown.sort(key=lambda ar: target_role(ar[1]) != "target")  # the targets first; stable: London before
    for area, r in shown:
        label, aim, unit = TARGETS.get(r["target"], (r["target"], "", "count"))
        small = False

        def fmt(x: float | None) -> str:
            nonlocal small
            if x is None or not math.isfinite(x):
                return "–"
            if unit == "count" and disclosure is not None and disclosure.small(x):
                small = True
                return disclosure.text
            return f"{x:.1f}%" if unit == "pct" else (_money(x) if unit == "gbp" else f"{x:,.0f}")

        baseline, target, expected = fmt(r["baseline"]), fmt(r["target_value"]), fmt(r["expected"])
        now = fmt(r["current"])
        gap, lo, hi = _finite(r.get("gap")), _finite(r.get("gap_lo")), _finite(r.get("gap_hi"))
        if gap is None:
            gap_text = "–"
        elif small:
            gap_text = "withheld (small count)"
        elif unit == "pct":
            gap_text = f"{gap:+.1f} points" + (f" ({lo:+.1f} to {hi:+.1f})"
                                               if lo is not None and hi is not None else "")
        else:
            gap_text = f"{gap:+,.0f}" + (f" ({lo:+,.0f} to {hi:+,.0f})" if lo is not None and hi is not None else "")
        mdc = _finite(r.get("mdc"))
        mdc_text = f"{mdc:.1f} points" if mdc is not None and unit == "pct" else "–"
        status = f"<b>{STATUS_WORDS.get(r['status'], escape(r['status']))}</b>"
        if r["prob_on_track"] is not None and r["status"] in ("on_track", "off_track", "uncertain"):
            status += f" ({r['prob_on_track'] * 100:.0f}% chance on track)"
        fake |= bool(r["synthetic"])
        role = target_role(r)
        where = f"<b>{escape(area)}</b>: " if area else ""
        # the two PAS rows are the targets; the earlier plan's rows say that they are only diagnostics
        label_text = f"{where}{escape(label)}{DAGGER if r['synthetic'] else ''}: {escape(aim)}"
        if role != "target":
            label_text += f" <i>({escape(ROLE_WORDS.get(role, role))})</i>"
        cells = [label_text,
                 f"{baseline} {escape(r['baseline_period'])}", target, expected,
                 f"{now} {escape(r['current_period'])}", gap_text, mdc_text, status]
        data.append([L.P(text, style) for text in cells])
    if len(data) == 1:
        data.append([L.P("No targets published for this borough.", style), "", "", "", "", "", "", ""])
    return L.table(data, L.scaled((34, 13, 8, 10, 13, 16, 10, 16), width), size=size), fake


TARGETS_NOTE = ("Gap: where the area is against the straight line from the baseline to the target (positive = ahead), "
                "with its 95% interval. Smallest detectable change: the change the survey could detect there (80% "
                "power, 5% two-sided, design effect applied); a smaller move cannot be told from noise.")


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
                         f"{caveat_note()} Change on {escape(summary['previous_period'])}: rate ratio for counts, "
                         "points for PAS. PAS is the empirical-Bayes estimate with its 95% interval (a ward's raw "
                         "figure from few interviews is noise). Targets are the borough's, over the latest rolling "
                         f"12 months. {TARGETS_NOTE}" + _weighted_note(summary["weights"]))
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


def _weighted_note(weights: dict[str, float]) -> str:
    """What every page says when police activity was weighted into the index (not by default)."""
    note = response_note(weights)
    return f" <b>{escape(note)}</b>" if note else ""


def _wards_table(code: str, rows: Sequence[dict[str, Any]], width: float, *, size: float, reasons: int,
                 weights: dict[str, float] | None = None) -> Any:
    style = L.cell_style(size)
    main = "Main indicators (points)" if weights and response_weighted(weights) else "Main need indicators (points)"
    data: list[list[Any]] = [["#", "Ward", "Score", "London rank", "Decile", "Hotspot", main]]
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
                 *, page: int = 1, pages: int = 1, london_targets: Sequence[dict[str, Any]] = ()) -> L.MapView:
    """A borough's overview: its wards by harm class, numbered by rank, the table of them, and the
    strategy's targets (London's PAS targets first, then the borough's)."""
    code, name = borough
    orientation = orientation_for(bbox)
    subtitle = f"Borough {code} · {ctx.label} ({ctx.title}) · overview, why confidence moved, then each ward"
    f = Frame(*L.draw_page_frame(c, ctx, L.PageHead(f"{name}: borough overview", subtitle, page, pages),
                                 orientation))
    gap = 2.5 * mm
    side_w = f.w * (0.5 if orientation == "portrait" else 0.42)
    side_x = f.x1 - side_w
    ttable, fake = targets_table(targets, name, f.w, disclosure=ctx.disclosure, london=london_targets)
    weighted = bool(response_weighted(ctx.weights))
    note = _notes(fake or ctx.synthetic,
                  f"# is the rank within {escape(name)} (1 = most harm); the map shows it in each ward. Decile and "
                  "map classes are London-wide. Score: harm index 0–100 from the "
                  + ("need family and police activity" if weighted else "need family only (harm: trafficking, "
                     "possession, PAS 'problem'; see the weights on each ward page); police response is a "
                     "diagnostic (next page)") + f". {TARGETS_NOTE}" + _weighted_note(ctx.weights))
    th = ttable.wrap(f.w, f.h)[1]
    nh = note.wrap(f.w, f.h)[1]
    bottom = f.y0 + th + nh + 2 * gap
    # the wards table beside the map: smaller type, then fewer reasons per ward, until it fits
    for size, reasons in ((6.6, 2), (6.0, 2), (6.0, 1), (5.4, 1), (4.8, 1)):
        wtable = _wards_table(code, rows, side_w, size=size, reasons=reasons, weights=ctx.weights)
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


# --- the diagnostic page: why did confidence move here? ----------------------------------------------

WINDOW_WORDS = {"previous": "Against the year before", "baseline": "Against the strategy's baseline year"}
VS_LONDON = {"higher": "above London's", "lower": "below London's", "similar": "not distinguishable from London's",
             "too_few": "too few events to compare with London's"}


def window_words(d: Diagnostic) -> str:
    """How a window is named: a month or quarter's "previous" is the period before, not the year before."""
    if d.against == "previous" and len(d.period.parsed.months) != 12:
        return "Against the period before"
    return WINDOW_WORDS.get(d.against, d.against)


def _p_text(p: float | None) -> str:
    if p is None:
        return ""
    return " (p<0.001)" if p < 0.001 else f" (p={p:.2f})" if p >= 0.01 else f" (p={p:.3f})"


def _verdict(row: dict[str, Any]) -> str:
    """Significant or not, in words (bold when it is: never by tone or colour alone); the p-value unless it
    is withheld with a small count. ``row`` is ``published.change_shown``'s."""
    if row["kind"] == "value":
        return "not tested (a few seizures swing the pounds)"
    if not row["tested"]:
        return "not tested (no figures)"
    p = _p_text(row["p"])
    if row["significant"]:
        return f"<b>significant</b>{p}"
    return f"not significant{' at this sample size' if row['kind'] == 'survey' else ''}{p}"


def _side(row: dict[str, Any], side: str) -> str:
    """One end of the window as the reader may see it: a PAS % with the respondents asked, a count (or the
    disclosure text), or pounds."""
    if row.get(f"{side}_suppressed"):
        return escape(row[f"{side}_suppressed"])
    x = row[side]
    if x is None:
        return "–"
    if row["kind"] == "survey":
        n = row[f"respondents_{side}"]
        return f"{x:.1f}%" + (f" of {n:,.0f}" if n else "")
    return _money(x) if row["kind"] == "value" else f"{x:,.0f}"


def _change_words(row: dict[str, Any]) -> str:
    """The change with its 95% interval: points for PAS, per cent for counts; withheld with a small count."""
    if row["suppressed"]:
        return "withheld (small count)"
    change, lo, hi = row["change"], row["lo"], row["hi"]
    if change is None:
        if row["before"] == row["after"]:
            return "no change" if row["before"] is not None else "–"
        return "from none" if not row["before"] else "–"
    if row["kind"] == "survey":
        return f"{change:+.1f} points" + (f" ({lo:+.1f} to {hi:+.1f})" if lo is not None and hi is not None else "")
    text = f"{change * 100:+.0f}%"
    if lo is not None and hi is not None:
        text += f" ({lo * 100:+.0f}% to {hi * 100:+.0f}%)"
    return text


def _london_words(c: Change | None) -> str:
    if c is None or c.change is None:
        return "–"
    moved = f"{c.change:+.1f} points" if c.kind == "survey" else f"{c.change * 100:+.0f}%"
    if c.kind == "value" or not c.tested:
        return moved
    return f"{moved}, {'<b>significant</b>' if c.significant else 'not significant'}"


def diagnostic_table(d: Diagnostic, width: float, disclosure: Disclosure, synthetic: set[str],
                     size: float = 6.6) -> Any:
    """One window of the diagnostic: each indicator under its family, both ends of the window, the change
    with its 95% interval, significant or not (PAS at the survey's sample size, with the design effect), and
    London's change over the same months. What a count this reader may not see shows is the read model's
    decision (``published.change_shown``): ``disclosure.text``, with its change, interval and p-value
    (which give it back) withheld."""
    style = L.cell_style(size)
    before, after = d.against_period or "–", d.period.label
    data: list[list[Any]] = [["Indicator", before, after, "Change (95% interval)",
                              f"Significant? (PAS: design effect {d.design_effect:g})", "London's change"]]
    by = {c.indicator: c for c in d.changes}
    headings: list[int] = []
    notes: list[int] = []       # rows of one cell across the table, without a heading's fill
    for family in FAMILIES:
        headings.append(len(data))
        data.append([family_heading(family, style, d.period.weights), "", "", "", "", ""])
        for ind in (i for i in BY_SLUG.values() if i.family == family):
            name = indicator_name(ind.slug, ind.label, synthetic=ind.slug in synthetic)
            c = by.get(ind.slug)
            if c is None:
                if ind.slug == "drug_searches" and ind.slug not in (d.period.indicators or {}):
                    continue  # never loaded: not a row of empty cells
                data.append([L.P(name, style), "–", "–", L.P("not published for both periods", style), "", ""])
                continue
            row = change_shown(c, d, disclosure)
            cells = [name, _side(row, "before"), _side(row, "after"), _change_words(row), _verdict(row),
                     _london_words(d.london.get(c.indicator))]
            data.append([L.P(text, style) for text in cells])
        if family == "confidence":  # PAS "problem" is listed under need; say here that it is a target too
            for ind in (i for i in BY_SLUG.values() if i.also == family):
                notes.append(len(data))
                data.append([L.P(f"<i>{escape(ind.label)}: the same measure as under "
                                 f"{escape(FAMILY_LABELS[ind.family])} above, read here as an outcome (a target "
                                 "too).</i>", style), "", "", "", "", ""])
    t = L.group_rows(L.table(data, L.scaled((30, 12, 12, 19, 17, 14), width), size=size), headings)
    t.setStyle([("SPAN", (0, r), (-1, r)) for r in notes])
    return t


def _rate_words(f: ResponseFigure | None) -> str:
    if f is None:
        return "not computed for this period"
    if f.per_100 is None:
        return "withheld (small count)" if f.hidden else "no trafficking offences recorded"
    text = f"<b>{f.per_100:.1f}</b> per 100 trafficking offences"
    if f.per_100_lo is not None and f.per_100_hi is not None:
        text += f" (95% interval {f.per_100_lo:.1f}–{f.per_100_hi:.1f})"
    return text


def response_table(title: str, wards: Sequence[ResponseFigure], width: float, disclosure: Disclosure, *,
                   size: float = 6.6, limit: int | None = None, empty: str = "None.") -> Any:
    """Wards on need x response: each with its place on need, the police actions and trafficking offences
    counted, and the actions per 100 offences with the 95% interval. Small counts read ``disclosure.text``."""
    style = L.cell_style(size)
    data: list[list[Any]] = [[title, "", "", "", ""],
                             ["Ward", "Need: borough rank (London decile)", "Police actions", "Trafficking offences",
                              "Actions per 100 offences (95% interval)"]]
    shown = list(wards if limit is None else wards[:limit])
    for w in shown:
        def count(x: float | None, key: str) -> str:
            return disclosure.text if key in w.hidden else ("–" if x is None else f"{x:,.0f}")

        rank = "–" if w.rank_borough is None else f"#{w.rank_borough}" + (
            f" ({w.decile_london})" if w.decile_london is not None else "")
        rate = ("withheld (small count)" if w.hidden else "–" if w.per_100 is None else
                f"{w.per_100:.1f} ({w.per_100_lo:.1f}–{w.per_100_hi:.1f})"
                if w.per_100_lo is not None and w.per_100_hi is not None else f"{w.per_100:.1f}")
        cells = [escape(w.name) + (DAGGER if w.synthetic else ""), rank, count(w.activity, "activity"),
                 count(w.trafficking, "trafficking"), rate]
        data.append([L.P(text, style) for text in cells])
    if not wards:
        data.append([L.P(escape(empty), style), "", "", "", ""])
    elif len(shown) < len(wards):
        data.append([L.P(f"… and {len(wards) - len(shown)} more (the map's need x response layer lists them).",
                         style), "", "", "", ""])
    t = L.table(data, L.scaled((24, 16, 14, 19, 27), width), header_rows=2, size=size)
    t.setStyle([("SPAN", (0, 0), (-1, 0)), ("ALIGN", (0, 0), (-1, 0), "LEFT")])
    if not wards or len(shown) < len(wards):
        t.setStyle([("SPAN", (0, len(data) - 1), (-1, len(data) - 1))])
    return t


def diagnostic_page(c: Canvas, ctx: Any, diag: BoroughDiagnostic, *, page: int = 1, pages: int = 1) -> None:
    """The borough's "why did confidence move?" page: the read model's diagnostic over both windows (the
    year before, the baseline year), each as its summary and a table by family, then the borough's wards on
    need x response (tasking candidates, possible over-attention). What moved together, never why."""
    name = diag.borough.name
    subtitle = f"Borough {diag.borough.code} · {ctx.label} ({ctx.title}) · what moved together, not why"
    f = Frame(*L.draw_page_frame(c, ctx, L.PageHead(f"Why did confidence move in {name}?", subtitle, page, pages),
                                 "portrait"))
    gap = 2.2 * mm
    synthetic = set(ctx.synthetic_indicators)
    deff = diag.windows[0].design_effect if diag.windows else 1.0
    r = diag.response
    counted = ", ".join(BY_SLUG[s].label[0].lower() + BY_SLUG[s].label[1:] if s in BY_SLUG else s
                        for s in r.counted) or "none"
    half = (f.w - 4 * mm) / 2

    def blocks_at(size: float, limit: int | None) -> tuple[list[Any], tuple[Any, Any]]:
        """The blocks, top to bottom across the page, and the two ward tables that share the last row."""
        head = ParagraphStyle(f"diag-head-{size}", parent=L.STYLE_BOLD, fontSize=size + 2.2, leading=(size + 2.2) * 1.2)
        why = ParagraphStyle(f"diag-why-{size}", parent=L.STYLE_WHY, fontSize=size + 1.0, leading=(size + 1.0) * 1.22)
        out: list[Any] = []
        if diag.borough.city_of_london:
            out.append(L.P(escape(CITY_NOTE), why))
        for d in diag.windows:
            window = (f"{window_words(d)}: {d.period.label} against {d.against_period}" if d.against_period
                      else f"{window_words(d)}: no comparison")
            out.append(L.P(escape(window), head))
            out.append(L.P(escape(d.summary), why))
            if d.changes:
                out.append(diagnostic_table(d, f.w, ctx.disclosure, synthetic, size))
        out.append(_notes(bool(synthetic),
                           f"{caveat_note()} PAS: change in percentage points with its 95% interval (Newcombe), "
                           f"tested at the survey's effective sample size, respondents ÷ design effect {deff:g} "
                           "(Kish). Counts: the relative change with its exact 95% interval and the exact "
                           "conditional test for two Poisson counts; significant means p&lt;0.05. London's change is "
                           "over the same months. Police activity is a diagnostic: it is not counted as harm."))
        out.append(L.P(escape(f"Need x response in {name}'s wards, {ctx.label}"), head))
        text = (f"Police activity counted: {escape(counted)}. {escape(name)}: {_rate_words(r.area)}"
                + (f", {VS_LONDON.get(r.area.vs_london, '')} rate" if r.area and r.area.per_100 is not None else "")
                + f"; London: {_rate_words(r.london)}. A ward is named only when its interval excludes London's "
                "rate (and it has 10 or more events): never on noise. Need: London decile of the harm index "
                "(high: 1–3, low: 8–10).")
        out.append(L.P(text, why))
        left = response_table("Tasking candidates: high need, police response below London's rate",
                               r.tasking_candidates, half, ctx.disclosure, size=size, limit=limit,
                               empty=f"None in {name} for {ctx.label}.")
        right = response_table("Possible over-attention: low need, police response above London's rate",
                               r.over_attention, half, ctx.disclosure, size=size, limit=limit,
                               empty=f"None in {name} for {ctx.label}.")
        return out, (left, right)

    # smaller type, then fewer wards listed, until the page holds it all
    for size, limit in ((7.0, None), (6.6, None), (6.0, None), (5.4, None), (5.4, 12), (4.8, 8), (4.8, 4)):
        blocks, pair = blocks_at(size, limit)
        heights = [b.wrap(f.w, f.h)[1] for b in blocks]
        pair_h = [b.wrap(half, f.h)[1] for b in pair]
        if sum(heights) + max(pair_h) + gap * len(blocks) <= f.h:
            break
    y = f.y1
    for block, h in zip(blocks, heights):
        y -= h
        block.drawOn(c, f.x0, y)
        y -= gap
    pair[0].drawOn(c, f.x0, y - pair_h[0])
    pair[1].drawOn(c, f.x0 + half + 4 * mm, y - pair_h[1])
    c.showPage()
